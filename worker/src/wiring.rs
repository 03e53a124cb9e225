//! Building the pieces from configuration: the Temporal client, the model providers (Bedrock
//! and the OpenAI-compatible ones, behind one router), the activities' dependencies, and the
//! workers (one per task queue).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use activities::clients::blobs::BlobStore;
use activities::clients::llm::{BedrockLlm, LlmClient};
use activities::clients::openai::{OpenAiLlm, ProviderKind};
use activities::clients::router::Router;
use activities::{Deps, ExecActivities, LlmActivities, LocalActivities};
use anyhow::Context;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use workflows::names::{
    FETCH_SOURCES, LLM_TASK_QUEUE, TASK_QUEUE, exec_task_queue, fetch_task_queue,
};
use workflows::{
    CompleteCode, EvaluateSuite, IngestPapers, PaperBatch, PaperToCode, SearchHyperparameters,
};

use crate::config::Config;

/// Connects to Temporal as configured by `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE` and the
/// `temporal.toml` profile (Temporal's own conventions); `address` overrides the address.
pub async fn temporal_client(address: Option<&str>) -> anyhow::Result<Client> {
    let (mut conn, client_opts) = ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
        .map_err(|e| {
            anyhow::anyhow!(
                "reading the Temporal connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, temporal.toml): {e:?}"
            )
        })?;
    if let Some(address) = address {
        conn.target = url::Url::parse(&format!("http://{address}"))
            .with_context(|| format!("invalid Temporal address {address}"))?;
    }
    let target = conn.target.to_string();
    let connection = Connection::connect(conn).await.with_context(|| {
        format!("connecting to Temporal at {target}; is the server running? (`annapurna dev` starts one)")
    })?;
    Client::new(connection, client_opts).context("creating the Temporal client")
}

/// Whether AWS credentials are configured where the standard chain would find them without
/// asking the instance metadata service (environment, profile files, web identity, containers).
pub fn aws_credentials_configured() -> bool {
    let env = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    if env("AWS_ACCESS_KEY_ID")
        || env("AWS_PROFILE")
        || env("AWS_WEB_IDENTITY_TOKEN_FILE")
        || env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    {
        return true;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let creds =
        std::env::var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or(format!("{home}/.aws/credentials"));
    let conf = std::env::var("AWS_CONFIG_FILE").unwrap_or(format!("{home}/.aws/config"));
    std::path::Path::new(&creds).is_file() || std::path::Path::new(&conf).is_file()
}

/// The AWS SDK configuration for Bedrock's runtime and control plane and for Service Quotas. With
/// `standin_url`, every client talks to the stand-in with placeholder credentials (requests are
/// still signed with SigV4, as against AWS); otherwise the standard AWS chain.
pub async fn aws_sdk_config(config: &Config, standin_url: Option<&str>) -> aws_config::SdkConfig {
    let region = aws_config::Region::new(config.region());
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(config.bedrock.timeout_secs))
        .connect_timeout(Duration::from_secs(10))
        .build();
    // Temporal retries model calls (with the provider's delay); the SDK must not retry inside an
    // attempt, or throttling would be hidden from the workflow and counted twice.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::disabled());
    let endpoint = standin_url.unwrap_or(&config.bedrock.endpoint_url);
    if !endpoint.is_empty() {
        loader = loader.endpoint_url(endpoint);
    }
    if standin_url.is_some() {
        loader = loader.credentials_provider(aws_credential_types::Credentials::from_keys(
            "ANNAPURNASTANDIN",
            "not-a-secret",
            None,
        ));
    }
    loader.load().await
}

/// The Bedrock client alone, configured as [`aws_sdk_config`] says ([`models`] routes every
/// provider).
pub async fn bedrock(config: &Config, standin_url: Option<&str>) -> Arc<dyn LlmClient> {
    let sdk = aws_sdk_config(config, standin_url).await;
    let client = aws_sdk_bedrockruntime::Client::new(&sdk);
    Arc::new(BedrockLlm::new(client, standin_url.is_some()))
}

/// Every configured provider behind one router (`provider/model` ids; a bare id is Bedrock's).
/// With `standin_url` (the stand-in runs), Bedrock goes to the stand-in, and so does an
/// OpenAI-compatible provider whose key is not in the environment (its answers marked as the
/// stand-in's); one with its key goes where it is configured.
pub async fn models(
    config: &Config,
    standin_url: Option<&str>,
) -> anyhow::Result<Arc<dyn LlmClient>> {
    let bedrock = bedrock(config, standin_url).await;
    let mut providers = std::collections::BTreeMap::new();
    for (name, provider) in &config.providers {
        let client: Arc<dyn LlmClient> = match provider.kind {
            ProviderKind::Bedrock => bedrock.clone(),
            ProviderKind::Openai => {
                let mut provider = provider.clone();
                let key_missing = !provider.api_key_env.is_empty()
                    && std::env::var(&provider.api_key_env).map_or(true, |k| k.trim().is_empty());
                if let Some(url) = standin_url
                    && key_missing
                {
                    provider.base_url = format!("{}/v1", url.trim_end_matches('/'));
                    provider.api_key_env = String::new();
                }
                let standin = standin_url
                    .is_some_and(|u| provider.base_url.starts_with(u.trim_end_matches('/')));
                if key_missing && standin_url.is_none() {
                    tracing::warn!(provider = %name, variable = %provider.api_key_env, "no API key in the environment: calls to this provider will fail with MissingApiKey");
                }
                Arc::new(
                    OpenAiLlm::new(name, provider, standin)
                        .with_context(|| format!("configuring provider {name}"))?,
                )
            }
        };
        providers.insert(name.clone(), client);
    }
    providers
        .entry(activities::clients::router::DEFAULT_PROVIDER.to_owned())
        .or_insert(bedrock);
    Ok(Arc::new(Router::new(providers)))
}

/// At a worker's start: the model checks of `annapurna doctor` without the model call, their
/// problems logged as warnings (a worker without control-plane permissions still runs).
pub fn log_model_checks(config: &Config, standin_url: Option<&str>) {
    let config = config.clone();
    let standin_url = standin_url.map(str::to_owned);
    tokio::spawn(async move {
        let sdk = aws_sdk_config(&config, standin_url.as_deref()).await;
        let checks = tokio::time::timeout(
            Duration::from_secs(60),
            crate::doctor::model_checks(&config, &sdk, None),
        )
        .await
        .unwrap_or_default();
        for c in checks {
            match c.status {
                crate::doctor::Status::Ok => tracing::info!(check = %c.name, "{}", c.detail),
                _ => {
                    tracing::warn!(check = %c.name, fix = c.fix.as_deref().unwrap_or(""), "{}", c.detail)
                }
            }
        }
    });
}

/// The activities' dependencies from configuration.
pub async fn deps(config: &Config, llm: Arc<dyn LlmClient>) -> anyhow::Result<Arc<Deps>> {
    Ok(Arc::new(
        Deps::new(
            BlobStore::open(&config.storage.blobs)?,
            BlobStore::open(&config.storage.results)?,
            crate::papers_cmd::paper_store(config).await?,
            llm,
            config.models.clone(),
        )
        .with_sources(config.sources.clone())
        .with_notify(config.notify.clone())
        .with_source_roots(config.worker.source_roots.clone())
        .with_cache_key(cache_key(config)?)
        .with_batch(batch_jobs(config).await),
    ))
}

/// Bedrock's batch inference jobs (`llm_mode: "batch"`), at the stand-in when
/// `bedrock.standin = "always"` names it, else through the AWS credential chain.
pub async fn batch_jobs(config: &Config) -> Arc<dyn activities::clients::batch::BatchJobs> {
    let standin = (config.bedrock.standin == crate::config::StandinMode::Always
        && !config.bedrock.endpoint_url.is_empty())
    .then_some(config.bedrock.endpoint_url.as_str());
    let sdk = aws_sdk_config(config, standin).await;
    Arc::new(activities::clients::batch::BedrockBatch::new(
        aws_sdk_bedrock::Client::new(&sdk),
        standin.is_some(),
    ))
}

/// The key that signs model-answer cache entries: `ANNAPURNA_CACHE_KEY` (set the same value on
/// every worker of a deployment to share the cache), else a random key kept in
/// `<dev.home>/cache.key` (mode 0600), made on first use. It never goes to the blob store.
pub fn cache_key(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Ok(k) = std::env::var("ANNAPURNA_CACHE_KEY")
        && !k.is_empty()
    {
        return Ok(k.into_bytes());
    }
    let path = config.dev.home.join("cache.key");
    if let Ok(k) = std::fs::read(&path)
        && k.len() >= 32
    {
        return Ok(k);
    }
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom for the cache key")?;
    std::fs::create_dir_all(&config.dev.home)
        .with_context(|| format!("creating {}", config.dev.home.display()))?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &key));
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a cache key; set ANNAPURNA_CACHE_KEY on every worker to share the model-answer cache across hosts");
            Ok(key)
        }
        // Another worker made it first: use theirs.
        Err(_) => std::fs::read(&path).with_context(|| format!("reading {}", path.display())),
    }
}

fn tuner(activities: usize) -> TunerHolder {
    TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(100))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(activities.max(1)))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(10))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build()
}

/// The server-side rate of a source's fetch queue: one request per `interval_ms`, none when 0.
pub fn fetch_activities_per_second(interval_ms: u64) -> Option<f64> {
    (interval_ms > 0).then(|| 1000.0 / interval_ms as f64)
}

/// Which task queues a worker process polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    /// `annapurna`, `annapurna-llm` and the sources' `annapurna-fetch-<source>`.
    pub main: bool,
    /// `annapurna-exec-<target>`, when set.
    pub exec: Option<String>,
}

/// Runs the `annapurna` worker (workflows and local activities) and the `annapurna-llm` worker
/// (model calls) until `shutdown` resolves; then stops polling and lets in-flight activities
/// finish within the configured grace period.
pub async fn run_workers(
    client: Client,
    config: &Config,
    deps: Arc<Deps>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let queues = Queues {
        main: true,
        exec: None,
    };
    run_queues(client, config, deps, &queues, shutdown).await
}

/// Runs workers for `queues` until `shutdown` resolves, as [`run_workers`].
pub async fn run_queues(
    client: Client,
    config: &Config,
    deps: Arc<Deps>,
    queues: &Queues,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(crate::metrics::runtime_options(&config.telemetry)?)
        .context("starting the Temporal runtime")?;
    let grace = Duration::from_secs(config.worker.graceful_shutdown_secs);
    let deps_for_share = deps.clone();
    let mut workers = Vec::new();
    let mut names = Vec::new();
    let mut llm_key = None;
    if queues.main {
        let main_options = WorkerOptions::new(TASK_QUEUE)
            .register_workflow::<PaperToCode>()
            .context("registering PaperToCode")?
            .register_workflow::<PaperBatch>()
            .context("registering PaperBatch")?
            .register_workflow::<IngestPapers>()
            .context("registering IngestPapers")?
            .register_workflow::<EvaluateSuite>()
            .context("registering EvaluateSuite")?
            .register_workflow::<CompleteCode>()
            .context("registering CompleteCode")?
            .register_workflow::<SearchHyperparameters>()
            .context("registering SearchHyperparameters")?
            .register_activities(LocalActivities::new(deps.clone()))
            .tuner(tuner(config.worker.max_concurrent_activities))
            .graceful_shutdown_period(grace)
            .activity_inbound_interceptor(crate::metrics::ActivityMetrics)
            .workflow_interceptor(crate::metrics::workflow_metrics())
            .sticky_queue_schedule_to_start_timeout(Duration::from_secs(
                config.worker.sticky_timeout_secs.max(1),
            ))
            .build();
        // The quota binds, not the slots: see `WorkerConfig::llm_slots` and `llm_rate`.
        let llm_rate = config.worker.llm_rate(&config.models.limits);
        let llm_options = WorkerOptions::new(LLM_TASK_QUEUE)
            .register_activities(LlmActivities::new(deps.clone()))
            .tuner(tuner(config.worker.llm_slots(&config.models.limits)))
            .graceful_shutdown_period(grace)
            .activity_inbound_interceptor(crate::metrics::ActivityMetrics)
            .maybe_max_task_queue_activities_per_second(llm_rate)
            .build();
        workers.push(
            Worker::new(&runtime, client.clone(), main_options)
                .context("creating the annapurna worker")?,
        );
        let llm_worker = Worker::new(&runtime, client.clone(), llm_options)
            .context("creating the annapurna-llm worker")?;
        llm_key = Some(llm_worker.worker_instance_key().to_string());
        workers.push(llm_worker);
        names.extend([TASK_QUEUE.to_owned(), LLM_TASK_QUEUE.to_owned()]);
        // Feed requests and downloads: one queue per source, its pace set on the server so that
        // every ingesting worker together keeps to `sources.interval-ms` per source host.
        let fetch_rate = fetch_activities_per_second(config.sources.interval_ms);
        for queue in FETCH_SOURCES.iter().filter_map(|s| fetch_task_queue(s)) {
            let options = WorkerOptions::new(queue.as_str())
                .register_activities(LocalActivities::new(deps.clone()))
                .tuner(tuner(config.worker.max_concurrent_activities))
                .graceful_shutdown_period(grace)
                .activity_inbound_interceptor(crate::metrics::ActivityMetrics)
                .maybe_max_task_queue_activities_per_second(fetch_rate)
                .build();
            workers.push(
                Worker::new(&runtime, client.clone(), options)
                    .with_context(|| format!("creating the {queue} worker"))?,
            );
            names.push(queue);
        }
    }
    if let Some(target) = &queues.exec {
        let queue = exec_task_queue(target);
        // A slot (a uid and a work directory) for every execution the tuner lets run at once;
        // what a killed executor left in free slots goes now.
        let mut sandbox = config.sandbox.clone();
        sandbox.slots = sandbox
            .slots
            .max(u32::try_from(config.worker.max_concurrent_executions).unwrap_or(u32::MAX));
        match activities::sandbox::workdir::clean_leftovers(&sandbox) {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(slots = n, root = %activities::sandbox::workdir::work_root(&sandbox).display(), "removed what a previous executor left in its execution slots")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check the execution slots for leftovers")
            }
        }
        let exec_options = WorkerOptions::new(queue.as_str())
            .register_activities(ExecActivities::new(deps, sandbox))
            .tuner(tuner(config.worker.max_concurrent_executions))
            .graceful_shutdown_period(grace)
            .activity_inbound_interceptor(crate::metrics::ActivityMetrics)
            .build();
        workers.push(
            Worker::new(&runtime, client.clone(), exec_options)
                .with_context(|| format!("creating the {queue} worker"))?,
        );
        names.push(queue);
    }
    // Workers on several hosts share one account: each paces its model calls at 1/n of the
    // configured quotas, n being the workers the server sees polling the model queue.
    let counting = llm_key.map(|me| {
        let client = client.clone();
        let deps = deps_for_share.clone();
        tokio::spawn(async move {
            loop {
                // Their shares by demand, when the server has the workers' heartbeats.
                let counted = deps.limiters.workers();
                let answering = deps.limiters.in_flight();
                deps.limiters
                    .set_share(llm_share(&client, &me, counted, answering).await);
                if let Some(n) = llm_workers(&client).await {
                    if n != deps.limiters.workers() {
                        tracing::info!(
                            workers = n,
                            "workers polling {LLM_TASK_QUEUE}: each paces model calls at 1/{n} of the quotas"
                        );
                    }
                    // Every count, also an unchanged one: two alike settle the count.
                    deps.limiters.set_workers(n);
                }
                // Every second until two counts agree (until then the worker goes at its pace
                // only, without its share of the minute the account holds), then as often as
                // the workers' heartbeats.
                let every = if deps.limiters.count_settled() {
                    WORKER_HEARTBEAT
                } else {
                    Duration::from_secs(1)
                };
                tokio::time::sleep(every).await;
            }
        })
    });
    let stops: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    tracing::info!(queues = ?names, "worker polling");
    let runs = futures::future::try_join_all(workers.iter_mut().map(|w| w.run()));
    tokio::pin!(runs);
    let result = tokio::select! {
        r = &mut runs => r,
        _ = shutdown => {
            tracing::info!(grace_secs = grace.as_secs(), "shutting down: no new tasks; in-flight activities may finish");
            for stop in &stops {
                stop();
            }
            runs.await
        }
    };
    if let Some(task) = counting {
        task.abort();
    }
    result.map(|_| ()).context("worker stopped with an error")
}

/// `DescribeTaskQueue` of activity queue `queue`: who polls it, as the server saw lately.
pub async fn describe_activity_queue(
    client: &Client,
    queue: &str,
) -> Result<
    temporalio_protos::temporal::api::workflowservice::v1::DescribeTaskQueueResponse,
    temporalio_client::tonic::Status,
> {
    use temporalio_client::NamespacedClient;
    use temporalio_protos::temporal::api::enums::v1::{TaskQueueKind, TaskQueueType};
    use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
    use temporalio_protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;
    let request = DescribeTaskQueueRequest {
        namespace: client.namespace(),
        task_queue: Some(TaskQueue {
            name: queue.to_owned(),
            kind: TaskQueueKind::Normal as i32,
            ..Default::default()
        }),
        task_queue_type: TaskQueueType::Activity as i32,
        ..Default::default()
    };
    let mut service = client.connection().workflow_service();
    service
        .describe_task_queue(temporalio_client::tonic::Request::new(request))
        .await
        .map(|r| r.into_inner())
}

/// How many worker processes poll `annapurna-llm`, by the server's list of recent pollers (their
/// identities); `None` when the server cannot say.
pub async fn llm_workers(client: &Client) -> Option<u32> {
    let described = describe_activity_queue(client, LLM_TASK_QUEUE).await.ok()?;
    let identities: std::collections::BTreeSet<&str> = described
        .pollers
        .iter()
        .map(|p| p.identity.as_str())
        .collect();
    u32::try_from(identities.len()).ok().filter(|n| *n > 0)
}

/// How often each worker tells the server how it is doing (its slots in use among others).
pub const WORKER_HEARTBEAT: Duration = Duration::from_secs(2);

/// This worker's share of the model account, by demand: the workers polling `annapurna-llm`
/// (their heartbeats of the last few seconds, as `ListWorkers` gives them) split the quota in
/// proportion to the model calls each holds that still wait for the quota, plus one each (so a
/// worker without calls keeps a little, and equal workers get 1/n). A heartbeat gives only the
/// activity slots in use, which hold the calls already sent too; those need no more of the
/// quota, and by Little's law workers pacing alike have about as many out, so each worker takes
/// the calls it has out itself (`answering`) off every worker's slots. Without that, a worker
/// whose calls were all sent kept its share for as long as its answers took (~8 s), while the
/// others still had calls waiting. `None` when the server keeps no heartbeats, or has none of
/// this worker (`me`, its instance key) yet, or of fewer workers than the `counted` pollers (a
/// worker just started that has not sent one yet would be left out of the split): then each
/// takes 1/n of the count of pollers.
async fn llm_share(client: &Client, me: &str, counted: u32, answering: u32) -> Option<f64> {
    use temporalio_client::NamespacedClient;
    use temporalio_protos::temporal::api::enums::v1::WorkerStatus;
    use temporalio_protos::temporal::api::workflowservice::v1::ListWorkersRequest;
    let request = ListWorkersRequest {
        namespace: client.namespace(),
        page_size: 1000,
        query: format!("TaskQueue=\"{LLM_TASK_QUEUE}\""),
        ..Default::default()
    };
    let mut service = client.connection().workflow_service();
    let listed = service
        .list_workers(temporalio_client::tonic::Request::new(request))
        .await
        .ok()?
        .into_inner();
    let now = std::time::SystemTime::now();
    let fresh = WORKER_HEARTBEAT * 4;
    #[allow(deprecated)] // `workers` lacks the slots; `workers_info` has them
    let demand: Vec<(String, u32)> = listed
        .workers_info
        .into_iter()
        .filter_map(|info| info.worker_heartbeat)
        .filter(|hb| hb.task_queue == LLM_TASK_QUEUE && hb.status == WorkerStatus::Running as i32)
        .filter(|hb| {
            hb.heartbeat_time
                .and_then(|t| std::time::SystemTime::try_from(t).ok())
                .and_then(|t| now.duration_since(t).ok().or(Some(Duration::ZERO)))
                .is_some_and(|age| age <= fresh)
        })
        .map(|hb| {
            let used = hb
                .activity_task_slots_info
                .map_or(0, |s| s.current_used_slots.max(0));
            (hb.worker_instance_key, used.unsigned_abs())
        })
        .collect();
    share_by_demand(&demand, me, counted, answering)
}

/// `me`'s share when the workers (instance key, model calls in hand) split the account by
/// demand: (its waiting calls + 1) ÷ (all waiting calls + n), a worker's waiting calls being its
/// calls in hand less `answering` (this worker's calls out, taken as every worker's); `None`
/// when `me` is not among them or they are fewer than the `counted` pollers.
fn share_by_demand(
    demand: &[(String, u32)],
    me: &str,
    counted: u32,
    answering: u32,
) -> Option<f64> {
    if demand.len() < counted as usize {
        return None;
    }
    let waiting = |used: u32| f64::from(used.saturating_sub(answering)) + 1.0;
    let mine = waiting(demand.iter().find(|(key, _)| key == me)?.1);
    let total: f64 = demand.iter().map(|(_, used)| waiting(*used)).sum();
    Some(mine / total)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Starts `workflow` on the `annapurna` queue as `<prefix>/<unix-ms>`, prints the id (stdout)
/// and, with `follow`, waits and prints the result as JSON.
pub async fn start_from_cli<W>(
    workflow: W,
    input: W::Input,
    prefix: &str,
    follow: bool,
) -> anyhow::Result<()>
where
    W: temporalio_common::HasWorkflowDefinition,
    W::Input: Send,
    W::Output: serde::Serialize,
{
    let client = crate::wiring::temporal_client(None).await?;
    let id = format!(
        "{prefix}/{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let handle = client
        .start_workflow(
            workflow,
            input,
            temporalio_client::WorkflowStartOptions::new(TASK_QUEUE, &id).build(),
        )
        .await
        .with_context(|| format!("starting {id}"))?;
    eprintln!("started {id}");
    println!("{id}");
    if follow {
        let result = handle
            .get_result(temporalio_client::WorkflowGetResultOptions::default())
            .await
            .with_context(|| format!("{id} failed"))?;
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::share_by_demand;

    fn workers(calls: &[u32]) -> Vec<(String, u32)> {
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("w{i}"), *c))
            .collect()
    }

    #[test]
    fn workers_split_the_account_by_the_calls_they_hold() {
        // Equal calls, or none: 1/n each.
        let even = workers(&[27, 27, 27]);
        assert!((share_by_demand(&even, "w1", 3, 0).unwrap() - 1.0 / 3.0).abs() < 1e-9);
        let idle = workers(&[0, 0, 0]);
        assert!((share_by_demand(&idle, "w0", 3, 0).unwrap() - 1.0 / 3.0).abs() < 1e-9);
        // At the end, a worker whose calls are done keeps a little; the busiest takes most.
        let end = workers(&[0, 3, 2]);
        assert!((share_by_demand(&end, "w0", 3, 0).unwrap() - 1.0 / 8.0).abs() < 1e-9);
        assert!((share_by_demand(&end, "w1", 3, 0).unwrap() - 4.0 / 8.0).abs() < 1e-9);
        let sum: f64 = (0..3)
            .map(|i| share_by_demand(&end, &format!("w{i}"), 3, 0).unwrap())
            .sum();
        assert!(
            (sum - 1.0).abs() < 1e-9,
            "the shares add up to the account: {sum}"
        );
        // Alone: the whole account.
        assert_eq!(share_by_demand(&workers(&[40]), "w0", 1, 0), Some(1.0));
    }

    #[test]
    fn calls_already_sent_are_not_demand() {
        // The end of a map: w0 has sent all it holds (its 2 slots are answers awaited), w1 and
        // w2 still have 5 and 3 calls waiting beside their 2 out. Counting slots, w0 kept 3/17
        // of the account while its answers came; by waiting calls it keeps 1/11.
        let end = workers(&[2, 7, 5]);
        let by_slots = share_by_demand(&end, "w0", 3, 0).unwrap();
        let by_waiting = share_by_demand(&end, "w0", 3, 2).unwrap();
        assert!((by_slots - 3.0 / 17.0).abs() < 1e-9, "{by_slots}");
        assert!((by_waiting - 1.0 / 11.0).abs() < 1e-9, "{by_waiting}");
        assert!((share_by_demand(&end, "w1", 3, 2).unwrap() - 6.0 / 11.0).abs() < 1e-9);
        // Each worker takes off its own calls out: a worker with more out than another holds
        // counts none waiting there, never fewer than none.
        let mine = share_by_demand(&end, "w2", 3, 3).unwrap();
        assert!((mine - 3.0 / 9.0).abs() < 1e-9, "{mine}");
        // Workers pacing alike with many calls waiting: about 1/n each still.
        let bulk = workers(&[22, 24, 23]);
        let share = share_by_demand(&bulk, "w0", 3, 2).unwrap();
        assert!((share - 21.0 / 66.0).abs() < 1e-9, "{share}");
    }

    #[test]
    fn no_share_by_demand_while_a_polling_worker_has_sent_no_heartbeat() {
        // Three poll, two heartbeats in: the third would be left out, so 1/n of the count.
        assert_eq!(share_by_demand(&workers(&[5, 5]), "w0", 3, 0), None);
        // This worker's own heartbeat not in yet.
        assert_eq!(share_by_demand(&workers(&[5, 5, 5]), "w9", 3, 0), None);
    }
}
