//! SubmitBatchInference: every chunk of the batch's papers as one record of a JSONL file in S3
//! (the same prompt `SummarizeChunk` would send), then one Bedrock batch inference job over it.
//! No job (and the reason) when there is no batch client or S3 location, when the records are
//! fewer than the job minimum (`models.batch.min-records`), or when Bedrock refuses the job:
//! the papers then summarise on demand.

use crate::clients::batch::{self, NewJob};
use crate::clients::router;
use crate::prelude::*;

/// Which record is which chunk: the job's record map (a JSON blob), read by
/// `CollectBatchInference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecordEntry {
    /// The record's id in the JSONL.
    pub record_id: String,
    /// The paper.
    pub paper_id: String,
    /// The chunk's index.
    pub index: u32,
    /// SHA-256 of the chunk's text.
    pub chunk_sha256: String,
    /// The answer cache's key of the same request on demand: the job's answer is kept there.
    #[serde(default)]
    pub cache_key: String,
}

/// The placeholder role the stand-in is given (it assumes nothing).
const STANDIN_ROLE: &str = "arn:aws:iam::000000000000:role/annapurna-standin-batch";

/// The store the jobs' files go to: `models.batch.s3-uri`, else the blob store when it is in S3.
pub(crate) fn batch_store(d: &Deps) -> Result<Option<BlobStore>, Classified> {
    let uri = &d.settings.batch.s3_uri;
    if !uri.is_empty() {
        return Ok(Some(BlobStore::open(uri)?));
    }
    Ok(d.blobs.base().starts_with("s3://").then(|| d.blobs.clone()))
}

fn skipped(records: u32, reason: String) -> SubmittedBatch {
    SubmittedBatch {
        job: None,
        records,
        reason: Some(reason),
    }
}

/// SubmitBatchInference: the records in S3 and one job over them, or why there is none.
pub async fn submit_batch_inference(
    d: Call<'_>,
    input: SubmitBatchInferenceInput,
) -> Out<SubmittedBatch> {
    let Some(jobs) = d.batch.clone() else {
        return Ok(skipped(
            0,
            "this worker has no Bedrock batch inference client".into(),
        ));
    };
    let Some(store) = batch_store(&d)? else {
        return Ok(skipped(
            0,
            "batch inference needs an S3 location: set models.batch.s3-uri, or storage.blobs to \
             s3://…"
                .into(),
        ));
    };
    let wanted = input.paper.model_for(ModelRole::Summary);
    let model = d.settings.model_for(ModelRole::Summary, &wanted)?;
    if router::provider_of(&model) != router::DEFAULT_PROVIDER {
        return Ok(skipped(
            0,
            format!("the summary model {model} is not Bedrock's: batch inference is Bedrock's"),
        ));
    }
    let bedrock_model = router::split_route(&model).1.to_owned();
    let mut lines = String::new();
    let mut map: Vec<RecordEntry> = Vec::new();
    for paper_id in &input.paper_ids {
        // A paper that cannot be loaded or cut is left to its own run, which reports why.
        let load = LoadPaperInput {
            paper_id: Some(paper_id.clone()),
            source: None,
        };
        let Ok(paper) = crate::local::load_paper::load_paper(d, load).await else {
            continue;
        };
        let plan = PlanChunksInput {
            paper: paper.clone(),
            max_chunk_tokens: input.paper.max_chunk_tokens,
            model: wanted.clone(),
        };
        let Ok(plan) = crate::local::plan_chunks::plan_chunks(d, plan).await else {
            continue;
        };
        let count = plan.chunks.len() as u32;
        for chunk in plan.chunks {
            let text = d.text(&chunk.text).await?;
            let chunk_sha256 = chunk.text.sha256.clone();
            let index = chunk.index;
            let summarize = SummarizeChunkInput {
                paper_id: paper.paper_id.clone(),
                title: paper.title.clone(),
                chunk,
                chunk_count: count,
                model: wanted.clone(),
            };
            let mut request =
                crate::llm::summarize_chunk::request(&d.settings, &summarize, &text, model.clone());
            // The answer budget fits the model, as on demand (see the gateway).
            let prompt_tokens = (request.system.len()
                + request.messages.iter().map(|(_, t)| t.len()).sum::<usize>())
                as u64
                / 4;
            request.max_tokens =
                d.settings
                    .fit_max_tokens(&request.model, prompt_tokens, request.max_tokens);
            let (cache_key, _) = crate::gateway::answer_cache_key(&request);
            let record_id = format!("R{:010}", map.len());
            lines.push_str(&batch::record(&record_id, &request).to_string());
            lines.push('\n');
            map.push(RecordEntry {
                record_id,
                paper_id: paper.paper_id.clone(),
                index,
                chunk_sha256,
                cache_key,
            });
        }
    }
    let records = map.len() as u32;
    let minimum = d.settings.batch.min_records;
    if records < minimum {
        return Ok(skipped(
            records,
            format!(
                "the batch has {records} chunk records; a Bedrock batch inference job needs at \
                 least {minimum} (models.batch.min-records)"
            ),
        ));
    }
    let (maximum, max_bytes) = (
        d.settings.batch.max_records,
        d.settings.batch.max_input_bytes,
    );
    if records > maximum || lines.len() as u64 > max_bytes {
        return Ok(skipped(
            records,
            format!(
                "the batch has {records} chunk records in {} bytes; a Bedrock batch inference job \
                 takes at most {maximum} records in {max_bytes} bytes (models.batch.max-records, \
                 max-input-bytes): give the batch fewer papers_per_run",
                lines.len()
            ),
        ));
    }
    let role_arn = match d.settings.batch.role_arn.as_str() {
        "" if jobs.standin() => STANDIN_ROLE.to_owned(),
        "" => {
            return Ok(skipped(
                records,
                "models.batch.role-arn is not set: Bedrock needs a service role that can read and \
                 write the batch's S3 location"
                    .into(),
            ));
        }
        arn => arn.to_owned(),
    };
    // One name per run of the batch: a retried activity writes the same files and, with the
    // same token, gets the same job back.
    let name = format!(
        "annapurna-{}",
        short(&sha256_hex(input.batch_key.as_bytes()))
    );
    let prefix = format!("batch-inference/{name}");
    let input_file = store
        .put(&format!("{prefix}/input/records.jsonl"), lines)
        .await?;
    let record_map = d
        .blobs
        .put(
            &format!("{prefix}/records.json"),
            serde_json::to_vec(&map).expect("the record map serialises"),
        )
        .await?;
    let output_uri = store.uri_of(&format!("{prefix}/output/"));
    let job = NewJob {
        name: name.clone(),
        client_token: name.clone(),
        model: bedrock_model.clone(),
        role_arn,
        input_uri: input_file.uri,
        output_uri: output_uri.clone(),
        timeout_hours: d.settings.batch.timeout_hours.clamp(24, 168),
    };
    match jobs.create(&job).await {
        Ok(job_arn) => Ok(SubmittedBatch {
            job: Some(BatchJobRef {
                job_arn,
                job_name: name,
                model,
                records,
                record_map,
                output_uri,
            }),
            records,
            reason: None,
        }),
        Err(e) if e.is_retryable() => Err(transient("BatchInferenceUnavailable", e.to_string())),
        Err(e) => Ok(skipped(records, e.to_string())),
    }
}
