//! `annapurna complete FILE --paper ID [--output PATH]`: fills the blocks of a half-written
//! implementation from a stored paper, by the path a benchmark snippet takes (`CompleteCode` →
//! `AnswerSnippet`). Blocks are tagged as the benchmark tags them (`# <paper2code name="…">` …
//! `# </paper2code name="…">`, with no code inside yet) or marked by a `# TODO` line, which is
//! replaced.

use std::collections::BTreeMap;
use std::path::PathBuf;

use activities::clients::blobs::{BlobStore, sha256_hex};
use activities::eval::bundle::Bundle;
use activities::eval::task_format;
use anyhow::{Context, bail};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use workflows::CompleteCode;
use workflows::names::TASK_QUEUE;
use workflows::types::*;

use crate::config::Config;

/// `annapurna complete`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CompleteArgs {
    /// The Python file.
    pub file: PathBuf,
    /// The stored paper it implements (`annapurna paper list`).
    #[arg(long)]
    pub paper: String,
    /// Write the completed file here (default: stdout).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The code model (default: the configured one).
    #[arg(long)]
    pub code_model: Option<String>,
}

/// The name this command gives the block of the TODO line `n` (1-based).
fn todo_name(n: usize) -> String {
    format!("todo-line-{n}")
}

/// `text` with every `# TODO` line wrapped in tags of its own (none when the file has tags).
fn tag_todos(text: &str) -> String {
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("# TODO") || trimmed.starts_with("#TODO") {
            let indent = &line[..line.len() - trimmed.len()];
            let name = todo_name(n + 1);
            out.push_str(&format!("{indent}# <paper2code name=\"{name}\">\n{line}\n{indent}# </paper2code name=\"{name}\">\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Whether a block has no code yet (only blank lines and comments).
fn is_empty_block(text: &str, s: &task_format::Snippet) -> bool {
    text.lines()
        .skip(s.open + 1)
        .take(s.close - s.open - 1)
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// Fills the file's blocks; prints or writes it.
pub async fn run(config: &Config, args: CompleteArgs) -> anyhow::Result<()> {
    let original = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("FILE must name a file")?;
    let tagged = task_format::parse_tags(&name, &original)?;
    let (text, todo_tags) = if tagged.is_empty() {
        (tag_todos(&original), true)
    } else {
        (original.clone(), false)
    };
    let snippets: Vec<task_format::Snippet> = task_format::parse_tags(&name, &text)?
        .into_iter()
        .filter(|s| is_empty_block(&text, s))
        .collect();
    if snippets.is_empty() {
        bail!(
            "{}: nothing to fill: mark a block with a `# TODO` line, or tag it `# <paper2code name=\"…\">` … `# </paper2code name=\"…\">` with no code inside",
            args.file.display()
        );
    }
    // A one-file task: the file, and the empty test entry point the format asks for (nothing
    // is run here).
    let files: BTreeMap<String, Vec<u8>> = [
        (name.clone(), text.clone().into_bytes()),
        ("paper2code_test.py".to_owned(), Vec::new()),
        (
            "paper2code.yaml".to_owned(),
            format!("mask_file_path: {name}\n").into_bytes(),
        ),
    ]
    .into_iter()
    .collect();
    let bytes = serde_json::to_vec(&Bundle::new(&name, &files))?;
    let blobs = BlobStore::open(&config.storage.blobs)?;
    let bundle = blobs
        .put(
            &format!("complete/{}.json", &sha256_hex(&bytes)[..16]),
            bytes,
        )
        .await?;
    let input = CompleteCodeInput {
        paper_id: args.paper.clone(),
        bundle: Some(bundle),
        blocks: snippets
            .iter()
            .map(|s| EvalSnippet {
                file: name.clone(),
                name: s.name.clone(),
                lines: s.code_lines,
                depth: s.depth,
            })
            .collect(),
        code_model: args.code_model.clone(),
        summary_model: None,
    };
    let client = crate::wiring::temporal_client(None).await?;
    let id = format!(
        "complete/{}/{}",
        args.paper,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let handle = client
        .start_workflow(
            CompleteCode::run,
            input,
            WorkflowStartOptions::new(TASK_QUEUE, &id).build(),
        )
        .await
        .with_context(|| format!("starting {id}"))?;
    eprintln!(
        "started {id}: {} blocks of {}",
        snippets.len(),
        args.file.display()
    );
    let out = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .with_context(|| format!("{id} did not complete"))?;
    // Bottom up, so that the line numbers of the blocks above stay right.
    let mut filled = text;
    for s in snippets.iter().rev() {
        let block = out
            .blocks
            .iter()
            .find(|b| b.name == s.name)
            .with_context(|| format!("no answer for block {}", s.name))?;
        let answer = blobs.get_text(&block.answer).await?;
        filled = task_format::fill(&filled, s, &answer, false);
    }
    if todo_tags {
        // The tags were this command's own: only the code stays.
        filled = filled
            .lines()
            .filter(|l| {
                let t = l.trim();
                !(t.starts_with("# <paper2code name=\"todo-line-")
                    || t.starts_with("# </paper2code name=\"todo-line-"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
    }
    match &args.output {
        Some(path) => std::fs::write(path, &filled)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{filled}"),
    }
    eprintln!(
        "{} blocks filled; tokens {} in / {} out, ≈ ${:.4}",
        out.blocks.len(),
        out.input_tokens,
        out.output_tokens,
        out.cost_microusd as f64 / 1e6
    );
    if out.standin {
        eprintln!(
            "NOTE: the answers came from the Bedrock stand-in (templates, not a model's code)."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todo_lines_become_blocks_and_filled_blocks_are_left_alone() {
        let text = "def f(x):\n    # TODO: the gate\n    return x\n";
        let tagged = tag_todos(text);
        let s = task_format::parse_tags("f.py", &tagged).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "todo-line-2");
        assert_eq!(s[0].indent, "    ");
        assert!(is_empty_block(&tagged, &s[0]));
        let filled = task_format::fill(&tagged, &s[0], "g = x * 2\n", false);
        assert!(filled.contains("\n    g = x * 2\n"), "{filled}");
        let done = "# <paper2code name=\"a\">\nx = 1\n# </paper2code name=\"a\">\n";
        let s = task_format::parse_tags("f.py", done).unwrap();
        assert!(!is_empty_block(done, &s[0]));
    }
}
