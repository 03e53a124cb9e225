//! The activities of executor hosts (`annapurna-exec-<target>`): running code in the sandbox.
//!
//! Each activity is a plain `async fn` in its own file, returning [`Classified`]; the methods
//! here are one-line delegates that the Temporal worker registers (`#[activities]`).

pub mod execute_code;
pub mod probe_executor;

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::activities::defs;
use workflows::types::*;

use crate::deps::Deps;
use crate::heartbeat::heartbeating;
use crate::sandbox::SandboxConfig;

/// Activities on executor hosts (`annapurna-exec-<target>`).
pub struct ExecActivities {
    deps: Arc<Deps>,
    sandbox: SandboxConfig,
}

impl ExecActivities {
    /// Runs code under `sandbox`.
    pub fn new(deps: Arc<Deps>, sandbox: SandboxConfig) -> Self {
        Self { deps, sandbox }
    }
}

#[activities]
impl ExecActivities {
    /// ProbeExecutor: answers at once with this host's name; that it started at all tells the
    /// workflow an executor of the target is polling.
    #[activity(definition = defs::ProbeExecutor)]
    pub async fn probe_executor(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ProbeExecutorInput,
    ) -> Result<ExecutorInfo, ActivityError> {
        probe_executor::probe_executor(&self.deps, &ctx, input)
            .await
            .map_err(ActivityError::from)
    }

    /// ExecuteCode: the code in the sandbox; stdout and stderr (capped) and `output/` files to
    /// blobs; the report with metrics and a classification.
    #[activity(definition = defs::ExecuteCode)]
    pub async fn execute_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ExecuteCodeInput,
    ) -> Result<ExecutionReport, ActivityError> {
        heartbeating(
            &ctx,
            execute_code::execute_code(&self.deps, &ctx, input, &self.sandbox),
        )
        .await
    }
}
