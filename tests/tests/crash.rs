//! A worker killed with SIGKILL while chunk summaries are in flight: a new worker takes over, the
//! paper completes, and chunks summarised before the kill are not summarised again.

use std::time::{Duration, Instant};

use annapurna_tests::{Stack, paper_input, wait_progress, wait_result};
use workflows::names::paper_workflow_id;
use workflows::types::PaperToCodeInput;

const LANES: u32 = 3;

/// The paper `id` at 2,000-token chunks, `LANES` summaries at a time, not executed.
fn input(id: &str) -> PaperToCodeInput {
    PaperToCodeInput {
        max_chunk_tokens: Some(2_000),
        parallel_chunks: Some(LANES),
        execute: Some(false),
        ..paper_input(id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_during_summaries_resumes_without_paying_twice() {
    // Every model answer takes 1.5 s, so several summaries are always in flight.
    let (mut stack, id) =
        Stack::start_with_paper(&["--latency-ms", "1500"], "schedule-free.tex").await;
    let handle = stack
        .start_paper(&paper_workflow_id(&id), input(&id))
        .await
        .unwrap();

    // Wait until some chunks are done and others are not, then kill the worker.
    let progress = wait_progress(&handle, 120, "summaries never got going", |p| {
        p.chunks_done >= 2
    })
    .await;
    assert!(
        progress.chunks_done + LANES < progress.chunks_total,
        "the paper must have chunks left after the kill: {progress:?}"
    );
    stack.kill_worker();
    let killed_at = Instant::now();
    let done_before_kill = progress.chunks_done;
    eprintln!("killed the worker at {progress:?}");
    stack.start_worker();

    let out = wait_result(&handle, 240).await;
    assert_eq!(out.outcome, "succeeded");
    eprintln!(
        "completed {:.1} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let chunks = out.chunks;

    let stats = stack.standin_stats();
    let per_chunk = stats["summaries_by_chunk"].as_object().unwrap();
    assert_eq!(
        per_chunk.len() as u32,
        chunks,
        "every chunk summarised: {stats}"
    );
    let repeated: Vec<_> = per_chunk
        .iter()
        .filter(|(_, n)| n.as_u64().unwrap() > 1)
        .collect();
    let total: u64 = per_chunk.values().map(|n| n.as_u64().unwrap()).sum();
    eprintln!(
        "chunks {chunks}, done before the kill {done_before_kill}, summary requests {total}, repeated {repeated:?}"
    );
    // Only chunks in flight at the kill may be asked for again: at most one per lane, and never
    // one of those the workflow had already recorded as done.
    assert!(repeated.len() as u32 <= LANES, "{repeated:?}");
    assert!(
        repeated.len() as u32 <= chunks - done_before_kill,
        "{repeated:?}"
    );
    assert!(
        total <= (chunks + LANES) as u64,
        "{total} summary requests for {chunks} chunks"
    );
    assert!(
        repeated.iter().all(|(_, n)| n.as_u64().unwrap() == 2),
        "{repeated:?}"
    );
}

/// SIGTERM is not SIGKILL: the worker stops taking tasks, lets the summaries in flight finish
/// and report, and exits cleanly; the next worker repeats nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_sigterm_lets_in_flight_summaries_finish() {
    let (mut stack, id) = Stack::start_with_paper(&["--latency-ms", "2000"], "dyt.tex").await;
    let handle = stack
        .start_paper(&paper_workflow_id(&id), input(&id))
        .await
        .unwrap();
    wait_progress(&handle, 120, "summaries never got going", |p| {
        p.stage == "summarizing" && p.chunks_total > LANES
    })
    .await;
    // Let the first requests reach the stand-in, then ask the worker to stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worker = stack.worker.take().unwrap();
    worker.stop(
        Duration::from_secs(20),
        "the worker exits within its grace period",
    );
    let in_flight_at_stop = stack.standin_stats()["summaries_by_chunk"]
        .as_object()
        .unwrap()
        .len();
    assert!(
        in_flight_at_stop >= 1,
        "no summary was in flight when the worker stopped"
    );
    drop(worker);

    stack.start_worker();
    let out = wait_result(&handle, 180).await;
    let stats = stack.standin_stats();
    let per_chunk = stats["summaries_by_chunk"].as_object().unwrap();
    assert_eq!(per_chunk.len() as u32, out.chunks);
    assert!(
        per_chunk.values().all(|n| n.as_u64() == Some(1)),
        "a chunk was summarised twice after a graceful stop: {stats}"
    );
}
