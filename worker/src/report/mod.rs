//! `annapurna report`: statistics of the recorded runs as one self-contained HTML page with
//! charts ([`charts`], SVG drawn here), or as JSON (`--json`, the same figures).
//!
//! Sources: the paper store's runs and each run's results directory (`metadata.json`,
//! `review/round-N.json`, `check.json`), Temporal's visibility for the runs that failed or are
//! still running (their `PaperStage`, and the failure's type from the close event), and
//! `results/eval/*/score.json` for evaluation runs (local results stores).

pub mod charts;

use std::collections::BTreeMap;
use std::path::PathBuf;

use activities::clients::blobs::BlobStore;
use anyhow::Context;
use serde_json::{Value, json};

use crate::config::Config;

/// `annapurna report` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only runs started on or after this date (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Only the papers of this batch (its workflow id, e.g. batch/…, or the part after batch/).
    #[arg(long)]
    pub batch: Option<String>,
    /// Where to write the HTML page.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Print the figures as JSON on stdout instead of writing the page.
    #[arg(long)]
    pub json: bool,
    /// The Temporal Web UI's address, for the links to each paper's workflow.
    #[arg(
        long,
        default_value = "http://localhost:8233",
        env = "ANNAPURNA_WEB_UI"
    )]
    pub web_ui: String,
}

/// One PaperToCode run as the report sees it.
#[derive(Debug, Clone, Default)]
struct Run {
    paper_id: String,
    title: String,
    workflow_id: String,
    run_id: String,
    outcome: String,
    stage: String,
    reason: String,
    started_ms: u64,
    metadata: Option<Value>,
    rounds: Vec<Value>,
    final_check: Option<Value>,
}

/// Builds the report and writes it (or prints the JSON).
pub async fn run(config: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let since_ms = args.since.as_deref().map(parse_date).transpose()?;
    let batch = args.batch.as_deref().map(|b| {
        if b.starts_with("batch/") {
            b.to_owned()
        } else {
            format!("batch/{b}")
        }
    });
    let (mut runs, temporal_note) = temporal_runs(since_ms, batch.as_deref()).await;
    let papers = crate::papers_cmd::paper_store(config).await?;
    let results = BlobStore::open(&config.storage.results)?;
    let in_batch: Option<std::collections::BTreeSet<String>> = batch
        .as_ref()
        .map(|_| runs.iter().map(|r| r.run_id.clone()).collect());
    for paper in papers.list(10_000).await? {
        for rec in papers.runs(&paper.id).await? {
            if let Some(set) = &in_batch
                && !set.contains(&rec.run_id)
            {
                continue;
            }
            let metadata = read_json(&results, &format!("{}/metadata.json", rec.results)).await;
            let mut rounds = Vec::new();
            let n = metadata
                .as_ref()
                .and_then(|m| m["review_rounds"].as_u64())
                .unwrap_or(0);
            for i in 1..=n {
                if let Some(r) =
                    read_json(&results, &format!("{}/review/round-{i}.json", rec.results)).await
                {
                    rounds.push(r);
                }
            }
            let final_check = read_json(&results, &format!("{}/check.json", rec.results)).await;
            let started_ms = metadata
                .as_ref()
                .and_then(|m| m["timings"].as_array())
                .and_then(|t| t.iter().filter_map(|s| s["started_ms"].as_u64()).min())
                .unwrap_or(0);
            if let Some(since) = since_ms
                && started_ms < since
            {
                continue;
            }
            let entry = Run {
                paper_id: rec.paper_id.clone(),
                title: paper.title.clone(),
                workflow_id: rec.workflow_id.clone(),
                run_id: rec.run_id.clone(),
                outcome: rec.outcome.clone(),
                stage: "done".into(),
                reason: String::new(),
                started_ms,
                metadata,
                rounds,
                final_check,
            };
            match runs.iter_mut().find(|r| r.run_id == rec.run_id) {
                Some(r) => *r = entry,
                None => runs.push(entry),
            }
        }
    }
    // Titles for runs known only to Temporal.
    for r in runs.iter_mut().filter(|r| r.title.is_empty()) {
        if let Ok(Some(p)) = papers.get(&r.paper_id).await {
            r.title = p.title;
        }
    }
    runs.sort_by(|a, b| {
        a.started_ms
            .cmp(&b.started_ms)
            .then(a.run_id.cmp(&b.run_id))
    });
    let evals = eval_runs(&config.storage.results);
    let mut figures = figures(&runs, &evals, &args.web_ui);
    figures["filters"] = json!({"since": args.since, "batch": batch});
    figures["temporal"] = json!(temporal_note);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    let html = render_html(&figures)?;
    std::fs::write(&args.out, html)
        .with_context(|| format!("writing the report to {}", args.out.display()))?;
    println!(
        "wrote {} ({} runs{})",
        args.out.display(),
        runs.len(),
        if figures["standin"].as_bool() == Some(true) {
            "; STAND-IN: model answers were templates, not generation"
        } else {
            ""
        }
    );
    Ok(())
}

fn parse_date(s: &str) -> anyhow::Result<u64> {
    let t = humantime::parse_rfc3339_weak(&format!("{s} 00:00:00"))
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .with_context(|| format!("--since {s:?} is not a date such as 2026-01-31"))?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64)
}

async fn read_json(store: &BlobStore, uri: &str) -> Option<Value> {
    let bytes = store.try_get_uri(uri).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// PaperToCode runs from Temporal's visibility: every run's stage and outcome, and for a failed
/// one the failure's type. Without a server the report covers the recorded runs only, and says so.
async fn temporal_runs(since_ms: Option<u64>, batch: Option<&str>) -> (Vec<Run>, String) {
    match temporal_runs_inner(since_ms, batch).await {
        Ok(runs) => (runs, "runs listed from Temporal's visibility".into()),
        Err(e) => (
            Vec::new(),
            format!("Temporal not reachable ({e:#}): failed and running papers are not counted"),
        ),
    }
}

async fn temporal_runs_inner(
    since_ms: Option<u64>,
    batch: Option<&str>,
) -> anyhow::Result<Vec<Run>> {
    use temporalio_client::NamespacedClient as _;
    use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_protos::temporal::api::enums::v1::{
        HistoryEventFilterType, WorkflowExecutionStatus,
    };
    use temporalio_protos::temporal::api::failure::v1::failure::FailureInfo;
    use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
    use temporalio_protos::temporal::api::workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
    };
    let client = crate::wiring::temporal_client(None).await?;
    let namespace = client.namespace();
    let mut query = format!("WorkflowType = '{}'", workflows::names::PAPER_TO_CODE);
    if let Some(since) = since_ms {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(since);
        query.push_str(&format!(
            " AND StartTime >= '{}'",
            humantime::format_rfc3339_seconds(t)
        ));
    }
    if let Some(b) = batch {
        query.push_str(&format!(
            " AND ParentWorkflowId = '{}'",
            b.replace('\'', "")
        ));
    }
    let mut service = client.connection().workflow_service();
    let mut token = Vec::new();
    let mut runs = Vec::new();
    loop {
        let page = service
            .list_workflow_executions(temporalio_client::tonic::Request::new(
                ListWorkflowExecutionsRequest {
                    namespace: namespace.clone(),
                    page_size: 1000,
                    next_page_token: token.clone(),
                    query: query.clone(),
                },
            ))
            .await
            .map_err(|e| anyhow::anyhow!("listing PaperToCode runs: {}", e.message()))?
            .into_inner();
        for info in page.executions {
            let exec = info.execution.clone().unwrap_or_default();
            let attr = |name: &str| -> String {
                info.search_attributes
                    .as_ref()
                    .and_then(|s| s.indexed_fields.get(name))
                    .and_then(|p| serde_json::from_slice::<Value>(&p.data).ok())
                    .map(|v| match v {
                        Value::String(s) => s,
                        Value::Array(a) => {
                            a.first().and_then(|x| x.as_str()).unwrap_or("").to_owned()
                        }
                        other => other.to_string(),
                    })
                    .unwrap_or_default()
            };
            let status = WorkflowExecutionStatus::try_from(info.status)
                .unwrap_or(WorkflowExecutionStatus::Unspecified);
            let outcome = match status {
                WorkflowExecutionStatus::Running => "running".to_owned(),
                WorkflowExecutionStatus::Completed => attr("PaperOutcome"),
                WorkflowExecutionStatus::Failed => "failed".to_owned(),
                WorkflowExecutionStatus::TimedOut => "timed-out".to_owned(),
                WorkflowExecutionStatus::Canceled => "cancelled".to_owned(),
                WorkflowExecutionStatus::Terminated => "terminated".to_owned(),
                WorkflowExecutionStatus::ContinuedAsNew => "continued-as-new".to_owned(),
                WorkflowExecutionStatus::Paused => "paused".to_owned(),
                WorkflowExecutionStatus::Unspecified => "unknown".to_owned(),
            };
            let mut reason = String::new();
            if status == WorkflowExecutionStatus::Failed {
                let history = service
                    .get_workflow_execution_history(temporalio_client::tonic::Request::new(
                        GetWorkflowExecutionHistoryRequest {
                            namespace: namespace.clone(),
                            execution: Some(WorkflowExecution {
                                workflow_id: exec.workflow_id.clone(),
                                run_id: exec.run_id.clone(),
                            }),
                            history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                            ..Default::default()
                        },
                    ))
                    .await;
                if let Ok(h) = history {
                    for event in h.into_inner().history.map(|h| h.events).unwrap_or_default() {
                        if let Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) =
                            event.attributes
                            && let Some(f) = a.failure
                        {
                            reason = match f.failure_info {
                                Some(FailureInfo::ApplicationFailureInfo(i))
                                    if !i.r#type.is_empty() =>
                                {
                                    i.r#type
                                }
                                _ => f.message,
                            };
                        }
                    }
                }
            }
            let started_ms = info
                .start_time
                .map(|t| (t.seconds.max(0) as u64) * 1000 + (t.nanos.max(0) as u64) / 1_000_000)
                .unwrap_or(0);
            runs.push(Run {
                paper_id: attr("PaperId"),
                workflow_id: exec.workflow_id,
                run_id: exec.run_id,
                outcome,
                stage: attr("PaperStage"),
                reason,
                started_ms,
                ..Run::default()
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok(runs)
}

/// `results/eval/<suite-run>/score.json` of a local results store, oldest first.
fn eval_runs(results: &str) -> Vec<Value> {
    let dir = PathBuf::from(results.strip_prefix("file://").unwrap_or(results)).join("eval");
    let mut out: Vec<(std::time::SystemTime, Value)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path().join("score.json");
            let when = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
            let v: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            Some((when, v))
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out.into_iter()
        .map(|(t, v)| {
            json!({
                "suite_run": v["suite_run"],
                "score": v["score"]["score"],
                "standin": v["standin"],
                "recorded": humantime::format_rfc3339_seconds(t).to_string(),
            })
        })
        .collect()
}

/// The role a step of `metadata.json`'s usage served, from the step's name.
fn role_of_step(entry: &Value) -> String {
    if let Some(r) = entry["role"].as_str().or(entry["usage"]["role"].as_str()) {
        return r.to_owned();
    }
    let step = entry["step"].as_str().unwrap_or("");
    let first = step.split_whitespace().next().unwrap_or("");
    let role = activities::metrics::role_of_activity(first);
    if role == "other" {
        first.to_owned()
    } else {
        role.to_owned()
    }
}

fn inc(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    *map.entry(key.to_owned()).or_default() += by;
}

fn findings_of(round: &Value) -> Vec<String> {
    let mut rules = Vec::new();
    for key in ["static_findings", "review_findings"] {
        for f in round[key].as_array().into_iter().flatten() {
            if let Some(r) = f["rule"].as_str() {
                rules.push(r.to_owned());
            }
        }
    }
    rules
}

/// Every figure of the report, as JSON.
fn figures(runs: &[Run], evals: &[Value], web_ui: &str) -> Value {
    let catalogue = activities::catalogue::builtin();
    let link = |r: &Run| {
        format!(
            "{}/namespaces/{}/workflows/{}/{}",
            web_ui.trim_end_matches('/'),
            std::env::var("TEMPORAL_NAMESPACE").unwrap_or_else(|_| "default".into()),
            url_escape(&r.workflow_id),
            r.run_id
        )
    };
    let mut by_outcome = BTreeMap::new();
    let mut stopped_at = BTreeMap::new();
    let mut failures = Vec::new();
    let mut stage_ms: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut rounds_hist = BTreeMap::new();
    let mut found = BTreeMap::new();
    let mut fixed = BTreeMap::new();
    let mut exec_class = BTreeMap::new();
    let mut repairs = BTreeMap::new();
    let mut datasets = BTreeMap::new();
    let (mut t_in, mut t_out, mut t_cr, mut t_cw, mut cost_micro) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut per_role: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut per_model: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut savings = 0.0f64;
    let mut per_paper = Vec::new();
    let mut standin = false;
    for r in runs {
        inc(&mut by_outcome, &r.outcome, 1);
        if r.outcome != "running" && r.metadata.is_none() {
            inc(
                &mut stopped_at,
                if r.stage.is_empty() {
                    "unknown"
                } else {
                    &r.stage
                },
                1,
            );
            failures.push(
                json!({"paper_id": r.paper_id, "title": r.title, "workflow_id": r.workflow_id,
                "outcome": r.outcome, "stage": r.stage, "reason": r.reason, "url": link(r)}),
            );
        }
        let Some(m) = &r.metadata else { continue };
        standin |= m["standin"].as_bool().unwrap_or(false);
        let mut duration = 0u64;
        for t in m["timings"].as_array().into_iter().flatten() {
            let ms = t["ended_ms"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(t["started_ms"].as_u64().unwrap_or(0));
            duration += ms;
            stage_ms
                .entry(t["stage"].as_str().unwrap_or("?").to_owned())
                .or_default()
                .push(ms as f64);
        }
        inc(
            &mut rounds_hist,
            &m["review_rounds"].as_u64().unwrap_or(0).to_string(),
            1,
        );
        // A finding is fixed when the next round (or, after the last, the final check) has fewer
        // of its rule.
        for (i, round) in r.rounds.iter().enumerate() {
            let now = findings_of(round);
            for rule in &now {
                inc(&mut found, rule, 1);
            }
            if round["fixed_code"].is_null() {
                continue;
            }
            let next: Vec<String> = match r.rounds.get(i + 1) {
                Some(n) => findings_of(n),
                None => r
                    .final_check
                    .as_ref()
                    .map(|c| {
                        c["findings"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|f| f["rule"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for rule in &now {
                counts.entry(rule).or_default().0 += 1;
            }
            for rule in &next {
                counts.entry(rule).or_default().1 += 1;
            }
            for (rule, (a, b)) in counts {
                if a > b {
                    inc(&mut fixed, rule, a - b);
                }
            }
        }
        if let Some(e) = m["execution"].as_object() {
            let class = e
                .get("classification")
                .and_then(|c| c.as_str())
                .unwrap_or("?");
            inc(&mut exec_class, class, 1);
            let runs_n = e.get("runs").and_then(|c| c.as_u64()).unwrap_or(1);
            inc(&mut repairs, &runs_n.saturating_sub(1).to_string(), 1);
        } else {
            inc(&mut exec_class, "not-executed", 1);
        }
        if let Some(d) = m["dataset"]["dataset"].as_str() {
            inc(&mut datasets, d, 1);
        }
        let (mut p_in, mut p_out, mut p_cost) = (0u64, 0u64, 0u64);
        for u in m["usage"].as_array().into_iter().flatten() {
            let us = &u["usage"];
            let (i, o, cr, cw, c) = (
                us["input_tokens"].as_u64().unwrap_or(0),
                us["output_tokens"].as_u64().unwrap_or(0),
                us["cache_read_tokens"].as_u64().unwrap_or(0),
                us["cache_write_tokens"].as_u64().unwrap_or(0),
                us["cost_microusd"].as_u64().unwrap_or(0),
            );
            standin |= us["standin"].as_bool().unwrap_or(false);
            t_in += i;
            t_out += o;
            t_cr += cr;
            t_cw += cw;
            cost_micro += c;
            p_in += i;
            p_out += o;
            p_cost += c;
            let role = per_role.entry(role_of_step(u)).or_default();
            role.0 += i;
            role.1 += o;
            role.2 += c;
            let model = us["model"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("(none: cached or not asked)");
            let pm = per_model.entry(model.to_owned()).or_default();
            pm.0 += i;
            pm.1 += o;
            pm.2 += c;
            if cr > 0
                && let Some(res) = activities::catalogue::resolve(&catalogue, model)
            {
                let price = res.price();
                let (_, read) = price.cache_prices();
                savings += cr as f64 * (price.input - read) / 1e6;
            }
        }
        per_paper.push(json!({"paper_id": r.paper_id, "title": r.title, "workflow_id": r.workflow_id,
            "outcome": r.outcome, "duration_ms": duration, "input_tokens": p_in, "output_tokens": p_out,
            "cost_usd": p_cost as f64 / 1e6, "url": link(r)}));
    }
    let stage_order: Vec<&str> = workflows::decisions::Stage::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let mut stages: Vec<(String, Vec<f64>)> = stage_ms.into_iter().collect();
    stages.sort_by_key(|(s, _)| {
        stage_order
            .iter()
            .position(|o| o == s)
            .unwrap_or(usize::MAX)
    });
    let top = |key: &str| {
        let mut v = per_paper.clone();
        v.sort_by(|a, b| {
            b[key]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&a[key].as_f64().unwrap_or(0.0))
        });
        v.truncate(10);
        v
    };
    let stage_json: Vec<Value> = stages
        .iter()
        .map(|(s, v)| {
            json!({
        "stage": s, "count": v.len(), "median_ms": charts::median(v),
        "max_ms": v.iter().copied().fold(0.0, f64::max), "values_ms": v})
        })
        .collect();
    let split = |m: &BTreeMap<String, (u64, u64, u64)>| -> Value {
        m.iter()
            .map(|(k, (i, o, c))| {
                (
                    k.clone(),
                    json!({"input_tokens": i, "output_tokens": o, "cost_usd": *c as f64 / 1e6}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let findings: Value = found
        .iter()
        .map(|(rule, n)| {
            (
                rule.clone(),
                json!({"found": n, "fixed": fixed.get(rule).copied().unwrap_or(0)}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    json!({
        "generated": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "standin": standin,
        "notice": if standin { Some(activities::results::STANDIN_NOTICE) } else { None },
        "papers": {"runs": runs.len(), "by_outcome": by_outcome, "stopped_at_stage": stopped_at, "failures": failures},
        "stages": stage_json,
        "review": {"rounds": rounds_hist, "findings_by_rule": findings},
        "execution": {"by_classification": exec_class, "repairs": repairs},
        "datasets": datasets,
        "tokens": {"input": t_in, "output": t_out, "cache_read": t_cr, "cache_write": t_cw},
        "cost_usd": cost_micro as f64 / 1e6,
        "cache_savings_usd": savings,
        "per_role": split(&per_role),
        "per_model": split(&per_model),
        "per_paper": per_paper,
        "slowest": top("duration_ms"),
        "most_expensive": top("cost_usd"),
        "eval": evals,
    })
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn counts(v: &Value) -> (Vec<String>, Vec<f64>) {
    let map = v.as_object().cloned().unwrap_or_default();
    (
        map.keys().cloned().collect(),
        map.values().map(|n| n.as_f64().unwrap_or(0.0)).collect(),
    )
}

/// The page: every chart drawn now, the figures as tables, the stand-in notice on top.
fn render_html(f: &Value) -> anyhow::Result<String> {
    let mut charts_out: Vec<(String, String)> = Vec::new();
    let mut add = |id: &str, svg: String| charts_out.push((id.to_owned(), svg));
    let (l, v) = counts(&f["papers"]["by_outcome"]);
    add(
        "outcomes",
        charts::bars("Papers by outcome", &l, &[("runs", v)]),
    );
    let (l, v) = counts(&f["papers"]["stopped_at_stage"]);
    add(
        "stopped",
        charts::bars("Stage where failed papers stopped", &l, &[("papers", v)]),
    );
    let stages: Vec<(String, Vec<f64>)> = f["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["stage"].as_str().unwrap_or("").to_owned(),
                s["values_ms"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_f64())
                    .map(|ms| ms / 1000.0)
                    .collect(),
            )
        })
        .collect();
    add(
        "stages",
        charts::strips(
            "Stage durations (dots: runs, bar: median)",
            "seconds",
            &stages,
        ),
    );
    let (l, v) = counts(&f["review"]["rounds"]);
    add(
        "rounds",
        charts::bars("Review rounds per paper", &l, &[("papers", v)]),
    );
    let rules = f["review"]["findings_by_rule"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let labels: Vec<String> = rules.keys().cloned().collect();
    let found: Vec<f64> = rules
        .values()
        .map(|r| r["found"].as_f64().unwrap_or(0.0))
        .collect();
    let fixed: Vec<f64> = rules
        .values()
        .map(|r| r["fixed"].as_f64().unwrap_or(0.0))
        .collect();
    add(
        "findings",
        charts::bars(
            "Findings by rule: found and fixed",
            &labels,
            &[("found", found), ("fixed", fixed)],
        ),
    );
    let (l, v) = counts(&f["execution"]["by_classification"]);
    add(
        "execution",
        charts::bars("Execution outcomes", &l, &[("papers", v)]),
    );
    let (l, v) = counts(&f["execution"]["repairs"]);
    add(
        "repairs",
        charts::bars("Repairs needed", &l, &[("papers", v)]),
    );
    let (l, v) = counts(&f["datasets"]);
    add(
        "datasets",
        charts::bars("Recommended datasets", &l, &[("papers", v)]),
    );
    let papers: Vec<&Value> = f["per_paper"].as_array().into_iter().flatten().collect();
    let pl: Vec<String> = papers
        .iter()
        .map(|p| {
            p["paper_id"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(10)
                .collect()
        })
        .collect();
    add(
        "tokens-paper",
        charts::bars(
            "Tokens per paper",
            &pl,
            &[
                (
                    "input",
                    papers
                        .iter()
                        .map(|p| p["input_tokens"].as_f64().unwrap_or(0.0))
                        .collect(),
                ),
                (
                    "output",
                    papers
                        .iter()
                        .map(|p| p["output_tokens"].as_f64().unwrap_or(0.0))
                        .collect(),
                ),
            ],
        ),
    );
    add(
        "cost-paper",
        charts::bars(
            "Cost per paper (USD)",
            &pl,
            &[(
                "cost",
                papers
                    .iter()
                    .map(|p| p["cost_usd"].as_f64().unwrap_or(0.0))
                    .collect(),
            )],
        ),
    );
    for (key, title) in [("per_role", "role"), ("per_model", "model")] {
        let m = f[key].as_object().cloned().unwrap_or_default();
        let l: Vec<String> = m.keys().cloned().collect();
        add(
            &format!("tokens-{title}"),
            charts::bars(
                &format!("Tokens per {title}"),
                &l,
                &[
                    (
                        "input",
                        m.values()
                            .map(|x| x["input_tokens"].as_f64().unwrap_or(0.0))
                            .collect(),
                    ),
                    (
                        "output",
                        m.values()
                            .map(|x| x["output_tokens"].as_f64().unwrap_or(0.0))
                            .collect(),
                    ),
                ],
            ),
        );
        add(
            &format!("cost-{title}"),
            charts::bars(
                &format!("Cost per {title} (USD)"),
                &l,
                &[(
                    "cost",
                    m.values()
                        .map(|x| x["cost_usd"].as_f64().unwrap_or(0.0))
                        .collect(),
                )],
            ),
        );
    }
    let evals: Vec<&Value> = f["eval"].as_array().into_iter().flatten().collect();
    add(
        "eval",
        charts::line(
            "Eval score (pass@1 weighted by lines) over time",
            &evals
                .iter()
                .map(|e| {
                    e["recorded"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(10)
                        .collect()
                })
                .collect::<Vec<_>>(),
            &evals
                .iter()
                .map(|e| e["score"].as_f64().unwrap_or(0.0))
                .collect::<Vec<_>>(),
            1.0,
        ),
    );
    let mut env = minijinja::Environment::new();
    // The `.html` name turns on HTML escaping: titles and failure reasons come from feeds and
    // papers, so from anyone.
    env.add_template(
        "report.html.j2",
        include_str!("../../templates/report.html.j2"),
    )?;
    let charts_json: Vec<Value> = charts_out
        .iter()
        .map(|(id, svg)| json!({"id": id, "svg": svg}))
        .collect();
    Ok(env
        .get_template("report.html.j2")?
        .render(minijinja::context! {
            f => minijinja::Value::from(minijinja::value::Serde(f)),
            charts => minijinja::Value::from(minijinja::value::Serde(&charts_json)),
            // In a <script> element only `<` can end it early (or open a comment): JSON says it as
            // \u003c, and `>` and `&` likewise, so no title can leave the element.
            json => serde_json::to_string(f)?
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026"),
        })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paper's title and a failure's reason come from feeds and papers: the page escapes them.
    #[test]
    fn titles_and_reasons_are_escaped_in_the_page() {
        let mut f = figures(&[], &[], "http://localhost:8233");
        f["filters"] = json!({"since": null, "batch": null});
        let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>";
        f["slowest"] = json!([{"paper_id": "p", "title": hostile, "url": "http://localhost:8233",
                               "duration_ms": 1000, "outcome": "succeeded"}]);
        f["papers"]["failures"] = json!([{"paper_id": "q", "stage": "loading", "reason": hostile,
                                          "url": "http://localhost:8233"}]);
        let page = render_html(&f).unwrap();
        assert!(!page.contains("<script>alert"), "raw script in the page");
        assert!(!page.contains("<img src=x"), "raw tag in the page");
        assert!(
            page.contains("&lt;script&gt;alert"),
            "the title is shown, escaped"
        );
    }
}
