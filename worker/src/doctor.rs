//! `annapurna doctor`: is this machine ready to turn papers into code? Each check says what it
//! found and, when something is wrong, what to do. Temporal (reachable, search attributes
//! registered), each configured model role with the configured credentials (the catalogue's
//! entry, the model's life cycle and access from Bedrock's control plane, a one-token Converse
//! call, the account's quotas from Service Quotas next to the worker's configured limits), the
//! sandbox with the execution venv, and the stores.
//!
//! `annapurna worker` runs the model checks (without the Converse call) at start and logs their
//! problems as warnings: a worker with no control-plane permission still runs.

use std::collections::BTreeMap;
use std::time::Duration;

use activities::catalogue::Lifecycle;
use activities::clients::llm::{LlmClient, LlmError, LlmRequest};
use aws_sdk_bedrock::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;
use workflows::names::search_attribute;

use crate::config::{Config, StandinMode};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but something deserves attention (unknown cost, unreadable quota).
    Warn,
    /// Will not work until fixed.
    Fail,
}

/// One check's finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (`temporal.search-attributes`, `model.code.converse`, …).
    pub name: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(
    name: impl Into<String>,
    status: Status,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        fix,
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Whether the model endpoint is the stand-in (its answers are templates).
    pub standin: bool,
    /// Counts by status.
    pub ok: usize,
    /// Counts by status.
    pub warn: usize,
    /// Counts by status.
    pub fail: usize,
}

/// The endpoint to check models at: the stand-in when configured so, or, as `annapurna dev`
/// decides, when no AWS credentials are configured (then the dev stack's stand-in port).
pub(crate) fn standin_url(config: &Config) -> Option<String> {
    match config.bedrock.standin {
        StandinMode::Always => Some(config.bedrock.endpoint_url.clone()).filter(|u| !u.is_empty()),
        StandinMode::Auto if !crate::wiring::aws_credentials_configured() => {
            Some(format!("http://127.0.0.1:{}", config.dev.standin_port))
        }
        _ => None,
    }
}

/// Runs every check; prints the report (JSON with `json`); exits non-zero when any failed.
pub async fn run(config: &Config, json: bool) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    checks.extend(temporal_checks().await);
    let standin = standin_url(config);
    let sdk = crate::wiring::aws_sdk_config(config, standin.as_deref()).await;
    let llm = crate::wiring::models(config, standin.as_deref()).await?;
    checks.extend(model_checks(config, &sdk, Some(llm.as_ref())).await);
    checks.extend(sandbox_checks(config).await);
    checks.extend(store_checks(config).await);
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let report = Report {
        ok: count(Status::Ok),
        warn: count(Status::Warn),
        fail: count(Status::Fail),
        standin: standin.is_some(),
        checks,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if report.standin {
            println!(
                "(models are checked against the Bedrock STAND-IN: template answers, not generation)"
            );
        }
        for c in &report.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            println!("{mark} {:<44} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("     {:<44} fix: {fix}", "");
            }
        }
        println!(
            "{} ok, {} warnings, {} failed",
            report.ok, report.warn, report.fail
        );
    }
    if report.fail > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn temporal_checks() -> Vec<Check> {
    let client = match crate::wiring::temporal_client(None).await {
        Ok(c) => c,
        Err(e) => {
            return vec![check(
                "temporal.reachable",
                Status::Fail,
                format!("{e:#}"),
                Some("start a server (`annapurna dev`), or set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE or a temporal.toml profile".into()),
            )];
        }
    };
    let mut out = Vec::new();
    use temporalio_client::NamespacedClient;
    let namespace = client.namespace();
    let request =
        temporalio_protos::temporal::api::operatorservice::v1::ListSearchAttributesRequest {
            namespace: namespace.clone(),
        };
    let mut operator = client.connection().operator_service();
    match operator
        .list_search_attributes(temporalio_client::tonic::Request::new(request))
        .await
    {
        Ok(response) => {
            out.push(check(
                "temporal.reachable",
                Status::Ok,
                format!("namespace {namespace}"),
                None,
            ));
            let custom = response.into_inner().custom_attributes;
            let missing: Vec<&str> = search_attribute::ALL
                .iter()
                .copied()
                .filter(|n| !custom.contains_key(*n))
                .collect();
            if missing.is_empty() {
                out.push(check(
                    "temporal.search-attributes",
                    Status::Ok,
                    format!("{} registered", search_attribute::ALL.join(", ")),
                    None,
                ));
            } else {
                let commands: Vec<String> = missing
                    .iter()
                    .map(|n| format!("temporal operator search-attribute create --namespace {namespace} --name {n} --type Keyword"))
                    .collect();
                out.push(check(
                    "temporal.search-attributes",
                    Status::Fail,
                    format!("not registered: {}", missing.join(", ")),
                    Some(commands.join("; ")),
                ));
            }
        }
        Err(e) => out.push(check(
            "temporal.reachable",
            Status::Fail,
            format!("listing search attributes in {namespace}: {}", e.message()),
            Some("check the namespace and that this identity may call the operator service".into()),
        )),
    }
    out
}

/// The model checks. `llm`: also make a one-token call per model (doctor does; the worker's
/// start-up checks do not spend a request).
pub async fn model_checks(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    llm: Option<&dyn LlmClient>,
) -> Vec<Check> {
    let settings = &config.models;
    // One set of checks per distinct model, named by the roles it serves.
    let mut models: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (role, model) in settings.roles() {
        models.entry(model).or_default().push(role);
    }
    let control = aws_sdk_bedrock::Client::new(sdk);
    let quotas = account_quotas(sdk).await;
    let mut out = Vec::new();
    for (model, roles) in &models {
        let name = format!("model.{}", roles.join("+"));
        let resolved = settings.model_info(model);
        match (&resolved, settings.unusable(model)) {
            (_, Some((kind, message))) => {
                out.push(check(format!("{name}.catalogue"), Status::Fail, format!("{kind}: {message}"), Some(format!("set another model for {} in annapurna.toml [models]", roles.join(", ")))));
                continue;
            }
            (None, _) => out.push(check(
                format!("{name}.catalogue"),
                Status::Warn,
                format!("{model} is not in the model catalogue: its cost and quota are unknown (counted as $0)"),
                Some(format!("add [models.catalogue.\"{model}\"] with its context, prices and quotas")),
            )),
            (Some(r), None) => {
                let price = r.price();
                let status = if r.info.lifecycle == Lifecycle::Legacy { Status::Warn } else { Status::Ok };
                out.push(check(
                    format!("{name}.catalogue"),
                    status,
                    format!(
                        "{model}: {} in the catalogue, context {} tokens, output ×{} against the quota, ${:.2}/${:.2} per M tokens in/out",
                        r.info.lifecycle.as_bedrock(),
                        r.info.context_tokens,
                        r.info.burndown,
                        price.input,
                        price.output
                    ),
                    r.info.replacement.as_ref().filter(|_| status == Status::Warn).map(|m| format!("move to {m}")),
                ));
            }
        }
        // Bedrock's control plane and Service Quotas know only Bedrock's models: another
        // provider's model gets the one-token call alone.
        if activities::clients::router::provider_of(model)
            != activities::clients::router::DEFAULT_PROVIDER
        {
            if let Some(llm) = llm {
                out.push(converse_check(llm, &name, model).await);
            }
            continue;
        }
        let base = activities::catalogue::split_profile(model).1.to_owned();
        out.push(lifecycle_check(&control, &name, &base).await);
        out.push(access_check(&control, &name, &base).await);
        if let Some(llm) = llm {
            out.push(converse_check(llm, &name, model).await);
        }
        out.push(quota_check(config, &quotas, &name, model));
    }
    out
}

/// Why a control-plane call failed, and whether it is a missing permission.
fn control_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E>,
) -> (String, String) {
    let code = e.code().unwrap_or("").to_owned();
    let message = e.message().map(str::to_owned).unwrap_or_else(|| {
        std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string())
    });
    (code, message)
}

async fn lifecycle_check(control: &aws_sdk_bedrock::Client, name: &str, base: &str) -> Check {
    let check_name = format!("{name}.lifecycle");
    match control
        .get_foundation_model()
        .model_identifier(base)
        .send()
        .await
    {
        Ok(out) => {
            let status = out
                .model_details()
                .and_then(|d| d.model_lifecycle())
                .map(|l| l.status().as_str().to_owned())
                .unwrap_or_else(|| "unknown".into());
            let level = if status == "ACTIVE" {
                Status::Ok
            } else {
                Status::Warn
            };
            check(
                check_name,
                level,
                format!("{base}: {status}"),
                (level != Status::Ok).then(|| {
                    "plan a move to an ACTIVE model (see the catalogue's replacement)".to_owned()
                }),
            )
        }
        Err(e) => {
            let (code, message) = control_error(&e);
            match code.as_str() {
                "ResourceNotFoundException" => check(
                    check_name,
                    Status::Fail,
                    format!("{base}: EOL or unknown in this region ({message})"),
                    Some(
                        "choose an ACTIVE model listed by `aws bedrock list-foundation-models`"
                            .into(),
                    ),
                ),
                "AccessDeniedException" => check(
                    check_name,
                    Status::Warn,
                    format!("cannot read {base}'s life cycle: {message}"),
                    Some(
                        "grant bedrock:GetFoundationModel, or ignore (the worker still runs)"
                            .into(),
                    ),
                ),
                _ => check(
                    check_name,
                    Status::Warn,
                    format!("cannot read {base}'s life cycle: {code} {message}"),
                    None,
                ),
            }
        }
    }
}

async fn access_check(control: &aws_sdk_bedrock::Client, name: &str, base: &str) -> Check {
    let check_name = format!("{name}.access");
    match control
        .get_foundation_model_availability()
        .model_id(base)
        .send()
        .await
    {
        Ok(out) => {
            let authorised = out.authorization_status().as_str() == "AUTHORIZED";
            let entitled = out.entitlement_availability().as_str() == "AVAILABLE";
            let region = out.region_availability().as_str() == "AVAILABLE";
            let detail = format!(
                "{base}: authorization {}, entitlement {}, region {}",
                out.authorization_status().as_str(),
                out.entitlement_availability().as_str(),
                out.region_availability().as_str()
            );
            if authorised && entitled && region {
                check(check_name, Status::Ok, detail, None)
            } else {
                check(check_name, Status::Fail, detail, Some("request model access in the Bedrock console (Model access), in this region".into()))
            }
        }
        Err(e) => {
            let (code, message) = control_error(&e);
            let fix = (code == "AccessDeniedException")
                .then(|| "grant bedrock:GetFoundationModelAvailability, or ignore (the Converse check tells)".to_owned());
            check(
                check_name,
                Status::Warn,
                format!("cannot read access to {base}: {code} {message}"),
                fix,
            )
        }
    }
}

async fn converse_check(llm: &dyn LlmClient, name: &str, model: &str) -> Check {
    let check_name = format!("{name}.converse");
    let request = LlmRequest::single(
        model.to_owned(),
        (
            "annapurna-task: doctor".into(),
            "Answer with one word: ok".into(),
        ),
        1,
        0.0,
    );
    match tokio::time::timeout(Duration::from_secs(60), llm.converse(&request)).await {
        Err(_) => check(
            check_name,
            Status::Fail,
            format!("{model}: no answer within 60 s"),
            Some("check the network path to Bedrock (VPC endpoint, proxy)".into()),
        ),
        Ok(Ok(r)) => check(
            check_name,
            Status::Ok,
            format!(
                "{model}: answered in {} ms ({} in / {} out tokens){}",
                r.latency.as_millis(),
                r.input_tokens,
                r.output_tokens,
                if r.standin { ", stand-in" } else { "" }
            ),
            None,
        ),
        // A one-token answer stops at max_tokens: it answered.
        Ok(Err(e @ LlmError::Throttled { .. })) => check(
            check_name,
            Status::Warn,
            format!("{model}: {e}"),
            Some("the account's quota is in use or low: see the quota check".into()),
        ),
        Ok(Err(e)) => {
            let fix = match &e {
                LlmError::Retired { .. } => "choose an active model for this role",
                LlmError::NeedsInferenceProfile { .. } => {
                    "use the inference profile id (us./eu./apac./global. prefix)"
                }
                LlmError::Rejected { code, .. } if code == "AccessDeniedException" => {
                    "grant bedrock:InvokeModel on the model and inference profile, and request model access"
                }
                LlmError::Transport { .. } => {
                    "check credentials, region and the network path to Bedrock"
                }
                _ => "see the message",
            };
            check(
                check_name,
                Status::Fail,
                format!("{model}: {} ({e})", e.type_name()),
                Some(fix.into()),
            )
        }
    }
}

/// The account's Bedrock quotas (name → value), or why they cannot be read.
async fn account_quotas(sdk: &aws_config::SdkConfig) -> Result<Vec<(String, f64)>, String> {
    let client = aws_sdk_servicequotas::Client::new(sdk);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..50 {
        let page = client
            .list_service_quotas()
            .service_code("bedrock")
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                let code = aws_sdk_servicequotas::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or("")
                    .to_owned();
                let message = aws_sdk_servicequotas::error::ProvideErrorMetadata::message(&e)
                    .unwrap_or("")
                    .to_owned();
                format!("{code} {message}").trim().to_owned()
            })?;
        for q in page.quotas() {
            if let (Some(name), Some(value)) = (q.quota_name(), q.value()) {
                out.push((name.to_owned(), value));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

fn quota_check(
    config: &Config,
    quotas: &Result<Vec<(String, f64)>, String>,
    name: &str,
    model: &str,
) -> Check {
    let check_name = format!("{name}.quota");
    let configured = config.models.limits.get(model).copied();
    let configured_text = configured
        .map(|l| format!("worker limit {} rpm / {} tpm", l.rpm, l.tpm))
        .unwrap_or_else(|| "no worker limit configured".into());
    let resolved = config.models.model_info(model);
    let Some(r) = resolved else {
        return check(
            check_name,
            Status::Warn,
            format!(
                "{model} is not in the catalogue: its quota names are unknown; {configured_text}"
            ),
            None,
        );
    };
    let quotas = match quotas {
        Ok(q) => q,
        Err(e) => {
            return check(check_name, Status::Warn, format!("cannot read the account's quotas ({e}); the catalogue assumes {} rpm / {} tpm; {configured_text}", r.info.default_rpm, r.info.default_tpm), Some("grant servicequotas:ListServiceQuotas, or set [models.limits] from the console's figures".into()));
        }
    };
    // Bedrock names quotas "<scope> model inference <requests|tokens> per minute for <provider> <model>";
    // a global profile draws on the global cross-region quota, a regional one on the cross-region
    // quota, a bare id on the on-demand one.
    let scope = match r.profile {
        Some("global") => "global cross-region",
        Some(_) => "cross-region",
        None => "on-demand",
    };
    let find = |what: &str| {
        quotas.iter().find(|(n, _)| {
            let n = n.to_lowercase();
            n.starts_with(scope)
                && n.contains(&format!("{what} per minute"))
                && n.ends_with(&r.info.quota_name.to_lowercase())
        })
    };
    let (rpm, tpm) = (find("requests"), find("tokens"));
    let (Some((_, rpm)), Some((_, tpm))) = (rpm, tpm) else {
        return check(
            check_name,
            Status::Warn,
            format!(
                "no {scope} quota found for {}; {configured_text}",
                r.info.quota_name
            ),
            Some("look the model up in the Service Quotas console (Amazon Bedrock)".into()),
        );
    };
    let detail = format!(
        "account {scope}: {rpm} rpm / {tpm} tpm (output counts ×{}); {configured_text}",
        r.info.burndown
    );
    match configured {
        Some(l) if (l.rpm as f64) > *rpm || (l.tpm as f64) > *tpm => check(
            check_name,
            Status::Warn,
            detail,
            Some(format!(
                "lower [models.limits.\"{model}\"] to the account's quota, or request an increase in Service Quotas"
            )),
        ),
        None => check(
            check_name,
            Status::Warn,
            detail,
            Some(format!(
                "set [models.limits.\"{model}\"] rpm = {rpm}, tpm = {tpm} so the worker paces itself instead of being throttled"
            )),
        ),
        _ => check(check_name, Status::Ok, detail, None),
    }
}

async fn sandbox_checks(config: &Config) -> Vec<Check> {
    // The same execute() that ExecuteCode and `annapurna exec` use.
    let code =
        "import numpy, torch\nprint('torch', torch.__version__, 'ok', int(torch.ones(3).sum()))\n";
    let run = activities::exec::execute_code::execute(
        &config.sandbox,
        code.to_owned(),
        "cpu",
        Duration::from_secs(120),
        None,
    )
    .await;
    let c = match run.map(|r| r.outcome) {
        Ok(o)
            if o.classification == workflows::types::Classification::Ok
                && o.stdout.contains("ok 3") =>
        {
            check(
                "sandbox.run",
                Status::Ok,
                format!(
                    "torch ran in the sandbox ({}, {} ms): {}",
                    o.sandbox,
                    o.wall_ms,
                    o.stdout.trim()
                ),
                None,
            )
        }
        Ok(o) => check(
            "sandbox.run",
            Status::Fail,
            format!(
                "a torch one-liner ended {} (exit {:?}): {}",
                o.classification,
                o.exit_code,
                o.stderr.lines().last().unwrap_or("")
            ),
            Some("run scripts/setup.sh (the execution venv with torch), and run executors as root".into()),
        ),
        Err(e) => check(
            "sandbox.run",
            Status::Fail,
            e.to_string(),
            Some("install bubblewrap and run executors as root (scripts/setup.sh --check says what is missing)".into()),
        ),
    };
    vec![c]
}

async fn store_checks(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    match crate::papers_cmd::paper_store(config).await {
        Ok(store) => match store.count().await {
            Ok(n) => out.push(check(
                "store.papers",
                Status::Ok,
                format!("{:?} store: {n} papers", config.storage.paper_store),
                None,
            )),
            Err(e) => out.push(check("store.papers", Status::Fail, e.to_string(), None)),
        },
        Err(e) => out.push(check(
            "store.papers",
            Status::Fail,
            format!("{e:#}"),
            Some("check [storage] papers / opensearch".into()),
        )),
    }
    for (name, location) in [
        ("store.blobs", &config.storage.blobs),
        ("store.results", &config.storage.results),
    ] {
        let c = match activities::clients::blobs::BlobStore::open(location) {
            Err(e) => check(name, Status::Fail, e.to_string(), None),
            Ok(store) => match store
                .put("doctor/probe.txt", b"annapurna doctor".to_vec())
                .await
            {
                Ok(_) => check(name, Status::Ok, format!("{location} is writable"), None),
                Err(e) => check(
                    name,
                    Status::Fail,
                    format!("{location}: {e}"),
                    Some("check the path or bucket and its permissions".into()),
                ),
            },
        };
        out.push(c);
    }
    out
}
