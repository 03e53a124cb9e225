//! FixCode: the whole fixed file.

use crate::prelude::*;

/// FixCode: the whole fixed file.
pub async fn fix_code(d: Call<'_>, input: FixCodeInput) -> Out<CodeRef> {
    let code = d.text(&input.code).await?;
    let context = match &input.context {
        Some(c) => Some(d.text(c).await?),
        None => None,
    };
    let own = match &input.repository {
        Some(repo) => {
            let (plan, others, _) = crate::llm::review_code::repository_parts(&d, repo).await?;
            prompts::fix_file(
                &input.target,
                &plan,
                &repo.path,
                &code,
                &others,
                &input.findings,
            )
        }
        None => prompts::fix(&input.target, &code, &input.findings),
    };
    let (prompt, prefix) = prompts::with_context(context.as_deref(), own);
    let model = d.settings.model_for(ModelRole::Fix, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.0)
        .with_cache_prefix(prefix);
    let mut usage = LlmUsage::default();
    let fixed = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
    let code = d
        .put_code(
            &input.paper_id,
            &match &input.repository {
                Some(r) => format!("fix-{}-{}", input.round, r.path.replace('/', "-")),
                None => format!("fix-{}", input.round),
            },
            &fixed,
        )
        .await?;
    Ok(CodeRef {
        code,
        usage,
        context: None,
    })
}
