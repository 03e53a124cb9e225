//! `IngestPapers`: feeds, entries, the judge, carry across continue-as-new, summary.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Where `IngestPapers` looks for papers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeedQuery {
    /// The arXiv API (Atom): categories (OR-ed), an optional submission date range
    /// (`YYYY-MM-DD`, inclusive), newest first.
    Arxiv {
        /// Categories such as `cs.LG`.
        categories: Vec<String>,
        /// First submission day.
        #[serde(default)]
        from: Option<String>,
        /// Last submission day.
        #[serde(default)]
        to: Option<String>,
        /// Instead of `from`/`to`: the last N days up to the fetch (what a daily schedule wants).
        #[serde(default)]
        days: Option<u32>,
        /// At most this many entries.
        #[serde(default = "default_feed_max")]
        max_results: u32,
        /// Only papers with this term in the title or abstract (arXiv's own search).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<String>,
    },
    /// The OpenReview API v2: the accepted papers of a venue and year.
    OpenReview {
        /// `ICLR`, `ICML` or `NeurIPS`.
        venue: String,
        /// The conference year.
        year: u32,
        /// At most this many entries (matching `search`, when set).
        #[serde(default = "default_feed_max")]
        max_results: u32,
        /// Only papers with this term in the title or abstract (matched on the venue's notes as
        /// they are read).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<String>,
    },
    /// The MLSys proceedings (`proceedings.mlsys.org`): the papers of a year.
    Mlsys {
        /// The conference year.
        year: u32,
        /// Only papers with this term in the title or abstract (matched as they are read).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<String>,
        /// At most this many entries (matching `search`, when set).
        #[serde(default = "default_feed_max")]
        max_results: u32,
    },
}

impl FeedQuery {
    /// The source's name, as in entry keys (`arxiv`, `openreview`, `mlsys`).
    pub fn source(&self) -> &'static str {
        match self {
            FeedQuery::Arxiv { .. } => "arxiv",
            FeedQuery::OpenReview { .. } => "openreview",
            FeedQuery::Mlsys { .. } => "mlsys",
        }
    }

    /// At most this many entries.
    pub fn max_results(&self) -> u32 {
        match self {
            FeedQuery::Arxiv { max_results, .. }
            | FeedQuery::OpenReview { max_results, .. }
            | FeedQuery::Mlsys { max_results, .. } => *max_results,
        }
    }
}

fn default_feed_max() -> u32 {
    50
}

/// One paper announced by a feed, as the feed described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FeedEntry {
    /// `arxiv`, `openreview` or `mlsys`.
    pub source: String,
    /// The source's id (`2411.01234v1`, an OpenReview note id, the hash in an MLSys paper's
    /// address); empty when the entry had none.
    pub source_id: String,
    /// Title, whitespace collapsed.
    pub title: String,
    /// Abstract, whitespace collapsed.
    pub abstract_text: String,
    /// Author names.
    pub authors: Vec<String>,
    /// Categories or keywords.
    pub categories: Vec<String>,
    /// Publication (or submission) time, RFC 3339, when the feed gave one.
    pub published: Option<String>,
    /// Where the PDF is.
    pub pdf_url: Option<String>,
    /// Venue line (`ICLR 2024 poster`, `MLSys 2024`) or the arXiv journal reference.
    pub venue: Option<String>,
    /// Set when the entry is unusable (no id, no title, no PDF link): why, for the report.
    pub problem: Option<String>,
}

/// An entry of a fetched feed, its details in a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItemRef {
    /// `<source>:<id>` (`arxiv:<id>`, `openreview:<id>`, `mlsys:<id>`), or `<source>:entry-<n>`
    /// for an entry without an id.
    pub key: String,
    /// The title, at most 200 characters (for progress and reports).
    pub title: String,
    /// The whole [`FeedEntry`] as JSON.
    pub entry: BlobRef,
    /// Set when the entry is unusable: why.
    pub problem: Option<String>,
}

/// The judge's verdict on a paper: relevance and novelty against the configured profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Judgement {
    /// True when both scores reach the profile's thresholds: the paper is indexed for generation.
    pub pass: bool,
    /// How relevant to the profile, 0–10.
    pub relevance: u8,
    /// How novel, 0–10.
    pub novelty: u8,
    /// The model's reasons.
    pub reasons: Vec<String>,
    /// The model that judged.
    pub model: String,
    /// Short hash of the profile and thresholds judged against.
    pub profile: String,
    /// True when the answer came from the Bedrock stand-in (a template, not a judgement).
    #[serde(default)]
    pub standin: bool,
    /// Tokens and cost of the call (zero when served from the answer cache).
    #[serde(default)]
    pub usage: LlmUsage,
}

/// What a user passes to `IngestPapers`: feeds to read, and what to do with what they bring.
/// `{"feeds": [{"kind": "arxiv", "categories": ["cs.LG"], "days": 1}]}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, remote = "Self")]
pub struct IngestPapersInput {
    /// Set when the JSON given was not this input: what is wrong and where; the workflow then
    /// fails at once with `InvalidInput` (see `lenient.rs`). Never serialized.
    #[serde(skip)]
    pub invalid_input: Option<String>,
    /// The feeds.
    pub feeds: Vec<FeedQuery>,
    /// Ask the judge about new papers (default true); without it every new paper is indexed.
    pub judge: Option<bool>,
    /// Papers downloaded and judged at once. Default 4.
    pub max_concurrent: Option<u32>,
    /// When set, a `PaperBatch` (this input, with `paper_ids` set to the newly indexed papers) is
    /// started as a child that outlives the ingestion.
    pub batch: Option<PaperBatchInput>,
    /// Entries one run handles before it continues as new. Default 500.
    pub entries_per_run: Option<u32>,
    /// Set by continue-as-new: entries still to ingest, the summary and the papers indexed so far.
    pub carried: Option<IngestCarry>,
}

/// What an ingestion carries into its next run (continue-as-new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IngestCarry {
    /// Entries not ingested yet.
    pub remaining: Vec<FeedItemRef>,
    /// The summary so far.
    pub summary: IngestSummary,
    /// Papers indexed so far (for the batch).
    pub indexed: Vec<String>,
}

/// Input of `FetchFeed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchFeedInput {
    /// The feed.
    pub feed: FeedQuery,
}

/// Input of `DownloadPaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadPaperInput {
    /// The feed entry.
    pub item: FeedItemRef,
}

/// What `DownloadPaper` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadedPaper {
    /// The stored paper.
    pub paper: PaperRef,
    /// False when the same PDF was stored before.
    pub new: bool,
    /// Its stage now (`ingested` when new and not judged yet).
    pub stage: String,
}

/// Input of `JudgePaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgePaperInput {
    /// The paper.
    pub paper: PaperRef,
    /// Its feed entry (title, abstract, categories).
    pub entry: BlobRef,
}

/// Input of `RecordJudgement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordJudgementInput {
    /// The paper.
    pub paper_id: String,
    /// The verdict; `None` when ingestion runs without the judge (the paper is indexed).
    pub judgement: Option<Judgement>,
}

/// The outcome of one feed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestItem {
    /// `<source>:<id>`, as in [`FeedItemRef::key`].
    pub key: String,
    /// The stored paper, when it got that far.
    pub paper_id: Option<String>,
    /// `indexed`, `rejected`, `already-stored (<stage>)`, or `failed: <reason>`.
    pub outcome: String,
}

/// What `IngestPapers` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IngestSummary {
    /// Entries the feeds returned.
    pub entries: u32,
    /// Papers stored for the first time.
    pub new_papers: u32,
    /// Papers the judge passed (or all new ones without the judge).
    pub indexed: u32,
    /// Papers the judge turned down (kept, not selectable).
    pub rejected: u32,
    /// Entries whose PDF was stored before.
    pub already_stored: u32,
    /// Entries that failed, by reason.
    pub failed: std::collections::BTreeMap<String, u32>,
    /// Tokens the judge used.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
    /// True when a judgement came from the Bedrock stand-in (a template).
    pub standin: bool,
    /// The batch started for the indexed papers, if any.
    pub batch_workflow_id: Option<String>,
    /// Per entry (the first 1,000).
    pub items: Vec<IngestItem>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn feed_queries_keep_their_json_and_take_a_search_term() {
        // Inputs (and recorded histories) from before search terms read as they did, and are
        // written back the same.
        for old in [
            json!({"kind": "arxiv", "categories": ["cs.LG"], "from": null, "to": null,
                   "days": 1, "max_results": 5}),
            json!({"kind": "openreview", "venue": "ICLR", "year": 2024, "max_results": 4}),
        ] {
            let query: FeedQuery = serde_json::from_value(old.clone()).expect("reads");
            assert_eq!(serde_json::to_value(&query).expect("writes"), old);
        }
        let searched: FeedQuery = serde_json::from_value(
            json!({"kind": "openreview", "venue": "ICLR", "year": 2025, "search": "LLM"}),
        )
        .expect("reads");
        assert_eq!(
            searched,
            FeedQuery::OpenReview {
                venue: "ICLR".into(),
                year: 2025,
                max_results: 50,
                search: Some("LLM".into()),
            }
        );
        let mlsys: FeedQuery =
            serde_json::from_value(json!({"kind": "mlsys", "year": 2024})).expect("reads");
        assert_eq!(mlsys.max_results(), 50);
        assert_eq!(
            serde_json::to_value(&mlsys).expect("writes"),
            json!({"kind": "mlsys", "year": 2024, "max_results": 50})
        );
    }
}

lenient_input!(IngestPapersInput, "IngestPapers");
