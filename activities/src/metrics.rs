//! Counters and histograms for dashboards: papers, chunks, model requests, tokens, cost,
//! throttles, model latency, executions and eval scores.
//!
//! One process-wide [`Metrics`] (installed once by the worker, like a tracing subscriber) records
//! each value to up to two backends: the Temporal SDK's Prometheus meter, so that Annapurna's
//! series sit beside the SDK's own worker metrics on one `/metrics` endpoint, and an
//! OpenTelemetry meter exported over OTLP. Without an installed `Metrics` every call is a no-op,
//! so activities and tests never need to know.
//!
//! Which model role a call serves is not in the request: the worker's activity interceptor runs
//! each activity inside [`in_activity`], and the gateway reads [`current_role`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use temporalio_common::telemetry::metrics::{
    CoreMeter, MetricKeyValue, MetricParameters, NewAttributes,
};
use workflows::names::activity;

/// A counter. Prometheus names end in `_total`; OTLP names are the same without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// PaperToCode runs started (label `target`).
    PapersStarted,
    /// PaperToCode runs completed (label `outcome`).
    PapersCompleted,
    /// PaperToCode runs failed (labels `stage`, the stage where it stopped, and `reason`, the
    /// failure's type).
    PapersFailed,
    /// Chunks planned by `PlanChunks`.
    ChunksPlanned,
    /// Chunks summarised (`SummarizeChunk` completions).
    ChunksSummarized,
    /// Calls to a model provider, the answer cache's hits excluded (labels `model`, `role`,
    /// `result`: `ok`, `throttled` or `error`).
    ModelRequests,
    /// Answers served by the answer cache instead of a call (labels `model`, `role`).
    ModelCacheHits,
    /// Tokens (labels `model`, `role`, `kind`: `input`, `output`, `cache-read`, `cache-write`).
    ModelTokens,
    /// Estimated cost in micro-dollars (labels `model`, `role`).
    ModelCostMicrousd,
    /// Requests the provider throttled (labels `model`, `role`).
    ModelThrottles,
    /// Runs of generated code (labels `target`, `classification`).
    Executions,
}

/// A histogram of `f64` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Histogram {
    /// Seconds per model call (labels `model`, `role`).
    ModelLatency,
    /// Wall seconds per run of generated code (labels `target`, `classification`).
    ExecutionTime,
    /// An evaluation suite's pass@1 weighted by lines, 0–1 (label `mode`).
    EvalScore,
}

impl Counter {
    /// Every counter.
    pub const ALL: [Counter; 11] = [
        Counter::PapersStarted,
        Counter::PapersCompleted,
        Counter::PapersFailed,
        Counter::ChunksPlanned,
        Counter::ChunksSummarized,
        Counter::ModelRequests,
        Counter::ModelCacheHits,
        Counter::ModelTokens,
        Counter::ModelCostMicrousd,
        Counter::ModelThrottles,
        Counter::Executions,
    ];

    /// The name without the `_total` suffix (the OTLP name).
    pub fn name(self) -> &'static str {
        match self {
            Counter::PapersStarted => "annapurna_papers_started",
            Counter::PapersCompleted => "annapurna_papers_completed",
            Counter::PapersFailed => "annapurna_papers_failed",
            Counter::ChunksPlanned => "annapurna_chunks_planned",
            Counter::ChunksSummarized => "annapurna_chunks_summarized",
            Counter::ModelRequests => "annapurna_model_requests",
            Counter::ModelCacheHits => "annapurna_model_cache_hits",
            Counter::ModelTokens => "annapurna_model_tokens",
            Counter::ModelCostMicrousd => "annapurna_model_cost_microusd",
            Counter::ModelThrottles => "annapurna_model_throttles",
            Counter::Executions => "annapurna_executions",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Counter::PapersStarted => "PaperToCode runs started",
            Counter::PapersCompleted => "PaperToCode runs completed, by outcome",
            Counter::PapersFailed => "PaperToCode runs failed, by stage and reason",
            Counter::ChunksPlanned => "chunks planned",
            Counter::ChunksSummarized => "chunks summarised",
            Counter::ModelRequests => "model calls, by model, role and result",
            Counter::ModelCacheHits => "answers served from the answer cache",
            Counter::ModelTokens => "tokens, by model, role and kind",
            Counter::ModelCostMicrousd => "estimated cost in micro-dollars",
            Counter::ModelThrottles => "requests the provider throttled",
            Counter::Executions => "runs of generated code, by classification",
        }
    }
}

impl Histogram {
    /// Every histogram.
    pub const ALL: [Histogram; 3] = [
        Histogram::ModelLatency,
        Histogram::ExecutionTime,
        Histogram::EvalScore,
    ];

    /// The name (Prometheus and OTLP alike).
    pub fn name(self) -> &'static str {
        match self {
            Histogram::ModelLatency => "annapurna_model_latency_seconds",
            Histogram::ExecutionTime => "annapurna_execution_seconds",
            Histogram::EvalScore => "annapurna_eval_score",
        }
    }

    /// Bucket boundaries.
    pub fn buckets(self) -> Vec<f64> {
        match self {
            Histogram::ModelLatency => {
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]
            }
            Histogram::ExecutionTime => {
                vec![1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0]
            }
            Histogram::EvalScore => vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Histogram::ModelLatency | Histogram::ExecutionTime => "s",
            Histogram::EvalScore => "1",
        }
    }
}

struct Instruments<C, H> {
    counters: HashMap<Counter, C>,
    histograms: HashMap<Histogram, H>,
}

/// The process's instruments on each configured backend.
pub struct Metrics {
    prometheus: Option<(
        Arc<dyn CoreMeter>,
        Instruments<
            temporalio_common::telemetry::metrics::Counter,
            temporalio_common::telemetry::metrics::HistogramF64,
        >,
    )>,
    otel: Option<
        Instruments<opentelemetry::metrics::Counter<u64>, opentelemetry::metrics::Histogram<f64>>,
    >,
}

impl Metrics {
    /// Instruments on the Temporal SDK's meter (Prometheus) and/or an OpenTelemetry meter (OTLP).
    pub fn new(
        prometheus: Option<Arc<dyn CoreMeter>>,
        otel: Option<opentelemetry::metrics::Meter>,
    ) -> Self {
        let prometheus = prometheus.map(|meter| {
            let counters = Counter::ALL
                .into_iter()
                .map(|c| {
                    let params = MetricParameters {
                        name: format!("{}_total", c.name()).into(),
                        description: c.description().into(),
                        unit: "".into(),
                    };
                    (c, meter.counter(params))
                })
                .collect();
            let histograms = Histogram::ALL
                .into_iter()
                .map(|h| {
                    let params = MetricParameters {
                        name: h.name().into(),
                        description: "".into(),
                        unit: h.unit().into(),
                    };
                    (h, meter.histogram_f64(params))
                })
                .collect();
            (
                meter,
                Instruments {
                    counters,
                    histograms,
                },
            )
        });
        let otel = otel.map(|meter| Instruments {
            counters: Counter::ALL
                .into_iter()
                .map(|c| {
                    (
                        c,
                        meter
                            .u64_counter(c.name())
                            .with_description(c.description())
                            .build(),
                    )
                })
                .collect(),
            histograms: Histogram::ALL
                .into_iter()
                .map(|h| {
                    (
                        h,
                        meter
                            .f64_histogram(h.name())
                            .with_unit(h.unit())
                            .with_boundaries(h.buckets())
                            .build(),
                    )
                })
                .collect(),
        });
        Metrics { prometheus, otel }
    }

    fn add(&self, counter: Counter, value: u64, labels: &[(&str, &str)]) {
        if let Some((meter, inst)) = &self.prometheus {
            let attrs = meter.new_attributes(prom_labels(labels));
            inst.counters[&counter].add(value, &attrs);
        }
        if let Some(inst) = &self.otel {
            inst.counters[&counter].add(value, &otel_labels(labels));
        }
    }

    fn record(&self, histogram: Histogram, value: f64, labels: &[(&str, &str)]) {
        if let Some((meter, inst)) = &self.prometheus {
            let attrs = meter.new_attributes(prom_labels(labels));
            inst.histograms[&histogram].record(value, &attrs);
        }
        if let Some(inst) = &self.otel {
            inst.histograms[&histogram].record(value, &otel_labels(labels));
        }
    }
}

fn prom_labels(labels: &[(&str, &str)]) -> NewAttributes {
    NewAttributes::from(
        labels
            .iter()
            .map(|(k, v)| MetricKeyValue::new(k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

fn otel_labels(labels: &[(&str, &str)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
        .collect()
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Installs the process's metrics; a second call is ignored (returns false).
pub fn install(metrics: Metrics) -> bool {
    METRICS.set(metrics).is_ok()
}

/// Adds to a counter (a no-op when no metrics are installed).
pub fn add(counter: Counter, value: u64, labels: &[(&str, &str)]) {
    if let Some(m) = METRICS.get() {
        m.add(counter, value, labels);
    }
}

/// Records a histogram value (a no-op when no metrics are installed).
pub fn record(histogram: Histogram, value: f64, labels: &[(&str, &str)]) {
    if let Some(m) = METRICS.get() {
        m.record(histogram, value, labels);
    }
}

tokio::task_local! {
    static ROLE: &'static str;
}

/// The model role an activity's calls serve (`summary`, `code`, …), else the activity's name.
pub fn role_of_activity(activity_type: &str) -> &'static str {
    match activity_type {
        activity::SUMMARIZE_CHUNK | activity::COLLECT_BATCH_INFERENCE => "summary",
        activity::RECOMMEND_DATASET => "dataset",
        activity::GENERATE_CODE => "code",
        activity::REVIEW_CODE => "review",
        activity::FIX_CODE => "fix",
        activity::DIAGNOSE_FAILURE => "diagnose",
        activity::JUDGE_PAPER => "judge",
        activity::ANSWER_SNIPPET => "eval-answer",
        _ => "other",
    }
}

/// Runs an activity's future with its role known to [`current_role`].
pub async fn in_activity<F: Future>(activity_type: &str, fut: F) -> F::Output {
    ROLE.scope(role_of_activity(activity_type), fut).await
}

/// The role of the activity this task runs (`other` outside one).
pub fn current_role() -> &'static str {
    ROLE.try_with(|r| *r).unwrap_or("other")
}

/// What the gateway records about one model call.
pub fn model_call(model: &str, result: &str, latency_secs: f64) {
    let role = current_role();
    add(
        Counter::ModelRequests,
        1,
        &[("model", model), ("role", role), ("result", result)],
    );
    if result == "throttled" {
        add(
            Counter::ModelThrottles,
            1,
            &[("model", model), ("role", role)],
        );
    }
    if result == "ok" {
        record(
            Histogram::ModelLatency,
            latency_secs,
            &[("model", model), ("role", role)],
        );
    }
}

/// What the gateway records about a call's tokens and cost.
pub fn model_usage(model: &str, tokens: [(&str, u64); 4], cost_microusd: u64) {
    let role = current_role();
    for (kind, n) in tokens {
        if n > 0 {
            add(
                Counter::ModelTokens,
                n,
                &[("model", model), ("role", role), ("kind", kind)],
            );
        }
    }
    add(
        Counter::ModelCostMicrousd,
        cost_microusd,
        &[("model", model), ("role", role)],
    );
}

/// An answer served from the answer cache.
pub fn model_cache_hit(model: &str) {
    add(
        Counter::ModelCacheHits,
        1,
        &[("model", model), ("role", current_role())],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_role_follows_the_activity() {
        assert_eq!(current_role(), "other");
        let role = in_activity(activity::REVIEW_CODE, async { current_role() }).await;
        assert_eq!(role, "review");
        let role = in_activity(activity::LOAD_PAPER, async { current_role() }).await;
        assert_eq!(role, "other");
    }

    #[test]
    fn names_are_distinct_and_prometheus_safe() {
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.extend(Histogram::ALL.iter().map(|h| h.name()));
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(
            names
                .iter()
                .all(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
