//! Bedrock's batch inference jobs, enough for `PaperBatch`'s `llm_mode: "batch"` through the
//! real `aws-sdk-bedrock` client: `CreateModelInvocationJob` (`POST /model-invocation-job`),
//! `GetModelInvocationJob` (`GET /model-invocation-job/{jobIdentifier}`),
//! `StopModelInvocationJob` (`POST /model-invocation-job/{jobIdentifier}/stop`) and
//! `ListModelInvocationJobs` (`GET /model-invocation-jobs`), over an S3-compatible store (moto in
//! the tests). A job reads its JSONL input (`{"recordId", "modelInput"}`, Converse request
//! bodies) from S3, answers each summary record with the stand-in's template (marked as such;
//! other prompts get an error record), and writes `<output prefix>/<job id>/<input file>.out`
//! and `manifest.json.out` in Bedrock's output format. Its status goes `Submitted` →
//! `InProgress` → `Completed` a step (`--batch-step-ms`) apart; a job with fewer records than
//! `--batch-min-records` fails validation, as Bedrock enforces its minimum, and
//! `--batch-fail` fails every job. Batch records use no on-demand quota and are not counted as
//! Converse requests: `GET /_standin/batch` counts them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use activities::clients::blobs::{BlobStore, S3Overrides, sha256_hex};
use activities::prompts::Task;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

/// Characters per estimated token, as the on-demand answers count them.
const CHARS_PER_TOKEN: usize = 4;

/// How the stand-in's batch inference jobs behave.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchOptions {
    /// Fewest records a batch inference job may have (Bedrock's quota "Minimum number of records
    /// per batch inference job", 100 by default): a job with fewer fails validation.
    #[arg(long, default_value_t = 100)]
    pub batch_min_records: u32,
    /// Milliseconds a job spends in each of Submitted and InProgress.
    #[arg(long, default_value_t = 1_000)]
    pub batch_step_ms: u64,
    /// Every batch inference job ends Failed (to exercise the fallback to on-demand).
    #[arg(long)]
    pub batch_fail: bool,
    /// Endpoint of the S3-compatible store the jobs read and write (else `ANNAPURNA_S3_ENDPOINT`
    /// or the standard AWS environment).
    #[arg(long)]
    pub batch_s3_endpoint: Option<String>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            batch_min_records: 100,
            batch_step_ms: 1_000,
            batch_fail: false,
            batch_s3_endpoint: None,
        }
    }
}

/// Batch counts, as served at `/_standin/batch`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BatchStats {
    /// Jobs created.
    pub jobs: u64,
    /// Jobs by final status (`Completed`, `Failed`, `Stopped`).
    pub by_status: BTreeMap<String, u64>,
    /// Records read from the jobs' inputs.
    pub records: u64,
    /// Records answered with a template.
    pub answered: u64,
    /// Records answered with an error.
    pub errors: u64,
    /// Create requests refused (ValidationException).
    pub refused: u64,
}

#[derive(Debug, Clone)]
struct Job {
    arn: String,
    name: String,
    token: String,
    model: String,
    role: String,
    input_uri: String,
    output_uri: String,
    submitted: SystemTime,
    status: String,
    message: Option<String>,
    counts: Option<(u64, u64, u64)>,
}

struct Batches {
    options: BatchOptions,
    jobs: Mutex<BTreeMap<String, Job>>,
    stats: Mutex<BatchStats>,
}

/// The routes, merged into the stand-in's router (their own state).
pub fn routes<S: Clone + Send + Sync + 'static>(options: &BatchOptions) -> Router<S> {
    let state = Arc::new(Batches {
        options: options.clone(),
        jobs: Mutex::new(BTreeMap::new()),
        stats: Mutex::new(BatchStats::default()),
    });
    Router::new()
        .route("/model-invocation-job", post(create))
        .route("/model-invocation-job/{job}", get(describe))
        .route("/model-invocation-job/{job}/stop", post(stop))
        .route("/model-invocation-jobs", get(list))
        .route("/_standin/batch", get(stats))
        .with_state(state)
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-ErrorType",
        HeaderValue::from_str(error_type).unwrap(),
    );
    (status, headers, Json(json!({ "message": message }))).into_response()
}

async fn stats(State(b): State<Arc<Batches>>) -> Json<BatchStats> {
    Json(b.stats.lock().unwrap().clone())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn describe_job(job: &Job) -> Value {
    let mut v = json!({
        "jobArn": job.arn,
        "jobName": job.name,
        "modelId": job.model,
        "roleArn": job.role,
        "clientRequestToken": job.token,
        "status": job.status,
        "submitTime": rfc3339(job.submitted),
        "lastModifiedTime": rfc3339(SystemTime::now()),
        "modelInvocationType": "Converse",
        "inputDataConfig": { "s3InputDataConfig": { "s3Uri": job.input_uri } },
        "outputDataConfig": { "s3OutputDataConfig": { "s3Uri": job.output_uri } },
        "timeoutDurationInHours": 24,
    });
    if let Some(m) = &job.message {
        v["message"] = json!(m);
    }
    if let Some((total, ok, failed)) = job.counts {
        v["totalRecordCount"] = json!(total);
        v["processedRecordCount"] = json!(ok + failed);
        v["successRecordCount"] = json!(ok);
        v["errorRecordCount"] = json!(failed);
    }
    v
}

/// `POST /model-invocation-job`.
async fn create(State(b): State<Arc<Batches>>, body: axum::body::Bytes) -> Response {
    let refuse = |message: String| {
        b.stats.lock().unwrap().refused += 1;
        error(StatusCode::BAD_REQUEST, "ValidationException", &message)
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse("malformed request body".into());
    };
    let field = |path: &[&str]| {
        path.iter()
            .fold(&request, |v, k| &v[*k])
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let name = field(&["jobName"]);
    let model = field(&["modelId"]);
    let role = field(&["roleArn"]);
    let input_uri = field(&["inputDataConfig", "s3InputDataConfig", "s3Uri"]);
    let output_uri = field(&["outputDataConfig", "s3OutputDataConfig", "s3Uri"]);
    let token = field(&["clientRequestToken"]);
    for (what, value) in [
        ("jobName", &name),
        ("modelId", &model),
        ("roleArn", &role),
        ("inputDataConfig.s3InputDataConfig.s3Uri", &input_uri),
        ("outputDataConfig.s3OutputDataConfig.s3Uri", &output_uri),
    ] {
        if value.is_empty() {
            return refuse(format!("{what} is required"));
        }
    }
    if !input_uri.starts_with("s3://") || !output_uri.starts_with("s3://") {
        return refuse("the input and output locations must be s3:// URIs".into());
    }
    match activities::catalogue::resolve(&activities::catalogue::BUILTIN, &model) {
        Some(r) if r.info.lifecycle != activities::catalogue::Lifecycle::Retired => {}
        _ => return refuse(format!("The provided model identifier {model} is invalid.")),
    }
    let mut jobs = b.jobs.lock().unwrap();
    // The same client token is the same job (the SDK's idempotency).
    if let Some(job) = jobs
        .values()
        .find(|j| !token.is_empty() && j.token == token)
    {
        return Json(json!({ "jobArn": job.arn })).into_response();
    }
    if jobs.values().any(|j| j.name == name) {
        return error(
            StatusCode::CONFLICT,
            "ConflictException",
            &format!("a job named {name} already exists"),
        );
    }
    let id = sha256_hex(format!("{name}/{}", jobs.len()).as_bytes())[..12].to_owned();
    let arn = format!("arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/{id}");
    let job = Job {
        arn: arn.clone(),
        name,
        token,
        model,
        role,
        input_uri,
        output_uri,
        submitted: SystemTime::now(),
        status: "Submitted".into(),
        message: None,
        counts: None,
    };
    jobs.insert(arn.clone(), job);
    drop(jobs);
    b.stats.lock().unwrap().jobs += 1;
    tokio::spawn(run(b.clone(), arn.clone(), id));
    Json(json!({ "jobArn": arn })).into_response()
}

/// The job by ARN or id.
fn find<'a>(jobs: &'a BTreeMap<String, Job>, ident: &str) -> Option<&'a Job> {
    jobs.get(ident).or_else(|| {
        jobs.values()
            .find(|j| j.arn.rsplit('/').next() == Some(ident))
    })
}

/// `GET /model-invocation-job/{jobIdentifier}`.
async fn describe(State(b): State<Arc<Batches>>, Path(ident): Path<String>) -> Response {
    let jobs = b.jobs.lock().unwrap();
    match find(&jobs, &ident) {
        Some(job) => Json(describe_job(job)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("no batch inference job {ident}"),
        ),
    }
}

/// `POST /model-invocation-job/{jobIdentifier}/stop`: a job not yet ended stops (its output is
/// never written); an ended one cannot be stopped.
async fn stop(State(b): State<Arc<Batches>>, Path(ident): Path<String>) -> Response {
    let arn = {
        let jobs = b.jobs.lock().unwrap();
        match find(&jobs, &ident) {
            Some(job) if matches!(job.status.as_str(), "Submitted" | "InProgress") => {
                job.arn.clone()
            }
            Some(job) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    &format!("the job is {} and cannot be stopped", job.status),
                );
            }
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    &format!("no batch inference job {ident}"),
                );
            }
        }
    };
    set_status(&b, &arn, "Stopped", None);
    Json(json!({})).into_response()
}

/// Whether the job was stopped.
fn stopped(b: &Batches, arn: &str) -> bool {
    b.jobs
        .lock()
        .unwrap()
        .get(arn)
        .is_some_and(|j| j.status == "Stopped")
}

/// `GET /model-invocation-jobs`.
async fn list(State(b): State<Arc<Batches>>) -> Response {
    let jobs = b.jobs.lock().unwrap();
    let summaries: Vec<Value> = jobs.values().map(describe_job).collect();
    Json(json!({ "invocationJobSummaries": summaries })).into_response()
}

fn set_status(b: &Batches, arn: &str, status: &str, message: Option<String>) {
    if let Some(job) = b.jobs.lock().unwrap().get_mut(arn) {
        // A stopped job stays stopped.
        if job.status == "Stopped" {
            return;
        }
        job.status = status.to_owned();
        job.message = message;
    }
    if matches!(status, "Completed" | "Failed" | "Stopped") {
        *b.stats
            .lock()
            .unwrap()
            .by_status
            .entry(status.to_owned())
            .or_default() += 1;
    }
}

/// The store holding `uri`'s bucket, and the key of `uri` in it.
fn store_of(options: &BatchOptions, uri: &str) -> Result<(BlobStore, String), String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let mut overrides = S3Overrides::from_env();
    if let Some(endpoint) = &options.batch_s3_endpoint {
        overrides.endpoint = Some(endpoint.clone());
        // An S3-compatible test store takes any key.
        overrides
            .access_key_id
            .get_or_insert_with(|| "standin".into());
        overrides
            .secret_access_key
            .get_or_insert_with(|| "standin".into());
    }
    let store = BlobStore::open_with(&format!("s3://{bucket}"), &overrides)
        .map_err(|e| format!("opening s3://{bucket}: {e}"))?;
    Ok((store, key.to_owned()))
}

/// A job's life: validation, the answers, the output files.
async fn run(b: Arc<Batches>, arn: String, id: String) {
    let step = Duration::from_millis(b.options.batch_step_ms);
    tokio::time::sleep(step).await;
    if stopped(&b, &arn) {
        return;
    }
    let job = match b.jobs.lock().unwrap().get(&arn) {
        Some(j) => j.clone(),
        None => return,
    };
    if b.options.batch_fail {
        let why = "The stand-in fails batch inference jobs on purpose (--batch-fail).";
        set_status(&b, &arn, "Failed", Some(why.into()));
        return;
    }
    let (input_store, _) = match store_of(&b.options, &job.input_uri) {
        Ok(s) => s,
        Err(e) => return set_status(&b, &arn, "Failed", Some(e)),
    };
    let input = match input_store.try_get_uri(&job.input_uri).await {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(None) => {
            let why = format!("the input {} does not exist", job.input_uri);
            return set_status(&b, &arn, "Failed", Some(why));
        }
        Err(e) => return set_status(&b, &arn, "Failed", Some(e.to_string())),
    };
    let records: Vec<&str> = input.lines().filter(|l| !l.trim().is_empty()).collect();
    b.stats.lock().unwrap().records += records.len() as u64;
    let minimum = u64::from(b.options.batch_min_records);
    if (records.len() as u64) < minimum {
        let why = format!(
            "The job has {} records; the minimum number of records per batch inference job is \
             {minimum}.",
            records.len()
        );
        return set_status(&b, &arn, "Failed", Some(why));
    }
    set_status(&b, &arn, "InProgress", None);
    tokio::time::sleep(step).await;
    if stopped(&b, &arn) {
        return;
    }
    let mut out = String::new();
    let (mut ok, mut failed, mut tokens_in, mut tokens_out) = (0u64, 0u64, 0u64, 0u64);
    for line in records {
        let mut record: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                let error =
                    json!({"errorCode": 400, "errorMessage": format!("malformed record: {e}")});
                out.push_str(&json!({ "recordId": "", "error": error }).to_string());
                out.push('\n');
                continue;
            }
        };
        match answer(&record["modelInput"]) {
            Ok((output, input_tokens, output_tokens)) => {
                ok += 1;
                tokens_in += input_tokens;
                tokens_out += output_tokens;
                record["modelOutput"] = output;
            }
            Err(message) => {
                failed += 1;
                record["error"] = json!({ "errorCode": 400, "errorMessage": message });
            }
        }
        out.push_str(&record.to_string());
        out.push('\n');
    }
    {
        let mut s = b.stats.lock().unwrap();
        s.answered += ok;
        s.errors += failed;
    }
    let file = job.input_uri.rsplit('/').next().unwrap_or("input.jsonl");
    let prefix = format!("{}/{id}", job.output_uri.trim_end_matches('/'));
    let manifest = json!({
        "totalRecordCount": ok + failed,
        "processedRecordCount": ok + failed,
        "successRecordCount": ok,
        "errorRecordCount": failed,
        "inputTokenCount": tokens_in,
        "outputTokenCount": tokens_out,
    });
    let written = async {
        let (store, key) = store_of(&b.options, &prefix)?;
        let put = |name: String, body: String| {
            let store = store.clone();
            async move { store.put(&name, body).await.map_err(|e| e.to_string()) }
        };
        put(format!("{key}/{file}.out"), out).await?;
        put(format!("{key}/manifest.json.out"), manifest.to_string()).await?;
        Ok::<_, String>(())
    }
    .await;
    if let Some(job) = b.jobs.lock().unwrap().get_mut(&arn) {
        job.counts = Some((ok + failed, ok, failed));
    }
    match written {
        Ok(()) => set_status(&b, &arn, "Completed", None),
        Err(e) => set_status(&b, &arn, "Failed", Some(e)),
    }
}

/// The text of content blocks, joined.
fn text_of(blocks: &Value) -> String {
    blocks
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["text"].as_str()).collect())
        .unwrap_or_default()
}

/// A record's answer: the Converse response body and its input and output tokens, counted as the
/// on-demand answers count them; or why it has none.
fn answer(model_input: &Value) -> Result<(Value, u64, u64), String> {
    let system = text_of(&model_input["system"]);
    let messages: Vec<String> = model_input["messages"]
        .as_array()
        .map(|a| a.iter().map(|m| text_of(&m["content"])).collect())
        .unwrap_or_default();
    let Some(first_user) = messages.first() else {
        return Err("messages must not be empty".into());
    };
    if Task::of_system_prompt(&system) != Some(Task::Summarize) {
        return Err("the stand-in's batch jobs answer only chunk summary prompts".into());
    }
    let text = crate::templates::summary(first_user);
    let prompt_chars = system.len() + messages.iter().map(String::len).sum::<usize>();
    let input_tokens = (prompt_chars / CHARS_PER_TOKEN) as u64;
    let output_tokens = (text.len() / CHARS_PER_TOKEN + 1) as u64;
    let body = json!({
        "output": { "message": { "role": "assistant", "content": [ { "text": text } ] } },
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": { "latencyMs": 0 },
    });
    Ok((body, input_tokens, output_tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_records_get_templates_and_others_an_error() {
        let (system, user) = activities::prompts::summarize("T", 0, 2, &[], "some text");
        let input = json!({
            "system": [{ "text": system }],
            "messages": [{ "role": "user", "content": [{ "text": user }] }],
        });
        let (body, input_tokens, output_tokens) = answer(&input).unwrap();
        let text = body["output"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains(activities::clients::llm::STANDIN_MARKER),
            "{text}"
        );
        assert!(input_tokens > 0 && output_tokens > 0);
        let other = json!({
            "system": [{ "text": "annapurna-task: generate-code" }],
            "messages": [{ "role": "user", "content": [{ "text": "x" }] }],
        });
        assert!(answer(&other).is_err());
        assert!(answer(&json!({})).is_err());
    }
}
