//! AnswerSnippet: one masked block of a benchmark task filled in, and the program that tests it
//! on a copy of the task folder. Oracle answers put the original back and empty answers leave the
//! TODO, without a model call; model answers come from the code model given the paper's chunk
//! summaries, the paragraphs whose words best match the code around the block, the task's context
//! files and the file with the block masked.

use crate::eval::{program, retrieve, task_format};
use crate::local::prepare_eval_task::{load_bundle, task_prefix};
use crate::prelude::*;

/// Characters of the paper's best-matching paragraphs given to the model beside the summaries
/// (about 3,000 tokens).
const PASSAGE_CHARS: usize = 12_000;
/// Lines around the block whose words choose the passages.
const AROUND_LINES: usize = 30;
/// Characters of each context file given to the model.
const CONTEXT_CHARS: usize = 20_000;

/// AnswerSnippet: the block filled in (oracle, empty or model) and the test program of a copy of
/// the task folder with it in place.
pub async fn answer_snippet(d: Call<'_>, input: AnswerSnippetInput) -> Out<SnippetAnswer> {
    let bundle = load_bundle(&d, &input.bundle).await?;
    let task = task_format::parse_task(&input.task, bundle.bytes())
        .map_err(|e| permanent("TaskFormat", e.to_string()))?;
    let snippet = task
        .snippets
        .iter()
        .find(|s| s.file == input.snippet.file && s.name == input.snippet.name)
        .ok_or_else(|| {
            permanent(
                "SnippetNotFound",
                format!(
                    "{}: no snippet {:?} in {}",
                    input.task, input.snippet.name, input.snippet.file
                ),
            )
        })?;
    let text = task.text(&snippet.file);
    let mut usage = LlmUsage::default();
    let (answer, verbatim) = match input.mode {
        AnswerMode::Oracle => (task_format::original(text, snippet), true),
        AnswerMode::Empty => (format!("{}\n", task_format::todo_line(snippet)), true),
        AnswerMode::Model => (
            ask_model(&d, &input, &task, snippet, &mut usage).await?,
            false,
        ),
    };
    let filled = task_format::fill(text, snippet, &answer, verbatim);
    let mut files = task.files.clone();
    files.insert(snippet.file.clone(), filled.into_bytes());
    let label = format!("{}:{} ({})", snippet.file, snippet.name, input.mode);
    let prog = program::program(&task.name, &label, &files, &task.test_entry);
    let prefix = format!(
        "{}/{}",
        task_prefix(&input.suite_run, &input.task),
        short(&sha256_hex(
            format!("{}\0{}", snippet.file, snippet.name).as_bytes()
        ))
    );
    let answer = d
        .blobs
        .put(
            &format!(
                "{prefix}/{}-answer-{}.py",
                input.mode,
                short(&sha256_hex(answer.as_bytes()))
            ),
            answer,
        )
        .await?;
    let program = d
        .blobs
        .put(
            &format!(
                "{prefix}/{}-program-{}.py",
                input.mode,
                short(&sha256_hex(prog.as_bytes()))
            ),
            prog,
        )
        .await?;
    Ok(SnippetAnswer {
        answer,
        program,
        usage,
    })
}

/// The code model's block: the answer's code block, at no particular indentation.
async fn ask_model(
    d: &Call<'_>,
    input: &AnswerSnippetInput,
    task: &task_format::Task,
    snippet: &task_format::Snippet,
    usage: &mut LlmUsage,
) -> Result<String, Classified> {
    let text = task.text(&snippet.file);
    let masked = task_format::mask(text, snippet);
    let mut summaries = Vec::with_capacity(input.summaries.len());
    for s in &input.summaries {
        summaries.push(d.blobs.get_text(s).await?);
    }
    let mut chunks = Vec::with_capacity(input.chunks.len());
    for c in &input.chunks {
        chunks.push(d.blobs.get_text(&c.text).await?);
    }
    // The code around the block (the block itself is what is asked for, so not its lines).
    let around = retrieve::around(&masked, snippet.open, snippet.open + 2, AROUND_LINES);
    let passages = retrieve::best_paragraphs(&around, &chunks, PASSAGE_CHARS);
    let context: Vec<(String, String)> = task
        .context_files
        .iter()
        .map(|f| {
            (
                f.clone(),
                task.text(f).chars().take(CONTEXT_CHARS).collect(),
            )
        })
        .collect();
    let prompt = prompts::answer_snippet(
        &input.title,
        &snippet.file,
        &snippet.name,
        &masked,
        &summaries,
        &passages,
        &context,
    );
    let model = d.settings.model_for(ModelRole::Code, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.code_max_tokens, 0.0);
    let answer = prompts::code_block(&d.converse_whole(request, usage).await?);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::eval::bundle::Bundle;
    use crate::llm::LlmActivities;

    const CODE: &str = "import math\n\n\ndef attention(q, k):\n    # <paper2code name=\"scores\">\n    s = q @ k / math.sqrt(k.shape[-1])\n    # </paper2code name=\"scores\">\n    return s\n";

    /// The model path: the prompt holds the summaries, the chunk that matches the code around
    /// the block (not the others), the context file and the masked file (never the original
    /// block); the answer, written at no indentation, lands at the block's in the test program.
    #[tokio::test]
    async fn the_model_gets_summaries_matching_passages_and_the_masked_file() {
        let seen: Arc<Mutex<Vec<LlmRequest>>> = Default::default();
        let record = seen.clone();
        let f = crate::llm::tests::fixture(move |req: &LlmRequest| {
            record.lock().unwrap().push(req.clone());
            Ok("```python\nscores = q @ k.transpose(-1, -2)\ns = scores / math.sqrt(k.shape[-1])\n```".to_owned())
        });
        let deps = &f.deps;
        let files: BTreeMap<String, Vec<u8>> = [
            ("attn.py", CODE),
            ("helpers.py", "def scale_helper():\n    return 2\n"),
            ("paper2code_test.py", "import attn\n"),
            (
                "paper2code.yaml",
                "mask_file_path: attn.py\ncontext_file_paths: [helpers.py]\n",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
        .collect();
        let bundle = serde_json::to_vec(&Bundle::new("t", &files)).unwrap();
        let bundle = deps.blobs.put("eval/tasks/t.json", bundle).await.unwrap();
        let mut chunks = Vec::new();
        for (i, text) in [
            "We thank our funders and colleagues.",
            "Attention scores are the product of queries and keys scaled by the square root of the key dimension.",
        ]
        .into_iter()
        .enumerate()
        {
            chunks.push(ChunkRef {
                index: i as u32,
                text: deps.blobs.put(&format!("chunks/p/{i}.txt"), text).await.unwrap(),
                section_titles: vec![],
                characters: text.len() as u64,
                kind: SectionKind::Main,
            });
        }
        let summary = deps
            .blobs
            .put("summaries/p/0.txt", "SUMMARY: scaled dot products.")
            .await
            .unwrap();
        let input = AnswerSnippetInput {
            suite_run: "run".into(),
            task: "t".into(),
            bundle,
            snippet: EvalSnippet {
                file: "attn.py".into(),
                name: "scores".into(),
                lines: 1,
                depth: 0,
            },
            mode: AnswerMode::Model,
            summaries: vec![summary],
            chunks,
            title: "Scaled attention".into(),
            model: None,
        };
        let out = crate::llm::tests::env(&f)
            .run(LlmActivities::answer_snippet, input)
            .await
            .unwrap();
        assert_eq!(out.usage.calls, 1);
        let requests = seen.lock().unwrap().clone();
        let prompt = &requests[0].messages[0].1;
        assert!(
            requests[0]
                .system
                .starts_with("annapurna-task: answer-snippet")
        );
        assert!(prompt.contains("SUMMARY: scaled dot products."), "{prompt}");
        assert!(
            prompt.contains("square root of the key dimension"),
            "{prompt}"
        );
        assert!(
            !prompt.contains("funders"),
            "only matching passages: {prompt}"
        );
        assert!(
            prompt.contains("def scale_helper"),
            "the context file: {prompt}"
        );
        assert!(
            prompt.contains("# TODO: Implement block \"scores\""),
            "{prompt}"
        );
        assert!(
            !prompt.contains("s = q @ k / math"),
            "the block itself is hidden: {prompt}"
        );
        let program = deps.blobs.get_text(&out.program).await.unwrap();
        assert!(
            program.contains(
                r#"    scores = q @ k.transpose(-1, -2)\n    s = scores / math.sqrt(k.shape[-1])\n"#
            ),
            "the answer at the block's indentation: {program}"
        );
    }
}
