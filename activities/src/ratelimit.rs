//! Per-model rate limiting of model calls, shared by all activity tasks of a worker: requests per
//! minute and tokens per minute (input estimate plus the reserved output), with governor's GCRA
//! limiters. When the provider still throttles (other workers, a quota lower than configured),
//! the worker lowers its own rate multiplicatively and raises it back additively as calls succeed
//! (AIMD), so throttling stops without an operator. Across workers, the `annapurna-llm` task
//! queue's server-side rate limit (`worker.llm-activities-per-second`) is the bound.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

/// A model's quota.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelLimit {
    /// Requests per minute (0: unlimited).
    #[serde(default)]
    pub rpm: u32,
    /// Tokens per minute, input plus reserved output (0: unlimited).
    #[serde(default)]
    pub tpm: u32,
}

/// Share of the configured quota the worker aims at: requests reach the provider with some
/// jitter, and a pace of exactly the quota turns every early arrival into a throttle.
const TARGET_SHARE: f64 = 0.95;
/// After a decrease, further throttles within this long are answers to the old pace.
const DECREASE_HOLD: Duration = Duration::from_secs(1);
/// Smallest share of the quota AIMD goes down to.
const MIN_FRACTION: f64 = 0.05;
/// Multiplicative decrease on a throttle.
const DECREASE: f64 = 0.5;
/// Additive increase per successful call.
const INCREASE: f64 = 0.05;

struct Current {
    fraction: f64,
    decreased_at: Option<std::time::Instant>,
    requests: Option<Arc<DefaultDirectRateLimiter>>,
    tokens: Option<(Arc<DefaultDirectRateLimiter>, u32)>,
}

fn limiter(per_minute: f64, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(60.0 / per_minute.max(0.001));
    let quota = Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("burst ≥ 1"));
    Arc::new(RateLimiter::direct(quota))
}

impl Current {
    fn build(limit: ModelLimit, fraction: f64) -> Current {
        // About a second's worth at once (and at least one large request's tokens), so the
        // pace is steady rather than a minute's burst and a stall, and no deeper than a
        // provider's own bucket.
        let requests = (limit.rpm > 0).then(|| {
            let rpm = limit.rpm as f64 * fraction * TARGET_SHARE;
            limiter(rpm, (rpm / 60.0).ceil() as u32)
        });
        let tokens = (limit.tpm > 0).then(|| {
            let tpm = limit.tpm as f64 * fraction * TARGET_SHARE;
            let burst = ((tpm / 60.0) as u32).max(16_000).min(limit.tpm);
            (limiter(tpm, burst), burst)
        });
        Current {
            fraction,
            decreased_at: None,
            requests,
            tokens,
        }
    }
}

/// The limiters of all models, shared by every activity task of a worker.
pub struct Limiters {
    limits: BTreeMap<String, ModelLimit>,
    current: Mutex<HashMap<String, Current>>,
}

impl Limiters {
    /// Limiters for these per-model quotas; models not listed are not limited.
    pub fn new(limits: BTreeMap<String, ModelLimit>) -> Self {
        Self {
            limits,
            current: Mutex::new(HashMap::new()),
        }
    }

    fn with_current<R>(
        &self,
        model: &str,
        f: impl FnOnce(&mut Current, ModelLimit) -> R,
    ) -> Option<R> {
        let limit = *self.limits.get(model)?;
        let mut all = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let current = all
            .entry(model.to_owned())
            .or_insert_with(|| Current::build(limit, 1.0));
        Some(f(current, limit))
    }

    /// Waits until `model` may take one request of `tokens` tokens.
    pub async fn acquire(&self, model: &str, tokens: u64) {
        let Some((requests, tokens_limiter)) =
            self.with_current(model, |c, _| (c.requests.clone(), c.tokens.clone()))
        else {
            return;
        };
        if let Some(r) = requests {
            r.until_ready().await;
        }
        if let Some((t, burst)) = tokens_limiter {
            let n = NonZeroU32::new(tokens.clamp(1, burst as u64) as u32).expect("n ≥ 1");
            let _ = t.until_n_ready(n).await;
        }
    }

    /// The provider throttled `model`: halve the pace, once per [`DECREASE_HOLD`].
    pub fn throttled(&self, model: &str) {
        self.with_current(model, |c, limit| {
            let now = std::time::Instant::now();
            if c.decreased_at
                .is_some_and(|t| now.duration_since(t) < DECREASE_HOLD)
            {
                return;
            }
            *c = Current::build(limit, (c.fraction * DECREASE).max(MIN_FRACTION));
            c.decreased_at = Some(now);
            tracing::warn!(
                model,
                share = c.fraction,
                "throttled: lowering this worker's rate"
            );
        });
    }

    /// A call to `model` succeeded: raise the pace a step, up to the configured quota.
    pub fn succeeded(&self, model: &str) {
        self.with_current(model, |c, limit| {
            if c.fraction < 1.0 {
                let decreased_at = c.decreased_at;
                *c = Current::build(limit, (c.fraction + INCREASE).min(1.0));
                c.decreased_at = decreased_at;
            }
        });
    }

    /// The share of its quota `model` runs at now (1.0 when unthrottled or unlimited).
    pub fn share(&self, model: &str) -> f64 {
        self.with_current(model, |c, _| c.fraction).unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_requests_and_backs_off_on_throttling() {
        let limits = BTreeMap::from([("m".to_owned(), ModelLimit { rpm: 600, tpm: 0 })]);
        let l = Limiters::new(limits);
        // 600 rpm (aiming at 95%) ≈ 9.5/s with a burst of 10: 30 requests take about 2 s, not 0.
        let start = tokio::time::Instant::now();
        for _ in 0..30 {
            l.acquire("m", 100).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1800), "{took:?}");
        // Unlisted models are not limited.
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            l.acquire("other", 100).await;
        }
        assert!(start.elapsed() < Duration::from_millis(200));
        // AIMD: one decrease per hold period, however many throttles arrive in it.
        l.throttled("m");
        assert_eq!(l.share("m"), 0.5);
        l.throttled("m");
        assert_eq!(l.share("m"), 0.5);
        tokio::time::sleep(DECREASE_HOLD).await;
        l.throttled("m");
        assert_eq!(l.share("m"), 0.25);
        for _ in 0..100 {
            l.succeeded("m");
        }
        assert_eq!(l.share("m"), 1.0);
    }

    #[tokio::test]
    async fn tokens_per_minute_bound_large_requests() {
        let limits = BTreeMap::from([(
            "m".to_owned(),
            ModelLimit {
                rpm: 0,
                tpm: 120_000,
            },
        )]);
        let l = Limiters::new(limits);
        // A burst of 16,000 tokens, then 2,000 tokens/s: the first request is free, the next
        // waits for the bucket to refill.
        let start = tokio::time::Instant::now();
        l.acquire("m", 10_000).await;
        assert!(start.elapsed() < Duration::from_millis(200));
        let t = tokio::time::Instant::now();
        l.acquire("m", 10_000).await;
        assert!(
            t.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
    }
}
