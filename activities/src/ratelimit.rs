//! Per-model rate limiting of model calls, shared by all activity tasks of a worker, with
//! Bedrock's accounting: a call reserves its input plus `max_tokens` from the tokens-per-minute
//! bucket when it starts, and when it ends [`Limiters::settle`] brings the bucket to what the
//! provider charged (input + cache write + output × the model's burndown), giving back or taking
//! the difference. Requests per minute is a second bucket. Waiting calls are served round-robin
//! by a fairness key (the paper, see [`fair_share`]), so one long paper's chunks do not starve
//! the chunks of papers started after it. When the provider still throttles (other workers, a
//! quota lower than configured), the worker halves its own rate and raises it back step by step
//! (AIMD), slowly near the rate that was throttled, so workers sharing one account settle below
//! it. Across workers, the `annapurna-llm` task queue's server-side rate limit
//! (`worker.llm-activities-per-second`) bounds requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// A model's quota.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelLimit {
    /// Requests per minute (0: unlimited).
    #[serde(default)]
    pub rpm: u32,
    /// Tokens per minute as the provider counts them (Bedrock: input + cache write + output ×
    /// burndown; 0: unlimited).
    #[serde(default)]
    pub tpm: u32,
}

/// Share of the configured quota the worker aims at: requests reach the provider with some
/// jitter, and a pace of exactly the quota turns every early arrival into a throttle.
const TARGET_SHARE: f64 = 0.95;
/// After a decrease, further throttles within this long are answers to the old pace.
const DECREASE_HOLD: Duration = Duration::from_secs(2);
/// Smallest share of the quota AIMD goes down to.
const MIN_FRACTION: f64 = 0.02;
/// Multiplicative decrease on a throttle.
const DECREASE: f64 = 0.5;
/// Additive increase per second of successful calls, below the rate last throttled …
const INCREASE_PER_SEC: f64 = 0.05;
/// … and at or above 90% of it, where the next throttle is likely: a slow probe.
const PROBE_PER_SEC: f64 = 0.002;
/// Seconds of the quota a bucket holds: calls go out at a steady pace, not a minute's burst.
const BUCKET_SECS: f64 = 1.0;
/// How often a waiting call looks again when nothing wakes it.
const RECHECK: Duration = Duration::from_millis(100);

tokio::task_local! {
    static FAIR_KEY: String;
}

/// Runs `work` with its model calls queued under `key` (a paper id): calls waiting for the
/// quota are served round-robin across keys.
pub async fn fair_share<F: std::future::Future>(key: String, work: F) -> F::Output {
    FAIR_KEY.scope(key, work).await
}

/// A token bucket that may go into debt (a settled call that used more than it reserved).
#[derive(Debug)]
struct Bucket {
    per_sec: f64,
    cap: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_minute: f64, now: Instant) -> Self {
        let per_sec = per_minute / 60.0;
        let cap = per_sec * BUCKET_SECS;
        // Empty at the start: a worker joining others on one account does not open with a burst.
        Bucket {
            per_sec,
            cap,
            level: 0.0,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.per_sec).min(self.cap);
        self.at = now;
    }

    /// How long until `n` may be taken (a request larger than the bucket needs a full one).
    fn wait_for(&self, n: f64) -> Duration {
        let need = n.min(self.cap) - self.level;
        if need <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(need / self.per_sec.max(1e-9))
        }
    }
}

struct State {
    limit: ModelLimit,
    fraction: f64,
    /// Workers sharing the account's quota (this one included): each paces at its share.
    workers: f64,
    /// The share of the quota at the last throttle; increases slow down near it.
    throttled_at_fraction: Option<f64>,
    decreased_at: Option<Instant>,
    increased_at: Instant,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    /// Fairness keys with waiting calls, in round-robin order, each with its calls in arrival
    /// order.
    order: VecDeque<String>,
    waiting: HashMap<String, VecDeque<u64>>,
    next_id: u64,
}

impl State {
    fn new(limit: ModelLimit, workers: u32, now: Instant) -> Self {
        let mut s = State {
            limit,
            fraction: 1.0,
            workers: f64::from(workers.max(1)),
            throttled_at_fraction: None,
            decreased_at: None,
            increased_at: now,
            requests: None,
            tokens: None,
            order: VecDeque::new(),
            waiting: HashMap::new(),
            next_id: 0,
        };
        s.requests = (limit.rpm > 0).then(|| Bucket::new(s.rate(limit.rpm), now));
        s.tokens = (limit.tpm > 0).then(|| Bucket::new(s.rate(limit.tpm), now));
        s
    }

    fn rate(&self, per_minute: u32) -> f64 {
        per_minute as f64 * self.fraction * TARGET_SHARE / self.workers
    }

    /// A new pace: the buckets keep their level, their rate and depth follow the fraction.
    fn set_fraction(&mut self, fraction: f64, now: Instant) {
        self.fraction = fraction.clamp(MIN_FRACTION, 1.0);
        let (rpm, tpm) = (self.rate(self.limit.rpm), self.rate(self.limit.tpm));
        for (bucket, per_minute) in [(&mut self.requests, rpm), (&mut self.tokens, tpm)] {
            if let Some(b) = bucket {
                b.refill(now);
                let fresh = Bucket::new(per_minute, now);
                b.per_sec = fresh.per_sec;
                b.cap = fresh.cap;
                b.level = b.level.min(b.cap);
            }
        }
    }

    fn head(&self) -> Option<u64> {
        self.order
            .front()
            .and_then(|k| self.waiting.get(k))
            .and_then(|q| q.front().copied())
    }

    fn remove(&mut self, key: &str, id: u64) {
        if let Some(q) = self.waiting.get_mut(key) {
            q.retain(|i| *i != id);
            if q.is_empty() {
                self.waiting.remove(key);
                self.order.retain(|k| k != key);
            }
        }
    }
}

/// The limiters of all models, shared by every activity task of a worker.
pub struct Limiters {
    limits: BTreeMap<String, ModelLimit>,
    states: Mutex<HashMap<String, State>>,
    /// Wakes waiting calls when the head of a queue changes.
    turn: tokio::sync::Notify,
    /// Workers polling the model queue, this one included ([`Limiters::set_workers`]).
    workers: std::sync::atomic::AtomicU32,
}

/// Removes a waiting call from its queue when its future is dropped (the activity cancelled).
struct Waiting<'a> {
    limiters: &'a Limiters,
    model: &'a str,
    key: String,
    id: u64,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.limiters
                .with_state(self.model, |s, _| s.remove(&self.key, self.id));
            self.limiters.turn.notify_waiters();
        }
    }
}

impl Limiters {
    /// Limiters for these per-model quotas; models not listed are not limited.
    pub fn new(limits: BTreeMap<String, ModelLimit>) -> Self {
        Self {
            limits,
            states: Mutex::new(HashMap::new()),
            turn: tokio::sync::Notify::new(),
            workers: std::sync::atomic::AtomicU32::new(1),
        }
    }

    /// `n` workers (this one included) share the account's quotas: each paces at 1/n of them.
    /// The worker learns `n` from the Temporal server (the pollers of the model queue), so
    /// workers on several hosts split one account without throttling each other first.
    pub fn set_workers(&self, n: u32) {
        let n = n.max(1);
        if self.workers.swap(n, std::sync::atomic::Ordering::SeqCst) == n {
            return;
        }
        let now = Instant::now();
        let mut all = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for state in all.values_mut() {
            state.workers = f64::from(n);
            state.set_fraction(state.fraction, now);
        }
        drop(all);
        self.turn.notify_waiters();
    }

    /// How many workers this one shares the quotas with (itself included).
    pub fn workers(&self) -> u32 {
        self.workers.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The configured quota of `model`, when it has one.
    pub fn limit(&self, model: &str) -> Option<ModelLimit> {
        self.limits.get(model).copied()
    }

    fn with_state<R>(&self, model: &str, f: impl FnOnce(&mut State, Instant) -> R) -> Option<R> {
        let limit = *self.limits.get(model)?;
        let now = Instant::now();
        let mut all = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let state = all.entry(model.to_owned()).or_insert_with(|| {
            State::new(
                limit,
                self.workers.load(std::sync::atomic::Ordering::SeqCst),
                now,
            )
        });
        Some(f(state, now))
    }

    /// Waits until `model` may take one request reserving `tokens` (input + `max_tokens`), and
    /// reserves them. Calls wait in turn, round-robin across the keys of [`fair_share`].
    pub async fn acquire(&self, model: &str, tokens: u64) {
        let key = FAIR_KEY.try_with(Clone::clone).unwrap_or_default();
        let Some(id) = self.with_state(model, |s, _| {
            let id = s.next_id;
            s.next_id += 1;
            if !s.waiting.contains_key(&key) {
                s.order.push_back(key.clone());
            }
            s.waiting.entry(key.clone()).or_default().push_back(id);
            id
        }) else {
            return;
        };
        let mut waiting = Waiting {
            limiters: self,
            model,
            key,
            id,
            done: false,
        };
        loop {
            let notified = self.turn.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = self
                .with_state(model, |s, now| {
                    if s.head() != Some(id) {
                        return Some(RECHECK);
                    }
                    let tokens = tokens as f64;
                    let mut wait = Duration::ZERO;
                    if let Some(b) = &mut s.requests {
                        b.refill(now);
                        wait = wait.max(b.wait_for(1.0));
                    }
                    if let Some(b) = &mut s.tokens {
                        b.refill(now);
                        wait = wait.max(b.wait_for(tokens));
                    }
                    if !wait.is_zero() {
                        return Some(wait);
                    }
                    if let Some(b) = &mut s.requests {
                        b.level -= 1.0;
                    }
                    if let Some(b) = &mut s.tokens {
                        b.level -= tokens;
                    }
                    // This key goes to the back of the round.
                    let key = s.order.pop_front().expect("the head's key");
                    let q = s.waiting.get_mut(&key).expect("the head's queue");
                    q.pop_front();
                    if q.is_empty() {
                        s.waiting.remove(&key);
                    } else {
                        s.order.push_back(key);
                    }
                    None
                })
                .flatten();
            match wait {
                None => {
                    waiting.done = true;
                    self.turn.notify_waiters();
                    return;
                }
                Some(d) => {
                    let _ = tokio::time::timeout(d.min(RECHECK), notified).await;
                }
            }
        }
    }

    /// A call to `model` that reserved `reserved` tokens ended having used `used` as the
    /// provider counts them: the bucket gets the difference back, or gives up the excess (a 5×
    /// burndown answer can use more than it reserved).
    pub fn settle(&self, model: &str, reserved: u64, used: u64) {
        self.with_state(model, |s, now| {
            if let Some(b) = &mut s.tokens {
                b.refill(now);
                b.level = (b.level + reserved as f64 - used as f64).min(b.cap);
            }
        });
        self.turn.notify_waiters();
    }

    /// The provider throttled `model`: halve the pace, once per [`DECREASE_HOLD`].
    pub fn throttled(&self, model: &str) {
        self.with_state(model, |s, now| {
            if s.decreased_at
                .is_some_and(|t| now.duration_since(t) < DECREASE_HOLD)
            {
                return;
            }
            s.throttled_at_fraction = Some(s.fraction);
            s.set_fraction(s.fraction * DECREASE, now);
            // Nothing more goes out until the lower pace has refilled the buckets: the calls
            // already waiting would otherwise meet the same full quota.
            for b in [&mut s.requests, &mut s.tokens].into_iter().flatten() {
                b.level = b.level.min(0.0);
            }
            s.decreased_at = Some(now);
            s.increased_at = now;
            tracing::warn!(
                model,
                share = s.fraction,
                "throttled: lowering this worker's rate"
            );
        });
    }

    /// A call to `model` succeeded: raise the pace by the time since the last raise, quickly
    /// well below the rate last throttled, slowly near it, up to the configured quota.
    pub fn succeeded(&self, model: &str) {
        self.with_state(model, |s, now| {
            if s.fraction >= 1.0 {
                return;
            }
            let dt = now.saturating_duration_since(s.increased_at).as_secs_f64();
            let near = s
                .throttled_at_fraction
                .is_some_and(|t| s.fraction >= 0.9 * t);
            let step = if near {
                PROBE_PER_SEC
            } else {
                INCREASE_PER_SEC
            } * dt;
            let mut fraction = s.fraction + step;
            if let Some(t) = s.throttled_at_fraction
                && !near
            {
                fraction = fraction.min(0.9 * t);
            }
            s.set_fraction(fraction, now);
            s.increased_at = now;
        });
    }

    /// The share of its quota `model` runs at now (1.0 when unthrottled or unlimited).
    pub fn share(&self, model: &str) -> f64 {
        self.with_state(model, |s, _| s.fraction).unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rpm: u32, tpm: u32) -> Limiters {
        Limiters::new(BTreeMap::from([("m".to_owned(), ModelLimit { rpm, tpm })]))
    }

    #[tokio::test(start_paused = true)]
    async fn three_workers_each_pace_at_a_third() {
        let l = one(600, 0);
        // Alone: 30 requests at ≈ 9.5/s take about 2 s (after the first second's bucket).
        let start = Instant::now();
        for _ in 0..30 {
            l.acquire("m", 100).await;
        }
        let alone = start.elapsed();
        // The server says three workers poll the model queue: a third of the pace each.
        l.set_workers(3);
        assert_eq!(l.workers(), 3);
        let start = Instant::now();
        for _ in 0..30 {
            l.acquire("m", 100).await;
        }
        let shared = start.elapsed();
        assert!(
            shared >= alone * 2 && shared >= Duration::from_secs(8),
            "alone {alone:?}, a third {shared:?}"
        );
        // Back to one: the whole pace again.
        l.set_workers(1);
        let start = Instant::now();
        for _ in 0..20 {
            l.acquire("m", 100).await;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn paces_requests_and_backs_off_on_throttling() {
        let l = one(600, 0);
        // 600 rpm aiming at 95% ≈ 9.5/s with a second's bucket: 30 requests take about 2 s.
        let start = Instant::now();
        for _ in 0..30 {
            l.acquire("m", 100).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1800), "{took:?}");
        // Unlisted models are not limited.
        let start = Instant::now();
        for _ in 0..1000 {
            l.acquire("other", 100).await;
        }
        assert!(start.elapsed() < Duration::from_millis(10));
        // AIMD: one decrease per hold period, however many throttles arrive in it.
        l.throttled("m");
        assert_eq!(l.share("m"), 0.5);
        l.throttled("m");
        assert_eq!(l.share("m"), 0.5);
        tokio::time::sleep(DECREASE_HOLD).await;
        l.throttled("m");
        assert_eq!(l.share("m"), 0.25);
        // Back up quickly to 90% of the rate last throttled (0.5), then slowly.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            l.succeeded("m");
        }
        let share = l.share("m");
        assert!((0.45..0.5).contains(&share), "{share}");
        tokio::time::sleep(Duration::from_secs(10)).await;
        l.succeeded("m");
        let later = l.share("m");
        assert!(later > share && later < share + 0.05, "{share} → {later}");
    }

    #[tokio::test(start_paused = true)]
    async fn settling_refunds_a_short_answer_and_charges_a_long_one() {
        // 60,000 tpm aiming at 95%: 950 tokens/s, a bucket of 950.
        let l = one(0, 60_000);
        l.acquire("m", 900).await;
        // Reserved 900, used 100: 800 back, so the next 900 go at once.
        l.settle("m", 900, 100);
        let start = Instant::now();
        l.acquire("m", 900).await;
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        // Reserved 900, used 900 + 4 × 950 (a 5× burndown): the next waits for the debt.
        l.settle("m", 900, 900 + 3_800);
        let start = Instant::now();
        l.acquire("m", 900).await;
        assert!(
            start.elapsed() >= Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paper_queued_later_is_served_in_turn() {
        let l = std::sync::Arc::new(one(60, 0));
        let served = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // 20 calls of a long paper queue first, then 3 of a short one.
        for (paper, calls) in [("long", 20), ("short", 3)] {
            for _ in 0..calls {
                let (l, served) = (l.clone(), served.clone());
                tasks.push(tokio::spawn(fair_share(paper.to_owned(), async move {
                    l.acquire("m", 1).await;
                    served.lock().unwrap().push(paper);
                })));
                tokio::task::yield_now().await;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let served = served.lock().unwrap();
        let last_short = served.iter().rposition(|p| *p == "short").unwrap();
        // Round-robin: the short paper's third call is served by the seventh grant, not after
        // the long paper's twenty.
        assert!(last_short <= 6, "{served:?}");
    }
}
