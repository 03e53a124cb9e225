//! Slack: one thread per paper — a parent message when it starts, replies at stage changes, on
//! failure (with the classified reason) and at the end (outcome, cost, results, Web UI link).
//!
//! Two Web API methods over the worker's HTTP client (`chat.postMessage` to post,
//! `conversations.replies` / `conversations.history` to find what a lost response had already
//! posted): a Slack SDK crate would bring a whole API surface for these, so they are called
//! directly. Every message carries Slack message metadata (`event_type` `annapurna_event`, with
//! the event's key), so a retried activity first looks for its key in the thread and never posts
//! twice. A Slack outage fails only the notification (bounded retries by the workflow), never the
//! paper.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workflows::types::{NotifySlackInput, NotifySlackOutput, SlackEvent, SlackThread};

use crate::deps::{Call, Out};
use crate::failure::{failure, permanent, transient};

/// The metadata event type of every message this module posts.
pub const EVENT_TYPE: &str = "annapurna_event";

/// `[notify.slack]`: where a paper's thread goes. Off while `token-env` or `channel` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SlackConfig {
    /// The NAME of the environment variable that holds the bot token (`xoxb-…`); the token is
    /// never in a file.
    pub token_env: String,
    /// The channel (`#papers` or its id).
    pub channel: String,
    /// Slack's Web API base (tests and proxies point elsewhere).
    pub api_url: String,
    /// The Temporal Web UI, for the link in the last message.
    pub web_ui: String,
    /// The Temporal namespace, for that link.
    pub namespace: String,
    /// The limit for one API call, in seconds.
    pub timeout_secs: u64,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            token_env: String::new(),
            channel: String::new(),
            api_url: "https://slack.com/api".to_owned(),
            web_ui: "http://localhost:8233".to_owned(),
            namespace: "default".to_owned(),
            timeout_secs: 10,
        }
    }
}

/// `[notify]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
pub struct NotifyConfig {
    /// Slack threads per paper.
    pub slack: SlackConfig,
}

impl SlackConfig {
    /// Whether notifications are configured at all.
    pub fn enabled(&self) -> bool {
        !self.token_env.trim().is_empty() && !self.channel.trim().is_empty()
    }

    fn token(&self) -> Result<String, crate::failure::Classified> {
        std::env::var(self.token_env.trim())
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                permanent(
                    "SlackTokenMissing",
                    format!(
                        "notify.slack.token-env names {:?}, but that environment variable is not \
                         set on this worker: export the bot token (xoxb-…) in it, or empty \
                         notify.slack.channel to turn Slack off",
                        self.token_env
                    ),
                )
            })
    }

    /// The Web UI page of a workflow.
    pub fn workflow_link(&self, workflow_id: &str) -> String {
        format!(
            "{}/namespaces/{}/workflows/{}",
            self.web_ui.trim_end_matches('/'),
            self.namespace,
            workflow_id.replace('/', "%2F")
        )
    }
}

/// The message text of an event.
pub fn text_of(cfg: &SlackConfig, workflow_id: &str, event: &SlackEvent) -> String {
    match event {
        SlackEvent::Started { title, target } => format!(
            ":page_facing_up: *{}* started → {target} (`{workflow_id}`)",
            one_line(title, 200)
        ),
        SlackEvent::Stage { details, .. } => format!("→ {}", one_line(details, 300)),
        SlackEvent::Failed { reason } => format!(":x: failed: {}", one_line(reason, 500)),
        SlackEvent::Finished {
            outcome,
            cost_usd,
            tokens,
            results,
            standin,
        } => format!(
            "{} {outcome} · {tokens} tokens · ${cost_usd:.4} · results: {results} · <{}|Web UI>{}",
            if outcome == "succeeded" {
                ":white_check_mark:"
            } else {
                ":warning:"
            },
            cfg.workflow_link(workflow_id),
            if *standin {
                " · model answers were the stand-in's templates, not generation"
            } else {
                ""
            }
        ),
        SlackEvent::BatchSummary { text } => one_line(text, 2_000),
    }
}

/// `text` on one line, at most `max` characters, with Slack's three control characters escaped:
/// titles and reasons come from feeds and papers, and `<!channel>` or `<https://…|here>` in one
/// must reach the channel as text, not as a mention or a link.
fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut = if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    };
    cut.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// NotifySlack: posts the event (the thread's parent when there is no thread yet, else a reply);
/// when Slack is not configured, says so and posts nothing. On a retry it first looks for the
/// event's key among the thread's (or the channel's recent) messages.
pub async fn notify_slack(d: Call<'_>, input: NotifySlackInput) -> Out<NotifySlackOutput> {
    let cfg = &d.notify.slack;
    if !cfg.enabled() {
        return Ok(NotifySlackOutput {
            enabled: false,
            thread: None,
        });
    }
    let token = cfg.token()?;
    let client = Slack {
        http: &d.http,
        cfg,
        token: &token,
    };
    if d.ctx.info().attempt > 1
        && let Some(found) = client.find(&input).await?
    {
        return Ok(NotifySlackOutput {
            enabled: true,
            thread: Some(input.thread.clone().unwrap_or(found)),
        });
    }
    let text = text_of(cfg, &input.workflow_id, &input.event);
    let posted = client.post(&input, &text).await?;
    Ok(NotifySlackOutput {
        enabled: true,
        thread: Some(input.thread.clone().unwrap_or(posted)),
    })
}

struct Slack<'a> {
    http: &'a reqwest::Client,
    cfg: &'a SlackConfig,
    token: &'a str,
}

impl Slack<'_> {
    fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.cfg.api_url.trim_end_matches('/'))
    }

    /// Sends one call; Slack's own `ok: false` and HTTP errors classified.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
    ) -> Result<Value, crate::failure::Classified> {
        let response = request
            .bearer_auth(self.token)
            .timeout(Duration::from_secs(self.cfg.timeout_secs.max(1)))
            .send()
            .await
            .map_err(|e| transient("SlackUnavailable", format!("Slack {method}: {e}")))?;
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(5);
            return Err(failure(
                "SlackThrottled",
                format!("Slack {method}: rate limited; retry after {wait} s"),
                true,
                Some(Duration::from_secs(wait)),
            ));
        }
        if status.is_server_error() {
            return Err(transient(
                "SlackUnavailable",
                format!("Slack {method}: HTTP {status}"),
            ));
        }
        let body: Value = response.json().await.map_err(|e| {
            transient(
                "SlackUnavailable",
                format!("Slack {method}: HTTP {status}, not JSON: {e}"),
            )
        })?;
        if body["ok"].as_bool() != Some(true) {
            let error = body["error"].as_str().unwrap_or("no error given");
            // Wrong token, channel or scopes will not mend by retrying.
            return Err(permanent(
                "SlackRefused",
                format!(
                    "Slack {method} answered {error:?}: check notify.slack.channel and the bot \
                     token's scopes (chat:write, channels:history)"
                ),
            ));
        }
        Ok(body)
    }

    /// Posts `text` (a reply when the input has a thread).
    async fn post(
        &self,
        input: &NotifySlackInput,
        text: &str,
    ) -> Result<SlackThread, crate::failure::Classified> {
        let mut body = json!({
            "channel": input.thread.as_ref().map_or(self.cfg.channel.as_str(), |t| t.channel.as_str()),
            "text": text,
            "unfurl_links": false,
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"key": input.key}},
        });
        if let Some(thread) = &input.thread {
            body["thread_ts"] = json!(thread.ts);
        }
        let answer = self
            .call(
                self.http.post(self.url("chat.postMessage")).json(&body),
                "chat.postMessage",
            )
            .await?;
        Ok(SlackThread {
            channel: answer["channel"]
                .as_str()
                .unwrap_or(&self.cfg.channel)
                .to_owned(),
            ts: answer["ts"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The message an earlier attempt of this event posted, if any: in the thread for a reply, in
    /// the channel's last 200 messages for a parent.
    async fn find(
        &self,
        input: &NotifySlackInput,
    ) -> Result<Option<SlackThread>, crate::failure::Classified> {
        let (method, query): (&str, Vec<(&str, String)>) = match &input.thread {
            Some(thread) => (
                "conversations.replies",
                vec![
                    ("channel", thread.channel.clone()),
                    ("ts", thread.ts.clone()),
                    ("include_all_metadata", "true".into()),
                    ("limit", "200".into()),
                ],
            ),
            None => (
                "conversations.history",
                vec![
                    ("channel", self.cfg.channel.clone()),
                    ("include_all_metadata", "true".into()),
                    ("limit", "200".into()),
                ],
            ),
        };
        let answer = self
            .call(self.http.get(self.url(method)).query(&query), method)
            .await?;
        let channel = input
            .thread
            .as_ref()
            .map_or(self.cfg.channel.clone(), |t| t.channel.clone());
        Ok(answer["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["metadata"]["event_type"] == EVENT_TYPE
                    && m["metadata"]["event_payload"]["key"] == input.key.as_str()
            })
            .map(|m| SlackThread {
                channel: channel.clone(),
                ts: m["ts"].as_str().unwrap_or_default().to_owned(),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_names_its_variable() {
        let cfg = SlackConfig {
            token_env: "ANNAPURNA_TEST_NO_SUCH_SLACK_TOKEN".into(),
            channel: "#papers".into(),
            ..SlackConfig::default()
        };
        let err = cfg.token().unwrap_err();
        let text = format!("{:?}", err.0);
        assert!(
            text.contains("SlackTokenMissing")
                && text.contains("ANNAPURNA_TEST_NO_SUCH_SLACK_TOKEN"),
            "{text}"
        );
    }

    #[test]
    fn off_unless_both_token_env_and_channel() {
        let mut cfg = SlackConfig::default();
        assert!(!cfg.enabled());
        cfg.token_env = "SLACK_BOT_TOKEN".into();
        assert!(!cfg.enabled());
        cfg.channel = "#papers".into();
        assert!(cfg.enabled());
    }

    #[test]
    fn texts_name_the_paper_and_link_the_web_ui() {
        let cfg = SlackConfig::default();
        let finished = SlackEvent::Finished {
            outcome: "succeeded".into(),
            cost_usd: 0.0123,
            tokens: 4567,
            results: "file:///r/p1/run".into(),
            standin: true,
        };
        let text = text_of(&cfg, "paper/p1", &finished);
        assert!(
            text.contains("http://localhost:8233/namespaces/default/workflows/paper%2Fp1"),
            "{text}"
        );
        assert!(
            text.contains("$0.0123") && text.contains("4567 tokens"),
            "{text}"
        );
        assert!(text.contains("stand-in"), "{text}");
        let started = SlackEvent::Started {
            title: "A\ntitle".into(),
            target: "cpu".into(),
        };
        assert!(text_of(&cfg, "paper/p1", &started).contains("*A title* started → cpu"));
        // A title from a feed cannot mention the channel or hide a link.
        let hostile = SlackEvent::Started {
            title: "<!channel> read <https://evil.example|this> & more".into(),
            target: "cpu".into(),
        };
        let text = text_of(&cfg, "paper/p1", &hostile);
        assert!(
            text.contains("&lt;!channel&gt; read &lt;https://evil.example|this&gt; &amp; more"),
            "{text}"
        );
        assert!(!text.contains("<!channel>") && !text.contains("<https://evil"));
        let failed = SlackEvent::Failed {
            reason: "<!here> boom".into(),
        };
        assert!(!text_of(&cfg, "paper/p1", &failed).contains("<!here>"));
    }
}
