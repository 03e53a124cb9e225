//! Slack notifications: a paper's thread and the events posted to it.

use serde::{Deserialize, Serialize};

/// A Slack thread: the channel id and the parent message's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SlackThread {
    /// The channel's id (as Slack answered it).
    pub channel: String,
    /// The parent message's `ts`.
    pub ts: String,
}

/// What happened, in the words a Slack message gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlackEvent {
    /// The thread's parent: the paper started.
    Started {
        /// The paper's title (or its source, before it is known).
        title: String,
        /// `cpu`, `cuda` or `trainium`.
        target: String,
    },
    /// A stage began.
    Stage {
        /// The pinned stage name.
        stage: String,
        /// The current details in words.
        details: String,
    },
    /// The run failed.
    Failed {
        /// The classified reason.
        reason: String,
    },
    /// The run ended with results.
    Finished {
        /// `succeeded`, `succeeded-with-findings`, …
        outcome: String,
        /// Dollars spent on models.
        cost_usd: f64,
        /// Tokens in and out.
        tokens: u64,
        /// The results directory.
        results: String,
        /// Whether model answers came from the stand-in.
        standin: bool,
    },
    /// A batch's summary (a message of its own, not in a paper's thread).
    BatchSummary {
        /// The summary in words.
        text: String,
    },
}

/// Input of `NotifySlack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifySlackInput {
    /// The workflow the message is about (for the Web UI link).
    pub workflow_id: String,
    /// Unique per event of the run (e.g. `<run id>/stage/summarizing`): a retried activity finds
    /// the message an earlier attempt posted by it and posts nothing.
    pub key: String,
    /// The paper's thread; none for its parent message.
    pub thread: Option<SlackThread>,
    /// What to say.
    pub event: SlackEvent,
}

/// Output of `NotifySlack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotifySlackOutput {
    /// False when Slack is not configured on the worker (nothing was posted; the workflow stops
    /// asking).
    pub enabled: bool,
    /// The thread the message is in.
    pub thread: Option<SlackThread>,
}
