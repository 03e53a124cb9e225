//! ReviewCode: findings as strict JSON; one repair request for an answer that is not JSON.

use crate::prelude::*;

/// The review JSON the model must answer with.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ReviewAnswer {
    #[serde(default)]
    pub(crate) summary: String,
    #[serde(default)]
    pub(crate) findings: Vec<Finding>,
}

/// The review in the answer, if it has the required shape: a JSON object whose findings each
/// have a rule, a severity of `error`, `warning` or `info` ([`Severity`]: any other fails to
/// parse), a line and a message.
pub(crate) fn parse_review(answer: &str) -> Option<ReviewAnswer> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let review: ReviewAnswer = serde_json::from_str(answer.get(start..=end)?).ok()?;
    review
        .findings
        .iter()
        .all(|f| !f.rule.is_empty())
        .then_some(review)
}

/// ReviewCode: findings as strict JSON; one repair request for an answer that is not JSON.
pub async fn review_code(d: Call<'_>, input: ReviewCodeInput) -> Out<ReviewRef> {
    let code = d.text(&input.code).await?;
    let context = match &input.context {
        Some(c) => Some(d.text(c).await?),
        None => None,
    };
    let (prompt, prefix) = prompts::with_context(
        context.as_deref(),
        prompts::review(&input.title, &input.target, &code, &input.check.findings),
    );
    let model = d.settings.model_for(ModelRole::Review, &input.model)?;
    let mut request = LlmRequest::single(model, prompt, 2_000, 0.0).with_cache_prefix(prefix);
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
    let review = d.blobs.put(&key, json).await?;
    Ok(ReviewRef {
        review,
        findings: parsed.findings,
        usage,
    })
}
