//! `PaperToCode`'s optional last step before recording: after the execution stage succeeded, a
//! hyperparameter search as a child workflow, `SearchHyperparameters` (id `<paper workflow
//! id>/search`), when the input asks for one (`search`) or sets a model-size budget
//! (`max_model_mb`, `max_params`; without `search`, one trial of the defaults held to it). Its
//! files go to `<paper-id>/<run-id>/search/`. A search that fails does not fail the paper: the
//! code ran, and the reason is in the child's history.

use temporalio_workflow::{ChildWorkflowOptions, WorkflowContext};

use super::PaperToCode;
use crate::search_hyperparameters::SearchHyperparameters;
use crate::types::*;

/// The patch id of the search stage.
pub const SEARCH_PATCH: &str = "annapurna-hyperparameter-search";

/// Whether the input asks for a search (or a budget, which a one-trial search holds).
pub fn wanted(input: &PaperToCodeInput) -> bool {
    input.search.is_some() || input.max_model_mb.is_some() || input.max_params.is_some()
}

/// What is wrong with the input's search or budget, naming the field.
pub fn problem(input: &PaperToCodeInput) -> Option<String> {
    if let Some(spec) = &input.search
        && let Some(p) = spec.problem()
    {
        return Some(p);
    }
    if let Some(mb) = input.max_model_mb
        && !(mb.is_finite() && mb > 0.0)
    {
        return Some(format!("max_model_mb must be a positive number; got {mb}"));
    }
    if input.max_params == Some(0) {
        return Some("max_params must be at least 1".into());
    }
    None
}

/// The search's input: the repository (or the one file as a one-file repository), the target,
/// the budget, the execution stage's limits.
pub fn search_input(
    input: &PaperToCodeInput,
    paper_id: &str,
    results_dir: String,
    code: &BlobRef,
    repository: Option<BlobRef>,
) -> SearchHyperparametersInput {
    SearchHyperparametersInput {
        invalid_input: None,
        paper_id: paper_id.to_owned(),
        results_dir,
        repository,
        code: code.clone(),
        target: input.target(),
        search: input.search.clone().unwrap_or(SearchSpec {
            trials: 1,
            parallel: 1,
            ..SearchSpec::default()
        }),
        budget: ModelBudget {
            max_model_mb: input.max_model_mb,
            max_params: input.max_params,
            ..ModelBudget::default()
        },
        timeout_secs: input.exec_timeout_secs(),
        heartbeat_secs: input.heartbeat_timeout().as_secs(),
    }
}

/// Runs the search as a child and waits for it; `None` when it could not start or failed.
pub async fn run(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper_id: &str,
    code: &BlobRef,
    repository: Option<BlobRef>,
) -> Option<SearchOutput> {
    let results_dir = format!("{paper_id}/{}", ctx.run_id());
    let child_input = search_input(input, paper_id, results_dir, code, repository);
    let child_id = format!("{}/search", ctx.workflow_id());
    // The Web UI's current details (never in the history) say where the trials are followed.
    ctx.set_current_details(format!(
        "searching hyperparameters: {} trials, {} at a time, in child workflow {child_id} (query `progress` there)",
        child_input.search.trials, child_input.search.parallel
    ));
    let options = ChildWorkflowOptions::workflow_id(child_id);
    let child = ctx
        .start_child_workflow(SearchHyperparameters::run, child_input, options)
        .await
        .ok()?;
    child.result().await.ok()
}
