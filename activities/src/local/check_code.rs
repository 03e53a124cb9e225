//! CheckCode: Python's own parser, plus the run-contract checks.

use crate::prelude::*;

/// CheckCode: Python's own parser, plus the run-contract checks.
pub async fn check_code(d: Call<'_>, input: CheckCodeInput) -> Out<CheckReport> {
    let settings = &d.settings;
    let dataset = input.dataset.as_deref().unwrap_or("");
    if let Some(repo) = &input.repository {
        let bundle: RepoBundle = serde_json::from_str(&d.text(repo).await?).map_err(|e| {
            permanent(
                "InvalidRepository",
                format!("the repository bundle does not read: {e}"),
            )
        })?;
        bundle
            .validate()
            .map_err(|e| permanent("InvalidRepository", e))?;
        let mut report = crate::check_repo::check_repository(
            &settings.python,
            &settings.ruff,
            &bundle,
            &input.target,
            dataset,
        )
        .await?;
        report.findings.truncate(100);
        return Ok(report);
    }
    let code = d.text(&input.code).await?;
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
