//! GenerateCode: the summaries through the strong model, continued past the token limit; the
//! paper context it wrote from is kept for the review, fix and diagnosis prompts.

use crate::prelude::*;

/// GenerateCode: the summaries through the strong model, continued past the token limit.
pub async fn generate_code(d: Call<'_>, input: GenerateCodeInput) -> Out<CodeRef> {
    let mut summaries = Vec::with_capacity(input.summaries.len());
    for s in &input.summaries {
        summaries.push(d.blobs.get_text(s).await?);
    }
    let dataset = input.dataset.as_deref().unwrap_or("synthetic");
    let context = prompts::paper_context(&input.title, &input.target, dataset, &summaries);
    let prompt = prompts::generate(&input.target, &context);
    let model = d.settings.model_for(ModelRole::Code, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.2)
        .with_cache_prefix(context.len());
    let mut usage = LlmUsage::default();
    let code = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
    let code = d.put_code(&input.paper_id, "generated", &code).await?;
    // Review, fix and diagnosis open their prompts with the same context: stored once, by
    // content, and passed to them by reference.
    let key = format!(
        "contexts/{}/{}.md",
        input.paper_id,
        short(&sha256_hex(context.as_bytes()))
    );
    let context = d.blobs.put(&key, context).await?;
    Ok(CodeRef {
        code,
        usage,
        context: Some(context),
    })
}
