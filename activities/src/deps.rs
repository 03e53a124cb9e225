//! [`Deps`]: everything the activities use (stores, the model provider, the rate limiters,
//! settings, the feeds' HTTP client), built once per worker and shared by every activity task.

use std::sync::Arc;

use workflows::types::{BlobRef, PaperRef};

use crate::clients::blobs::{BlobStore, sha256_hex};
use crate::clients::llm::LlmClient;
use crate::clients::papers::{PaperRecord, PaperStore};
use crate::failure::Classified;
use crate::feeds::SourceConfig;
use crate::ratelimit::Limiters;
use crate::settings::Settings;

/// What an activity gets besides its input: the worker's [`Deps`] (through `Deref`, so
/// `d.blobs`, `d.text(…)`) and the activity's own context (`d.ctx`: attempt, heartbeats).
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The worker's dependencies.
    pub deps: &'a Deps,
    /// This activity task.
    pub ctx: &'a temporalio_sdk::activities::ActivityContext,
}

impl std::ops::Deref for Call<'_> {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        self.deps
    }
}

/// What an activity returns: its output or a [`Classified`] failure.
pub type Out<T> = Result<T, Classified>;

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
    /// The key that signs model-answer cache entries (see [`crate::gateway`]); every worker of a
    /// deployment must hold the same one to share the cache.
    pub cache_key: Vec<u8>,
    /// Notifications (Slack).
    pub notify: crate::notify::NotifyConfig,
    /// Where a workflow's `source` may name a file (none by default: see
    /// [`crate::ingest::allowed_source`]).
    pub source_roots: Vec<std::path::PathBuf>,
    /// Bedrock batch inference jobs (`llm_mode: "batch"`); none: such batches go on demand.
    pub batch: Option<Arc<dyn crate::clients::batch::BatchJobs>>,
}

impl Deps {
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
            http: crate::feeds::http_client(&SourceConfig::default()),
            source_roots: Vec::new(),
            cache_key: Vec::new(),
            notify: Default::default(),
            batch: None,
        }
    }

    /// The same, with this client of Bedrock's batch inference jobs.
    pub fn with_batch(mut self, batch: Arc<dyn crate::clients::batch::BatchJobs>) -> Self {
        self.batch = Some(batch);
        self
    }

    /// The same, with these notification settings.
    pub fn with_notify(mut self, notify: crate::notify::NotifyConfig) -> Self {
        self.notify = notify;
        self
    }

    /// The same, with this cache key.
    pub fn with_cache_key(mut self, key: Vec<u8>) -> Self {
        self.cache_key = key;
        self
    }

    /// The same, with `source` inputs allowed under these directories.
    pub fn with_source_roots(mut self, roots: Vec<std::path::PathBuf>) -> Self {
        self.source_roots = roots;
        self
    }

    /// The same, with these feed and download settings.
    pub fn with_sources(mut self, sources: SourceConfig) -> Self {
        self.http = crate::feeds::http_client(&sources);
        self.sources = sources;
        self
    }

    /// A blob's text, its error classified.
    pub(crate) async fn text(&self, blob: &BlobRef) -> Result<String, Classified> {
        Ok(self.blobs.get_text(blob).await?)
    }

    /// Stores code under `code/<paper>/<step>-<hash>.py`.
    pub(crate) async fn put_code(
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

pub(crate) fn short(hash: &str) -> &str {
    &hash[..16.min(hash.len())]
}
