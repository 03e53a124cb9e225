//! The stand-in's answer to one model request, whichever wire protocol brought it: the
//! Bedrock-only refusals, quota with Bedrock's accounting, the fault options, the template answer
//! (truncated and continued on request), latency, and the prompt cache's usage. The protocol
//! modules ([`crate::converse`], [`crate::chat`]) turn requests into an [`Asked`] and the
//! [`Answered`] or [`Fault`] back into their own wire format.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use activities::clients::blobs::sha256_hex;
use activities::clients::llm::STANDIN_MARKER;
use activities::prompts::Task;
use serde_json::json;

use crate::templates::{fenced, field, judgement, summary, template_code};
use crate::{Shared, spread};

/// The wire protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Bedrock's `POST /model/{id}/converse`.
    Converse,
    /// OpenAI's `POST /v1/chat/completions`.
    ChatCompletions,
}

impl Protocol {
    /// The name `/_standin/stats` counts it under.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Converse => "converse",
            Protocol::ChatCompletions => "chat-completions",
        }
    }
}

/// How the prompt asks to be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAsk {
    /// No caching (Converse without a `cachePoint`).
    None,
    /// Converse: everything before the `cachePoint` (system prompt and the first user turn's
    /// blocks before it) is one cache entry.
    Point(String),
    /// Chat Completions: OpenAI caches a prompt's prefixes automatically, from 1,024 tokens in
    /// steps of 128; this is the whole prompt, in order.
    Automatic(String),
}

/// One request, protocol-neutral.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Which protocol brought it.
    pub protocol: Protocol,
    /// The model id as asked.
    pub model: String,
    /// The system prompt (for Chat Completions: the `system` messages; when a server has no
    /// system role the prompt arrives in the first user message, and the task line is found
    /// there).
    pub system: String,
    /// The turns: (is the user's, text).
    pub messages: Vec<(bool, String)>,
    /// The answer's budget.
    pub max_tokens: u64,
    /// What may come from the prompt cache.
    pub cache: CacheAsk,
}

/// Why a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The answer is whole.
    EndTurn,
    /// Cut at the budget.
    MaxTokens,
}

/// The answer, protocol-neutral.
#[derive(Debug, Clone)]
pub struct Answered {
    /// Text.
    pub text: String,
    /// Why it stopped.
    pub stop: Stop,
    /// Input tokens neither read from nor written to the cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the cache.
    pub cache_read: u64,
    /// Input tokens written to the cache.
    pub cache_write: u64,
    /// Milliseconds the answer took (the latency model).
    pub latency_ms: u64,
}

/// What went wrong, protocol-neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Over quota or an injected throttle (429).
    Throttled,
    /// An injected internal error (500).
    Internal,
    /// An injected hang that ended (503).
    Unavailable,
    /// A request the provider refuses (400).
    Invalid,
    /// A retired model (404).
    Retired,
}

/// A refusal or fault, protocol-neutral.
#[derive(Debug, Clone)]
pub struct Fault {
    /// What kind.
    pub kind: FaultKind,
    /// The provider's words.
    pub message: String,
    /// When the caller may try again (throttling only).
    pub retry_after: Option<Duration>,
}

impl Fault {
    fn new(kind: FaultKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Characters per estimated token.
const CHARS_PER_TOKEN: usize = 4;
/// OpenAI caches prefixes of at least 1,024 tokens, in steps of 128.
const AUTO_CACHE_MIN_CHARS: usize = 1_024 * CHARS_PER_TOKEN;
const AUTO_CACHE_STEP_CHARS: usize = 128 * CHARS_PER_TOKEN;

/// Counts a request whose client went away before its answer (the loser of a hedged call, a
/// worker that died) as `abandoned`: nothing settles it, so its reservation stays taken.
struct Abandoned<'a> {
    shared: &'a Shared,
    task: &'a str,
    answered: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.count(self.task, "abandoned");
            *self
                .shared
                .stats
                .lock()
                .unwrap()
                .abandoned_by_kind
                .entry(self.task.to_owned())
                .or_default() += 1;
        }
    }
}

impl Shared {
    /// The answer to `asked`, or the fault the options inject.
    pub(crate) async fn answer(&self, asked: Asked) -> Result<Answered, Fault> {
        let first_user = asked
            .messages
            .iter()
            .find(|(user, _)| *user)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| {
                self.count("invalid", "bad-request");
                Fault::new(FaultKind::Invalid, "messages must not be empty")
            })?;
        let last_user = asked
            .messages
            .last()
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        // A server without a system role gets the instructions at the start of the first user
        // turn.
        let kind = Task::of_system_prompt(&asked.system).or_else(|| {
            asked
                .system
                .is_empty()
                .then(|| Task::of_system_prompt(&first_user))
                .flatten()
        });
        let task = kind.map(Task::as_str).unwrap_or("unknown").to_owned();
        let n = {
            let mut s = self.stats.lock().unwrap();
            s.requests += 1;
            *s.requests_by_protocol
                .entry(asked.protocol.as_str().to_owned())
                .or_default() += 1;
            s.requests
        };
        let o = &self.options;
        let model_id = &asked.model;
        let prompt_chars =
            asked.system.len() + asked.messages.iter().map(|(_, t)| t.len()).sum::<usize>();
        let prompt_tokens = (prompt_chars / CHARS_PER_TOKEN) as u64;
        // Bedrock refuses a retired model and a bare id of a profile-only model before anything
        // else, with its own error types and words.
        let known = activities::catalogue::resolve(&activities::catalogue::BUILTIN, model_id);
        if asked.protocol == Protocol::Converse
            && let Some(r) = &known
        {
            if r.info.lifecycle == activities::catalogue::Lifecycle::Retired {
                self.count(&task, "retired-model");
                return Err(Fault::new(
                    FaultKind::Retired,
                    activities::clients::llm::RETIRED_MESSAGE,
                ));
            }
            if r.info.profile_only && r.profile.is_none() {
                self.count(&task, "bad-request");
                return Err(Fault::new(
                    FaultKind::Invalid,
                    format!(
                        "Invocation of model ID {model_id} {}",
                        activities::clients::llm::NEEDS_PROFILE_MESSAGE
                    ),
                ));
            }
        }
        // Bedrock's quota accounting: a request reserves input + max_tokens when it starts and
        // settles at input + cache write + output × burndown when it ends (5 for Claude 3.7 and
        // later).
        let burndown = known.as_ref().map(|r| r.info.burndown).unwrap_or(1) as u64;
        let reserved = prompt_tokens + asked.max_tokens;
        if !self.take_quota(model_id, reserved as f64) {
            self.count(&task, "over-quota");
            return Err(Fault {
                retry_after: Some(Duration::from_secs(1)),
                ..Fault::new(
                    FaultKind::Throttled,
                    "Too many tokens, please wait before trying again.",
                )
            });
        }
        if spread(n, o.throttle_percent) {
            self.count(&task, "throttled");
            return Err(Fault {
                retry_after: Some(Duration::from_millis(200)),
                ..Fault::new(
                    FaultKind::Throttled,
                    "Too many requests, please wait before trying again.",
                )
            });
        }
        if spread(n, o.error_percent) {
            self.count(&task, "error");
            return Err(Fault::new(
                FaultKind::Internal,
                "The stand-in injected an internal error.",
            ));
        }
        if spread(n, o.timeout_percent) {
            self.count(&task, "timeout");
            tokio::time::sleep(Duration::from_secs(o.timeout_secs)).await;
            return Err(Fault::new(
                FaultKind::Unavailable,
                "The stand-in hung on purpose.",
            ));
        }
        // A continuation asks for the rest of a truncated answer.
        let continuation = asked.messages.len() > 1 && last_user == activities::prompts::CONTINUE;
        // Counted on arrival, as a provider bills: a request cut off by a dying worker still
        // counts.
        if kind == Some(Task::GenerateFile)
            && !continuation
            && let Some(path) = field(&first_user, "Write the file: ")
        {
            *self
                .stats
                .lock()
                .unwrap()
                .files_by_path
                .entry(path)
                .or_default() += 1;
        }
        if kind == Some(Task::Summarize) && !continuation {
            let key = sha256_hex(first_user.as_bytes())[..16].to_owned();
            *self
                .stats
                .lock()
                .unwrap()
                .summaries_by_chunk
                .entry(key)
                .or_default() += 1;
            let part = field(&first_user, "Part ")
                .and_then(|p| {
                    p.split_whitespace()
                        .next()
                        .and_then(|i| i.parse::<u64>().ok())
                })
                .unwrap_or(1);
            if spread(part, o.fail_chunks_percent) {
                self.count(&task, "failed-chunk");
                return Err(Fault::new(
                    FaultKind::Invalid,
                    format!("The stand-in refuses part {part} on purpose (fail-chunks-percent)."),
                ));
            }
        }
        let mut answer = self.template(kind, &asked.system, &first_user);
        // A summary's length is drawn from its prompt: the same request asked again (a retry, a
        // hedge) runs about as long, as a model's answers to one prompt do.
        let prompt_draw =
            u64::from_str_radix(&sha256_hex(first_user.as_bytes())[..16], 16).expect("hex digits");
        if kind == Some(Task::Summarize)
            && !continuation
            && let Some(tokens) = crate::world::summary_tokens(o, prompt_draw, asked.max_tokens)
        {
            answer = crate::world::lengthen(answer, tokens);
        }
        // Truncate a steady share of first answers; a continuation gets the second half.
        let half = answer
            .char_indices()
            .nth(answer.chars().count() / 2)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let (text, stop) = if continuation {
            (answer[half..].to_owned(), Stop::EndTurn)
        } else if spread(n, o.truncate_percent) {
            self.count(&task, "truncated");
            (answer[..half].to_owned(), Stop::MaxTokens)
        } else {
            (answer, Stop::EndTurn)
        };
        let output_tokens = (text.len() / CHARS_PER_TOKEN + 1) as u64;
        let latency = crate::world::latency_ms(o, n, output_tokens);
        let mut left = Abandoned {
            shared: self,
            task: &task,
            answered: false,
        };
        if latency > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(latency / 1000.0)).await;
        }
        left.answered = true;
        let (cache_read, cache_write) = self.prompt_cache(model_id, &asked.cache);
        // Cache reads do not count; input, cache writes and output × burndown do.
        let settled = prompt_tokens.saturating_sub(cache_read) + output_tokens * burndown;
        self.settle_quota(model_id, reserved as f64 - settled as f64);
        {
            let mut s = self.stats.lock().unwrap();
            *s.quota_tokens_by_model.entry(model_id.clone()).or_default() += settled;
            s.cache_read_tokens += cache_read;
            s.cache_write_tokens += cache_write;
            if kind == Some(Task::Summarize) {
                s.summary_latency_ms.push(latency as u64);
            }
        }
        self.count(&task, "ok");
        Ok(Answered {
            text,
            stop,
            input_tokens: prompt_tokens.saturating_sub(cache_read + cache_write),
            output_tokens,
            cache_read,
            cache_write,
            latency_ms: latency as u64,
        })
    }

    /// The template answer of a task.
    fn template(&self, kind: Option<Task>, system: &str, first_user: &str) -> String {
        match kind {
            Some(Task::Summarize) => summary(first_user),
            Some(Task::Generate) => {
                let target = field(first_user, "Target: ").unwrap_or_else(|| "cpu".into());
                let title = field(first_user, "Paper: ").unwrap_or_default();
                let mut code = template_code(&title, &target, self.options.broken_code);
                for defect in &self.options.defects {
                    code = match defect.as_str() {
                        "missing-import" => code.replacen("import json\n", "", 1),
                        "missing-mark-step" => code.replacen("        xm.mark_step()\n", "", 1),
                        "missing-module" => {
                            code.replacen("import json\n", "import json\nimport einops\n", 1)
                        }
                        "runtime-error" => code.replacen(
                            "    loss_fn = nn.BCEWithLogitsLoss()\n",
                            "    loss_fn = nn.BCEWithLogitsLoss()\n    raise RuntimeError(\"stand-in defect: the loss is not set up\")\n",
                            1,
                        ),
                        _ => code,
                    };
                }
                fenced(&code)
            }
            Some(Task::PlanRepository) => crate::repo_templates::plan(first_user),
            Some(Task::RelatedWork) => crate::repo_templates::related_work(first_user),
            Some(Task::GenerateFile) => crate::repo_templates::file(
                first_user,
                &self.options.defects,
                self.options.broken_code,
            )
            .map(|c| fenced(&c))
            .unwrap_or_else(|| {
                format!("{STANDIN_MARKER}: the stand-in found no planned file in this request.")
            }),
            // A repository file: the clean template of that file (from the plan in the prompt).
            Some(Task::Fix) if first_user.contains("Repository file: ") => {
                fenced(&crate::repo_templates::file(first_user, &[], false).unwrap_or_default())
            }
            Some(Task::Fix) => {
                let target = if first_user.contains("torch_xla") {
                    "trainium"
                } else {
                    "cpu"
                };
                fenced(&template_code("(fixed by the stand-in)", target, false))
            }
            Some(Task::Review) => json!({
                "summary": format!("{STANDIN_MARKER}: template review from the stand-in; no model read this code."),
                "findings": []
            })
            .to_string(),
            Some(Task::Diagnose) => {
                // The run's error comes after the shared paper context.
                let own = first_user
                    .rsplit_once("</paper-context>")
                    .map_or(first_user, |(_, rest)| rest);
                let last = own
                    .split("```")
                    .nth(1)
                    .and_then(|e| e.lines().rev().find(|l| !l.trim().is_empty()))
                    .unwrap_or("the run failed")
                    .trim()
                    .to_owned();
                json!({
                    "kind": "code",
                    "summary": format!("{STANDIN_MARKER}: template diagnosis from the stand-in"),
                    "findings": [{"rule": "runtime-error", "severity": "error", "line": 0, "message": last}]
                })
                .to_string()
            }
            Some(Task::Judge) => judgement(system, first_user),
            // A benchmark snippet: a statement that runs wherever a block can stand, marked.
            Some(Task::AnswerSnippet) => fenced(&format!(
                "# {STANDIN_MARKER}: template answer from the Bedrock stand-in; no model wrote this block\npass\n"
            )),
            Some(Task::Dataset) => json!({
                "dataset": "synthetic",
                "reasons": [format!("{STANDIN_MARKER}: template answer from the stand-in")]
            })
            .to_string(),
            _ => format!("{STANDIN_MARKER}: the stand-in has no template for this request."),
        }
    }

    /// Cache usage of a prompt, `(read, write)` in tokens: a prefix seen before (for this model)
    /// is read, a new cache point is written. Chat Completions' automatic caching writes at no
    /// charge, as OpenAI's does, so it reports reads only.
    fn prompt_cache(&self, model: &str, ask: &CacheAsk) -> (u64, u64) {
        let key = |prefix: &[u8]| {
            let mut h = std::hash::DefaultHasher::new();
            model.hash(&mut h);
            prefix.hash(&mut h);
            h.finish()
        };
        let mut seen = self.cache.lock().unwrap();
        match ask {
            CacheAsk::None => (0, 0),
            CacheAsk::Point(prefix) => {
                let tokens = (prefix.len() / CHARS_PER_TOKEN) as u64;
                if seen.insert(key(prefix.as_bytes())) {
                    (0, tokens)
                } else {
                    (tokens, 0)
                }
            }
            CacheAsk::Automatic(prompt) => {
                let bytes = prompt.as_bytes();
                let mut cached = 0;
                let mut at = AUTO_CACHE_MIN_CHARS;
                while at <= bytes.len() {
                    if !seen.insert(key(&bytes[..at])) {
                        cached = at;
                    }
                    at += AUTO_CACHE_STEP_CHARS;
                }
                ((cached / CHARS_PER_TOKEN) as u64, 0)
            }
        }
    }
}
