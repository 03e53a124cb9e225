//! The results directory of one run: `<paper-id>/<run-id>/` in the results store, holding the
//! chunk summaries, the generated and final code, each review round, the final check and
//! `metadata.json` (models, tokens, timings, provenance).

use serde_json::json;
use workflows::types::{RecordResultsInput, ResultsRef};

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
                    &format!("round-{}/before.py", r.round),
                    &format!("round-{}/after.py", r.round),
                )
                .to_string();
            put(format!("review/round-{}.diff", r.round), diff.into_bytes()).await?;
        }
        put(
            format!("review/round-{}.json", r.round),
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
    put(
        "check.json".into(),
        serde_json::to_vec_pretty(&input.final_check).unwrap(),
    )
    .await?;
    let mut usage = vec![];
    for s in &input.summaries {
        usage.push(json!({"step": format!("SummarizeChunk {}", s.index), "usage": s.usage}));
    }
    if let Some(d) = &input.dataset {
        usage.push(json!({"step": "RecommendDataset", "usage": d.usage}));
    }
    for e in &input.executions {
        if let Some(d) = &e.diagnosis {
            usage.push(json!({"step": format!("DiagnoseFailure {}", e.attempt), "usage": d.usage}));
        }
        if let Some(f) = &e.fixed {
            usage.push(json!({"step": format!("FixCode repair {}", e.attempt), "usage": f.usage}));
        }
    }
    usage.push(json!({"step": "GenerateCode", "usage": input.generated.usage}));
    for r in &input.rounds {
        if let Some(v) = &r.review {
            usage.push(json!({"step": format!("ReviewCode {}", r.round), "usage": v.usage}));
        }
        if let Some(f) = &r.fixed {
            usage.push(json!({"step": format!("FixCode {}", r.round), "usage": f.usage}));
        }
    }
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
        "tokens": {"input": total_in, "output": total_out},
        "estimated_cost_usd": total_cost as f64 / 1e6,
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
