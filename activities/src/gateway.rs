//! The model gateway: the one place where a model call meets the answer cache, the catalogue's
//! refusals, the rate limiters, usage and cost. Every activity that asks a model goes through
//! [`Deps::converse`] (or its JSON and continuation forms), whichever provider answers.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use workflows::types::LlmUsage;

use crate::clients::blobs::sha256_hex;
use crate::clients::llm::{LlmError, LlmRequest, LlmResponse, Role};
use crate::deps::Deps;
use crate::failure::{Classified, permanent};
use crate::prompts::{self, PROMPT_VERSION};

/// A cached model answer: the blob `llm-cache/<key>.json`. `mac` is an HMAC-SHA256, under the
/// workers' cache key, of the entry's key and contents: whoever can write to the blob store but
/// does not hold the key cannot plant an answer (say, code that then runs) that a worker trusts.
#[derive(Serialize, Deserialize)]
struct CachedAnswer {
    text: String,
    input_tokens: u64,
    output_tokens: u64,
    truncated: bool,
    standin: bool,
    model: String,
    #[serde(default)]
    cache_read_tokens: u64,
    #[serde(default)]
    cache_write_tokens: u64,
    #[serde(default)]
    mac: String,
}

impl CachedAnswer {
    fn mac(&self, secret: &[u8], key: &str) -> String {
        use hmac::{KeyInit, Mac};
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
            .expect("HMAC takes a key of any length");
        for part in [
            key,
            &self.text,
            &self.model,
            &self.input_tokens.to_string(),
            &self.output_tokens.to_string(),
            &self.cache_read_tokens.to_string(),
            &self.cache_write_tokens.to_string(),
            if self.truncated { "t" } else { "f" },
            if self.standin { "s" } else { "r" },
        ] {
            m.update(&(part.len() as u64).to_le_bytes());
            m.update(part.as_bytes());
        }
        hex::encode(m.finalize().into_bytes())
    }
}

/// How often a late call looks again for idle quota to send its second request with.
const HEDGE_RECHECK: Duration = Duration::from_millis(250);

impl Deps {
    /// One model call through the answer cache: the key covers the prompt version, the provider
    /// and model and the whole request, so a retried or replayed activity reuses the answer
    /// instead of paying twice. Usage counts only calls actually made.
    pub(crate) async fn converse(
        &self,
        request: &LlmRequest,
        usage: &mut LlmUsage,
    ) -> Result<LlmResponse, Classified> {
        // The answer budget fits the model (a 16K local model cannot take 8K of answer after a
        // long prompt).
        let prompt_tokens = (request.system.len()
            + request.messages.iter().map(|(_, t)| t.len()).sum::<usize>())
            as u64
            / 4;
        let fitted;
        let request =
            match self
                .settings
                .fit_max_tokens(&request.model, prompt_tokens, request.max_tokens)
            {
                n if n == request.max_tokens => request,
                n => {
                    let mut r = request.clone();
                    r.max_tokens = n;
                    fitted = r;
                    &fitted
                }
            };
        let (key, model) = answer_cache_key(request);
        usage.model = model.clone();
        if let Some(bytes) = self.blobs.try_get_uri(&self.blobs.uri_of(&key)).await?
            && let Ok(hit) = serde_json::from_slice::<CachedAnswer>(&bytes)
            && self.cache_entry_verified(&hit, &key)
        {
            usage.standin |= hit.standin;
            crate::metrics::model_cache_hit(&model);
            return Ok(LlmResponse {
                text: hit.text,
                input_tokens: hit.input_tokens,
                output_tokens: hit.output_tokens,
                cache_read_tokens: hit.cache_read_tokens,
                cache_write_tokens: hit.cache_write_tokens,
                truncated: hit.truncated,
                latency: Duration::ZERO,
                standin: hit.standin,
            });
        }
        let estimate = prompt_tokens + request.max_tokens as u64;
        // A model the catalogue knows to be retired, or a bare id of a profile-only model, fails
        // here for good, before any call: no retries, no quota spent, and the message names the
        // model and what to use instead.
        if let Some((kind, message)) = self.settings.unusable(&request.model) {
            return Err(permanent(kind, message));
        }
        self.limiters.acquire(&request.model, estimate).await;
        let answering = self.limiters.answering();
        let (answer, hedged) = self.converse_or_hedge(request, estimate).await;
        drop(answering);
        let response = match answer {
            Ok(r) => {
                // Bedrock settles at input + cache write + output × the model's burndown.
                let burndown = crate::catalogue::resolve(&self.settings.catalogue, &request.model)
                    .map_or(1, |m| m.info.burndown) as u64;
                let used = r.input_tokens + r.cache_write_tokens + r.output_tokens * burndown;
                self.limiters.settle(&request.model, estimate, used);
                self.limiters.succeeded(&request.model);
                self.limiters
                    .answered_in(&request.model, request.max_tokens, r.latency);
                crate::metrics::model_call(&model, "ok", r.latency.as_secs_f64());
                r
            }
            Err(e) => {
                self.refused(request, estimate, &e);
                return Err(self.explain(e));
            }
        };
        crate::metrics::model_usage(
            &model,
            [
                ("input", response.input_tokens),
                ("output", response.output_tokens),
                ("cache-read", response.cache_read_tokens),
                ("cache-write", response.cache_write_tokens),
            ],
            self.settings.call_cost_microusd(&request.model, &response),
        );
        usage.calls += 1;
        usage.cost_microusd += self.settings.call_cost_microusd(&request.model, &response);
        if hedged {
            // The request left unanswered: what the provider charges for it is not published;
            // it is counted as the answer's cost (the same prompt, at most as long an answer).
            usage.hedged_calls += 1;
            usage.cost_microusd += self.settings.call_cost_microusd(&request.model, &response);
            crate::metrics::model_call(&model, "abandoned", 0.0);
        }
        usage.input_tokens += response.input_tokens;
        usage.output_tokens += response.output_tokens;
        usage.cache_read_tokens += response.cache_read_tokens;
        usage.cache_write_tokens += response.cache_write_tokens;
        usage.latency_ms += response.latency.as_millis() as u64;
        usage.standin |= response.standin;
        let mut cached = CachedAnswer {
            text: response.text.clone(),
            input_tokens: response.input_tokens,
            output_tokens: response.output_tokens,
            truncated: response.truncated,
            standin: response.standin,
            model: model.clone(),
            cache_read_tokens: response.cache_read_tokens,
            cache_write_tokens: response.cache_write_tokens,
            mac: String::new(),
        };
        cached.mac = cached.mac(&self.cache_key, &key);
        self.blobs
            .put(
                &key,
                serde_json::to_vec(&cached).expect("answer serialises"),
            )
            .await?;
        Ok(response)
    }

    /// Sends `request` (its quota reserved: `estimate` tokens) and waits for the answer; when
    /// the answer is late (past [`Limiters::hedge_after`]) and quota nobody waits for holds a
    /// second reservation, sends it again and takes the first answer. True when a second request
    /// went out and was left unanswered: its reservation stays spent, as the provider's does. A
    /// request that fails while the other runs is settled as refused (no quota) and the other's
    /// answer taken.
    ///
    /// [`Limiters::hedge_after`]: crate::ratelimit::Limiters::hedge_after
    async fn converse_or_hedge(
        &self,
        request: &LlmRequest,
        estimate: u64,
    ) -> (Result<LlmResponse, LlmError>, bool) {
        let first = self.llm.converse(request);
        tokio::pin!(first);
        let late = self
            .settings
            .hedge
            .then(|| {
                self.limiters
                    .hedge_after(&request.model, request.max_tokens)
            })
            .flatten();
        let Some(late) = late else {
            return (first.await, false);
        };
        let wake = tokio::time::sleep(late);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                answer = &mut first => return (answer, false),
                () = &mut wake => {}
            }
            if self.limiters.take_idle(&request.model, estimate) {
                break;
            }
            wake.as_mut()
                .reset(tokio::time::Instant::now() + HEDGE_RECHECK);
        }
        tracing::info!(
            model = request.model,
            late_s = late.as_secs_f64(),
            "a late model call sent again with quota nobody waits for"
        );
        let second = self.llm.converse(request);
        tokio::pin!(second);
        let (answer, first_answered) = tokio::select! {
            answer = &mut first => (answer, true),
            answer = &mut second => (answer, false),
        };
        match answer {
            Ok(answer) => (Ok(answer), true),
            Err(e) => {
                self.refused(request, estimate, &e);
                let other = if first_answered {
                    second.await
                } else {
                    first.await
                };
                (other, false)
            }
        }
    }

    /// A request (reserving `estimate`) that the provider refused: it used no quota, a throttle
    /// lowers the pace, and the metrics count it.
    fn refused(&self, request: &LlmRequest, estimate: u64, e: &LlmError) {
        self.limiters.settle(&request.model, estimate, 0);
        let throttled = matches!(e, LlmError::Throttled { .. });
        if throttled {
            self.limiters.throttled(&request.model);
        }
        crate::metrics::model_call(
            &crate::clients::router::canonical(&request.model),
            if throttled { "throttled" } else { "error" },
            0.0,
        );
    }

    /// Keeps an answer that came another way (a batch inference job's) under `key` (see
    /// [`answer_cache_key`]), signed as the gateway signs its own, so that the same request on
    /// demand is answered from the cache instead of paid again.
    pub(crate) async fn remember_answer(
        &self,
        key: &str,
        model: &str,
        response: &LlmResponse,
    ) -> Result<(), Classified> {
        let mut cached = CachedAnswer {
            text: response.text.clone(),
            input_tokens: response.input_tokens,
            output_tokens: response.output_tokens,
            truncated: response.truncated,
            standin: response.standin,
            model: crate::clients::router::canonical(model),
            cache_read_tokens: response.cache_read_tokens,
            cache_write_tokens: response.cache_write_tokens,
            mac: String::new(),
        };
        cached.mac = cached.mac(&self.cache_key, key);
        self.blobs
            .put(key, serde_json::to_vec(&cached).expect("answer serialises"))
            .await?;
        Ok(())
    }

    /// Whether a cached answer was written by a worker holding the cache key; one that was not
    /// is logged, ignored and overwritten by a real answer.
    fn cache_entry_verified(&self, hit: &CachedAnswer, key: &str) -> bool {
        let expected = hit.mac(&self.cache_key, key);
        let ok = !hit.mac.is_empty() && constant_time_eq(hit.mac.as_bytes(), expected.as_bytes());
        if !ok {
            tracing::warn!(
                key,
                "a cached model answer failed verification (not written with this deployment's cache key); ignoring it"
            );
        }
        ok
    }

    /// A model error as a failure; a retired or profile-only model's says what to use instead,
    /// from the catalogue when it knows the model.
    fn explain(&self, e: LlmError) -> Classified {
        use crate::catalogue::{WHERE_MODELS_ARE_SET, instead_of_bare_id, instead_of_retired};
        let region = &self.settings.region;
        let fix = match &e {
            LlmError::Retired { model, .. } => {
                instead_of_retired(&self.settings.catalogue, model, region)
            }
            LlmError::NeedsInferenceProfile { model, .. } => instead_of_bare_id(model, region),
            _ => return e.into(),
        };
        permanent(
            e.type_name(),
            format!("{e}; {fix} ({WHERE_MODELS_ARE_SET})"),
        )
    }

    /// An answer that must parse (JSON of a required shape), continued when it stops at the
    /// token limit (a plan or review cut short is not malformed, only unfinished); one repair
    /// request when the first does not parse; `None` when neither does.
    pub(crate) async fn converse_json<T>(
        &self,
        request: &mut LlmRequest,
        usage: &mut LlmUsage,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, Classified> {
        let first = self.converse_whole(request.clone(), usage).await?;
        if let Some(parsed) = parse(&first) {
            return Ok(Some(parsed));
        }
        request.messages.push((Role::Assistant, first.clone()));
        request
            .messages
            .push((Role::User, prompts::review_repair(&first)));
        Ok(parse(&self.converse_whole(request.clone(), usage).await?))
    }

    /// A whole answer: continued while it stops at the token limit (at most
    /// `max-continuations` times), the parts joined; each continuation is counted in `usage`.
    pub(crate) async fn converse_whole(
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
}

/// The answer cache's key of `request` (as sent: its answer budget already fitted to the model)
/// and the model as the cache and the accounting name it (`provider/model`, Bedrock's ids
/// bare: the same model id at two providers is two answers).
pub(crate) fn answer_cache_key(request: &LlmRequest) -> (String, String) {
    let model = crate::clients::router::canonical(&request.model);
    let mut h = format!(
        "{PROMPT_VERSION}\n{model}\n{}\n{}\n",
        request.max_tokens, request.system
    );
    for (role, text) in &request.messages {
        h.push_str(if *role == Role::User {
            "\nuser:"
        } else {
            "\nassistant:"
        });
        h.push_str(text);
    }
    (
        format!("llm-cache/{}.json", sha256_hex(h.as_bytes())),
        model,
    )
}

/// Equal bytes, compared in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::clients::blobs::BlobStore;
    use crate::clients::llm::LlmClient;
    use crate::ratelimit::ModelLimit;
    use crate::settings::{DEFAULT_SUMMARY_MODEL, Settings};

    /// A model whose first answer takes `first` and every later one 10 ms (throttled when
    /// `later_throttled`).
    struct SlowFirst {
        first: Duration,
        calls: AtomicUsize,
        later_throttled: bool,
    }

    #[async_trait]
    impl LlmClient for SlowFirst {
        async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let took = if n == 0 {
                self.first
            } else {
                Duration::from_millis(10)
            };
            tokio::time::sleep(took).await;
            if n > 0 && self.later_throttled {
                return Err(LlmError::Throttled {
                    model: request.model.clone(),
                    retry_after: None,
                });
            }
            Ok(LlmResponse {
                text: format!("answer {n} to {}", request.messages[0].1),
                input_tokens: 1_000,
                output_tokens: 500,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
                truncated: false,
                latency: took,
                standin: false,
            })
        }
    }

    fn slow_first(first: Duration, later_throttled: bool) -> Arc<SlowFirst> {
        Arc::new(SlowFirst {
            first,
            calls: AtomicUsize::new(0),
            later_throttled,
        })
    }

    /// Dependencies over `llm` in a scratch directory, the summary model under a quota with room
    /// to spare.
    fn deps(llm: Arc<SlowFirst>, hedge: bool) -> (tempfile::TempDir, Deps) {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            hedge,
            limits: [(
                DEFAULT_SUMMARY_MODEL.to_owned(),
                ModelLimit {
                    rpm: 60_000,
                    tpm: 100_000_000,
                },
            )]
            .into(),
            ..Settings::default()
        };
        let deps = Deps::new(
            BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap(),
            BlobStore::open(dir.path().join("results").to_str().unwrap()).unwrap(),
            crate::clients::papers::SqlitePaperStore::open(&dir.path().join("papers.db"))
                .unwrap()
                .into(),
            llm,
            settings,
        );
        (dir, deps)
    }

    /// Twenty answers of 20 ms seen: a call running past ~20 ms is late.
    fn seen_answers(deps: &Deps) {
        for _ in 0..20 {
            deps.limiters
                .answered_in(DEFAULT_SUMMARY_MODEL, 1_000, Duration::from_millis(20));
        }
    }

    /// A call that waited for the quota (the bucket starts empty): a backlog, lately.
    async fn backlog(deps: &Deps) {
        deps.limiters.acquire(DEFAULT_SUMMARY_MODEL, 1).await;
    }

    fn ask(text: &str) -> LlmRequest {
        LlmRequest::single(
            DEFAULT_SUMMARY_MODEL.to_owned(),
            ("Summarise.".into(), text.into()),
            1_000,
            0.0,
        )
    }

    #[tokio::test]
    async fn a_late_call_is_sent_again_and_the_first_answer_taken() {
        let llm = slow_first(Duration::from_secs(30), false);
        let (_dir, deps) = deps(llm.clone(), true);
        backlog(&deps).await;
        // Let the pace fill the buckets with room for both reservations.
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen_answers(&deps);
        let mut usage = LlmUsage::default();
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            deps.converse(&ask("chunk one"), &mut usage),
        )
        .await
        .expect("the second request answers long before the first")
        .unwrap();
        assert_eq!(answer.text, "answer 1 to chunk one");
        assert_eq!(llm.calls.load(Ordering::SeqCst), 2);
        assert_eq!((usage.calls, usage.hedged_calls), (1, 1), "{usage:?}");
        // Both requests are paid: the one left at the answer's cost.
        let one = deps
            .settings
            .call_cost_microusd(DEFAULT_SUMMARY_MODEL, &answer);
        assert!(one > 0);
        assert_eq!(usage.cost_microusd, 2 * one);
        // Tokens are the answer's only.
        assert_eq!((usage.input_tokens, usage.output_tokens), (1_000, 500));
    }

    #[tokio::test]
    async fn a_call_counts_as_out_from_its_admission_to_its_answer_or_cancellation() {
        let llm = slow_first(Duration::from_secs(30), false);
        let (_dir, deps) = deps(llm.clone(), false);
        let deps = Arc::new(deps);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(deps.limiters.in_flight(), 0);
        let slow = {
            let deps = deps.clone();
            tokio::spawn(async move {
                let mut usage = LlmUsage::default();
                deps.converse(&ask("chunk one"), &mut usage).await.is_ok()
            })
        };
        while llm.calls.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Sent, not answered: out (the worker's share by demand does not count it as waiting).
        assert_eq!(deps.limiters.in_flight(), 1);
        let mut usage = LlmUsage::default();
        assert!(deps.converse(&ask("chunk two"), &mut usage).await.is_ok());
        assert_eq!(
            deps.limiters.in_flight(),
            1,
            "the answered one is no longer out"
        );
        // The activity cancelled while its call is out: no longer counted.
        slow.abort();
        assert!(slow.await.unwrap_err().is_cancelled());
        assert_eq!(deps.limiters.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_second_request_that_fails_leaves_the_first_to_answer() {
        let llm = slow_first(Duration::from_millis(1_500), true);
        let (_dir, deps) = deps(llm.clone(), true);
        backlog(&deps).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen_answers(&deps);
        let mut usage = LlmUsage::default();
        let answer = deps
            .converse(&ask("chunk three"), &mut usage)
            .await
            .unwrap();
        assert_eq!(answer.text, "answer 0 to chunk three");
        assert_eq!(llm.calls.load(Ordering::SeqCst), 2, "the second went out");
        // Nothing was left unanswered: one call, paid once.
        let one = deps
            .settings
            .call_cost_microusd(DEFAULT_SUMMARY_MODEL, &answer);
        assert_eq!((usage.calls, usage.hedged_calls), (1, 0), "{usage:?}");
        assert_eq!(usage.cost_microusd, one);
        // The throttle lowered the pace.
        assert!(deps.limiters.share(DEFAULT_SUMMARY_MODEL) < 1.0);
    }

    #[tokio::test]
    async fn no_second_request_without_hedging_answers_known_or_a_backlog() {
        for (hedge, seen, waited) in [
            (false, true, true),
            (true, false, true),
            (true, true, false),
        ] {
            let llm = slow_first(Duration::from_millis(400), false);
            let (_dir, deps) = deps(llm.clone(), hedge);
            if waited {
                backlog(&deps).await;
            } else {
                // The model's buckets begin now (empty), and have filled when the call comes.
                deps.limiters.share(DEFAULT_SUMMARY_MODEL);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if seen {
                seen_answers(&deps);
            }
            let mut usage = LlmUsage::default();
            let answer = deps.converse(&ask("chunk two"), &mut usage).await.unwrap();
            assert_eq!(
                answer.text, "answer 0 to chunk two",
                "hedge {hedge}, seen {seen}, waited {waited}"
            );
            assert_eq!(llm.calls.load(Ordering::SeqCst), 1);
            assert_eq!(usage.hedged_calls, 0);
        }
    }
}
