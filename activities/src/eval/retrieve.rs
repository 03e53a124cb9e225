//! The paper's passages for a snippet: the paragraphs whose words best match the code around it
//! (identifiers split at `_` and case changes, so `attn_weights` meets "attention weights" half
//! way). Plain word overlap, weighted by rarity across the chunks; used until the paper store
//! has a retrieval index.

use std::collections::{BTreeMap, BTreeSet};

/// The lowercase words of `text` of three letters or more, identifiers split into their parts.
pub fn words(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        let mut part = String::new();
        let mut prev_lower = false;
        for c in raw.chars() {
            if c.is_uppercase() && prev_lower {
                push(&mut out, &part);
                part.clear();
            }
            prev_lower = c.is_lowercase();
            part.push(c);
        }
        push(&mut out, &part);
    }
    out
}

fn push(out: &mut BTreeSet<String>, part: &str) {
    if part.chars().count() >= 3 && !part.chars().all(|c| c.is_ascii_digit()) {
        out.insert(part.to_lowercase());
    }
}

/// The indices of the `k` chunks that best match `context`, best first (ties: paper order).
pub fn best_chunks(context: &str, chunks: &[String], k: usize) -> Vec<usize> {
    let wanted = words(context);
    let sets: Vec<BTreeSet<String>> = chunks.iter().map(|c| words(c)).collect();
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &sets {
        for w in s {
            *df.entry(w.as_str()).or_default() += 1;
        }
    }
    let n = chunks.len().max(1) as f64;
    let mut scored: Vec<(f64, usize)> = sets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let score: f64 = wanted
                .iter()
                .filter(|w| s.contains(*w))
                .map(|w| (1.0 + n / df[w.as_str()] as f64).ln())
                .sum();
            (score, i)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

/// The paragraphs of `chunks` (blank-line separated) that best match `context`, best first,
/// until `budget` characters are taken, then put back in paper order: the passages a snippet's
/// prompt carries. A paragraph longer than the budget is cut to it.
pub fn best_paragraphs(context: &str, chunks: &[String], budget: usize) -> Vec<String> {
    let paragraphs: Vec<String> = chunks
        .iter()
        .flat_map(|c| c.split("\n\n"))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let mut order = best_chunks(context, &paragraphs, paragraphs.len());
    let mut taken = 0;
    order.retain(|&i| {
        let fits = taken < budget;
        taken += paragraphs[i].len();
        fits
    });
    order.sort_unstable();
    order
        .into_iter()
        .map(|i| {
            let p = &paragraphs[i];
            match p.char_indices().nth(budget) {
                Some((cut, _)) => p[..cut].to_owned(),
                None => p.clone(),
            }
        })
        .collect()
}

/// The lines of `text` within `radius` lines of lines `open..=close`.
pub fn around(text: &str, open: usize, close: usize, radius: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = open.saturating_sub(radius);
    let to = (close + radius + 1).min(lines.len());
    lines[from..to].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_into_words() {
        let w = words("attn_weights = self.lambdaInit * QKNorm(x2)");
        for expected in ["attn", "weights", "self", "lambda", "init", "qknorm"] {
            assert!(w.contains(expected), "{expected} in {w:?}");
        }
        assert!(!w.contains("x2") && !w.contains("*"));
    }

    #[test]
    fn paragraphs_are_chosen_by_match_within_the_budget_in_paper_order() {
        let chunks = [
            "Intro about everything.\n\nThe lambda re-parameterisation uses exp of dot products."
                .to_owned(),
            "Differential attention subtracts two softmax maps.\n\nAcknowledgements.".to_owned(),
        ];
        let context = "attn = softmax(a) - lambda_full * softmax(b)  # differential attention";
        let got = best_paragraphs(context, &chunks, 10_000);
        assert_eq!(
            got,
            [
                "The lambda re-parameterisation uses exp of dot products.",
                "Differential attention subtracts two softmax maps."
            ]
        );
        // A budget of one paragraph keeps the best one only.
        let got = best_paragraphs(context, &chunks, 10);
        assert_eq!(got, ["Differential attenti"[..10].to_owned()]);
    }

    #[test]
    fn the_chunk_that_shares_the_rare_words_wins() {
        let chunks = [
            "We thank the reviewers. The model is trained with the method.".to_owned(),
            "The differential attention subtracts two softmax attention maps scaled by lambda."
                .to_owned(),
            "Results of the method on the benchmark.".to_owned(),
        ];
        let context = "def forward(self):\n    attn = softmax(q1 @ k1) - self.lambda_full * softmax(q2 @ k2)\n";
        assert_eq!(best_chunks(context, &chunks, 2), [1]);
        assert!(best_chunks("zzz qqq", &chunks, 2).is_empty());
    }
}
