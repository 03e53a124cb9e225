//! DiagnoseFailure: the kind of fix a failed run needs (code, hyperparameters, system) and

use crate::prelude::*;

/// DiagnoseFailure: the kind of fix a failed run needs (code, hyperparameters, system) and
/// the findings for FixCode. An answer that is not the JSON asked for gets one repair request,
/// then the run's own error stands as the finding.
pub async fn diagnose_failure(d: Call<'_>, input: DiagnoseFailureInput) -> Out<Diagnosis> {
    if let Some(known) = contract_diagnosis(&input.report) {
        return Ok(known);
    }
    let code = d.text(&input.code).await?;
    let context = match &input.context {
        Some(c) => Some(d.text(c).await?),
        None => None,
    };
    let (prompt, prefix) = prompts::with_context(
        context.as_deref(),
        prompts::diagnose(&input.target, &code, &input.report),
    );
    let model = d.settings.model_for(ModelRole::Diagnose, &input.model)?;
    let mut request = LlmRequest::single(model, prompt, 1_500, 0.0).with_cache_prefix(prefix);
    let mut usage = LlmUsage::default();
    let parse = |text: &str| -> Option<Diagnosis> {
        let v: serde_json::Value =
            serde_json::from_str(text.get(text.find('{')?..=text.rfind('}')?)?).ok()?;
        let kind = v["kind"]
            .as_str()
            .filter(|k| matches!(*k, "code" | "hyperparameters" | "system"))?;
        let findings: Vec<Finding> = serde_json::from_value(v["findings"].clone()).ok()?;
        Some(Diagnosis {
            kind: kind.to_owned(),
            summary: v["summary"].as_str().unwrap_or("").to_owned(),
            findings,
            usage: LlmUsage::default(),
        })
    };
    let parsed = d.converse_json(&mut request, &mut usage, parse).await?;
    let mut diagnosis = parsed.unwrap_or_else(|| Diagnosis {
        kind: "code".into(),
        summary: "the model's diagnosis was not the JSON asked for; fixing the run's own error"
            .into(),
        findings: vec![Finding {
            rule: input.report.classification.as_str().to_owned(),
            severity: Severity::Error,
            line: 0,
            message: input
                .report
                .stderr_tail
                .chars()
                .rev()
                .take(600)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect(),
            file: String::new(),
        }],
        usage: LlmUsage::default(),
    });
    diagnosis.usage = usage;
    Ok(diagnosis)
}

/// The training harness's own verdicts need no model: a model over its budget is a
/// hyperparameter fix (shrink the architecture's size-like hyperparameters, not the code), a
/// broken contract a code fix of what the harness named.
fn contract_diagnosis(report: &ExecutionReport) -> Option<Diagnosis> {
    let (kind, rule) = match report.classification {
        Classification::OverBudget => ("hyperparameters", "over-budget"),
        Classification::Contract => ("code", "contract"),
        _ => return None,
    };
    let said = report
        .trial
        .as_ref()
        .and_then(|t| t.error.clone())
        .unwrap_or_else(|| report.stderr_tail.chars().take(600).collect());
    let finding: Finding = serde_json::from_value(serde_json::json!({
        "rule": rule,
        "severity": "error",
        "line": 0,
        "message": said,
    }))
    .ok()?;
    Some(Diagnosis {
        kind: kind.to_owned(),
        summary: said,
        findings: vec![finding],
        usage: LlmUsage::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(classification: Classification, harness_said: Option<&str>) -> ExecutionReport {
        let blob = BlobRef {
            uri: "file:///x".into(),
            sha256: "0".into(),
            bytes: 0,
        };
        ExecutionReport {
            exit_code: Some(4),
            signal: None,
            killed: None,
            wall_ms: 1,
            cpu_ms: 1,
            peak_rss_kib: 1,
            metrics: vec![],
            stdout: blob.clone(),
            stderr: blob,
            stderr_tail: "training contract: …".into(),
            artifacts: vec![],
            classification,
            sandbox: "bubblewrap".into(),
            trial: harness_said.map(|e| TrialReport {
                status: "over-budget".into(),
                error: Some(e.into()),
                ..TrialReport::default()
            }),
        }
    }

    #[test]
    fn the_harness_verdicts_need_no_model() {
        let over = contract_diagnosis(&report(
            Classification::OverBudget,
            Some("the model is over the budget: 706 parameters > max_params 400"),
        ))
        .unwrap();
        assert_eq!(over.kind, "hyperparameters");
        assert_eq!(over.findings[0].rule, "over-budget");
        assert!(over.findings[0].message.contains("max_params 400"));
        assert_eq!(over.usage, LlmUsage::default());
        let broken = contract_diagnosis(&report(Classification::Contract, None)).unwrap();
        assert_eq!(broken.kind, "code");
        assert!(broken.summary.contains("training contract"));
        assert_eq!(
            contract_diagnosis(&report(Classification::CodeError, None)),
            None
        );
    }
}
