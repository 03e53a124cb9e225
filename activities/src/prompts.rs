//! Prompts, one function per request kind. Every system prompt opens with an
//! `annapurna-task: <kind>` line: it tells the model the job in one line and lets the Bedrock
//! stand-in pick its template. [`PROMPT_VERSION`] is part of every LLM cache key, so changing a
//! prompt means bumping it.

use workflows::types::Finding;

/// Version of the prompts below.
pub const PROMPT_VERSION: &str = "p1";

/// The request kinds.
pub mod kind {
    /// Summarise a chunk.
    pub const SUMMARIZE: &str = "summarize-chunk";
    /// Write code from summaries.
    pub const GENERATE: &str = "generate-code";
    /// Review code, answer JSON.
    pub const REVIEW: &str = "review-code";
    /// Fix code, answer code.
    pub const FIX: &str = "fix-code";
    /// Choose a dataset, answer JSON.
    pub const DATASET: &str = "recommend-dataset";
}

fn system(kind: &str, body: &str) -> String {
    format!("annapurna-task: {kind}\n{body}")
}

/// The contract every generated script follows, stated once for generation and fixes.
const RUN_CONTRACT: &str = "The script must be a single self-contained Python file using PyTorch; \
it must not download anything (use synthetic data or a dataset already on disk); it must train for \
a small, bounded number of epochs; after each epoch it must print one line `METRICS: {json}` with at \
least `epoch` and `loss`; it must finish in minutes on the target.";

/// Summarise chunk `index` of `count`.
pub fn summarize(
    title: &str,
    index: u32,
    count: u32,
    sections: &[String],
    chunk: &str,
) -> (String, String) {
    let system = system(
        kind::SUMMARIZE,
        "You summarise one part of a machine-learning research paper for an engineer who will \
         implement it in PyTorch. Keep every equation, hyperparameter, architecture detail, \
         dataset and training-procedure fact; drop related work and prose. Answer in Markdown.",
    );
    let user = format!(
        "Paper: {title}\nPart {} of {count}; sections: {}\n\n<paper-part>\n{chunk}\n</paper-part>",
        index + 1,
        if sections.is_empty() {
            "(continuation)".to_owned()
        } else {
            sections.join("; ")
        }
    );
    (system, user)
}

/// Choose a dataset from the catalogue; the answer is JSON.
pub fn dataset(
    title: &str,
    catalogue: &[String],
    mentioned: &[String],
    excerpt: &str,
) -> (String, String) {
    let system = system(
        kind::DATASET,
        &format!(
            "You choose the dataset on which to reproduce a machine-learning paper's method at \
             small scale. Choose only from this catalogue: {}. Prefer the catalogue dataset \
             closest to the paper's own data; choose `synthetic` when none fits. Answer with JSON \
             only: {{\"dataset\": string, \"reasons\": [string]}}.",
            catalogue.join(", ")
        ),
    );
    let user = format!(
        "Paper: {title}\nDatasets it mentions: {}\n\n<paper-start>\n{excerpt}\n</paper-start>",
        if mentioned.is_empty() {
            "(none found)".to_owned()
        } else {
            mentioned.join(", ")
        }
    );
    (system, user)
}

/// Write the code from the summaries.
pub fn generate(
    title: &str,
    target: &str,
    dataset: &str,
    summaries: &[String],
) -> (String, String) {
    let system = system(
        kind::GENERATE,
        &format!(
            "You are a senior ML engineer. Implement the paper's core method in PyTorch for the \
             `{target}` target. {RUN_CONTRACT} Answer with one ```python code block and nothing else."
        ),
    );
    let data = if dataset == "synthetic" {
        "Train on synthetic data generated in the script (e.g. torch.randn), shaped like the paper's data."
            .to_owned()
    } else {
        format!(
            "Train on the `{dataset}` dataset from the pre-staged cache (root \"/datasets\", \
             download=False); fall back to synthetic data when it is missing."
        )
    };
    let mut user = format!(
        "Paper: {title}\nTarget: {target}\nDataset: {dataset}\n{data}\n\nSummaries of the paper, in order:\n"
    );
    for (i, s) in summaries.iter().enumerate() {
        user.push_str(&format!(
            "\n<summary part=\"{}\">\n{s}\n</summary>\n",
            i + 1
        ));
    }
    (system, user)
}

fn findings_text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "(none)".to_owned();
    }
    findings
        .iter()
        .map(|f| {
            format!(
                "- [{}] {} line {}: {}",
                f.severity, f.rule, f.line, f.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Review the code; the answer is strict JSON.
pub fn review(title: &str, target: &str, code: &str, findings: &[Finding]) -> (String, String) {
    let system = system(
        kind::REVIEW,
        &format!(
            "You review PyTorch code written from a research paper for the `{target}` target. \
             {RUN_CONTRACT} Report only real defects. Answer with JSON only, exactly this shape: \
             {{\"summary\": string, \"findings\": [{{\"rule\": string, \"severity\": \"error\"|\"warning\"|\"info\", \
             \"line\": integer, \"message\": string}}]}}. Use severity \"error\" only for defects that \
             stop the script from running or make it wrong."
        ),
    );
    let user = format!(
        "Paper: {title}\n\nStatic checks found:\n{}\n\n```python\n{code}\n```",
        findings_text(findings)
    );
    (system, user)
}

/// Ask again for JSON after an answer that was not.
pub fn review_repair(previous: &str) -> String {
    format!(
        "Your answer was not valid JSON of the required shape. Answer again with the JSON object \
         only, no prose, no code fence. Your previous answer began: {}",
        previous.chars().take(300).collect::<String>()
    )
}

/// Fix the code; the answer is the whole fixed file.
pub fn fix(target: &str, code: &str, findings: &[Finding]) -> (String, String) {
    let system = system(
        kind::FIX,
        &format!(
            "You fix PyTorch code for the `{target}` target. {RUN_CONTRACT} Fix every finding listed, \
             change nothing else, and answer with the whole fixed file in one ```python code block."
        ),
    );
    let user = format!(
        "Findings to fix:\n{}\n\n```python\n{code}\n```",
        findings_text(findings)
    );
    (system, user)
}

/// Continue an answer that stopped at the token limit.
pub const CONTINUE: &str = "Continue exactly where you stopped. Do not repeat anything.";

/// The first ```python block of an answer, or the whole answer when it has none.
pub fn code_block(answer: &str) -> String {
    for fence in ["```python", "```py", "```"] {
        if let Some(start) = answer.find(fence) {
            let body = &answer[start + fence.len()..];
            let body = body.strip_prefix('\n').unwrap_or(body);
            let end = body.find("\n```").map(|e| e + 1).unwrap_or(body.len());
            return body[..end].to_owned();
        }
    }
    answer.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_block_extraction() {
        assert_eq!(
            code_block("Here:\n```python\nprint(1)\n```\nbye"),
            "print(1)\n"
        );
        assert_eq!(code_block("print(2)"), "print(2)");
        // An answer cut before its closing fence keeps everything after the opening one.
        assert_eq!(code_block("```python\nx = (1,\n"), "x = (1,\n");
    }

    #[test]
    fn system_prompts_carry_their_kind() {
        assert!(
            summarize("t", 0, 1, &[], "c")
                .0
                .starts_with("annapurna-task: summarize-chunk\n")
        );
        assert!(
            generate("t", "cpu", "synthetic", &[])
                .0
                .starts_with("annapurna-task: generate-code\n")
        );
        assert!(
            review("t", "cpu", "", &[])
                .0
                .starts_with("annapurna-task: review-code\n")
        );
        assert!(
            fix("cpu", "", &[])
                .0
                .starts_with("annapurna-task: fix-code\n")
        );
    }
}
