//! CollectBatchInference: a finished Bedrock batch inference job's output, read from S3
//! (`<output prefix>/<job id>/records.jsonl.out`). Each answered record becomes its chunk's
//! summary blob, stored where `SummarizeChunk` would store it, with its usage at the batch price
//! (half the on-demand one) and counted as a batch call, and is kept in the answer cache under
//! the key of the same request on demand (never paid twice); each paper gets the list of its
//! summaries as a blob for its `PaperToCode` run. Records that failed, were cut off at the token
//! limit, or are missing are left out: the paper summarises those chunks on demand.

use std::collections::BTreeMap;

use crate::catalogue::BATCH_PRICE_FACTOR;
use crate::clients::batch;
use crate::clients::llm::LlmResponse;
use crate::local::submit_batch_inference::{RecordEntry, batch_store};
use crate::prelude::*;

/// The job id: the last part of its ARN (`…:model-invocation-job/<id>`).
fn job_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// CollectBatchInference: each paper's summaries from the job's output.
pub async fn collect_batch_inference(
    d: Call<'_>,
    input: BatchJobRef,
) -> Out<Vec<PresummarizedPaper>> {
    let Some(store) = batch_store(&d)? else {
        return Err(permanent(
            "BatchInferenceUnavailable",
            "batch inference needs an S3 location (models.batch.s3-uri)",
        ));
    };
    let standin = d.batch.as_ref().is_some_and(|b| b.standin());
    let map: Vec<RecordEntry> = serde_json::from_slice(&d.blobs.get(&input.record_map).await?)
        .map_err(|e| permanent("UnreadableBatchOutput", format!("record map: {e}")))?;
    let output = format!(
        "{}{}/records.jsonl.out",
        input.output_uri,
        job_id(&input.job_arn)
    );
    let Some(bytes) = store.try_get_uri(&output).await? else {
        return Err(transient(
            "UnreadableBatchOutput",
            format!("the job's output {output} is not there (yet)"),
        ));
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut answers = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some((id, answer)) = batch::output_record(line) {
            answers.insert(id, answer);
        }
    }
    let mut papers: BTreeMap<String, (Vec<PresummarizedChunk>, u32)> = BTreeMap::new();
    for entry in &map {
        let made = papers.entry(entry.paper_id.clone()).or_default();
        let answer = match answers.remove(&entry.record_id) {
            Some(Ok(a)) if !a.truncated && !a.text.trim().is_empty() => a,
            _ => {
                made.1 += 1;
                continue;
            }
        };
        let response = LlmResponse {
            text: answer.text.clone(),
            input_tokens: answer.input_tokens,
            output_tokens: answer.output_tokens,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            truncated: false,
            latency: Duration::ZERO,
            standin,
        };
        let on_demand = d.settings.call_cost_microusd(&input.model, &response);
        let usage = LlmUsage {
            model: crate::clients::router::canonical(&input.model),
            input_tokens: answer.input_tokens,
            output_tokens: answer.output_tokens,
            calls: 1,
            batch_calls: 1,
            standin,
            cost_microusd: (on_demand as f64 * BATCH_PRICE_FACTOR).round() as u64,
            ..Default::default()
        };
        crate::metrics::model_usage(
            &usage.model,
            [
                ("input", usage.input_tokens),
                ("output", usage.output_tokens),
                ("cache-read", 0),
                ("cache-write", 0),
            ],
            usage.cost_microusd,
        );
        // Asked again on demand (a rerun, a chunk the paper re-plans the same), the answer
        // comes from the cache: a batch answer is not paid twice.
        if !entry.cache_key.is_empty() {
            d.remember_answer(&entry.cache_key, &input.model, &response)
                .await?;
        }
        let key =
            crate::llm::summarize_chunk::summary_key(&entry.paper_id, entry.index, &answer.text);
        let summary = d.blobs.put(&key, answer.text).await?;
        made.0.push(PresummarizedChunk {
            chunk_sha256: entry.chunk_sha256.clone(),
            summary: SummaryRef {
                index: entry.index,
                attempt: 1,
                summary,
                usage,
            },
        });
    }
    let prefix = format!("batch-inference/{}", input.job_name);
    let mut out = Vec::with_capacity(papers.len());
    for (paper_id, (made, failed)) in papers {
        let key = format!("{prefix}/papers/{}.json", sha256_hex(paper_id.as_bytes()));
        let chunks = made.len() as u32;
        let summaries = d
            .blobs
            .put(
                &key,
                serde_json::to_vec(&made).expect("summaries serialise"),
            )
            .await?;
        out.push(PresummarizedPaper {
            paper_id,
            summaries,
            chunks,
            failed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_id_is_the_arns_last_part() {
        assert_eq!(
            job_id("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123"),
            "abc123"
        );
        assert_eq!(job_id("abc"), "abc");
    }
}
