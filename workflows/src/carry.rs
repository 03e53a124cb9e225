//! `carried`: the state `IngestPapers` and `PaperBatch` pass to themselves when they continue
//! as new. It is theirs alone: a caller's is refused.

use temporalio_workflow::{WorkflowContext, WorkflowTermination};

use crate::paper_to_code::invalid_input;

/// Patch: a `carried` input is accepted only by a run that was continued as new (it is the
/// workflow's own state, and a caller could otherwise inject entries or papers).
pub const CARRIED_ONLY_CONTINUED_PATCH: &str = "annapurna-carried-only-when-continued";

/// The failure for a `carried` input given by a caller, when there is one.
pub(crate) fn refuse_injected(
    ctx: &WorkflowContext<impl Sized>,
    carried: bool,
    workflow: &str,
) -> Result<(), WorkflowTermination> {
    if carried
        && ctx.info().continued_from_run_id().is_none()
        && ctx.patched(CARRIED_ONLY_CONTINUED_PATCH)
    {
        return Err(invalid_input(&format!(
            "`carried` is the state a {workflow} passes to itself when it continues as new; \
             leave it out of the input"
        )));
    }
    Ok(())
}

/// The summary carried over from the previous run, or a fresh one.
pub(crate) fn summary_from<C, S: Clone + Default>(
    carried: &Option<C>,
    summary: impl Fn(&C) -> &S,
) -> S {
    carried
        .as_ref()
        .map(|c| summary(c).clone())
        .unwrap_or_default()
}
