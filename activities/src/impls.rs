//! The activity implementations, in two groups that match the definitions in
//! `workflows::activities`: [`PaperWork`] for the `annapurna` queue and [`LlmWork`] for
//! `annapurna-llm`. Each reads its inputs from blobs, writes its outputs to blobs under keys that
//! derive from (paper, step, input hash), and returns references.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::activities::defs;
use workflows::decisions::{CHARS_PER_TOKEN, chunk_bytes_for_tokens, effective_chunk_bytes};
use workflows::types::*;

use crate::check::check_python;
use crate::chunking;
use crate::clients::blobs::{BlobStore, sha256_hex};
use crate::clients::llm::{LlmClient, LlmError, LlmRequest, LlmResponse, Role};
use crate::clients::papers::{PaperOrigin, PaperRecord, PaperStore, RunRecord, Selection};
use crate::datasets;
use crate::failure::{Classified, permanent};
use crate::ingest::{Provenance, add_bytes, add_paper};
use crate::prompts::{self, PROMPT_VERSION};
use crate::ratelimit::Limiters;
use crate::results;
use crate::sandbox::SandboxConfig;
use crate::settings::Settings;
use crate::sources::SourceConfig;

/// Everything the activities use.
pub struct Deps {
    /// Per-model rate limits, shared by every activity task of this worker.
    pub limiters: Limiters,
    /// Blobs: papers, chunks, summaries, code, the LLM answer cache.
    pub blobs: BlobStore,
    /// Results directories.
    pub results: BlobStore,
    /// Paper metadata.
    pub papers: PaperStore,
    /// The model provider.
    pub llm: Arc<dyn LlmClient>,
    /// Models and budgets.
    pub settings: Settings,
    /// Feeds and downloads.
    pub sources: SourceConfig,
    /// The HTTP client of feeds and downloads.
    pub http: reqwest::Client,
}

/// Runs `work`, heartbeating while it runs (three times per heartbeat timeout, at most every
/// 3 s), so a lost worker's task moves elsewhere within the timeout; stops early when the activity
/// is cancelled.
async fn heartbeating<T>(
    ctx: &ActivityContext,
    work: impl Future<Output = Result<T, ActivityError>>,
) -> Result<T, ActivityError> {
    let every = ctx
        .info()
        .heartbeat_timeout
        .map(|t| t / 3)
        .unwrap_or(Duration::from_secs(3))
        .clamp(Duration::from_millis(100), Duration::from_secs(3));
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
            _ = tick.tick() => {
                let _ = ctx.record_heartbeat(()).await;
            }
        }
    }
}

pub(crate) fn paper_ref(p: &PaperRecord) -> PaperRef {
    PaperRef {
        paper_id: p.id.clone(),
        title: p.title.clone(),
        text: p.text.clone(),
        sections: p.sections_blob.clone(),
        section_count: p.sections.len() as u32,
        characters: p.characters,
    }
}

fn short(hash: &str) -> &str {
    &hash[..16.min(hash.len())]
}

/// Activities on the `annapurna` task queue.
pub struct PaperWork {
    deps: Arc<Deps>,
}

impl PaperWork {
    /// Activities over these dependencies.
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }
}

#[activities]
impl PaperWork {
    /// LoadPaper: the stored paper for an id, or a source added (idempotently) to the store.
    #[activity(definition = defs::LoadPaper)]
    pub async fn load_paper(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LoadPaperInput,
    ) -> Result<PaperRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let record = match (&input.paper_id, &input.source) {
                (Some(id), _) => d.papers.get(id).await.map_err(Classified::from)?.ok_or_else(|| {
                    permanent(
                        "PaperNotFound",
                        format!("no paper with id {id:?} in the paper store; add it with `annapurna paper add FILE`"),
                    )
                })?,
                (None, Some(source)) => {
                    add_paper(&d.blobs, &d.papers, source).await.map_err(Classified::from)?.0
                }
                (None, None) => {
                    return Err(permanent("InvalidInput", "LoadPaper needs a paper_id or a source"));
                }
            };
            Ok(paper_ref(&record))
        })
        .await
    }

    /// PlanChunks: cut at section boundaries within the budget; write each chunk as a blob.
    #[activity(definition = defs::PlanChunks)]
    pub async fn plan_chunks(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PlanChunksInput,
    ) -> Result<ChunkPlan, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let text = d.text(&input.paper.text).await?;
            let sections: Vec<Section> = serde_json::from_slice(
                &d.blobs
                    .get(&input.paper.sections)
                    .await
                    .map_err(Classified::from)?,
            )
            .map_err(|e| {
                permanent(
                    "UnparseablePaper",
                    format!("sections of {}: {e}", input.paper.paper_id),
                )
            })?;
            let requested = d.settings.chunk_tokens(input.max_chunk_tokens);
            let max_bytes =
                effective_chunk_bytes(text.len() as u64, chunk_bytes_for_tokens(requested));
            let max_tokens = max_bytes.div_ceil(CHARS_PER_TOKEN);
            let planned = chunking::plan(&text, &sections, max_bytes);
            let mut chunks = Vec::with_capacity(planned.len());
            for (index, c) in planned.iter().enumerate() {
                let piece = &text[c.start..c.end];
                let key = format!(
                    "chunks/{}/{}.txt",
                    input.paper.paper_id,
                    short(&sha256_hex(piece.as_bytes()))
                );
                let blob = d
                    .blobs
                    .put(&key, piece.to_owned())
                    .await
                    .map_err(Classified::from)?;
                chunks.push(ChunkRef {
                    index: index as u32,
                    text: blob,
                    section_titles: c
                        .section_titles
                        .iter()
                        .take(6)
                        .map(|t| t.chars().take(80).collect())
                        .collect(),
                    characters: piece.chars().count() as u64,
                });
            }
            Ok(ChunkPlan {
                chunks,
                max_chunk_tokens: max_tokens,
            })
        })
        .await
    }

    /// CheckCode: Python's own parser, plus the run-contract checks.
    #[activity(definition = defs::CheckCode)]
    pub async fn check_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CheckCodeInput,
    ) -> Result<CheckReport, ActivityError> {
        heartbeating(&ctx, async {
            let code = self.deps.text(&input.code).await?;
            let settings = &self.deps.settings;
            let dataset = input.dataset.as_deref().unwrap_or("");
            let mut report = check_python(
                &settings.python,
                &settings.ruff,
                &code,
                &input.target,
                dataset,
            )
            .await
            .map_err(Classified::from)?;
            report.findings.truncate(100);
            Ok(report)
        })
        .await
    }

    /// SelectPapers: a batch's papers from the paper store.
    #[activity(definition = defs::SelectPapers)]
    pub async fn select_papers(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SelectPapersInput,
    ) -> Result<Vec<String>, ActivityError> {
        let s = &input.selection;
        let selection = Selection {
            ids: s.paper_ids.clone(),
            recent_days: s.recent_days,
            title: s.title.clone(),
            query: s.query.clone(),
            random: s.random,
            max: s.max_papers.unwrap_or(100),
        };
        let ids = self
            .deps
            .papers
            .select(&selection)
            .await
            .map_err(Classified::from)?;
        Ok(ids)
    }

    /// FetchFeed: the feed's entries, each stored as a blob (malformed ones too, with their
    /// problem, so that the report can name them).
    #[activity(definition = defs::FetchFeed)]
    pub async fn fetch_feed(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: FetchFeedInput,
    ) -> Result<Vec<FeedItemRef>, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let max = match &input.feed {
                FeedQuery::Arxiv { max_results, .. }
                | FeedQuery::OpenReview { max_results, .. } => *max_results,
            };
            if max > MAX_FEED_ENTRIES {
                return Err(permanent(
                    "BadFeedQuery",
                    format!(
                        "max_results {max} is over {MAX_FEED_ENTRIES} entries per feed; split the \
                         feed by date range or category, or schedule it more often"
                    ),
                ));
            }
            let entries = crate::sources::fetch(&d.http, &d.sources, &input.feed)
                .await
                .map_err(Classified::from)?;
            let mut items = Vec::with_capacity(entries.len());
            for (n, entry) in entries.iter().enumerate() {
                let key = if entry.source_id.is_empty() {
                    format!("{}:entry-{n}", entry.source)
                } else {
                    format!("{}:{}", entry.source, entry.source_id)
                };
                let json = serde_json::to_vec(entry).expect("a feed entry serialises");
                let name: String = key
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let blob = d
                    .blobs
                    .put(
                        &format!("feeds/{name}-{}.json", short(&sha256_hex(&json))),
                        json,
                    )
                    .await
                    .map_err(Classified::from)?;
                items.push(FeedItemRef {
                    key,
                    title: entry.title.chars().take(200).collect(),
                    entry: blob,
                    problem: entry.problem.clone(),
                });
            }
            Ok(items)
        })
        .await
    }

    /// DownloadPaper: the entry's PDF within the size and time limits; the paper stored as
    /// `ingested` with the feed's title and abstract. A PDF that cannot be read is kept under
    /// `raw/` and the entry fails with the reason; nothing else is written for it.
    #[activity(definition = defs::DownloadPaper)]
    pub async fn download_paper(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DownloadPaperInput,
    ) -> Result<DownloadedPaper, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let key = &input.item.key;
            let entry: FeedEntry = serde_json::from_slice(
                &d.blobs
                    .get(&input.item.entry)
                    .await
                    .map_err(Classified::from)?,
            )
            .map_err(|e| permanent("MalformedFeedEntry", format!("{key}: {e}")))?;
            // An entry seen before (same source and id, version included) is not downloaded again.
            if let Some(existing) = d
                .papers
                .get_by_origin(key)
                .await
                .map_err(Classified::from)?
            {
                return Ok(DownloadedPaper {
                    paper: paper_ref(&existing),
                    new: false,
                    stage: existing.status,
                });
            }
            let url = entry
                .pdf_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    permanent(
                        "MalformedFeedEntry",
                        format!("{key}: the feed entry has no PDF link"),
                    )
                })?;
            let bytes = bytes::Bytes::from(
                crate::sources::download_pdf(&d.http, &d.sources, &url)
                    .await
                    .map_err(Classified::from)?,
            );
            let origin = PaperOrigin {
                source: entry.source.clone(),
                source_id: entry.source_id.clone(),
                abstract_text: entry.abstract_text.clone(),
                authors: entry.authors.clone(),
                categories: entry.categories.clone(),
                published: entry.published.clone(),
                venue: entry.venue.clone(),
                pdf_url: Some(url.clone()),
            };
            let added = add_bytes(
                &d.blobs,
                &d.papers,
                bytes.clone(),
                crate::extract::Format::Pdf,
                url.clone(),
                Provenance {
                    title: Some(entry.title.clone()),
                    origin: Some(origin),
                    stage: "ingested".into(),
                },
            )
            .await;
            let (record, new) = match added {
                Ok(r) => r,
                Err(e) if !e.is_retryable() => {
                    // Kept for whoever wants to look at it; the entry fails with the reason.
                    let raw_key =
                        format!("raw/{}/{}.pdf", entry.source, short(&sha256_hex(&bytes)));
                    let kept = d
                        .blobs
                        .put(&raw_key, bytes)
                        .await
                        .map_err(Classified::from)?;
                    return Err(permanent(
                        e.type_name(),
                        format!("{key}: {e} (the download is kept at {})", kept.uri),
                    ));
                }
                Err(e) => return Err(Classified::from(e).into()),
            };
            Ok(DownloadedPaper {
                paper: paper_ref(&record),
                new,
                stage: record.status,
            })
        })
        .await
    }

    /// RecordJudgement: `indexed` when the judge passed the paper (or there was no judge),
    /// `rejected` otherwise; a paper past ingestion (already run) keeps its stage.
    #[activity(definition = defs::RecordJudgement)]
    pub async fn record_judgement(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RecordJudgementInput,
    ) -> Result<(), ActivityError> {
        let d = &self.deps;
        let Some(paper) = d
            .papers
            .get(&input.paper_id)
            .await
            .map_err(Classified::from)?
        else {
            return Err(permanent(
                "PaperNotFound",
                format!(
                    "no paper with id {:?} to record a judgement for",
                    input.paper_id
                ),
            ));
        };
        if !matches!(paper.status.as_str(), "ingested" | "indexed" | "rejected") {
            return Ok(());
        }
        let pass = input.judgement.as_ref().is_none_or(|j| j.pass);
        d.papers
            .set_stage(
                &input.paper_id,
                if pass { "indexed" } else { "rejected" },
                input.judgement.as_ref(),
            )
            .await
            .map_err(Classified::from)?;
        Ok(())
    }

    /// RecordResults: the results directory and the paper's status.
    #[activity(definition = defs::RecordResults)]
    pub async fn record_results(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecordResultsInput,
    ) -> Result<ResultsRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let out = results::write(&d.blobs, &d.results, &input)
                .await
                .map_err(Classified::from)?;
            d.papers
                .record_run(&RunRecord {
                    paper_id: input.paper.paper_id.clone(),
                    workflow_id: input.workflow_id.clone(),
                    run_id: input.run_id.clone(),
                    outcome: input.outcome.clone(),
                    results: out.dir.clone(),
                    code: input.code.uri.clone(),
                    execution: input
                        .executions
                        .last()
                        .map(|e| e.report.classification.clone())
                        .unwrap_or_default(),
                })
                .await
                .map_err(Classified::from)?;
            Ok(out)
        })
        .await
    }
}

/// Activities on the `annapurna-llm` task queue.
pub struct LlmWork {
    deps: Arc<Deps>,
}

impl LlmWork {
    /// Activities over these dependencies.
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }
}

/// The activity of executor hosts (`annapurna-exec-<target>`).
pub struct ExecWork {
    deps: Arc<Deps>,
    sandbox: SandboxConfig,
}

impl ExecWork {
    /// Runs code under `sandbox`.
    pub fn new(deps: Arc<Deps>, sandbox: SandboxConfig) -> Self {
        Self { deps, sandbox }
    }
}

/// At most this many artifacts, each at most this large, are kept from `output/`.
const MAX_ARTIFACTS: usize = 50;
const MAX_ARTIFACT_BYTES: u64 = 64 << 20;

#[activities]
impl ExecWork {
    /// ProbeExecutor: answers at once with this host's name; that it started at all tells the
    /// workflow an executor of the target is polling.
    #[activity(definition = defs::ProbeExecutor)]
    pub async fn probe_executor(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ProbeExecutorInput,
    ) -> Result<ExecutorInfo, ActivityError> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        Ok(ExecutorInfo {
            host,
            target: input.target,
        })
    }

    /// ExecuteCode: the code in the sandbox; stdout and stderr (capped) and `output/` files to
    /// blobs; the report with metrics and a classification.
    #[activity(definition = defs::ExecuteCode)]
    pub async fn execute_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ExecuteCodeInput,
    ) -> Result<ExecutionReport, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let code = d.text(&input.code).await?;
            let work = tempfile::Builder::new()
                .prefix("annapurna-exec-")
                .tempdir()
                .map_err(|e| {
                    crate::failure::transient(
                        "SandboxError",
                        format!("creating a work directory: {e}"),
                    )
                })?;
            let (config, dir) = (self.sandbox.clone(), work.path().to_owned());
            let timeout = Duration::from_secs(input.timeout_secs.max(1));
            let env = vec![("ANNAPURNA_TARGET".to_owned(), input.target.clone())];
            let profile = crate::sandbox::host_profile(&input.target, config.neuron_profile);
            let latest: crate::sandbox::LatestMetrics = Default::default();
            let follow = latest.clone();
            let running = tokio::task::spawn_blocking(move || {
                crate::sandbox::run(&config, &dir, &code, timeout, &env, &profile, Some(follow))
            });
            tokio::pin!(running);
            // Heartbeats carry the latest METRICS line, so the Web UI shows training progress.
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            let outcome = loop {
                tokio::select! {
                    done = &mut running => break done,
                    _ = tick.tick() => {
                        let last = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        if let Some(m) = last {
                            let _ = ctx.record_heartbeat(m.to_string()).await;
                        }
                    }
                }
            };
            let outcome = outcome
                .map_err(|e| crate::failure::transient("SandboxError", e.to_string()))?
                .map_err(|e| match e {
                    crate::sandbox::SandboxError::Unavailable
                    | crate::sandbox::SandboxError::NeedsRoot(_) => {
                        permanent("SandboxUnavailable", e.to_string())
                    }
                    other => crate::failure::transient("SandboxError", other.to_string()),
                })?;
            let prefix = format!(
                "executions/{}/{}-{}",
                input.paper_id,
                short(&input.code.sha256),
                input.attempt
            );
            let stdout = d
                .blobs
                .put(&format!("{prefix}/stdout.txt"), outcome.stdout.clone())
                .await
                .map_err(Classified::from)?;
            let stderr = d
                .blobs
                .put(&format!("{prefix}/stderr.txt"), outcome.stderr.clone())
                .await
                .map_err(Classified::from)?;
            let mut artifacts = Vec::new();
            for (name, path) in crate::sandbox::artifacts(work.path(), MAX_ARTIFACTS) {
                let Ok(meta) = tokio::fs::metadata(&path).await else {
                    continue;
                };
                if meta.len() > MAX_ARTIFACT_BYTES {
                    continue;
                }
                let bytes = tokio::fs::read(&path).await.unwrap_or_default();
                let blob = d
                    .blobs
                    .put(&format!("{prefix}/output/{name}"), bytes)
                    .await
                    .map_err(Classified::from)?;
                artifacts.push(ArtifactRef { name, blob });
            }
            let tail: String = {
                let chars: Vec<char> = outcome.stderr.chars().collect();
                chars[chars.len().saturating_sub(2_000)..].iter().collect()
            };
            let metrics_from = outcome.metrics.len().saturating_sub(50);
            Ok(ExecutionReport {
                exit_code: outcome.exit_code,
                signal: outcome.signal,
                killed: outcome.killed,
                wall_ms: outcome.wall_ms,
                cpu_ms: outcome.cpu_ms,
                peak_rss_kib: outcome.peak_rss_kib,
                metrics: outcome.metrics[metrics_from..].to_vec(),
                stdout,
                stderr,
                stderr_tail: tail,
                artifacts,
                classification: outcome.classification,
                sandbox: outcome.sandbox,
            })
        })
        .await
    }
}

/// A cached model answer: the blob `llm-cache/<key>.json`.
#[derive(Serialize, Deserialize)]
struct CachedAnswer {
    text: String,
    input_tokens: u64,
    output_tokens: u64,
    truncated: bool,
    standin: bool,
    model: String,
}

impl Deps {
    /// A blob's text, its error classified.
    async fn text(&self, blob: &BlobRef) -> Result<String, Classified> {
        Ok(self.blobs.get_text(blob).await?)
    }

    /// The dependencies, with rate limiters built from `settings.limits`.
    pub fn new(
        blobs: BlobStore,
        results: BlobStore,
        papers: PaperStore,
        llm: Arc<dyn LlmClient>,
        settings: Settings,
    ) -> Self {
        Self {
            limiters: Limiters::new(settings.limits.clone()),
            blobs,
            results,
            papers,
            llm,
            settings,
            sources: SourceConfig::default(),
            http: crate::sources::http_client(&SourceConfig::default()),
        }
    }

    /// The same, with these feed and download settings.
    pub fn with_sources(mut self, sources: SourceConfig) -> Self {
        self.http = crate::sources::http_client(&sources);
        self.sources = sources;
        self
    }

    /// One model call through the answer cache: the key covers the prompt version, the model and
    /// the whole request, so a retried or replayed activity reuses the answer instead of paying
    /// twice. Usage counts only calls actually made.
    async fn converse(
        &self,
        request: &LlmRequest,
        usage: &mut LlmUsage,
    ) -> Result<LlmResponse, Classified> {
        let mut h = format!(
            "{PROMPT_VERSION}\n{}\n{}\n{}\n",
            request.model, request.max_tokens, request.system
        );
        for (role, text) in &request.messages {
            h.push_str(if *role == Role::User {
                "\nuser:"
            } else {
                "\nassistant:"
            });
            h.push_str(text);
        }
        let key = format!("llm-cache/{}.json", sha256_hex(h.as_bytes()));
        usage.model = request.model.clone();
        if let Some(bytes) = self.blobs.try_get_uri(&self.blobs.uri_of(&key)).await?
            && let Ok(hit) = serde_json::from_slice::<CachedAnswer>(&bytes)
        {
            usage.standin |= hit.standin;
            return Ok(LlmResponse {
                text: hit.text,
                input_tokens: hit.input_tokens,
                output_tokens: hit.output_tokens,
                truncated: hit.truncated,
                latency: Duration::ZERO,
                standin: hit.standin,
            });
        }
        let estimate = (request.system.len()
            + request.messages.iter().map(|(_, t)| t.len()).sum::<usize>())
            as u64
            / 4
            + request.max_tokens as u64;
        // A model the catalogue knows to be retired, or a bare id of a profile-only model, fails
        // here for good, before any call: no retries, no quota spent, and the message names the
        // model and what to use instead.
        if let Some((kind, message)) = self.settings.unusable(&request.model) {
            return Err(Classified(permanent(kind, message)));
        }
        self.limiters.acquire(&request.model, estimate).await;
        let response = match self.llm.converse(request).await {
            Ok(r) => {
                self.limiters.succeeded(&request.model);
                r
            }
            Err(e) => {
                if matches!(e, LlmError::Throttled { .. }) {
                    self.limiters.throttled(&request.model);
                }
                return Err(self.explain(e));
            }
        };
        usage.calls += 1;
        usage.cost_microusd += self.settings.cost_microusd(
            &request.model,
            response.input_tokens,
            response.output_tokens,
        );
        usage.input_tokens += response.input_tokens;
        usage.output_tokens += response.output_tokens;
        usage.latency_ms += response.latency.as_millis() as u64;
        usage.standin |= response.standin;
        let cached = CachedAnswer {
            text: response.text.clone(),
            input_tokens: response.input_tokens,
            output_tokens: response.output_tokens,
            truncated: response.truncated,
            standin: response.standin,
            model: request.model.clone(),
        };
        self.blobs
            .put(
                &key,
                serde_json::to_vec(&cached).expect("answer serialises"),
            )
            .await?;
        Ok(response)
    }

    /// A model error as a failure; a retired or profile-only model's says what to use instead,
    /// from the catalogue when it knows the model.
    fn explain(&self, e: LlmError) -> Classified {
        let region = &self.settings.region;
        let fix = match &e {
            LlmError::Retired { model, .. } => self
                .settings
                .model_info(model)
                .and_then(|r| r.info.replacement.clone())
                .map(|m| format!("use {} instead", crate::catalogue::profile_for(region, &m)))
                .unwrap_or_else(|| "choose an active model (annapurna doctor checks each role's)".into()),
            LlmError::NeedsInferenceProfile { model, .. } => format!(
                "use {} (or global.{})",
                crate::catalogue::profile_for(region, model),
                crate::catalogue::split_profile(model).1
            ),
            _ => return e.into(),
        };
        Classified(permanent(
            e.type_name(),
            format!("{e}; {fix} (models.summary-model / models.code-model, or the workflow input)"),
        ))
    }

    /// An answer that must parse (JSON of a required shape): one repair request when the first
    /// does not; `None` when neither does.
    async fn converse_json<T>(
        &self,
        request: &mut LlmRequest,
        usage: &mut LlmUsage,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, Classified> {
        let first = self.converse(request, usage).await?;
        if let Some(parsed) = parse(&first.text) {
            return Ok(Some(parsed));
        }
        request.messages.push((Role::Assistant, first.text.clone()));
        request
            .messages
            .push((Role::User, prompts::review_repair(&first.text)));
        Ok(parse(&self.converse(request, usage).await?.text))
    }

    /// A whole answer: continued while it stops at the token limit (at most
    /// `max-continuations` times), the parts joined; each continuation is counted in `usage`.
    async fn converse_whole(
        &self,
        mut request: LlmRequest,
        usage: &mut LlmUsage,
    ) -> Result<String, Classified> {
        let mut answer = String::new();
        for round in 0..=self.settings.max_continuations {
            let part = self.converse(&request, usage).await?;
            answer.push_str(&part.text);
            if !part.truncated {
                break;
            }
            if round == self.settings.max_continuations {
                usage.truncated = true;
                break;
            }
            usage.continuations += 1;
            request.messages.push((Role::Assistant, part.text));
            request
                .messages
                .push((Role::User, prompts::CONTINUE.to_owned()));
        }
        Ok(answer)
    }

    async fn put_code(
        &self,
        paper_id: &str,
        step: &str,
        code: &str,
    ) -> Result<BlobRef, Classified> {
        let key = format!(
            "code/{paper_id}/{step}-{}.py",
            short(&sha256_hex(code.as_bytes()))
        );
        Ok(self.blobs.put(&key, code.to_owned()).await?)
    }
}

/// The review JSON the model must answer with.
#[derive(Debug, Serialize, Deserialize)]
struct ReviewAnswer {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    findings: Vec<Finding>,
}

/// The review in the answer, if it has the required shape: a JSON object whose findings each
/// have a rule, a severity of `error`, `warning` or `info`, a line and a message.
fn parse_review(answer: &str) -> Option<ReviewAnswer> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let review: ReviewAnswer = serde_json::from_str(answer.get(start..=end)?).ok()?;
    review
        .findings
        .iter()
        .all(|f| matches!(f.severity.as_str(), "error" | "warning" | "info") && !f.rule.is_empty())
        .then_some(review)
}

/// Entries one feed may bring in one fetch.
pub const MAX_FEED_ENTRIES: u32 = 1_000;

/// The judge's JSON answer: both scores 0–10 and at least one reason.
fn parse_judgement(text: &str) -> Option<(u8, u8, Vec<String>)> {
    let v: serde_json::Value =
        serde_json::from_str(text.get(text.find('{')?..=text.rfind('}')?)?).ok()?;
    let score = |k: &str| {
        v[k].as_u64()
            .or_else(|| v[k].as_f64().map(|f| f.round() as u64))
            .filter(|s| *s <= 10)
            .map(|s| s as u8)
    };
    let reasons: Vec<String> = v["reasons"]
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    (!reasons.is_empty()).then_some((score("relevance")?, score("novelty")?, reasons))
}

#[activities]
impl LlmWork {
    /// JudgePaper: relevance and novelty against the profile; passes when both reach the
    /// configured thresholds.
    #[activity(definition = defs::JudgePaper)]
    pub async fn judge_paper(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: JudgePaperInput,
    ) -> Result<Judgement, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let entry: FeedEntry =
                serde_json::from_slice(&d.blobs.get(&input.entry).await.map_err(Classified::from)?)
                    .map_err(|e| permanent("MalformedFeedEntry", e.to_string()))?;
            let judge = &d.settings.judge;
            let text = d.text(&input.paper.text).await?;
            let excerpt: String = text.chars().take(judge.excerpt_chars).collect();
            let model = if judge.model.is_empty() {
                d.settings.summary_model.clone()
            } else {
                judge.model.clone()
            };
            let prompt = prompts::judge(&judge.profile, &entry, &excerpt);
            let mut request = LlmRequest::single(model.clone(), prompt, 600, 0.0);
            let mut usage = LlmUsage::default();
            let (relevance, novelty, reasons) = d
                .converse_json(&mut request, &mut usage, parse_judgement)
                .await?
                .ok_or_else(|| {
                    permanent(
                        "JudgeAnswerUnreadable",
                        format!(
                            "the judge ({model}) did not answer with the scores asked for, twice; \
                             the paper stays ingested and is judged again by the next ingestion"
                        ),
                    )
                })?;
            let profile = short(&sha256_hex(
                format!(
                    "{}\n{}\n{}",
                    judge.profile, judge.min_relevance, judge.min_novelty
                )
                .as_bytes(),
            ))
            .to_owned();
            Ok(Judgement {
                pass: relevance >= judge.min_relevance && novelty >= judge.min_novelty,
                relevance,
                novelty,
                reasons,
                model,
                profile,
                standin: usage.standin,
                usage,
            })
        })
        .await
    }

    /// SummarizeChunk: one chunk through the fast model.
    #[activity(definition = defs::SummarizeChunk)]
    pub async fn summarize_chunk(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SummarizeChunkInput,
    ) -> Result<SummaryRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let chunk = d.text(&input.chunk.text).await?;
            let prompt = prompts::summarize(
                &input.title,
                input.chunk.index,
                input.chunk_count,
                &input.chunk.section_titles,
                &chunk,
            );
            let model = d.settings.summary_model_or(&input.model);
            let request = LlmRequest::single(model, prompt, d.settings.summary_max_tokens, 0.2);
            let mut usage = LlmUsage::default();
            let answer = d.converse_whole(request, &mut usage).await?;
            let key = format!(
                "summaries/{}/{:04}-{}.md",
                input.paper_id,
                input.chunk.index,
                short(&sha256_hex(answer.as_bytes()))
            );
            let summary = d.blobs.put(&key, answer).await.map_err(Classified::from)?;
            Ok(SummaryRef {
                index: input.chunk.index,
                attempt: ctx.info().attempt,
                summary,
                usage,
            })
        })
        .await
    }

    /// RecommendDataset: the catalogue dataset the paper names most; else the model's choice
    /// within the catalogue; else `synthetic`. The reasons say which.
    #[activity(definition = defs::RecommendDataset)]
    pub async fn recommend_dataset(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecommendDatasetInput,
    ) -> Result<DatasetChoice, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let text = d.text(&input.paper.text).await?;
            let mentions = datasets::mentions(&text);
            let catalogue = &d.settings.datasets;
            let mut usage = LlmUsage::default();
            if let Some(m) = datasets::by_pattern(&mentions, catalogue) {
                let id = m.catalogue_id.clone().unwrap_or_default();
                let reasons = vec![format!(
                    "the paper names {} {} time(s); the catalogue has it as `{id}`",
                    m.name, m.count
                )];
                return Ok(DatasetChoice {
                    dataset: id,
                    source: "pattern".into(),
                    reasons,
                    mentions,
                    usage,
                });
            }
            let names: Vec<String> = mentions
                .iter()
                .map(|m| format!("{} ({}×)", m.name, m.count))
                .collect();
            let excerpt: String = text.chars().take(6_000).collect();
            let prompt = prompts::dataset(&input.paper.title, catalogue, &names, &excerpt);
            let model = d.settings.summary_model_or(&input.model);
            let request = LlmRequest::single(model, prompt, 500, 0.0);
            let answer = d.converse(&request, &mut usage).await?;
            let parsed: Option<(String, Vec<String>)> = answer
                .text
                .find('{')
                .zip(answer.text.rfind('}'))
                .and_then(|(a, b)| {
                    serde_json::from_str::<serde_json::Value>(&answer.text[a..=b]).ok()
                })
                .and_then(|v| {
                    let id = v["dataset"].as_str()?.to_owned();
                    let reasons = v["reasons"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((id, reasons))
                });
            let (dataset, source, reasons) = match parsed {
                Some((id, mut reasons)) if catalogue.contains(&id) => {
                    if !names.is_empty() {
                        reasons.insert(
                            0,
                            format!(
                                "the paper's datasets ({}) are not in the catalogue",
                                names.join(", ")
                            ),
                        );
                    }
                    (id, "model", reasons)
                }
                Some((id, _)) => (
                    "synthetic".to_owned(),
                    "fallback",
                    vec![format!(
                        "the model chose `{id}`, which is not in the catalogue"
                    )],
                ),
                None => (
                    "synthetic".to_owned(),
                    "fallback",
                    vec!["the model's answer was not the JSON asked for".to_owned()],
                ),
            };
            Ok(DatasetChoice {
                dataset,
                source: source.into(),
                reasons,
                mentions,
                usage,
            })
        })
        .await
    }

    /// GenerateCode: the summaries through the strong model, continued past the token limit.
    #[activity(definition = defs::GenerateCode)]
    pub async fn generate_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: GenerateCodeInput,
    ) -> Result<CodeRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let mut summaries = Vec::with_capacity(input.summaries.len());
            for s in &input.summaries {
                summaries.push(d.blobs.get_text(s).await.map_err(Classified::from)?);
            }
            let dataset = input.dataset.as_deref().unwrap_or("synthetic");
            let prompt = prompts::generate(&input.title, &input.target, dataset, &summaries);
            let model = d.settings.code_model_or(&input.model);
            let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.2);
            let mut usage = LlmUsage::default();
            let code = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
            let code = d.put_code(&input.paper_id, "generated", &code).await?;
            Ok(CodeRef { code, usage })
        })
        .await
    }

    /// ReviewCode: findings as strict JSON; one repair request for an answer that is not JSON.
    #[activity(definition = defs::ReviewCode)]
    pub async fn review_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReviewCodeInput,
    ) -> Result<ReviewRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let code = d.text(&input.code).await?;
            let prompt = prompts::review(&input.title, &input.target, &code, &input.check.findings);
            let model = d.settings.code_model_or(&input.model);
            let mut request = LlmRequest::single(model, prompt, 2_000, 0.0);
            let mut usage = LlmUsage::default();
            let parsed = d
                .converse_json(&mut request, &mut usage, parse_review)
                .await?
                .ok_or_else(|| {
                    permanent(
                        "ReviewNotJson",
                        format!(
                            "model {} answered the review twice without the required JSON",
                            request.model
                        ),
                    )
                })?;
            let json = serde_json::to_vec_pretty(&parsed).expect("review serialises");
            let key = format!(
                "reviews/{}/round-{}-{}.json",
                input.paper_id,
                input.round,
                short(&sha256_hex(&json))
            );
            let review = d.blobs.put(&key, json).await.map_err(Classified::from)?;
            Ok(ReviewRef {
                review,
                findings: parsed.findings,
                usage,
            })
        })
        .await
    }

    /// DiagnoseFailure: the kind of fix a failed run needs (code, hyperparameters, system) and
    /// the findings for FixCode. An answer that is not the JSON asked for gets one repair request,
    /// then the run's own error stands as the finding.
    #[activity(definition = defs::DiagnoseFailure)]
    pub async fn diagnose_failure(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DiagnoseFailureInput,
    ) -> Result<Diagnosis, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let code = d.text(&input.code).await?;
            let prompt = prompts::diagnose(&input.target, &code, &input.report);
            let model = d.settings.code_model_or(&input.model);
            let mut request = LlmRequest::single(model, prompt, 1_500, 0.0);
            let mut usage = LlmUsage::default();
            let parse = |text: &str| -> Option<Diagnosis> {
                let v: serde_json::Value =
                    serde_json::from_str(text.get(text.find('{')?..=text.rfind('}')?)?).ok()?;
                let kind = v["kind"]
                    .as_str()
                    .filter(|k| matches!(*k, "code" | "hyperparameters" | "system"))?;
                let findings: Vec<Finding> = serde_json::from_value(v["findings"].clone()).ok()?;
                Some(Diagnosis {
                    kind: kind.to_owned(),
                    summary: v["summary"].as_str().unwrap_or("").to_owned(),
                    findings,
                    usage: LlmUsage::default(),
                })
            };
            let parsed = d.converse_json(&mut request, &mut usage, parse).await?;
            let mut diagnosis = parsed.unwrap_or_else(|| Diagnosis {
                kind: "code".into(),
                summary:
                    "the model's diagnosis was not the JSON asked for; fixing the run's own error"
                        .into(),
                findings: vec![Finding {
                    rule: input.report.classification.clone(),
                    severity: "error".into(),
                    line: 0,
                    message: input
                        .report
                        .stderr_tail
                        .chars()
                        .rev()
                        .take(600)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect(),
                }],
                usage: LlmUsage::default(),
            });
            diagnosis.usage = usage;
            Ok(diagnosis)
        })
        .await
    }

    /// FixCode: the whole fixed file.
    #[activity(definition = defs::FixCode)]
    pub async fn fix_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: FixCodeInput,
    ) -> Result<CodeRef, ActivityError> {
        heartbeating(&ctx, async {
            let d = &self.deps;
            let code = d.text(&input.code).await?;
            let prompt = prompts::fix(&input.target, &code, &input.findings);
            let model = d.settings.code_model_or(&input.model);
            let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.0);
            let mut usage = LlmUsage::default();
            let fixed = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
            let code = d
                .put_code(&input.paper_id, &format!("fix-{}", input.round), &fixed)
                .await?;
            Ok(CodeRef { code, usage })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::llm::{LlmError, ScriptedLlm};
    use temporalio_sdk::testing::{ActivityEnvironment, ActivityEnvironmentError};

    struct Fixture {
        _dir: tempfile::TempDir,
        deps: Arc<Deps>,
        llm: Arc<ScriptedLlm>,
    }

    fn fixture(
        answer: impl Fn(&LlmRequest) -> Result<String, LlmError> + Send + Sync + 'static,
    ) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let llm = Arc::new(ScriptedLlm::new(answer));
        let deps = Arc::new(Deps::new(
            BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap(),
            BlobStore::open(dir.path().join("results").to_str().unwrap()).unwrap(),
            crate::clients::papers::SqlitePaperStore::open(&dir.path().join("papers.db"))
                .unwrap()
                .into(),
            llm.clone(),
            Settings::default(),
        ));
        Fixture {
            _dir: dir,
            deps,
            llm,
        }
    }

    fn env(f: &Fixture) -> ActivityEnvironment {
        ActivityEnvironment::builder_with_default()
            .register_activities(LlmWork::new(f.deps.clone()))
            .build()
    }

    fn application_failure(
        err: ActivityEnvironmentError,
    ) -> temporalio_common::error::ApplicationFailure {
        match err {
            ActivityEnvironmentError::Activity(ActivityError::Application(f)) => *f,
            other => panic!("expected an application failure, got {other:?}"),
        }
    }

    async fn review_input(f: &Fixture) -> ReviewCodeInput {
        ReviewCodeInput {
            paper_id: "p".into(),
            title: "T".into(),
            code: f.deps.blobs.put("code/p/x.py", "print(1)\n").await.unwrap(),
            check: CheckReport::default(),
            target: "cpu".into(),
            model: None,
            round: 1,
        }
    }

    #[tokio::test]
    async fn review_that_is_not_json_gets_one_repair_request() {
        let f = fixture(|req| {
            Ok(if req.messages.len() == 1 {
                "Looks fine to me!".to_owned()
            } else {
                r#"{"summary": "ok", "findings": [{"rule": "no-seed", "severity": "warning", "line": 1, "message": "seed it"}]}"#.to_owned()
            })
        });
        let input = review_input(&f).await;
        let out = env(&f).run(LlmWork::review_code, input).await.unwrap();
        assert_eq!(f.llm.calls(), 2);
        assert_eq!(out.usage.calls, 2);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].rule, "no-seed");
    }

    #[tokio::test]
    async fn review_with_an_unknown_severity_is_asked_again() {
        let f = fixture(|req| {
            Ok(if req.messages.len() == 1 {
                r#"{"summary": "x", "findings": [{"rule": "r", "severity": "fatal", "line": 1, "message": "m"}]}"#
            } else {
                r#"{"summary": "x", "findings": [{"rule": "r", "severity": "error", "line": 1, "message": "m"}]}"#
            }
            .to_owned())
        });
        let input = review_input(&f).await;
        let out = env(&f).run(LlmWork::review_code, input).await.unwrap();
        assert_eq!(f.llm.calls(), 2);
        assert!(out.findings[0].is_blocking());
    }

    #[tokio::test]
    async fn review_never_json_fails_without_retry() {
        let f = fixture(|_| Ok("no json here".to_owned()));
        let input = review_input(&f).await;
        let err = env(&f).run(LlmWork::review_code, input).await.unwrap_err();
        let failure = application_failure(err);
        assert_eq!(failure.type_name(), Some("ReviewNotJson"));
        assert!(failure.is_non_retryable());
        assert_eq!(f.llm.calls(), 2, "exactly one repair request");
    }

    #[tokio::test]
    async fn throttling_is_retryable_with_the_providers_delay() {
        let f = fixture(|req| {
            Err(LlmError::Throttled {
                model: req.model.clone(),
                retry_after: Some(Duration::from_secs(7)),
            })
        });
        let input = review_input(&f).await;
        let failure =
            application_failure(env(&f).run(LlmWork::review_code, input).await.unwrap_err());
        assert_eq!(failure.type_name(), Some("ModelThrottled"));
        assert!(!failure.is_non_retryable());
        assert_eq!(failure.next_retry_delay(), Some(Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn a_repeated_summary_is_served_from_the_cache() {
        let f = fixture(|_| Ok("a summary".to_owned()));
        let chunk = ChunkRef {
            index: 0,
            text: f
                .deps
                .blobs
                .put("chunks/p/0.txt", "some chunk text")
                .await
                .unwrap(),
            section_titles: vec!["1 Introduction".into()],
            characters: 15,
        };
        let input = SummarizeChunkInput {
            paper_id: "p".into(),
            title: "T".into(),
            chunk,
            chunk_count: 1,
            model: None,
        };
        let first = env(&f)
            .run(LlmWork::summarize_chunk, input.clone())
            .await
            .unwrap();
        let second = env(&f).run(LlmWork::summarize_chunk, input).await.unwrap();
        assert_eq!(f.llm.calls(), 1, "the second run must not call the model");
        assert_eq!(first.usage.calls, 1);
        assert_eq!(second.usage.calls, 0);
        assert_eq!(first.summary, second.summary);
    }

    async fn judge_input(f: &Fixture) -> JudgePaperInput {
        let entry = FeedEntry {
            source: "arxiv".into(),
            source_id: "2611.00001v1".into(),
            title: "Sparse routing".into(),
            abstract_text: "We route tokens.".into(),
            ..Default::default()
        };
        let entry = serde_json::to_vec(&entry).unwrap();
        JudgePaperInput {
            paper: PaperRef {
                paper_id: "p".into(),
                title: "Sparse routing".into(),
                text: f
                    .deps
                    .blobs
                    .put("papers/p/text.txt", "Some text.")
                    .await
                    .unwrap(),
                sections: f
                    .deps
                    .blobs
                    .put("papers/p/sections.json", "[]")
                    .await
                    .unwrap(),
                section_count: 0,
                characters: 10,
            },
            entry: f.deps.blobs.put("feeds/p.json", entry).await.unwrap(),
        }
    }

    #[tokio::test]
    async fn the_judge_passes_at_both_thresholds_and_fails_below_either() {
        for (answer, pass) in [
            (
                r#"{"relevance": 6, "novelty": 5, "reasons": ["on topic"]}"#,
                true,
            ),
            (
                r#"{"relevance": 9, "novelty": 4, "reasons": ["a known method"]}"#,
                false,
            ),
            (
                r#"{"relevance": 5, "novelty": 9, "reasons": ["off topic"]}"#,
                false,
            ),
        ] {
            let f = fixture(move |_| Ok(answer.to_owned()));
            let input = judge_input(&f).await;
            let j = env(&f).run(LlmWork::judge_paper, input).await.unwrap();
            assert_eq!(j.pass, pass, "{answer}");
            assert_eq!(j.usage.calls, 1);
            assert!(!j.profile.is_empty());
        }
    }

    #[tokio::test]
    async fn a_judge_that_never_answers_with_scores_fails_without_retry() {
        let f = fixture(|_| Ok("It is a fine paper.".to_owned()));
        let input = judge_input(&f).await;
        let err = env(&f).run(LlmWork::judge_paper, input).await.unwrap_err();
        let failure = application_failure(err);
        assert_eq!(failure.type_name(), Some("JudgeAnswerUnreadable"));
        assert!(failure.is_non_retryable());
        assert_eq!(f.llm.calls(), 2, "exactly one repair request");
    }

    #[test]
    fn judgements_need_both_scores_in_range_and_a_reason() {
        assert_eq!(
            parse_judgement(r#"Sure: {"relevance": 8, "novelty": 6.4, "reasons": ["new router"]}"#),
            Some((8, 6, vec!["new router".to_owned()]))
        );
        for bad in [
            r#"{"relevance": 11, "novelty": 5, "reasons": ["x"]}"#,
            r#"{"relevance": 7, "reasons": ["x"]}"#,
            r#"{"relevance": 7, "novelty": 5, "reasons": []}"#,
            r#"{"relevance": "high", "novelty": 5, "reasons": ["x"]}"#,
            "relevance 7, novelty 5",
        ] {
            assert_eq!(parse_judgement(bad), None, "{bad}");
        }
    }
}
