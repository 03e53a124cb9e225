//! Routing model calls by provider: a model id is `provider/model` (`openai/gpt-5-mini`,
//! `local/deepseek-coder-6.7b-instruct`, `bedrock/us.anthropic.claude-sonnet-4-6`); a bare id
//! (or a Bedrock ARN) is Bedrock's, so configurations and inputs written before there were
//! providers keep working. [`Router`] is itself an [`LlmClient`]: the gateway does not know
//! which provider answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clients::llm::{LlmClient, LlmError, LlmRequest, LlmResponse};

/// The provider of bare model ids.
pub const DEFAULT_PROVIDER: &str = "bedrock";

/// A model id split into its provider (named, or [`DEFAULT_PROVIDER`]) and the provider's own
/// model id. A prefix before the first `/` is a provider when it is a plain name (letters,
/// digits, `-`, `_`): an ARN (`arn:aws:bedrock:…/…`) or an inference profile is Bedrock's.
pub fn split_route(id: &str) -> (&str, &str) {
    match id.split_once('/') {
        Some((provider, model))
            if !provider.is_empty()
                && !model.is_empty()
                && provider
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            (provider, model)
        }
        _ => (DEFAULT_PROVIDER, id),
    }
}

/// The id as the answer cache and the accounting name it: `provider/model` for every provider
/// but Bedrock, whose bare ids stay bare (cache entries written before routing stay valid).
pub fn canonical(id: &str) -> String {
    match split_route(id) {
        (DEFAULT_PROVIDER, model) => model.to_owned(),
        (provider, model) => format!("{provider}/{model}"),
    }
}

/// The provider's name of a model id.
pub fn provider_of(id: &str) -> &str {
    split_route(id).0
}

/// The clients of the configured providers, by name.
pub struct Router {
    providers: BTreeMap<String, Arc<dyn LlmClient>>,
}

impl Router {
    /// A router over these providers.
    pub fn new(providers: BTreeMap<String, Arc<dyn LlmClient>>) -> Self {
        Self { providers }
    }

    /// The configured providers' names.
    pub fn names(&self) -> Vec<&str> {
        self.providers.keys().map(String::as_str).collect()
    }
}

#[async_trait]
impl LlmClient for Router {
    async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let (provider, model) = split_route(&request.model);
        let Some(client) = self.providers.get(provider) else {
            return Err(LlmError::UnknownProvider {
                model: request.model.clone(),
                provider: provider.to_owned(),
                known: self.names().join(", "),
            });
        };
        let mut routed = request.clone();
        routed.model = model.to_owned();
        client.converse(&routed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ids_and_arns_are_bedrocks() {
        assert_eq!(
            split_route("us.anthropic.claude-sonnet-4-6"),
            ("bedrock", "us.anthropic.claude-sonnet-4-6")
        );
        let arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6";
        assert_eq!(split_route(arn), ("bedrock", arn));
        assert_eq!(split_route("openai/gpt-5-mini"), ("openai", "gpt-5-mini"));
        assert_eq!(
            split_route("local/deepseek-coder-6.7b-instruct"),
            ("local", "deepseek-coder-6.7b-instruct")
        );
        assert_eq!(
            split_route("bedrock/us.anthropic.claude-sonnet-4-6"),
            ("bedrock", "us.anthropic.claude-sonnet-4-6")
        );
        assert_eq!(canonical("bedrock/x.y"), "x.y");
        assert_eq!(canonical("openai/gpt-5"), "openai/gpt-5");
    }

    #[tokio::test]
    async fn each_provider_gets_its_own_model_id() {
        use crate::clients::llm::ScriptedLlm;
        let bedrock = Arc::new(ScriptedLlm::new(|r| Ok(format!("bedrock:{}", r.model))));
        let openai = Arc::new(ScriptedLlm::new(|r| Ok(format!("openai:{}", r.model))));
        let router = Router::new(BTreeMap::from([
            ("bedrock".to_owned(), bedrock.clone() as Arc<dyn LlmClient>),
            ("openai".to_owned(), openai.clone() as Arc<dyn LlmClient>),
        ]));
        let ask =
            |model: &str| LlmRequest::single(model.to_owned(), ("s".into(), "u".into()), 10, 0.0);
        let a = router.converse(&ask("openai/gpt-5-mini")).await.unwrap();
        assert_eq!(a.text, "openai:gpt-5-mini");
        let b = router
            .converse(&ask("us.anthropic.claude-sonnet-4-6"))
            .await
            .unwrap();
        assert_eq!(b.text, "bedrock:us.anthropic.claude-sonnet-4-6");
        match router.converse(&ask("nowhere/m")).await {
            Err(e @ LlmError::UnknownProvider { .. }) => {
                assert!(!e.is_retryable());
                assert!(e.to_string().contains("bedrock, openai"), "{e}");
            }
            other => panic!("expected UnknownProvider, got {other:?}"),
        }
        assert_eq!((bedrock.calls(), openai.calls()), (1, 1));
    }
}
