//! PlanRepository: the repository's plan from the paper context (summaries as the map, the
//! whole paper when it fits the code model's context), the paper's structure and code examples;
//! checked ([`crate::repo::Plan::normalized`]), one repair request for an answer that is not a
//! valid plan. Also the code examples: files of accepted repositories of earlier papers (kept
//! under `examples/` in the blob store when a repository is accepted) and the user's own folder.

use crate::prelude::*;
use crate::repo::{Plan, rank};

/// At most this many example files go into one prompt, each cut to this many characters.
const EXAMPLES: usize = 3;
const EXAMPLE_CHARS: usize = 4_000;
/// Examples considered, at most (the newest stored first is not guaranteed: any this many).
const EXAMPLE_POOL: usize = 400;

/// The paper context of a repository: the summaries, and the paper's own text when the whole
/// paper fits in half the code model's context window.
pub(crate) async fn repository_context(
    d: &Call<'_>,
    title: &str,
    target: &str,
    dataset: &str,
    summaries: &[BlobRef],
    chunks: &[BlobRef],
    model: &str,
) -> Result<String, Classified> {
    let mut texts = Vec::with_capacity(summaries.len());
    for s in summaries {
        texts.push(d.blobs.get_text(s).await?);
    }
    let mut context = prompts::paper_context(title, target, dataset, &texts);
    let window = d
        .settings
        .model_info(model)
        .map(|r| r.info.context_tokens)
        .unwrap_or(0);
    let total: u64 = chunks.iter().map(|c| c.bytes).sum();
    // ~4 characters a token; half the window leaves room for the plan, files and answer.
    if total > 0 && total / 4 < window / 2 {
        let mut whole = String::from("<paper-text>\n");
        for c in chunks {
            whole.push_str(&d.blobs.get_text(c).await?);
            whole.push_str("\n\n");
        }
        whole.push_str("</paper-text>\n\n");
        context.push_str(&whole);
    }
    Ok(context)
}

/// The example files that best match `query`: (source, text), at most [`EXAMPLES`]. The
/// paper's own earlier repositories are not examples for it (a rerun sends the same prompts and
/// is answered from the cache).
pub(crate) async fn code_examples(
    d: &Call<'_>,
    paper_id: &str,
    query: &str,
) -> Vec<(String, String)> {
    let mut pool: Vec<(String, String)> = Vec::new();
    let own = format!("examples/{paper_id}/");
    if let Ok(keys) = d.blobs.list("examples", EXAMPLE_POOL).await {
        for key in keys
            .into_iter()
            .filter(|k| k.ends_with(".py") && !k.starts_with(&own))
        {
            if let Ok(Some(bytes)) = d.blobs.try_get_uri(&d.blobs.uri_of(&key)).await {
                pool.push((key, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    let folder = d.settings.code_examples.trim();
    if !folder.is_empty()
        && let Ok(entries) = std::fs::read_dir(folder)
    {
        let mut files: Vec<std::path::PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "py") && p.is_file())
            .collect();
        files.sort();
        for p in files.into_iter().take(EXAMPLE_POOL) {
            if let Ok(text) = std::fs::read_to_string(&p) {
                pool.push((p.display().to_string(), text));
            }
        }
    }
    if pool.is_empty() {
        return Vec::new();
    }
    let texts: Vec<String> = pool.iter().map(|(_, t)| t.clone()).collect();
    let query = query.to_owned();
    // Off the async threads: the activity's heartbeats go on while BM25 indexes the pool.
    let ranked = tokio::task::spawn_blocking(move || rank(&query, &texts))
        .await
        .unwrap_or_default();
    ranked
        .into_iter()
        .take(EXAMPLES)
        .map(|(_, i)| {
            let (source, text) = &pool[i];
            (source.clone(), text.chars().take(EXAMPLE_CHARS).collect())
        })
        .collect()
}

/// PlanRepository: the plan, checked; stored as JSON.
pub async fn plan_repository(d: Call<'_>, input: PlanRepositoryInput) -> Out<RepoPlanRef> {
    let model = d.settings.model_for(ModelRole::Code, &input.model)?;
    let chunk_blobs: Vec<BlobRef> = input.chunks.iter().map(|c| c.text.clone()).collect();
    let context = repository_context(
        &d,
        &input.title,
        &input.target,
        &input.dataset,
        &input.summaries,
        &chunk_blobs,
        &model,
    )
    .await?;
    let mut sections: Vec<String> = Vec::new();
    for c in &input.chunks {
        for t in &c.section_titles {
            if sections.last() != Some(t) {
                sections.push(t.chars().take(160).collect());
            }
        }
    }
    sections.truncate(200);
    let examples = code_examples(
        &d,
        &input.paper_id,
        &format!("{} {}", input.title, sections.join(" ")),
    )
    .await;
    let related_work = match &input.related_work {
        Some(advice) => d.text(advice).await?,
        None => String::new(),
    };
    let prompt = prompts::plan_repository(
        &input.target,
        &context,
        &sections,
        &examples,
        &related_work,
        MAX_PLANNED_FILES,
    );
    let mut request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.2)
        .with_cache_prefix(context.len());
    let mut usage = LlmUsage::default();
    let problem = std::sync::Mutex::new(String::new());
    let plan = d
        .converse_json(&mut request, &mut usage, |answer| {
            let (start, end) = (answer.find('{')?, answer.rfind('}')?);
            let parsed = serde_json::from_str::<Plan>(answer.get(start..=end)?)
                .map_err(|e| e.to_string())
                .and_then(Plan::normalized);
            match parsed {
                Ok(plan) => Some(plan),
                Err(e) => {
                    *problem.lock().unwrap_or_else(|p| p.into_inner()) = e;
                    None
                }
            }
        })
        .await?
        .ok_or_else(|| {
            permanent(
                "PlanNotValid",
                format!(
                    "model {} answered the repository plan twice without a valid plan: {}",
                    request.model,
                    problem.lock().unwrap_or_else(|p| p.into_inner())
                ),
            )
        })?;
    let key = format!(
        "contexts/{}/{}.md",
        input.paper_id,
        short(&sha256_hex(context.as_bytes()))
    );
    let context = d.blobs.put(&key, context).await?;
    store_plan(&d, &input.paper_id, &plan, usage, Some(context)).await
}

/// Stores `plan` and says what the workflow needs of it.
pub(crate) async fn store_plan(
    d: &Call<'_>,
    paper_id: &str,
    plan: &Plan,
    usage: LlmUsage,
    context: Option<BlobRef>,
) -> Out<RepoPlanRef> {
    let json = serde_json::to_vec_pretty(plan).expect("a plan serialises");
    let key = format!("plans/{paper_id}/{}.json", short(&sha256_hex(&json)));
    let blob = d.blobs.put(&key, json).await?;
    Ok(RepoPlanRef {
        plan: blob,
        files: plan.planned_files(),
        entry: plan.entry.clone(),
        summary: plan.summary.clone(),
        usage,
        context,
    })
}
