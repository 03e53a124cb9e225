//! GenerateCode: the summaries through the strong model, continued past the token limit.

use crate::prelude::*;

/// GenerateCode: the summaries through the strong model, continued past the token limit.
pub async fn generate_code(d: Call<'_>, input: GenerateCodeInput) -> Out<CodeRef> {
    let mut summaries = Vec::with_capacity(input.summaries.len());
    for s in &input.summaries {
        summaries.push(d.blobs.get_text(s).await?);
    }
    let dataset = input.dataset.as_deref().unwrap_or("synthetic");
    let prompt = prompts::generate(&input.title, &input.target, dataset, &summaries);
    let model = d.settings.model_for(ModelRole::Code, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.2);
    let mut usage = LlmUsage::default();
    let code = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
    let code = d.put_code(&input.paper_id, "generated", &code).await?;
    Ok(CodeRef { code, usage })
}
