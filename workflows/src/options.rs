//! Activity options the workflows share: an id, a queue (or the workflow's own), a time limit and
//! a bounded retry with its backoff.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_workflow::ActivityOptions;

/// How an activity is retried: the first and the longest pause, and how many attempts in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub(crate) initial: Duration,
    pub(crate) maximum: Duration,
    pub(crate) attempts: u32,
}

impl Retry {
    /// Feeds and benchmark steps: 1 s to 30 s (`attempts` in all).
    pub(crate) const fn quick(attempts: u32) -> Self {
        Retry {
            initial: Duration::from_secs(1),
            maximum: Duration::from_secs(30),
            attempts,
        }
    }

    /// Calls to other services that may be busy a while: 2 s to 60 s.
    pub(crate) const fn patient(attempts: u32) -> Self {
        Retry {
            initial: Duration::from_secs(2),
            maximum: Duration::from_secs(60),
            attempts,
        }
    }

    /// The same pauses, `attempts` in all.
    pub(crate) const fn with_attempts(self, attempts: u32) -> Self {
        Retry { attempts, ..self }
    }

    /// Notifications: three tries within seconds, then dropped.
    pub(crate) const NOTIFY: Retry = Retry {
        initial: Duration::from_secs(1),
        maximum: Duration::from_secs(5),
        attempts: 3,
    };
}

/// Options for activity `id` on `queue` (none: the workflow's queue) within `start_to_close`,
/// heartbeating every 30 s at the latest, retried as `retry` says.
pub(crate) fn activity(
    queue: Option<String>,
    id: String,
    start_to_close: Duration,
    retry: Retry,
) -> ActivityOptions {
    heartbeating(queue, id, start_to_close, Duration::from_secs(30), retry)
}

/// As [`activity`], with its own heartbeat timeout (how soon work lost with a dead worker is
/// tried again).
pub(crate) fn heartbeating(
    queue: Option<String>,
    id: String,
    start_to_close: Duration,
    heartbeat: Duration,
    retry: Retry,
) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .activity_id(id)
        .maybe_task_queue(queue)
        .heartbeat_timeout(heartbeat)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(retry.initial)
                .maximum_interval(retry.maximum)
                .maximum_attempts(retry.attempts)
                .build(),
        )
        .build()
}

/// Options for a `NotifySlack` post: 20 s, [`Retry::NOTIFY`].
pub(crate) fn notify(id: String) -> ActivityOptions {
    activity(None, id, Duration::from_secs(20), Retry::NOTIFY)
}
