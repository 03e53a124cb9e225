//! PrepareEvalTask: a stored task folder parsed (tags, yaml), the program of its reference run,
//! and (for the model) its paper added to the paper store.

use crate::eval::bundle::Bundle;
use crate::eval::{program, task_format};
use crate::prelude::*;

/// The blob key prefix of a suite's task: `eval/<suite-run>/<task>`.
pub(crate) fn task_prefix(suite_run: &str, task: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("eval/{}/{}", clean(suite_run), clean(task))
}

/// The bundle a blob holds.
pub(crate) async fn load_bundle(d: &Call<'_>, blob: &BlobRef) -> Result<Bundle, Classified> {
    let bytes = d.blobs.get(blob).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        permanent(
            "BadTaskBundle",
            format!(
                "the task bundle {} is not a task folder's bundle: {e}",
                blob.uri
            ),
        )
    })
}

/// PrepareEvalTask: a stored task folder parsed (tags, yaml), the program of its reference run,
/// and (for the model) its paper added to the paper store. A folder that does not parse comes
/// back with its `problem` (file and line), not as a failure: the suite reports it as broken.
pub async fn prepare_eval_task(d: Call<'_>, input: PrepareEvalTaskInput) -> Out<EvalTask> {
    let bundle = load_bundle(&d, &input.task.bundle).await?;
    let files = bundle.bytes();
    let prefix = task_prefix(&input.suite_run, &input.task.name);
    let task = match task_format::parse_task(&input.task.name, files.clone()) {
        Ok(t) => t,
        Err(e) => {
            return Ok(EvalTask {
                name: input.task.name.clone(),
                bundle: input.task.bundle.clone(),
                reference_program: input.task.bundle.clone(),
                timeout_secs: task_format::DEFAULT_TIMEOUT_SECS,
                snippets: Vec::new(),
                problem: Some(e.to_string()),
                paper: None,
            });
        }
    };
    let reference = program::program(&task.name, "reference", &files, &task.test_entry);
    let reference_program = d
        .blobs
        .put(
            &format!(
                "{prefix}/reference-{}.py",
                short(&sha256_hex(reference.as_bytes()))
            ),
            reference,
        )
        .await?;
    let paper = match (&task.paper, input.store_paper) {
        (Some(path), true) => {
            let format = crate::extract::Format::from_path(path).ok_or_else(|| {
                permanent(
                    "UnsupportedPaper",
                    format!(
                        "{}: the paper {path} is not .tex, .md, .txt or .pdf",
                        task.name
                    ),
                )
            })?;
            let provenance = Provenance {
                title: None,
                origin: None,
                stage: String::new(),
            };
            let (record, _) = add_bytes(
                &d.blobs,
                &d.papers,
                files[path].clone(),
                format,
                format!("eval:{}/{path}", task.name),
                provenance,
            )
            .await?;
            Some(paper_ref(&record))
        }
        _ => None,
    };
    Ok(EvalTask {
        name: task.name.clone(),
        bundle: input.task.bundle.clone(),
        reference_program,
        timeout_secs: task.timeout_secs,
        snippets: task
            .snippets
            .iter()
            .map(|s| EvalSnippet {
                file: s.file.clone(),
                name: s.name.clone(),
                lines: s.code_lines,
                depth: s.depth,
            })
            .collect(),
        problem: None,
        paper,
    })
}
