//! Per-model rate limiting of model calls, shared by all activity tasks of a worker, with
//! Bedrock's accounting: a call reserves its input plus `max_tokens` from the tokens-per-minute
//! bucket when it starts, and when it ends [`Limiters::settle`] brings the bucket to what the
//! provider charged (input + cache write + output × the model's burndown), giving back or taking
//! the difference. Requests per minute is a second bucket. Both are a minute deep, as the
//! provider's are (a quota per minute is what may be used in any one minute): a worker that
//! has seen how many others share the account ([`Limiters::set_workers`], twice alike) may use
//! its share of the minute the account holds at once, and then goes at the quota's pace.
//! Waiting calls are served round-robin by a fairness key (the paper, see [`fair_share`]), so
//! one long paper's chunks do not starve the chunks of papers started after it. When the
//! provider still throttles (other workers, a quota lower than configured), the worker halves
//! its own rate and raises it back step by step (AIMD), slowly near the rate that was
//! throttled, so workers sharing one account settle below it; once their heartbeats are in,
//! they split the account by the calls each has waiting ([`Limiters::set_share`]). Across
//! workers, the `annapurna-llm` task queue's server-side rate limit
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

/// Share of the configured quota workers sharing an account aim at: a margin for what one
/// worker cannot see of the others (a count of workers that lags; shares by demand that each
/// reads from the heartbeats at its own moment, so that for a few seconds they may add up to
/// a little more than the whole). `bench quota --scenario workers`: at 99.5% and 99% (the
/// margins of a worker alone) one run in three was throttled once; at 99% and 97.5%, none in
/// four.
const TARGET_SHARE: f64 = 0.99;
/// Share of what the account holds that the workers' grants add up to: the rest is room for
/// the same, and for debts of other workers that the estimate does not see.
const BURST_SHARE: f64 = 0.975;
/// The same two for a worker alone on the model queue: its debts are all in its own bucket,
/// and what it cannot see is only an answer the provider has settled and the worker not yet
/// heard of (milliseconds of one answer's debt).
const TARGET_SHARE_ALONE: f64 = 0.995;
const BURST_SHARE_ALONE: f64 = 0.99;
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
/// Seconds of the quota a bucket holds: the provider's window (Bedrock's quotas are per
/// minute, and the stand-in's bucket is as deep).
pub const WINDOW_SECS: f64 = 60.0;
/// How much faster than its pace a worker may use what the account holds.
const PEAK: f64 = 2.0;
/// Smallest share of the account a worker by demand paces at.
const MIN_SHARE: f64 = 0.01;
/// How often a waiting call looks again when nothing wakes it.
const RECHECK: Duration = Duration::from_millis(100);
/// Answer times kept per model and answer budget, the latest, for [`Limiters::hedge_after`] …
const ANSWER_SAMPLES: usize = 200;
/// … and how many it needs before a call may be sent twice.
const HEDGE_MIN_SAMPLES: usize = 20;
/// Kinds of answer (model and answer budget) whose times are kept.
const ANSWER_KINDS: usize = 64;
/// The share of answers that come before a call counts as late.
const HEDGE_QUANTILE: f64 = 0.95;
/// A late call is sent again only this soon after calls last waited for the quota: at the end
/// of a backlog, where the last answers decide when the papers go on. A worker that stays
/// below its quota does not pay for second requests.
const HEDGE_AFTER_BACKLOG: Duration = Duration::from_secs(60);

tokio::task_local! {
    static FAIR_KEY: String;
}

/// Runs `work` with its model calls queued under `key` (a paper id): calls waiting for the
/// quota are served round-robin across keys.
pub async fn fair_share<F: std::future::Future>(key: String, work: F) -> F::Output {
    FAIR_KEY.scope(key, work).await
}

/// A token bucket that may go into debt (a settled call that used more than it reserved), a
/// minute deep, drained at most at [`PEAK`] times its pace (a second, small bucket): what the
/// account holds is used within a minute or so, not by whichever paper asks first.
#[derive(Debug)]
struct Bucket {
    per_sec: f64,
    cap: f64,
    level: f64,
    /// The peak bucket: a second of [`PEAK`] × the pace.
    peak: f64,
    at: Instant,
    /// What this worker took from the account since the limiter began (reservations, settled).
    spent: f64,
}

impl Bucket {
    fn new(per_minute: f64, now: Instant) -> Self {
        let per_sec = per_minute / 60.0;
        // Empty at the start: until the worker knows how many share the account, it goes at
        // its pace without a burst (see `State::grant_burst`).
        Bucket {
            per_sec,
            cap: per_sec * WINDOW_SECS,
            level: 0.0,
            peak: 0.0,
            at: now,
            spent: 0.0,
        }
    }

    fn peak_cap(&self) -> f64 {
        self.per_sec * PEAK
    }

    fn take(&mut self, n: f64) {
        self.level -= n;
        self.peak -= n;
        self.spent += n;
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        // A level above the depth (what was granted before the pace was lowered) is kept, not
        // refilled.
        if self.level < self.cap {
            self.level = (self.level + dt * self.per_sec).min(self.cap);
        }
        self.peak = (self.peak + dt * self.peak_cap()).min(self.peak_cap());
        self.at = now;
    }

    /// How long until `n` may be taken (a request larger than a bucket needs a full one).
    fn wait_for(&self, n: f64) -> Duration {
        let rate = self.per_sec.max(1e-9);
        let need = (n.min(self.cap) - self.level) / rate;
        let need_peak = (n.min(self.peak_cap()) - self.peak) / (rate * PEAK);
        Duration::from_secs_f64(need.max(need_peak).max(0.0))
    }
}

struct State {
    limit: ModelLimit,
    fraction: f64,
    /// Whether this model's share of the account's minute has been granted.
    burst_granted: bool,
    /// Workers sharing the account's quota (this one included): each paces at its share.
    workers: f64,
    /// Whether this worker is the only one polling the model queue (its margins are smaller).
    alone: bool,
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
    /// When a call last had to wait for the quota.
    backlog_at: Option<Instant>,
}

impl State {
    fn new(limit: ModelLimit, workers: f64, alone: bool, now: Instant) -> Self {
        let mut s = State {
            limit,
            fraction: 1.0,
            burst_granted: false,
            workers: workers.max(1.0),
            alone,
            throttled_at_fraction: None,
            decreased_at: None,
            increased_at: now,
            requests: None,
            tokens: None,
            order: VecDeque::new(),
            waiting: HashMap::new(),
            next_id: 0,
            backlog_at: None,
        };
        s.requests = (limit.rpm > 0).then(|| Bucket::new(s.rate(limit.rpm), now));
        s.tokens = (limit.tpm > 0).then(|| Bucket::new(s.rate(limit.tpm), now));
        s
    }

    /// The share of the quota's pace and of the account's minute this worker aims at: smaller
    /// margins when it is alone on the model queue.
    fn margins(&self) -> (f64, f64) {
        if self.alone {
            (TARGET_SHARE_ALONE, BURST_SHARE_ALONE)
        } else {
            (TARGET_SHARE, BURST_SHARE)
        }
    }

    fn rate(&self, per_minute: u32) -> f64 {
        per_minute as f64 * self.fraction * self.margins().0 / self.workers
    }

    fn log_grant(&self, model: &str) {
        tracing::info!(
            model,
            workers = self.workers,
            tokens = self.tokens.as_ref().map(|b| b.level.max(0.0) as u64),
            requests = self.requests.as_ref().map(|b| b.level.max(0.0) as u64),
            "the count of workers settled: this worker may use its share of what the account holds"
        );
    }

    /// Once the count of workers is settled: this worker's share of what the account's minute
    /// holds now. The account's bucket started full and has refilled at the quota's pace for
    /// `elapsed`; every worker is taken to have spent as much as this one (the shares then add
    /// up to what the account holds, whoever spent more), and each takes its 1/n.
    /// `workers` is the count (a share by demand is not yet known: the start is 1/n each).
    fn grant_burst(&mut self, workers: f64, elapsed: f64, now: Instant) {
        if self.burst_granted {
            return;
        }
        self.burst_granted = true;
        let (workers, share) = (workers.max(1.0), self.fraction * self.margins().1);
        for (bucket, per_minute) in [
            (&mut self.requests, self.limit.rpm),
            (&mut self.tokens, self.limit.tpm),
        ] {
            if let Some(b) = bucket {
                b.refill(now);
                let full = per_minute as f64 / 60.0 * WINDOW_SECS;
                let refilled = per_minute as f64 / 60.0 * elapsed;
                let account = (full + refilled - workers * b.spent).clamp(0.0, full);
                // What the worker saved at its pace is part of what the account holds: the
                // grant replaces it. It is not capped by the bucket's depth: a share by demand
                // that is small at this moment (few calls in hand yet) must not cut the
                // worker's part of the minute.
                b.level = account * share / workers;
            }
        }
    }

    /// A new pace: the buckets keep their level, their rate and depth follow the fraction.
    fn set_fraction(&mut self, fraction: f64, now: Instant) {
        self.fraction = fraction.clamp(MIN_FRACTION, 1.0);
        let (rpm, tpm) = (self.rate(self.limit.rpm), self.rate(self.limit.tpm));
        for (bucket, per_minute) in [(&mut self.requests, rpm), (&mut self.tokens, tpm)] {
            if let Some(b) = bucket {
                b.refill(now);
                b.per_sec = per_minute / 60.0;
                b.cap = b.per_sec * WINDOW_SECS;
                // The level stays: what the worker was granted of the account's minute is
                // still its part when its share of the pace changes (by demand, every 2 s). A
                // throttle empties it (see `Limiters::throttled`).
                b.peak = b.peak.min(b.peak_cap());
            }
        }
    }

    /// Takes one request reserving `tokens` when both buckets hold it now (zero returned), or
    /// says how long until they will, taking nothing.
    fn take_or_wait(&mut self, tokens: u64, now: Instant) -> Duration {
        let tokens = tokens as f64;
        let mut wait = Duration::ZERO;
        if let Some(b) = &mut self.requests {
            b.refill(now);
            wait = wait.max(b.wait_for(1.0));
        }
        if let Some(b) = &mut self.tokens {
            b.refill(now);
            wait = wait.max(b.wait_for(tokens));
        }
        if wait.is_zero() {
            if let Some(b) = &mut self.requests {
                b.take(1.0);
            }
            if let Some(b) = &mut self.tokens {
                b.take(tokens);
            }
        }
        wait
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
    /// The count of workers: the last one told, and whether two in a row agreed (then each
    /// model's share of the account's minute is granted).
    count: Mutex<(Option<u32>, bool)>,
    /// This worker's share of the account by demand ([`Limiters::set_share`]); `None`: 1/n.
    share: Mutex<Option<f64>>,
    started: Instant,
    /// Recent answer times, seconds, by model and answer budget (`max_tokens`: a summary's and
    /// a file's answers take very different times).
    answers: Mutex<HashMap<(String, u32), VecDeque<f64>>>,
    /// Model calls admitted and not yet answered ([`Limiters::in_flight`]).
    answering: std::sync::atomic::AtomicU32,
}

/// A model call admitted and not yet answered, counted in [`Limiters::in_flight`] while it
/// lives (dropped with the call, also when the activity is cancelled).
pub struct InFlight<'a>(&'a Limiters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .answering
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
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
            count: Mutex::new((None, false)),
            share: Mutex::new(None),
            started: Instant::now(),
            answers: Mutex::new(HashMap::new()),
            answering: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Counts a call from its admission until the returned guard is dropped (its answer in).
    pub fn answering(&self) -> InFlight<'_> {
        self.answering
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(self)
    }

    /// Model calls this worker has sent and not yet had answered: the part of its activity
    /// slots that no longer waits for the quota (see the worker's share by demand).
    pub fn in_flight(&self) -> u32 {
        self.answering.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `n` workers (this one included) share the account's quotas: each paces at 1/n of them.
    /// The worker learns `n` from the Temporal server (the pollers of the model queue, every few
    /// seconds), so workers on several hosts split one account without throttling each other
    /// first. When two counts in a row agree, workers started together have all been seen, and
    /// each model's share of the minute the account holds is granted (once).
    pub fn set_workers(&self, n: u32) {
        let n = n.max(1);
        let settled = {
            let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
            let settled = !count.1 && count.0 == Some(n);
            count.0 = Some(n);
            count.1 |= settled;
            settled
        };
        let changed = self.workers.swap(n, std::sync::atomic::Ordering::SeqCst) != n;
        if !changed && !settled {
            return;
        }
        let divisor = self.divisor();
        let now = Instant::now();
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let mut all = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for (model, state) in all.iter_mut() {
            state.workers = divisor;
            state.alone = n == 1;
            state.set_fraction(state.fraction, now);
            if settled {
                state.grant_burst(f64::from(n), elapsed, now);
                state.log_grant(model);
            }
        }
        drop(all);
        self.turn.notify_waiters();
    }

    /// This worker's share of the account's quotas by demand: the workers sharing the account
    /// split it in proportion to the model calls each has waiting for the quota (see the
    /// worker's `llm_share` and [`Limiters::in_flight`]), so that a worker whose calls are sent
    /// leaves its part to those that still have calls waiting, rather than each keeping 1/n to
    /// the end. `None`: 1/n of the count.
    pub fn set_share(&self, share: Option<f64>) {
        let share = share
            .filter(|s| s.is_finite())
            .map(|s| s.clamp(MIN_SHARE, 1.0));
        {
            let mut current = self.share.lock().unwrap_or_else(|p| p.into_inner());
            if *current == share {
                return;
            }
            *current = share;
        }
        tracing::debug!(share, "this worker's share of the model account");
        let divisor = self.divisor();
        let now = Instant::now();
        let mut all = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for state in all.values_mut() {
            state.workers = divisor;
            state.set_fraction(state.fraction, now);
        }
        drop(all);
        self.turn.notify_waiters();
    }

    /// What this worker's pace divides the quotas by: 1 / its share, or the count of workers.
    fn divisor(&self) -> f64 {
        match *self.share.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(share) => 1.0 / share,
            None => f64::from(self.workers().max(1)),
        }
    }

    /// Whether two counts of the workers in a row agreed (the shares of the minute granted).
    pub fn count_settled(&self) -> bool {
        self.count.lock().unwrap_or_else(|p| p.into_inner()).1
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
        let settled = self.count.lock().unwrap_or_else(|p| p.into_inner()).1;
        let started = self.started;
        let divisor = self.divisor();
        let state = all.entry(model.to_owned()).or_insert_with(|| {
            let mut s = State::new(limit, divisor, self.workers() <= 1, now);
            // A model first called after the count settled gets its share at once.
            if settled {
                s.grant_burst(
                    f64::from(self.workers()),
                    now.duration_since(started).as_secs_f64(),
                    now,
                );
                s.log_grant(model);
            }
            s
        });
        Some(f(state, now))
    }

    /// Waits until `model` may take one request reserving `tokens` (input + `max_tokens`), and
    /// reserves them. Calls wait in turn, round-robin across the keys of [`fair_share`].
    pub async fn acquire(&self, model: &str, tokens: u64) {
        let keyed = FAIR_KEY.try_with(Clone::clone).ok();
        let Some((id, key)) = self.with_state(model, |s, _| {
            let id = s.next_id;
            s.next_id += 1;
            // A call outside `fair_share` (a paper's one dataset recommendation, say, that its
            // map waits for) takes its turn as if it were a paper of its own, not behind the
            // other such calls.
            let key = keyed.clone().unwrap_or_else(|| format!("\u{0}call {id}"));
            if !s.waiting.contains_key(&key) {
                s.order.push_back(key.clone());
            }
            s.waiting.entry(key.clone()).or_default().push_back(id);
            (id, key)
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
                    let wait = s.take_or_wait(tokens, now);
                    if !wait.is_zero() {
                        s.backlog_at = Some(now);
                        return Some(wait);
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
                    tracing::debug!(
                        model,
                        tokens,
                        waiting = s.waiting.values().map(VecDeque::len).sum::<usize>(),
                        level = s.tokens.as_ref().map(|b| b.level.round()),
                        "model call admitted"
                    );
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
                let ceiling = b.cap.max(b.level);
                b.level = (b.level + reserved as f64 - used as f64).min(ceiling);
                b.spent += used as f64 - reserved as f64;
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
                b.peak = b.peak.min(0.0);
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

    /// A call to `model` with this answer budget was answered in `took`.
    pub fn answered_in(&self, model: &str, max_tokens: u32, took: Duration) {
        // Only what can be hedged, and a bounded number of kinds of answer (a budget fitted to
        // each prompt's length would otherwise add one per request).
        if !self.limits.contains_key(model) {
            return;
        }
        let mut all = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        let key = (model.to_owned(), max_tokens);
        if !all.contains_key(&key) && all.len() >= ANSWER_KINDS {
            return;
        }
        let kept = all.entry(key).or_default();
        if kept.len() == ANSWER_SAMPLES {
            kept.pop_front();
        }
        kept.push_back(took.as_secs_f64());
    }

    /// How long a call to `model` with this answer budget runs before it is late: the time
    /// within which [`HEDGE_QUANTILE`] of the recent answers came. `None` while too few have
    /// come, and for a model without a quota (its idle quota is unknown: a second request could
    /// take what others need, a self-hosted server's capacity say).
    pub fn hedge_after(&self, model: &str, max_tokens: u32) -> Option<Duration> {
        self.limits.get(model)?;
        let all = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        let kept = all.get(&(model.to_owned(), max_tokens))?;
        if kept.len() < HEDGE_MIN_SAMPLES {
            return None;
        }
        let mut sorted: Vec<f64> = kept.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let i = ((sorted.len() as f64 * HEDGE_QUANTILE) as usize).min(sorted.len() - 1);
        Some(Duration::from_secs_f64(sorted[i]))
    }

    /// Takes one request reserving `tokens` of `model`'s quota only if calls waited for it in
    /// the last [`HEDGE_AFTER_BACKLOG`] but none waits now, and the buckets hold it: quota that
    /// would otherwise stay idle at the end of a backlog (for a late call's second request).
    /// False for a model without a quota.
    pub fn take_idle(&self, model: &str, tokens: u64) -> bool {
        self.with_state(model, |s, now| {
            let after_backlog = s
                .backlog_at
                .is_some_and(|t| now.saturating_duration_since(t) <= HEDGE_AFTER_BACKLOG);
            if !after_backlog || !s.waiting.is_empty() {
                return false;
            }
            if !s.take_or_wait(tokens, now).is_zero() {
                return false;
            }
            tracing::debug!(
                model,
                tokens,
                level = s.tokens.as_ref().map(|b| b.level.round()),
                "idle quota taken for a late call's second request"
            );
            true
        })
        .unwrap_or(false)
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
        // Alone: 30 requests at ≈ 9.8/s take about 3 s (from an empty bucket).
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
    async fn a_share_by_demand_sets_the_pace() {
        // 6,000 tpm over three workers: 2,000 a minute each, 99% of it (33 tokens/s).
        let l = one(0, 6_000);
        l.set_workers(3);
        let third = taken_in(&l, 60, 100).await;
        // Most of the calls are this worker's: half the account, half again as fast as 1/3.
        l.set_share(Some(0.5));
        let half = taken_in(&l, 60, 100).await;
        // Its calls done, others' waiting: a small share leaves them the rest.
        l.set_share(Some(0.1));
        let tenth = taken_in(&l, 60, 100).await;
        // No heartbeats: 1/n of the count again.
        l.set_share(None);
        let again = taken_in(&l, 60, 100).await;
        assert!((1_800..=2_100).contains(&third), "a third: {third}");
        assert!((2_800..=3_100).contains(&half), "a half: {half}");
        assert!((500..=700).contains(&tenth), "a tenth: {tenth}");
        assert!((1_800..=2_100).contains(&again), "a third again: {again}");
        // A share above the whole or not a number is not taken as one.
        l.set_share(Some(7.0));
        assert_eq!(*l.share.lock().unwrap(), Some(1.0));
        l.set_share(Some(f64::NAN));
        assert_eq!(*l.share.lock().unwrap(), None);
    }

    /// Tokens `l` lets through in `secs` seconds, in calls of `each`.
    async fn taken_in(l: &Limiters, secs: u64, each: u64) -> u64 {
        let start = Instant::now();
        let mut taken = 0;
        loop {
            l.acquire("m", each).await;
            if start.elapsed() > Duration::from_secs(secs) {
                return taken;
            }
            taken += each;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_settled_count_grants_the_share_of_the_accounts_minute() {
        // 60,000 tpm: the account holds a minute (60,000) at the start; the pace of a worker
        // alone is 99.5% of 1,000 tokens/s.
        let alone = one(0, 60_000);
        alone.acquire("m", 1_000).await;
        // One count is not settled (workers started together may not all poll yet): the pace.
        alone.set_workers(1);
        let start = Instant::now();
        for _ in 0..10 {
            alone.acquire("m", 1_000).await;
        }
        assert!(
            start.elapsed() >= Duration::from_secs(9),
            "{:?}",
            start.elapsed()
        );
        // Two alike: the worker alone may use 99% of the account's minute (~59,400) beside its
        // pace, at twice its pace at the most: 30 s give 59,700, where the pace gives 29,850.
        alone.set_workers(1);
        let taken = taken_in(&alone, 30, 500).await;
        assert!((57_000..=61_000).contains(&taken), "{taken}");

        // Three workers that each spent 11,000 in their first ~11.2 s (33,000 of the account's
        // 60,000 + ~11,200 refilled): each may use a third of 97.5% of the ~38,200 left
        // (~12,400) beside its pace (a third of 990/s): ~32,200 in a minute.
        let shared = one(0, 60_000);
        for _ in 0..11 {
            shared.acquire("m", 1_000).await;
        }
        shared.set_workers(3);
        shared.set_workers(3);
        let taken = taken_in(&shared, 60, 500).await;
        assert!((29_000..=33_000).contains(&taken), "{taken}");
        // Granted once: a later count gives nothing more.
        shared.set_workers(3);
        let taken = taken_in(&shared, 30, 500).await;
        assert!((8_500..=10_500).contains(&taken), "{taken}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_share_by_demand_keeps_the_granted_part_of_the_minute() {
        let l = one(0, 60_000);
        l.acquire("m", 1).await;
        l.set_workers(3);
        l.set_workers(3);
        let level = |l: &Limiters| l.with_state("m", |s, _| s.tokens.as_ref().unwrap().level);
        // A third of 97.5% of the account's minute (60,000).
        let granted = level(&l).unwrap();
        assert!((19_300.0..19_600.0).contains(&granted), "{granted}");
        // The worker holds few calls yet: a tenth of the pace, whose minute is 5,940 deep. Its
        // part of what the account held stays (it was cut to the depth, the rest lost to all).
        l.set_share(Some(0.1));
        assert!(level(&l).unwrap() >= granted, "{:?}", level(&l));
        tokio::time::advance(Duration::from_secs(5)).await;
        l.settle("m", 1_000, 0);
        assert!(level(&l).unwrap() >= granted, "no refill above it, no cut");
        l.set_share(None);
        assert!(level(&l).unwrap() >= granted);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_is_late_past_the_95th_answer_and_hedged_only_with_idle_quota() {
        let l = one(600, 0);
        // Too few answers seen: no call is late yet.
        for ms in 1..=19 {
            l.answered_in("m", 1_000, Duration::from_millis(ms * 100));
        }
        assert_eq!(l.hedge_after("m", 1_000), None);
        for ms in 20..=100 {
            l.answered_in("m", 1_000, Duration::from_millis(ms * 100));
        }
        // 100 answers of 0.1 … 10 s: 95% came within 9.6 s.
        assert_eq!(
            l.hedge_after("m", 1_000),
            Some(Duration::from_millis(9_600))
        );
        // Another answer budget, another model, a model without a quota: nothing known.
        assert_eq!(l.hedge_after("m", 8_000), None);
        assert_eq!(l.hedge_after("other", 1_000), None);
        assert!(!l.take_idle("other", 1));
        // Nothing has waited for the quota: no backlog ends, nothing is hedged, though the
        // bucket holds a request.
        assert!(!l.take_idle("m", 1));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(!l.take_idle("m", 1), "below the quota: no second requests");
        // A backlog: a call waits for the quota, and while it waits the quota is not idle.
        l.acquire("m", 1).await;
        let waiting = {
            let l = &l;
            async move { l.acquire("m", 1).await }
        };
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        tokio::time::advance(Duration::from_millis(50)).await;
        assert!(!l.take_idle("m", 1), "a call waits");
        waiting.await;
        // Its end: nothing waits, and once the bucket holds one, the quota is idle.
        assert!(!l.take_idle("m", 1), "the bucket is empty");
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(l.take_idle("m", 1), "nothing waits, the bucket holds one");
        // A minute after the backlog, a worker below its quota again pays for nothing more.
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!l.take_idle("m", 1));
    }

    #[tokio::test(start_paused = true)]
    async fn paces_requests_and_backs_off_on_throttling() {
        let l = one(600, 0);
        // 600 rpm aiming at 98% ≈ 9.8/s from an empty bucket: 30 requests take about 3 s.
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
        // 60,000 tpm aiming at 98%: 980 tokens/s, from an empty bucket.
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
        // Reserved 900, used 900 + 3,800 (a 5× burndown): the next waits for the debt.
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
        // Then 3 calls outside any paper's share (the short papers' dataset recommendations).
        for _ in 0..3 {
            let (l, served) = (l.clone(), served.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire("m", 1).await;
                served.lock().unwrap().push("one-off");
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let served = served.lock().unwrap();
        let last_short = served.iter().rposition(|p| *p == "short").unwrap();
        // Round-robin: the short paper's third call is served by the eleventh grant, not after
        // the long paper's twenty.
        assert!(last_short <= 10, "{served:?}");
        // Each one-off call takes its turn as a paper of its own: all in the first round.
        let last_one_off = served.iter().rposition(|p| *p == "one-off").unwrap();
        assert!(last_one_off <= 4, "{served:?}");
    }
}
