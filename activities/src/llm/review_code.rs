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
    let own = match &input.repository {
        // One file of a repository: reviewed for fidelity too, against the plan and the
        // paper's passages it was written from.
        Some(repo) => {
            let (plan, others, passages) = repository_parts(&d, repo).await?;
            prompts::review_file(
                &input.title,
                &input.target,
                &plan,
                &repo.path,
                &code,
                &others,
                &passages,
                &input.check.findings,
            )
        }
        None => prompts::review(&input.title, &input.target, &code, &input.check.findings),
    };
    let (prompt, prefix) = prompts::with_context(context.as_deref(), own);
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
    let mut parsed = parsed;
    if let Some(repo) = &input.repository {
        for f in &mut parsed.findings {
            f.file = repo.path.clone();
        }
    }
    let json = serde_json::to_vec_pretty(&parsed).expect("review serialises");
    let key = format!(
        "reviews/{}/round-{}{}-{}.json",
        input.paper_id,
        input.round,
        input
            .repository
            .as_ref()
            .map(|r| format!("-{}", r.path.replace('/', "-")))
            .unwrap_or_default(),
        short(&sha256_hex(&json))
    );
    let review = d.blobs.put(&key, json).await?;
    Ok(ReviewRef {
        review,
        findings: parsed.findings,
        usage,
    })
}

/// The plan (JSON), the other files' interfaces and the file's passages, for a repository file's
/// review or fix prompt.
pub(crate) async fn repository_parts(
    d: &Call<'_>,
    repo: &RepoFileContext,
) -> Result<(String, Vec<(String, String)>, Vec<String>), Classified> {
    let plan = d.text(&repo.plan).await?;
    let mut others = Vec::new();
    for o in &repo.others {
        others.push((
            o.path.clone(),
            crate::repo::interface(&d.text(&o.code).await?),
        ));
    }
    let passages = match &repo.grounding {
        Some(g) => d
            .text(g)
            .await?
            .split("\n\n")
            .map(str::to_owned)
            .filter(|p| !p.trim().is_empty())
            .collect(),
        None => Vec::new(),
    };
    Ok((plan, others, passages))
}
