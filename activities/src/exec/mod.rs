//! The activities of executor hosts (`annapurna-exec-<target>`): running code in the sandbox.
//!
//! Each activity is a plain `async fn` in its own file, returning [`Classified`]; the methods
//! here are one-line delegates that the Temporal worker registers (`#[activities]`).

pub mod execute_code;
pub mod probe_executor;
pub mod suggest_trials;

use workflows::types::*;

use crate::sandbox::SandboxConfig;

crate::group::activity_group! {
    /// Activities on executor hosts (`annapurna-exec-<target>`).
    ExecActivities { sandbox: SandboxConfig }
    /// ProbeExecutor: answers at once with this host's name; that it started at all tells the
    /// workflow an executor of the target is polling.
    ProbeExecutor => plain probe_executor::probe_executor(ProbeExecutorInput) -> ExecutorInfo;
    /// ExecuteCode: the code in the sandbox; stdout and stderr (capped) and `output/` files to
    /// blobs; the report with metrics and a classification.
    ExecuteCode => heartbeating execute_code::execute_code(ExecuteCodeInput, sandbox) -> ExecutionReport;
    /// SuggestTrials: the next hyperparameters of a search, from Optuna's TPE sampler in the
    /// execution venv, rebuilt from the trials so far.
    SuggestTrials => plain suggest_trials::suggest_trials(SuggestTrialsInput, sandbox) -> Suggestions;
}
