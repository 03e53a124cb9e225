//! ApplyPlanEdits: a user's edits to the plan (a JSON merge patch given with the
//! `approve_plan` signal), checked like a model's plan; edits that make it invalid fail the
//! activity for good, naming what is wrong, and the workflow asks again.

use crate::prelude::*;

/// ApplyPlanEdits: the edited plan, stored.
pub async fn apply_plan_edits(d: Call<'_>, input: ApplyPlanEditsInput) -> Out<RepoPlanRef> {
    let (plan, _) = crate::llm::generate_file::load_plan(&d, &input.plan.plan).await?;
    let edited = crate::repo::apply_edits(&plan, &input.edits)
        .map_err(|e| permanent("InvalidPlanEdits", format!("approve_plan edits: {e}")))?;
    crate::llm::plan_repository::store_plan(
        &d,
        &input.paper_id,
        &edited,
        LlmUsage::default(),
        input.plan.context.clone(),
    )
    .await
}
