//! The worker's metrics: the Prometheus endpoint (`telemetry.prometheus-listen`, serving
//! `/metrics` with the Temporal SDK's worker metrics and Annapurna's), the OTLP metric export
//! (`telemetry.otlp-endpoint`), and the two interceptors that see what activities and workflows
//! did without touching their code.
//!
//! - [`ActivityMetrics`] runs every activity inside `activities::metrics::in_activity`, so the
//!   model gateway knows which role a call serves, and counts what activities return: chunks
//!   planned and summarised, runs of code by classification and their time.
//! - [`workflow_metrics`] counts papers started, completed (by outcome) and failed (by the stage
//!   where they stopped and the failure's type), and records eval scores. It runs inside the
//!   workflow, so it records nothing while replaying: a paper counts once, whichever worker
//!   finishes it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use activities::metrics::{self as m, Counter, Histogram};
use anyhow::Context;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::WithExportConfig;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{
    HistogramBucketOverrides, PrometheusExporterOptions, TelemetryOptions,
    start_prometheus_metric_exporter,
};
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::workflow_interceptors::{
    ExecuteWorkflowInput, ExecuteWorkflowResult, WorkflowInterceptor,
    WorkflowInterceptorConstructor, WorkflowInterceptorContext, WorkflowInterceptorFuture,
    WorkflowNext,
};
use temporalio_sdk::{WorkflowContextView, WorkflowTermination};
use workflows::names::{EVALUATE_SUITE, PAPER_TO_CODE, activity, search_attribute};
use workflows::types::{ChunkPlan, EvaluateSuiteOutput, ExecutionReport, PaperToCodeOutput};

use crate::config::Telemetry;

struct Installed {
    meter: Option<Arc<dyn CoreMeter>>,
    prometheus: Option<SocketAddr>,
    _otel: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
}

static INSTALLED: OnceLock<Mutex<Option<Installed>>> = OnceLock::new();

/// Starts the Prometheus endpoint and the OTLP metric export as configured (once per process)
/// and returns the Temporal runtime's options, whose metrics go to the same endpoint. Call it
/// inside the Tokio runtime.
pub fn runtime_options(config: &Telemetry) -> anyhow::Result<RuntimeOptions> {
    let cell = INSTALLED.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().expect("metrics lock");
    if guard.is_none() {
        *guard = Some(install(config)?);
    }
    let installed = guard.as_ref().expect("installed above");
    let telemetry = TelemetryOptions::builder()
        .maybe_metrics(installed.meter.clone())
        .build();
    RuntimeOptions::builder()
        .telemetry_options(telemetry)
        // Workers sharing a model account split it by the model calls each holds, which they
        // read from each other's heartbeats (`wiring::llm_share`): every 2 s.
        .heartbeat_interval(Some(crate::wiring::WORKER_HEARTBEAT))
        .build()
        .map_err(|e| anyhow::anyhow!("Temporal runtime options: {e}"))
}

/// The address the Prometheus endpoint listens on, once started.
pub fn prometheus_address() -> Option<SocketAddr> {
    INSTALLED
        .get()?
        .lock()
        .ok()?
        .as_ref()
        .and_then(|i| i.prometheus)
}

fn install(config: &Telemetry) -> anyhow::Result<Installed> {
    let (meter, prometheus) = if config.prometheus_listen.trim().is_empty() {
        (None, None)
    } else {
        let addr: SocketAddr = config.prometheus_listen.trim().parse().with_context(|| {
            format!(
                "telemetry.prometheus-listen {:?} is not an address such as 127.0.0.1:9464",
                config.prometheus_listen
            )
        })?;
        let mut overrides = HistogramBucketOverrides::default();
        for h in Histogram::ALL {
            overrides.overrides.insert(h.name().to_owned(), h.buckets());
        }
        let options = PrometheusExporterOptions::builder()
            .socket_addr(addr)
            .histogram_bucket_overrides(overrides)
            .build();
        let started = start_prometheus_metric_exporter(options)
            .with_context(|| format!("serving Prometheus metrics on {addr}"))?;
        tracing::info!(address = %started.bound_addr, "Prometheus metrics on http://{}/metrics", started.bound_addr);
        (
            Some(started.meter as Arc<dyn CoreMeter>),
            Some(started.bound_addr),
        )
    };
    let otel = if config.otlp_endpoint.is_empty() {
        None
    } else {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .build()
            .with_context(|| {
                format!(
                    "building the OTLP metric exporter for {}",
                    config.otlp_endpoint
                )
            })?;
        Some(
            opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_periodic_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("annapurna")
                        .build(),
                )
                .build(),
        )
    };
    if meter.is_some() || otel.is_some() {
        m::install(m::Metrics::new(
            meter.clone(),
            otel.as_ref().map(|p| p.meter("annapurna")),
        ));
    }
    Ok(Installed {
        meter,
        prometheus,
        _otel: otel,
    })
}

/// Sees every activity: its role for the gateway, and what it returned.
pub struct ActivityMetrics;

impl ActivityInboundInterceptor for ActivityMetrics {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let kind = input.activity_info().activity_type.clone();
        let target = input
            .args_ref::<workflows::types::ExecuteCodeInput>()
            .map(|i| i.target.clone())
            .unwrap_or_default();
        Box::pin(async move {
            let result = m::in_activity(&kind, next.run(input)).await;
            if let Ok(value) = &result {
                match kind.as_str() {
                    activity::PLAN_CHUNKS => {
                        if let Some(plan) = value.downcast_ref::<ChunkPlan>() {
                            m::add(Counter::ChunksPlanned, plan.chunks.len() as u64, &[]);
                        }
                    }
                    activity::SUMMARIZE_CHUNK => m::add(Counter::ChunksSummarized, 1, &[]),
                    activity::EXECUTE_CODE => {
                        if let Some(report) = value.downcast_ref::<ExecutionReport>() {
                            let class = serde_json::to_value(report.classification)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default();
                            let labels = [
                                ("target", target.as_str()),
                                ("classification", class.as_str()),
                            ];
                            m::add(Counter::Executions, 1, &labels);
                            m::record(
                                Histogram::ExecutionTime,
                                report.wall_ms as f64 / 1000.0,
                                &labels,
                            );
                        }
                    }
                    _ => {}
                }
            }
            result
        })
    }
}

/// The workflow interceptor that counts papers and records eval scores.
pub fn workflow_metrics() -> WorkflowInterceptorConstructor {
    WorkflowInterceptorConstructor::new(|_ctx: &WorkflowContextView| WorkflowMetrics)
}

struct WorkflowMetrics;

impl WorkflowInterceptor for WorkflowMetrics {
    fn execute<'a>(
        &'a self,
        ctx: WorkflowInterceptorContext,
        input: ExecuteWorkflowInput,
        next: WorkflowNext<
            'a,
            ExecuteWorkflowInput,
            WorkflowInterceptorFuture<'a, ExecuteWorkflowResult>,
        >,
    ) -> WorkflowInterceptorFuture<'a, ExecuteWorkflowResult> {
        WorkflowInterceptorFuture::new(async move {
            let kind = ctx.workflow_type().to_owned();
            if kind == PAPER_TO_CODE && !ctx.is_replaying() {
                m::add(Counter::PapersStarted, 1, &[]);
            }
            let result = next.run(input).await;
            // Only a result this worker produces now counts: replaying an old run repeats it.
            if ctx.is_replaying() {
                return result;
            }
            match (kind.as_str(), &result) {
                (PAPER_TO_CODE, Ok(out)) => {
                    if let Some(out) = out.downcast_ref::<PaperToCodeOutput>() {
                        m::add(
                            Counter::PapersCompleted,
                            1,
                            &[("outcome", out.outcome.as_str())],
                        );
                    }
                }
                (PAPER_TO_CODE, Err(WorkflowTermination::Failed(e))) => {
                    let stage = ctx
                        .search_attributes()
                        .get(&temporalio_common::search_attributes::SearchAttributeKey::<
                            String,
                        >::keyword(
                            search_attribute::PAPER_STAGE
                        ))
                        .unwrap_or_default();
                    let reason = failure_type(e);
                    m::add(
                        Counter::PapersFailed,
                        1,
                        &[("stage", stage.as_str()), ("reason", reason.as_str())],
                    );
                }
                (EVALUATE_SUITE, Ok(out)) => {
                    if let Some(out) = out.downcast_ref::<EvaluateSuiteOutput>() {
                        m::record(Histogram::EvalScore, out.score.score, &[]);
                    }
                }
                _ => {}
            }
            result
        })
    }
}

/// The failure's type as the Web UI shows it (`UnparseablePaper`, `NoExecutor`, …).
fn failure_type(e: &temporalio_common::error::OutgoingWorkflowError) -> String {
    use temporalio_common::error::OutgoingWorkflowError as E;
    match e {
        E::Application(a) => a.type_name().unwrap_or("ApplicationFailure").to_owned(),
        E::ActivityExecution(_) => "ActivityFailed".to_owned(),
        E::ChildWorkflowExecution(_) | E::ChildWorkflowStart(_) => "ChildWorkflowFailed".to_owned(),
        E::PayloadConversion(_) => "PayloadConversion".to_owned(),
        #[allow(unreachable_patterns)]
        _ => "Other".to_owned(),
    }
}
