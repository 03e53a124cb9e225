//! The results directory of one run: `<paper-id>/<run-id>/` in the results store, holding the
//! chunk summaries, the generated and final code, each review round, the final check and
//! `metadata.json` (models, tokens, timings, provenance).

use serde_json::json;
use workflows::types::{LlmUsage, ModelRole, RecordResultsInput, ResultsRef};

use crate::clients::blobs::{BlobError, BlobStore};
use crate::clients::llm::STANDIN_MARKER;

/// What every result touched by the Bedrock stand-in says.
pub const STANDIN_NOTICE: &str = "Model answers in this run came from the Annapurna Bedrock stand-in: \
templates, not generation. Configure AWS credentials to use Bedrock.";

/// Writes the run's results; returns the directory and the files written.
pub async fn write(
    blobs: &BlobStore,
    results: &BlobStore,
    input: &RecordResultsInput,
) -> Result<ResultsRef, BlobError> {
    let dir = format!("{}/{}", input.paper.paper_id, input.run_id);
    let mut files = Vec::new();
    let mut put = async |name: String, data: Vec<u8>| -> Result<(), BlobError> {
        results.put(&format!("{dir}/{name}"), data).await?;
        files.push(name);
        Ok(())
    };
    let standin = input.summaries.iter().any(|s| s.usage.standin)
        || input.generated.usage.standin
        || input.rounds.iter().any(|r| {
            r.review.as_ref().is_some_and(|v| v.usage.standin)
                || r.fixed.as_ref().is_some_and(|f| f.usage.standin)
        });
    for s in &input.summaries {
        let mut text = blobs.get(&s.summary).await?.to_vec();
        if s.usage.standin && !String::from_utf8_lossy(&text).contains(STANDIN_MARKER) {
            text.splice(0..0, format!("<!-- {STANDIN_NOTICE} -->\n").into_bytes());
        }
        put(format!("summaries/chunk-{:04}.md", s.index), text).await?;
    }
    let stamp = |code: Vec<u8>| -> Vec<u8> {
        if standin && !String::from_utf8_lossy(&code).contains(STANDIN_MARKER) {
            let mut out = format!("# {STANDIN_MARKER}: {STANDIN_NOTICE}\n").into_bytes();
            out.extend(code);
            out
        } else {
            code
        }
    };
    put(
        "generated.py".into(),
        stamp(blobs.get(&input.generated.code).await?.to_vec()),
    )
    .await?;
    let code_name = "code.py".to_owned();
    put(
        code_name.clone(),
        stamp(blobs.get(&input.code).await?.to_vec()),
    )
    .await?;
    for r in &input.rounds {
        // A repository's rounds review one file each: `review/round-1-model.py.json`.
        let tag = if r.file.is_empty() {
            String::new()
        } else {
            format!("-{}", r.file.replace('/', "-"))
        };
        let review = match &r.review {
            Some(v) => serde_json::from_slice::<serde_json::Value>(&blobs.get(&v.review).await?)
                .unwrap_or(serde_json::Value::Null),
            None => serde_json::Value::Null,
        };
        let round = json!({
            "round": r.round,
            "code": r.code,
            "static_findings": r.check.findings,
            "review": review,
            "review_findings": r.review.as_ref().map(|v| &v.findings),
            "fixed_code": r.fixed.as_ref().map(|f| &f.code),
            "standin": r.review.as_ref().is_some_and(|v| v.usage.standin),
        });
        if let Some(fixed) = &r.fixed {
            let before = blobs.get_text(&r.code).await?;
            let after = blobs.get_text(&fixed.code).await?;
            let diff = similar::TextDiff::from_lines(&before, &after)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("round-{}/before/{}", r.round, r.file),
                    &format!("round-{}/after/{}", r.round, r.file),
                )
                .to_string();
            put(
                format!("review/round-{}{tag}.diff", r.round),
                diff.into_bytes(),
            )
            .await?;
        }
        put(
            format!("review/round-{}{tag}.json", r.round),
            serde_json::to_vec_pretty(&round).unwrap(),
        )
        .await?;
    }
    for e in &input.executions {
        let run = format!("execution/run-{}", e.attempt);
        put(
            format!("{run}.stdout.txt"),
            blobs.get(&e.report.stdout).await?.to_vec(),
        )
        .await?;
        put(
            format!("{run}.stderr.txt"),
            blobs.get(&e.report.stderr).await?.to_vec(),
        )
        .await?;
        for a in &e.report.artifacts {
            put(
                format!("{run}/output/{}", a.name),
                blobs.get(&a.blob).await?.to_vec(),
            )
            .await?;
        }
        if let Some(fixed) = &e.fixed {
            let before = blobs.get_text(&e.code).await?;
            let after = blobs.get_text(&fixed.code).await?;
            let diff = similar::TextDiff::from_lines(&before, &after)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{run}/before.py"), &format!("{run}/after.py"))
                .to_string();
            put(format!("{run}.diff"), diff.into_bytes()).await?;
        }
        put(
            format!("{run}.json"),
            serde_json::to_vec_pretty(&e).unwrap(),
        )
        .await?;
    }
    if let Some(repo) = &input.repository {
        // The repository as it ran: `repo/` with every file, `config.yaml`, `requirements.txt`
        // and `README.md`; the plan; each file's passages of the paper.
        let bundle: workflows::types::RepoBundle =
            serde_json::from_slice(&blobs.get(&repo.bundle).await?).map_err(|e| {
                BlobError::Corrupt {
                    uri: repo.bundle.uri.clone(),
                    expected: "a repository bundle".into(),
                    found: e.to_string(),
                }
            })?;
        for (path, text) in &bundle.files {
            let data = text.clone().into_bytes();
            let data = if path.ends_with(".py") {
                stamp(data)
            } else {
                data
            };
            put(format!("repo/{path}"), data).await?;
        }
        put("plan.json".into(), blobs.get(&repo.plan).await?.to_vec()).await?;
        if let Some(related) = &repo.related_work {
            // The papers found, the terms, and the advice the plan took in.
            let advice = match &related.advice {
                Some(a) => blobs.get_text(a).await?,
                None => "No stored paper matched the method's terms.".to_owned(),
            };
            let found: Vec<String> = related
                .related
                .iter()
                .map(|r| format!("- {} (`{}`, {} terms)", r.title, r.paper_id, r.matched))
                .collect();
            let text = format!(
                "# Related work\n\nSearched for: {}\n\n{}\n\n## What they suggest\n\n{advice}\n",
                related.terms.join(", "),
                if found.is_empty() {
                    "None found.".to_owned()
                } else {
                    found.join("\n")
                },
            );
            put("related_work.md".into(), text.into_bytes()).await?;
        }
        for g in &repo.grounding {
            put(
                format!("grounding/{}.md", g.path.replace('/', "-")),
                blobs.get(&g.code).await?.to_vec(),
            )
            .await?;
        }
    }
    put(
        "check.json".into(),
        serde_json::to_vec_pretty(&input.final_check).unwrap(),
    )
    .await?;
    // Every model call's usage, by step, with its role.
    let mut steps: Vec<(String, ModelRole, &LlmUsage)> = vec![];
    for s in &input.summaries {
        steps.push((
            format!("SummarizeChunk {}", s.index),
            ModelRole::Summary,
            &s.usage,
        ));
    }
    if let Some(d) = &input.dataset {
        steps.push(("RecommendDataset".into(), ModelRole::Dataset, &d.usage));
    }
    for e in &input.executions {
        if let Some(d) = &e.diagnosis {
            steps.push((
                format!("DiagnoseFailure {}", e.attempt),
                ModelRole::Diagnose,
                &d.usage,
            ));
        }
        if let Some(f) = &e.fixed {
            steps.push((
                format!("FixCode repair {}", e.attempt),
                ModelRole::Fix,
                &f.usage,
            ));
        }
    }
    match &input.repository {
        // A repository: the plan, then each file.
        Some(repo) if !repo.usage.is_empty() => {
            for (name, usage) in &repo.usage {
                steps.push((name.clone(), ModelRole::Code, usage));
            }
        }
        _ => steps.push((
            "GenerateCode".into(),
            ModelRole::Code,
            &input.generated.usage,
        )),
    }
    for r in &input.rounds {
        // A repository's rounds review one file each: `ReviewCode 1 model.py`.
        let file = if r.file.is_empty() {
            String::new()
        } else {
            format!(" {}", r.file)
        };
        if let Some(v) = &r.review {
            steps.push((
                format!("ReviewCode {}{file}", r.round),
                ModelRole::Review,
                &v.usage,
            ));
        }
        if let Some(f) = &r.fixed {
            steps.push((
                format!("FixCode {}{file}", r.round),
                ModelRole::Fix,
                &f.usage,
            ));
        }
    }
    let usage: Vec<serde_json::Value> = steps
        .iter()
        .map(|(step, role, u)| json!({"step": step, "role": role.as_str(), "usage": u}))
        .collect();
    let cost = cost_summary(steps.iter().map(|(_, role, u)| (*role, *u)));
    let total_in: u64 = usage
        .iter()
        .filter_map(|u| u["usage"]["input_tokens"].as_u64())
        .sum();
    let total_cost: u64 = usage
        .iter()
        .filter_map(|u| u["usage"]["cost_microusd"].as_u64())
        .sum();
    let total_out: u64 = usage
        .iter()
        .filter_map(|u| u["usage"]["output_tokens"].as_u64())
        .sum();
    let models: std::collections::BTreeSet<String> = usage
        .iter()
        .filter_map(|u| u["usage"]["model"].as_str().map(str::to_owned))
        .filter(|m| !m.is_empty())
        .collect();
    let mut chunk_results: Vec<serde_json::Value> = input
        .summaries
        .iter()
        .map(|s| {
            json!({
                "index": s.index, "ok": true, "attempt": s.attempt,
                "input_tokens": s.usage.input_tokens, "output_tokens": s.usage.output_tokens,
                "latency_ms": s.usage.latency_ms, "continuations": s.usage.continuations,
                "truncated": s.usage.truncated, "cached": s.usage.calls == 0,
            })
        })
        .collect();
    chunk_results.extend(
        input
            .failed_chunks
            .iter()
            .map(|f| json!({"index": f.index, "ok": false, "reason": f.reason})),
    );
    chunk_results.sort_by_key(|c| c["index"].as_u64());
    let metadata = json!({
        "paper": {
            "id": input.paper.paper_id,
            "title": input.paper.title,
            "characters": input.paper.characters,
            "sections": input.paper.section_count,
            "text": input.paper.text,
        },
        "workflow_id": input.workflow_id,
        "run_id": input.run_id,
        "target": input.target,
        "dataset": input.dataset,
        "outcome": input.outcome,
        "chunks": input.summaries.len(),
        "failed_chunks": input.failed_chunks.len(),
        "chunk_results": chunk_results,
        "review_rounds": input.rounds.len(),
        "execution": input.executions.last().map(|e| json!({
            "classification": e.report.classification,
            "runs": input.executions.len(),
            "exit_code": e.report.exit_code,
            "wall_ms": e.report.wall_ms,
            "peak_rss_kib": e.report.peak_rss_kib,
            "metrics": e.report.metrics,
            "artifacts": e.report.artifacts.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "sandbox": e.report.sandbox,
            "unsandboxed": e.report.sandbox == "none",
        })),
        "models": models,
        "tokens": {
            "input": total_in,
            "output": total_out,
            "cache_read": cost["tokens"]["cache_read"],
            "cache_write": cost["tokens"]["cache_write"],
        },
        "estimated_cost_usd": total_cost as f64 / 1e6,
        "cost": cost,
        "usage": usage,
        "timings": input.timings,
        "code": code_name,
        "standin": standin,
        "notice": if standin { Some(STANDIN_NOTICE) } else { None },
    });
    put(
        "metadata.json".into(),
        serde_json::to_vec_pretty(&metadata).unwrap(),
    )
    .await?;
    Ok(ResultsRef {
        dir: results.uri_of(&dir),
        files,
    })
}

/// Tokens and dollars per role and per provider, from each call's usage (a cached answer made no
/// call and costs $0): `{"usd", "tokens", "by_role": {role: {...}}, "by_provider": {...}}`, each
/// entry with its models, calls, input, output, cache read and cache write tokens and dollars.
pub fn cost_summary<'a>(
    calls: impl Iterator<Item = (ModelRole, &'a LlmUsage)>,
) -> serde_json::Value {
    use std::collections::BTreeMap;
    let mut by_role: BTreeMap<&str, LlmUsage> = BTreeMap::new();
    let mut by_provider: BTreeMap<String, LlmUsage> = BTreeMap::new();
    let mut total = LlmUsage::default();
    for (role, usage) in calls {
        by_role.entry(role.as_str()).or_default().add(usage);
        if !usage.model.is_empty() {
            let provider = crate::clients::router::provider_of(&usage.model).to_owned();
            by_provider.entry(provider).or_default().add(usage);
        }
        total.add(usage);
    }
    let entry = |u: &LlmUsage| {
        json!({
            "models": u.model,
            "calls": u.calls,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "usd": u.cost_microusd as f64 / 1e6,
        })
    };
    json!({
        "usd": total.cost_microusd as f64 / 1e6,
        "tokens": {
            "input": total.input_tokens,
            "output": total.output_tokens,
            "cache_read": total.cache_read_tokens,
            "cache_write": total.cache_write_tokens,
        },
        "by_role": by_role.iter().map(|(r, u)| (r.to_string(), entry(u))).collect::<serde_json::Map<_, _>>(),
        "by_provider": by_provider.iter().map(|(p, u)| (p.clone(), entry(u))).collect::<serde_json::Map<_, _>>(),
    })
}

#[cfg(test)]
mod cost_tests {
    use super::*;

    #[test]
    fn cost_adds_up_per_role_and_provider() {
        let bedrock = LlmUsage {
            model: "us.anthropic.claude-haiku-4-5-20251001-v1:0".into(),
            input_tokens: 100,
            output_tokens: 10,
            calls: 1,
            cost_microusd: 165,
            ..Default::default()
        };
        let openai = LlmUsage {
            model: "openai/gpt-5-mini".into(),
            input_tokens: 50,
            output_tokens: 20,
            cache_read_tokens: 1_000,
            calls: 1,
            cost_microusd: 77,
            ..Default::default()
        };
        let cached = LlmUsage {
            model: "openai/gpt-5-mini".into(),
            ..Default::default()
        };
        let c = cost_summary(
            [
                (ModelRole::Summary, &bedrock),
                (ModelRole::Summary, &bedrock),
                (ModelRole::Code, &openai),
                (ModelRole::Review, &openai),
                (ModelRole::Review, &cached),
            ]
            .into_iter(),
        );
        assert_eq!(c["by_role"]["summary"]["calls"], 2);
        assert_eq!(c["by_role"]["summary"]["usd"], 330.0 / 1e6);
        assert_eq!(c["by_role"]["review"]["cache_read_tokens"], 1_000);
        assert_eq!(c["by_role"]["review"]["models"], "openai/gpt-5-mini");
        assert_eq!(c["by_provider"]["bedrock"]["input_tokens"], 200);
        assert_eq!(c["by_provider"]["openai"]["calls"], 2);
        assert_eq!(c["usd"], (330.0 + 154.0) / 1e6);
        assert_eq!(c["tokens"]["cache_read"], 2_000);
    }
}
