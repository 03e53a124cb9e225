//! The stand-in's model of Bedrock's world beyond the wire: how long an answer takes and how long
//! a summary is. With `--bedrock-latency`, an answer takes a time to first token (lognormal,
//! median [`TTFT_MEDIAN_MS`]) plus its output tokens at [`TOKENS_PER_S`] (Haiku 4.5's published
//! pace), the whole spread lognormally, and [`TAIL_PERCENT`]% of answers take [`TAIL_FACTOR`]×
//! as long (the long tail providers show under load). With `--summary-tokens MIN-MAX`, each
//! summary is drawn between MIN and MAX tokens. Draws are deterministic, so a benchmark sees the
//! same world every time: a summary's length in its prompt (the same request asked twice gets
//! an answer of the same length), an answer's time in the request's number.

use crate::StandinOptions;

/// Seconds of quota an account holds: Bedrock's quotas are what may be used in one minute, so
/// its bucket is a minute deep (full when the account has been idle) and refills at the
/// quota's pace. (`--quota-burst-secs` sets the stand-in's; the benchmark uses this.)
pub const QUOTA_WINDOW_SECS: f64 = 60.0;

/// Median time to first token, milliseconds (published figures: about 0.5–1 s).
pub const TTFT_MEDIAN_MS: f64 = 700.0;
/// Output tokens per second after the first (Haiku 4.5: about 150).
pub const TOKENS_PER_S: f64 = 150.0;
/// Log-space standard deviation of the spread.
pub const SIGMA: f64 = 0.25;
/// Share of answers in the tail, percent …
pub const TAIL_PERCENT: f64 = 1.0;
/// … and how much longer they take.
pub const TAIL_FACTOR: f64 = 5.0;

/// A uniform draw in [0, 1) for request `n` and stream `salt` (SplitMix64).
fn uniform(n: u64, salt: u64) -> f64 {
    let mut z = n
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller).
fn normal(n: u64, salt: u64) -> f64 {
    let u1 = uniform(n, salt).max(1e-12);
    let u2 = uniform(n, salt + 1);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Milliseconds answer `n` of `output_tokens` takes.
pub fn latency_ms(o: &StandinOptions, n: u64, output_tokens: u64) -> f64 {
    if !o.bedrock_latency {
        return o.latency_ms as f64 + o.latency_per_token_ms * output_tokens as f64;
    }
    let ttft = TTFT_MEDIAN_MS * (SIGMA * normal(n, 1)).exp();
    let generation = output_tokens as f64 / TOKENS_PER_S * 1000.0;
    let mut ms = (ttft + generation) * (SIGMA * normal(n, 3)).exp();
    if uniform(n, 5) < TAIL_PERCENT / 100.0 {
        ms *= TAIL_FACTOR;
    }
    ms
}

/// The length, in tokens, of the summary drawn as `n` (the stand-in draws it from the prompt)
/// when `--summary-tokens` sets a range (at most `max_tokens`, so a drawn summary is never cut).
pub fn summary_tokens(o: &StandinOptions, n: u64, max_tokens: u64) -> Option<u64> {
    let (lo, hi) = o.summary_tokens.as_deref()?.split_once('-')?;
    let (lo, hi): (u64, u64) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    let drawn = lo + (uniform(n, 7) * (hi.saturating_sub(lo) + 1) as f64) as u64;
    Some(drawn.min(max_tokens).max(1))
}

/// `text` lengthened with marked filler to about `tokens` tokens of 4 characters.
pub fn lengthen(text: String, tokens: u64) -> String {
    let want = tokens as usize * 4;
    let mut out = text;
    let mut i = 0;
    while out.len() + 4 < want {
        out.push_str(&format!(
            "\n- stand-in detail {i}: filler of a realistic length."
        ));
        i += 1;
    }
    out.truncate(want.saturating_sub(4).max(1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_follows_the_published_figures() {
        let o = StandinOptions {
            bedrock_latency: true,
            ..Default::default()
        };
        let mut all: Vec<f64> = (1..=10_000).map(|n| latency_ms(&o, n, 1_000)).collect();
        all.sort_by(f64::total_cmp);
        // 1,000 tokens: ~0.7 s to the first, ~6.7 s at 150 tokens/s.
        let median = all[5_000];
        assert!((6_500.0..8_500.0).contains(&median), "{median}");
        // The tail: the slowest 1% at about 5× the median.
        let p995 = all[9_950];
        assert!(p995 > 3.0 * median, "{p995} vs {median}");
        let p95 = all[9_500];
        assert!(p95 < 2.0 * median, "{p95} vs {median}");
    }

    #[test]
    fn summary_lengths_are_drawn_in_the_range() {
        let o = StandinOptions {
            summary_tokens: Some("600-1500".into()),
            ..Default::default()
        };
        let drawn: Vec<u64> = (1..=1_000)
            .map(|n| summary_tokens(&o, n, 4_000).unwrap())
            .collect();
        assert!(drawn.iter().all(|t| (600..=1_500).contains(t)));
        assert!(drawn.iter().any(|t| *t < 700) && drawn.iter().any(|t| *t > 1_400));
        assert_eq!(summary_tokens(&o, 1, 500), Some(500));
        assert_eq!(lengthen("x".into(), 600).len() / 4 + 1, 600);
    }
}
