//! PaperBatch with `llm_mode: "batch"`: the map phase of all the batch's papers as one Bedrock
//! batch inference job, through the real `aws-sdk-bedrock` client against the stand-in's job
//! API, the records and answers in S3 (moto's server), on a real Temporal dev server with worker
//! processes. The job's wait survives a killed worker and a restarted server; the summaries cost
//! half the on-demand price of their tokens and are not paid again when the papers run on demand
//! later; a batch below the job minimum, and a failed job,
//! fall back to on-demand summaries; an `llm_mode` that is neither is refused naming the field.

use annapurna_tests::{Proc, Stack, http_get_json, papers_dir, start_moto};
use workflows::PaperBatch;
use workflows::types::BatchSummary;

const PAPERS: [&str; 5] = [
    "dyt.tex",
    "schedule-free.tex",
    "minp.tex",
    "diff-transformer.tex",
    "tabdiff.tex",
];

/// The job minimum both the worker and the stand-in keep to in these tests (Bedrock's default
/// is 100).
const MIN_RECORDS: &str = "3";

/// A stack whose blobs are in moto's S3 and whose stand-in runs batch jobs over it with
/// `standin_args` besides; moto's process with it. The worker keeps to [`MIN_RECORDS`], the
/// stand-in (as Bedrock) to `service_minimum`.
async fn s3_stack(
    service_minimum: &str,
    standin_args: &[&str],
) -> (Stack, Proc, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let (moto, s3) = start_moto(scratch.path(), "annapurna");
    let mut args = vec![
        "--batch-s3-endpoint",
        &s3,
        "--batch-min-records",
        service_minimum,
    ];
    args.extend_from_slice(standin_args);
    let stack = Stack::start_with_env(
        &args,
        &[
            ("ANNAPURNA_STORAGE__BLOBS", "s3://annapurna/blobs"),
            ("ANNAPURNA_S3_ENDPOINT", &s3),
            ("ANNAPURNA_S3_ACCESS_KEY_ID", "moto"),
            ("ANNAPURNA_S3_SECRET_ACCESS_KEY", "moto"),
            ("AWS_REGION", "us-east-1"),
            ("ANNAPURNA_MODELS__BATCH__MIN_RECORDS", MIN_RECORDS),
        ],
    )
    .await;
    (stack, moto, scratch)
}

fn add_papers(stack: &Stack, papers: &[&str]) -> Vec<String> {
    papers
        .iter()
        .map(|p| stack.add_paper(&papers_dir().join(p)))
        .collect()
}

/// A batch input over `ids`: no execution, one review round, every paper at once.
fn batch_input(ids: &[String], mode: &str) -> String {
    serde_json::json!({
        "paper_ids": ids,
        "max_concurrent": ids.len(),
        "llm_mode": mode,
        "batch_poll_secs": 1,
        "paper": {"execute": false, "review_rounds": 1},
    })
    .to_string()
}

/// `GET /_standin/batch`: the stand-in's batch job counts.
fn batch_stats(stack: &Stack) -> serde_json::Value {
    http_get_json(&format!(
        "http://127.0.0.1:{}/_standin/batch",
        stack.standin_port
    ))
}

/// On-demand summary requests the stand-in answered or refused.
fn on_demand_summaries(stack: &Stack) -> u64 {
    stack.standin_stats()["by_kind"]["summarize-chunk"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_papers_summarised_by_one_batch_job_at_half_the_price() {
    // Each job step takes 5 s, long enough to kill the worker and restart the server while the
    // batch waits for its job, and to cancel a batch before its job ends.
    let (mut stack, _moto, _scratch) = s3_stack(MIN_RECORDS, &["--batch-step-ms", "5000"]).await;
    let ids = add_papers(&stack, &PAPERS);
    stack.start_with_cli("PaperBatch", "batch/inference", &batch_input(&ids, "batch"));

    // Once the job exists: the worker dies and the server restarts mid-wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while batch_stats(&stack)["jobs"].as_u64() != Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch job was created: {}",
            batch_stats(&stack)
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    stack.kill_worker();
    stack.restart_temporal().await;
    stack.start_worker();

    let batch: BatchSummary = stack.result::<PaperBatch>("batch/inference", 600).await;
    assert_eq!((batch.selected, batch.completed), (5, 5), "{batch:#?}");
    assert!(batch.failed.is_empty(), "{batch:#?}");
    assert_eq!(batch.batch_inference.len(), 1, "{batch:#?}");
    let job = &batch.batch_inference[0];
    assert_eq!(job.status, "Completed", "{job:#?}");
    assert!(job.records >= 5, "at least a chunk per paper: {job:#?}");
    assert_eq!(job.summarised, job.records, "{job:#?}");
    assert_eq!(job.fallback, None, "{job:#?}");
    // At least one check, after at least one timer (how many depends on how long the restarts
    // took against the job's 10 s).
    assert!(job.checks >= 1 && job.wait_ms >= 1_000, "{job:#?}");

    // One job, every record answered by it, not one summary asked for on demand.
    let jobs = batch_stats(&stack);
    assert_eq!(jobs["jobs"], 1, "{jobs}");
    assert_eq!(jobs["by_status"]["Completed"], 1, "{jobs}");
    assert_eq!(
        jobs["answered"].as_u64(),
        Some(u64::from(job.records)),
        "{jobs}"
    );
    assert_eq!(on_demand_summaries(&stack), 0, "{}", stack.standin_stats());
    let summary = &batch.by_role["summary"];
    assert_eq!(summary.calls, job.records, "{summary:#?}");
    assert_eq!(summary.batch_calls, job.records, "{summary:#?}");
    assert!(summary.standin, "the stand-in's templates say so");

    // Half the on-demand price of the same tokens (the catalogue's price of the model).
    let settings = activities::settings::Settings::default();
    let full = settings.cost_microusd(&summary.model, summary.input_tokens, summary.output_tokens);
    assert!(full > 0, "{summary:#?}");
    // Up to the rounding of each record's cost to a micro-dollar.
    assert!(
        (2 * summary.cost_microusd).abs_diff(full) <= 2 * u64::from(job.records),
        "batch {} µ$ vs {full} µ$ on demand",
        summary.cost_microusd
    );

    // The same papers again, on demand: each summary request is one the job answered (the
    // answer cache's key covers the whole request), so none is sent or paid again.
    stack.start_with_cli(
        "PaperBatch",
        "batch/on-demand",
        &batch_input(&ids, "on-demand"),
    );
    let on_demand: BatchSummary = stack.result::<PaperBatch>("batch/on-demand", 600).await;
    assert_eq!(on_demand.completed, 5, "{on_demand:#?}");
    assert!(on_demand.batch_inference.is_empty());
    assert_eq!(on_demand_summaries(&stack), 0, "{}", stack.standin_stats());
    let again = on_demand
        .by_role
        .get("summary")
        .cloned()
        .unwrap_or_default();
    assert_eq!((again.calls, again.cost_microusd), (0, 0), "{again:#?}");
    // What BENCHMARKS.md quotes.
    eprintln!(
        "batch inference: {} papers, {} records, job wait {} ms over {} checks; summary cost {} µ$ \
         in batch vs {} µ$ on demand",
        batch.completed, job.records, job.wait_ms, job.checks, summary.cost_microusd, full
    );
    stack.record_history("batch/inference", "batch-inference.json");

    // A batch cancelled while it waits stops its job: nobody will read the answers.
    stack.start_with_cli("PaperBatch", "batch/cancelled", &batch_input(&ids, "batch"));
    wait_for(&stack, "a second job", |s| s["jobs"] == 2).await;
    stack.temporal(&["workflow", "cancel", "--workflow-id", "batch/cancelled"]);
    let why = stack.failure::<PaperBatch>("batch/cancelled", 120).await;
    assert!(why.to_lowercase().contains("cancel"), "{why}");
    wait_for(&stack, "the job stopped", |s| {
        s["by_status"]["Stopped"] == 1
    })
    .await;
    assert_eq!(batch_stats(&stack)["by_status"]["Completed"], 1);
}

/// Polls the stand-in's batch counts until `until` holds (at most 2 minutes).
async fn wait_for(stack: &Stack, what: &str, until: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let stats = batch_stats(stack);
        if until(&stats) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {stats}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_batches_and_failed_jobs_fall_back_to_on_demand() {
    let (stack, _moto, _scratch) =
        s3_stack(MIN_RECORDS, &["--batch-step-ms", "200", "--batch-fail"]).await;
    let ids = add_papers(&stack, &PAPERS[..4]);

    // A mode that is neither is refused, naming the field.
    stack.start_with_cli(
        "PaperBatch",
        "batch/cheap",
        &serde_json::json!({"paper_ids": ids, "llm_mode": "cheap"}).to_string(),
    );
    let why = stack.failure::<PaperBatch>("batch/cheap", 120).await;
    assert!(
        why.contains("InvalidInput") && why.contains("llm_mode") && why.contains("cheap"),
        "{why}"
    );
    // So is a poll interval out of bounds, in batch mode.
    stack.start_with_cli(
        "PaperBatch",
        "batch/poll",
        &serde_json::json!({"paper_ids": ids, "llm_mode": "batch", "batch_poll_secs": 0})
            .to_string(),
    );
    let why = stack.failure::<PaperBatch>("batch/poll", 120).await;
    assert!(
        why.contains("InvalidInput") && why.contains("batch_poll_secs"),
        "{why}"
    );

    // One paper in one chunk: fewer records than the job minimum, so no job at all.
    let one = serde_json::json!({
        "paper_ids": [ids[0]],
        "llm_mode": "batch",
        "batch_poll_secs": 1,
        "paper": {"execute": false, "review_rounds": 1, "max_chunk_tokens": 150000},
    })
    .to_string();
    stack.start_with_cli("PaperBatch", "batch/small", &one);
    let small: BatchSummary = stack.result::<PaperBatch>("batch/small", 600).await;
    assert_eq!(small.completed, 1, "{small:#?}");
    let report = &small.batch_inference[0];
    assert_eq!(report.status, "not-submitted", "{report:#?}");
    assert!(report.job_arn.is_empty());
    let why = report.fallback.as_deref().unwrap_or_default();
    assert!(why.contains("min-records"), "{why}");
    assert_eq!(batch_stats(&stack)["jobs"], 0);
    let asked = on_demand_summaries(&stack);
    assert_eq!(u64::from(small.by_role["summary"].calls), asked);
    assert!(asked >= 1);
    assert_eq!(small.by_role["summary"].batch_calls, 0);

    // Enough records, but the job fails: every paper summarises on demand and completes.
    stack.start_with_cli("PaperBatch", "batch/failed", &batch_input(&ids, "batch"));
    let failed: BatchSummary = stack.result::<PaperBatch>("batch/failed", 600).await;
    assert_eq!(failed.completed, 4, "{failed:#?}");
    let report = &failed.batch_inference[0];
    assert_eq!(report.status, "Failed", "{report:#?}");
    assert!(!report.job_arn.is_empty());
    let why = report.fallback.as_deref().unwrap_or_default();
    assert!(why.contains("--batch-fail"), "{why}");
    let jobs = batch_stats(&stack);
    assert_eq!(jobs["jobs"], 1, "{jobs}");
    assert_eq!(jobs["by_status"]["Failed"], 1, "{jobs}");
    let summary = &failed.by_role["summary"];
    assert_eq!(summary.batch_calls, 0);
    assert_eq!(
        u64::from(summary.calls) + asked,
        on_demand_summaries(&stack),
        "{summary:#?}"
    );
    assert!(summary.calls > 0, "{summary:#?}");
}

/// The service keeps to its own minimum: a job the worker thinks big enough but Bedrock's quota
/// is higher for fails validation, and the papers go on demand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_under_the_services_minimum_fails_and_the_papers_go_on_demand() {
    let (stack, _moto, _scratch) = s3_stack("1000", &["--batch-step-ms", "200"]).await;
    let ids = add_papers(&stack, &PAPERS[..3]);
    stack.start_with_cli("PaperBatch", "batch/minimum", &batch_input(&ids, "batch"));
    let batch: BatchSummary = stack.result::<PaperBatch>("batch/minimum", 600).await;
    assert_eq!(batch.completed, 3, "{batch:#?}");
    let report = &batch.batch_inference[0];
    assert_eq!(report.status, "Failed", "{report:#?}");
    let why = report.fallback.as_deref().unwrap_or_default();
    assert!(why.contains("minimum number of records"), "{why}");
    let summary = &batch.by_role["summary"];
    assert_eq!(summary.batch_calls, 0);
    assert_eq!(u64::from(summary.calls), on_demand_summaries(&stack));
    assert!(u64::from(summary.calls) >= u64::from(report.records));
}
