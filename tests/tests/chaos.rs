//! Chaos: the worker SIGKILLed ten times at random points (seeded; the seed is printed and can be
//! set with CHAOS_SEED) across every stage, restarted each time: the paper completes, its results
//! match an undisturbed run, and the model is asked again at most once per kill. Then the Temporal
//! server itself is killed and restarted (its SQLite file kept) mid-run: the paper completes.

use std::time::{Duration, Instant};

use annapurna_tests::{Stack, paper_input};
use workflows::PaperToCode;
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

/// A small seeded generator (xorshift64*), enough to place kills reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

fn input(paper_id: &str) -> PaperToCodeInput {
    PaperToCodeInput {
        max_chunk_tokens: Some(2_000),
        // One summary at a time, so a kill can lose at most one summary in flight (and the
        // dataset recommendation, which runs beside the map, when it is in flight too).
        parallel_chunks: Some(1),
        heartbeat_timeout_secs: Some(2),
        execute: Some(false),
        ..paper_input(paper_id)
    }
}

/// Whether the workflow is still running (status 1).
async fn running(stack: &Stack, workflow_id: &str) -> bool {
    let handle = stack.client.get_workflow_handle::<PaperToCode>(workflow_id);
    match handle.describe(Default::default()).await {
        Ok(d) => d
            .raw_description
            .workflow_execution_info
            .is_some_and(|i| i.status == 1),
        Err(_) => true,
    }
}

/// A stack whose stand-in runs with `standin`, with minp.tex added and PaperToCode started on it
/// as `workflow_id`; the stack and the paper's id.
async fn start_minp(standin: &[&str], workflow_id: &str) -> (Stack, String) {
    let (stack, id) = Stack::start_with_paper(standin, "minp.tex").await;
    stack.start_paper(workflow_id, input(&id)).await.unwrap();
    (stack, id)
}

/// The result of `workflow_id`, waiting at most five minutes; panics when it fails.
async fn result(stack: &Stack, workflow_id: &str) -> PaperToCodeOutput {
    stack.result::<PaperToCode>(workflow_id, 300).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_worker_kills_lose_nothing_and_pay_at_most_once_per_kill() {
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("chaos seed: {seed} (rerun with CHAOS_SEED={seed})");
    let mut rng = Rng(seed);
    const KILLS: u32 = 10;
    // ~17 model calls of 0.8 s: long enough that ten kills, at most 1 s of progress apart, all
    // land before the end.
    let standin = ["--latency-ms", "800"];

    // The undisturbed run, on its own stack.
    let (calm, id) = start_minp(&standin, "calm").await;
    let calm_out = result(&calm, "calm").await;
    let calm_requests = calm.standin_stats()["requests"].as_u64().unwrap();

    // The same paper, the worker killed ten times.
    let (mut stack, again) = start_minp(&standin, "chaos").await;
    assert_eq!(again, id);
    let mut kills = 0;
    let mut recoveries = Vec::new();
    while kills < KILLS {
        tokio::time::sleep(rng.millis(200, 1_000)).await;
        if !running(&stack, "chaos").await {
            break; // finished before all kills: the assertion below says so
        }
        stack.kill_worker();
        kills += 1;
        let killed = Instant::now();
        stack.start_worker();
        let before = stack.standin_stats()["requests"].as_u64().unwrap();
        // Recovery: the next model request after the restart, or the end of the run.
        while stack.standin_stats()["requests"].as_u64().unwrap() == before
            && running(&stack, "chaos").await
            && killed.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        recoveries.push(killed.elapsed().as_secs_f64());
    }
    let out = result(&stack, "chaos").await;
    let requests = stack.standin_stats()["requests"].as_u64().unwrap();
    eprintln!(
        "kills {kills}, model requests {requests} vs {calm_requests} undisturbed, recovery s {recoveries:.1?}"
    );
    assert_eq!(kills, KILLS, "the run ended before all kills; seed {seed}");
    assert_eq!(out.outcome, calm_out.outcome);
    assert_eq!(out.chunks, calm_out.chunks);
    assert_eq!(
        out.code.sha256, calm_out.code.sha256,
        "the code differs from the undisturbed run"
    );
    let duplicates = requests.saturating_sub(calm_requests);
    // Each kill loses the summary in flight, and the dataset recommendation when a kill found it
    // in flight as well (its attempts beyond the first).
    let dataset_lost = u64::from(dataset_attempts(&stack, "chaos").await.saturating_sub(1));
    assert!(
        duplicates <= kills as u64 + dataset_lost,
        "{duplicates} repeated model calls for {kills} kills, {dataset_lost} of them also losing the dataset recommendation (seed {seed})"
    );
}

/// The attempt of `workflow_id`'s dataset recommendation that completed.
async fn dataset_attempts(stack: &Stack, workflow_id: &str) -> u32 {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    let handle = stack.client.get_workflow_handle::<PaperToCode>(workflow_id);
    let events = annapurna_tests::history_events(&handle).await.unwrap();
    let scheduled: Vec<i64> = events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                if a.activity_id == "dataset" =>
            {
                Some(e.event_id)
            }
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskStartedEventAttributes(a))
                if scheduled.contains(&a.scheduled_event_id) =>
            {
                u32::try_from(a.attempt).ok()
            }
            _ => None,
        })
        .max()
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_server_killed_and_restarted_mid_run() {
    let (mut stack, _) = start_minp(&["--latency-ms", "300"], "server-chaos").await;
    // Let it get into the summaries, then take the server away for a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.standin_stats()["by_kind"]["summarize-chunk"]
        .as_u64()
        .unwrap_or(0)
        < 2
    {
        assert!(Instant::now() < deadline, "summaries never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.restart_temporal().await;
    let out = result(&stack, "server-chaos").await;
    assert_eq!(out.outcome, "succeeded");
    assert_eq!(out.failed_chunks, 0);
}
