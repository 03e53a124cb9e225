//! ProbeExecutor: answers at once with this host's name; that it started at all tells the

use crate::prelude::*;

/// ProbeExecutor: answers at once with this host's name; that it started at all tells the
/// workflow an executor of the target is polling.
pub async fn probe_executor(_d: Call<'_>, input: ProbeExecutorInput) -> Out<ExecutorInfo> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    Ok(ExecutorInfo {
        host,
        target: input.target,
    })
}
