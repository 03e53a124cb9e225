//! CheckCode: Python's own parser, plus the run-contract checks.

use crate::prelude::*;

/// CheckCode: Python's own parser, plus the run-contract checks.
pub async fn check_code(d: Call<'_>, input: CheckCodeInput) -> Out<CheckReport> {
    let code = d.text(&input.code).await?;
    let settings = &d.settings;
    let dataset = input.dataset.as_deref().unwrap_or("");
    let mut report = check_python(
        &settings.python,
        &settings.ruff,
        &code,
        &input.target,
        dataset,
    )
    .await?;
    report.findings.truncate(100);
    Ok(report)
}
