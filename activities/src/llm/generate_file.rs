//! GenerateFile: one file of the planned repository with the strong model, continued past the
//! token limit. Its prompt opens with the paper context (cached), then the plan, the files it
//! imports as written (their interfaces when long), the paper's passages for this file (BM25
//! over the paper's own paragraphs, in its exact words) and the best-matching code examples.

use crate::prelude::*;
use crate::repo::{Plan, grounding, grounding_query, interface};

/// The paper's passages for one file, at most this many characters.
const GROUNDING_CHARS: usize = 12_000;
/// A file it imports goes in whole up to this size, else as its interface.
const WHOLE_FILE_CHARS: usize = 6_000;

/// The plan, read back (it was checked when stored).
pub(crate) async fn load_plan(d: &Call<'_>, plan: &BlobRef) -> Result<(Plan, String), Classified> {
    let text = d.text(plan).await?;
    let parsed: Plan = serde_json::from_str(&text).map_err(|e| {
        permanent(
            "PlanNotValid",
            format!("the stored plan does not read: {e}"),
        )
    })?;
    Ok((parsed, text))
}

/// The paper's passages for `path` of `plan`.
pub(crate) async fn passages(
    d: &Call<'_>,
    plan: &Plan,
    path: &str,
    chunks: &[BlobRef],
) -> Result<Vec<String>, Classified> {
    let Some(file) = plan.file(path) else {
        return Ok(Vec::new());
    };
    let mut texts = Vec::with_capacity(chunks.len());
    for c in chunks {
        texts.push(d.text(c).await?);
    }
    // BM25 over a long paper's paragraphs is seconds of CPU: off the async threads, so the
    // activity's heartbeats go on meanwhile (a 232-chunk paper timed them out).
    let query = grounding_query(file);
    tokio::task::spawn_blocking(move || grounding(&query, &texts, GROUNDING_CHARS))
        .await
        .map_err(|e| transient("GroundingFailed", e.to_string()))
}

/// GenerateFile: the file, and the passages it was written from.
pub async fn generate_file(d: Call<'_>, input: GenerateFileInput) -> Out<FileRef> {
    let (plan, plan_json) = load_plan(&d, &input.plan).await?;
    let Some(file) = plan.file(&input.path) else {
        return Err(permanent(
            "FileNotPlanned",
            format!("{:?} is not a file of the plan", input.path),
        ));
    };
    let passages = passages(&d, &plan, &input.path, &input.chunks).await?;
    let mut written = Vec::new();
    for w in &input.written {
        let code = d.text(&w.code).await?;
        let shown = if code.chars().count() <= WHOLE_FILE_CHARS {
            code
        } else {
            interface(&code)
        };
        written.push((w.path.clone(), shown));
    }
    let examples =
        crate::llm::plan_repository::code_examples(&d, &input.paper_id, &grounding_query(file))
            .await;
    let context = match &input.context {
        Some(c) => d.text(c).await?,
        None => String::new(),
    };
    let prompt = prompts::generate_file(
        &input.target,
        &context,
        &plan_json,
        &input.path,
        input.path == plan.entry,
        &written,
        &passages,
        &examples,
    );
    let model = d.settings.model_for(ModelRole::Code, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.2)
        .with_cache_prefix(context.len());
    let mut usage = LlmUsage::default();
    let code = prompts::code_block(&d.converse_whole(request, &mut usage).await?);
    let step = format!("file-{}", input.path.replace('/', "-"));
    let code = d.put_code(&input.paper_id, &step, &code).await?;
    let grounding_text = passages.join("\n\n");
    let key = format!(
        "grounding/{}/{}-{}.md",
        input.paper_id,
        input.path.replace('/', "-"),
        short(&sha256_hex(grounding_text.as_bytes()))
    );
    let grounding = d.blobs.put(&key, grounding_text).await?;
    Ok(FileRef {
        path: input.path,
        code,
        grounding,
        usage,
    })
}
