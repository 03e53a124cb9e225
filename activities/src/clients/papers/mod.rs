//! The paper store: one record per paper (metadata, where it came from, the judge's verdict, blob
//! references) and one per recorded run. Two backends behind one type, [`PaperStore`]: the
//! embedded SQLite file (the default; full-text search with FTS5) and OpenSearch (query DSL).
//!
//! A paper's `status` is its stage: `added` (by hand), `ingested` (fetched from a feed, not judged
//! yet), `indexed` (the judge passed it), `rejected` (the judge did not), or the outcome of its
//! latest run. Selection by recency, title, query or at random only sees papers that are added,
//! indexed or have run; explicit ids see every stored paper.

mod opensearch;
mod sqlite;

use serde::{Deserialize, Serialize};
use workflows::types::{BlobRef, Judgement};

pub use self::opensearch::{OpenSearchConfig, OpenSearchPaperStore};
pub use self::sqlite::SqlitePaperStore;

/// Stages that selection (other than by id) leaves out: not judged yet, or judged out.
pub const UNSELECTABLE_STAGES: [&str; 2] = [
    workflows::types::PaperStatus::Ingested.as_str(),
    workflows::types::PaperStatus::Rejected.as_str(),
];

/// A stored paper's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRecord {
    /// Content-derived id.
    pub id: String,
    /// Title found in the paper (or given by its feed).
    pub title: String,
    /// Where it came from (path or URI as given).
    pub source: String,
    /// Format: pdf, tex, md, txt or json (Paper2Code).
    pub format: String,
    /// SHA-256 of the original file.
    pub sha256: String,
    /// Characters of extracted text.
    pub characters: u64,
    /// Section headings found.
    pub sections: Vec<String>,
    /// The extracted text.
    pub text: BlobRef,
    /// The sections as JSON.
    pub sections_blob: BlobRef,
    /// The original file.
    pub original: BlobRef,
    /// The stage (see the module documentation).
    pub status: String,
    /// When added (RFC 3339, UTC).
    pub added_at: String,
    /// The feed entry the paper came from, when it was ingested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<PaperOrigin>,
    /// The judge's verdict, when judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
}

/// Where an ingested paper came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PaperOrigin {
    /// `arxiv` or `openreview`.
    pub source: String,
    /// The source's id.
    pub source_id: String,
    /// The abstract.
    pub abstract_text: String,
    /// Authors.
    pub authors: Vec<String>,
    /// Categories or keywords.
    pub categories: Vec<String>,
    /// Publication time (RFC 3339), when known.
    pub published: Option<String>,
    /// Venue line, when known.
    pub venue: Option<String>,
    /// The PDF's address.
    pub pdf_url: Option<String>,
}

/// A recorded run of PaperToCode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The paper.
    pub paper_id: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Workflow run id.
    pub run_id: String,
    /// Outcome.
    pub outcome: String,
    /// Results directory URI.
    pub results: String,
    /// The final code (URI), when there was code.
    #[serde(default)]
    pub code: String,
    /// How the last execution ended (`ok`, `code-error`, …); empty when not executed.
    #[serde(default)]
    pub execution: String,
}

/// Which papers a batch takes: explicit ids, else the papers matching every filter given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Explicit ids (those stored are taken, in this order).
    pub ids: Vec<String>,
    /// Added in the last N days.
    pub recent_days: Option<u32>,
    /// Title contains this (case-insensitive).
    pub title: Option<String>,
    /// A text query; with OpenSearch also a query DSL object as JSON.
    pub query: Option<String>,
    /// This many at random.
    pub random: Option<u32>,
    /// At most this many.
    pub max: u32,
}

/// What went wrong with the paper store.
#[derive(Debug, thiserror::Error)]
pub enum PaperStoreError {
    /// SQLite failed.
    #[error("paper store {path} failed: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// OpenSearch could not be reached or answered with an error.
    #[error("paper store OpenSearch {url} (index {index}) failed: {reason}")]
    OpenSearch {
        /// The cluster.
        url: String,
        /// The index.
        index: String,
        /// What happened.
        reason: String,
        /// Whether trying again may help (connection errors, 429, 5xx).
        retryable: bool,
    },
    /// A stored row could not be decoded.
    #[error("paper store {path} holds an unreadable row for {id}: {reason}")]
    Corrupt {
        /// The database file or index.
        path: String,
        /// The row's id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The selection cannot be run on this backend.
    #[error("{0}")]
    BadQuery(String),
}

impl PaperStoreError {
    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite { .. } => true,
            Self::OpenSearch { retryable, .. } => *retryable,
            Self::Corrupt { .. } | Self::BadQuery(_) => false,
        }
    }

    /// The failure type shown in the Web UI.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::BadQuery(_) => "InvalidSelection",
            _ => "PaperStoreError",
        }
    }
}

/// The paper store, on either backend.
#[derive(Clone)]
pub enum PaperStore {
    /// The embedded SQLite file.
    Sqlite(SqlitePaperStore),
    /// An OpenSearch index (boxed: the client is large, and the store is cloned rarely).
    OpenSearch(Box<OpenSearchPaperStore>),
}

impl From<SqlitePaperStore> for PaperStore {
    fn from(s: SqlitePaperStore) -> Self {
        Self::Sqlite(s)
    }
}

impl From<OpenSearchPaperStore> for PaperStore {
    fn from(s: OpenSearchPaperStore) -> Self {
        Self::OpenSearch(Box::new(s))
    }
}

impl PaperStore {
    /// Inserts a paper unless one with the same content is stored; returns the stored record and
    /// whether it was new. The record's `status` is its first stage (`added` when empty).
    pub async fn insert(
        &self,
        record: &PaperRecord,
    ) -> Result<(PaperRecord, bool), PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.insert(record),
            Self::OpenSearch(s) => s.insert(record).await,
        }
    }

    /// The paper with this id.
    pub async fn get(&self, id: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.get(id),
            Self::OpenSearch(s) => s.get(id).await,
        }
    }

    /// The paper with this content hash.
    pub async fn get_by_sha256(
        &self,
        sha256: &str,
    ) -> Result<Option<PaperRecord>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.get_by_sha256(sha256),
            Self::OpenSearch(s) => s.get_by_sha256(sha256).await,
        }
    }

    /// The paper a feed entry brought, by the entry's key (`<source>:<source-id>`, as
    /// `arxiv:2611.04821v1`): ingestion skips the download of entries it has seen.
    pub async fn get_by_origin(&self, key: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.get_by_origin(key),
            Self::OpenSearch(s) => s.get_by_origin(key).await,
        }
    }

    /// Papers, newest first (at most `limit`).
    pub async fn list(&self, limit: u32) -> Result<Vec<PaperRecord>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.list(limit),
            Self::OpenSearch(s) => s.list(limit).await,
        }
    }

    /// Number of papers stored.
    pub async fn count(&self) -> Result<u64, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.count(),
            Self::OpenSearch(s) => s.count().await,
        }
    }

    /// Paper ids for a batch.
    pub async fn select(&self, selection: &Selection) -> Result<Vec<String>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.select(selection),
            Self::OpenSearch(s) => s.select(selection).await,
        }
    }

    /// Sets a paper's stage and, when given, the judge's verdict.
    pub async fn set_stage(
        &self,
        id: &str,
        stage: &str,
        judgement: Option<&Judgement>,
    ) -> Result<(), PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.set_stage(id, stage, judgement),
            Self::OpenSearch(s) => s.set_stage(id, stage, judgement).await,
        }
    }

    /// Records a run and sets the paper's stage to its outcome (idempotent per run).
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.record_run(run),
            Self::OpenSearch(s) => s.record_run(run).await,
        }
    }

    /// Runs recorded for a paper, oldest first.
    pub async fn runs(&self, paper_id: &str) -> Result<Vec<RunRecord>, PaperStoreError> {
        match self {
            Self::Sqlite(s) => s.runs(paper_id),
            Self::OpenSearch(s) => s.runs(paper_id).await,
        }
    }
}

/// The text of a query DSL object, when `query` is one (it starts with `{`).
pub(crate) fn query_dsl(query: &str) -> Option<&str> {
    let q = query.trim();
    q.starts_with('{').then_some(q)
}
