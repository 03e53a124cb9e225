//! Heartbeats while an activity works, and the one explicit conversion of its typed error
//! ([`Classified`]) into the SDK's `ActivityError`.

use std::future::Future;
use std::time::Duration;

use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::Classified;

/// Runs quick `work` without heartbeats; only converts its typed error.
pub(crate) async fn plain<T>(
    _ctx: &ActivityContext,
    work: impl Future<Output = Result<T, Classified>>,
) -> Result<T, ActivityError> {
    work.await.map_err(ActivityError::from)
}

/// Runs `work`, heartbeating while it runs (three times per heartbeat timeout, at most every
/// 3 s), so a lost worker's task moves elsewhere within the timeout; stops early when the activity
/// is cancelled.
pub(crate) async fn heartbeating<T>(
    ctx: &ActivityContext,
    work: impl Future<Output = Result<T, Classified>>,
) -> Result<T, ActivityError> {
    let every = ctx
        .info()
        .heartbeat_timeout
        .map(|t| t / 3)
        .unwrap_or(Duration::from_secs(3))
        .clamp(Duration::from_millis(100), Duration::from_secs(3));
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            out = &mut work => return out.map_err(ActivityError::from),
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
            _ = tick.tick() => {
                let _ = ctx.record_heartbeat(()).await;
            }
        }
    }
}
