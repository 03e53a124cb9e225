//! Prompts, one function per request kind, rendered from the versioned templates in
//! `activities/templates/` (minijinja). Every system prompt opens with an
//! `annapurna-task: <kind>` line: it tells the model the job in one line and lets the Bedrock
//! stand-in pick its template. [`PROMPT_VERSION`] is part of every LLM cache key, so changing a
//! prompt means bumping it.

use std::sync::LazyLock;

use minijinja::{Environment, context};
use workflows::types::Finding;

/// Version of the prompts below.
pub const PROMPT_VERSION: &str = "p4";

/// The request kinds: the first line of every system prompt is `annapurna-task: <kind>`. The
/// stand-in reads it back with [`Task::of_system_prompt`], so prompts and stand-in share this
/// type, not a literal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Summarise a chunk.
    Summarize,
    /// Write code from summaries.
    Generate,
    /// Review code, answer JSON.
    Review,
    /// Fix code, answer code.
    Fix,
    /// Choose a dataset, answer JSON.
    Dataset,
    /// Diagnose a failed run, answer JSON.
    Diagnose,
    /// Judge a paper's relevance and novelty, answer JSON.
    Judge,
    /// Fill one masked block of a benchmark task's file, answer code.
    AnswerSnippet,
    /// Plan a repository, answer JSON.
    PlanRepository,
    /// Write one file of a planned repository, answer code.
    GenerateFile,
    /// Say what the most similar stored papers suggest, answer Markdown.
    RelatedWork,
}

impl Task {
    /// Every kind.
    pub const ALL: [Task; 11] = [
        Task::Summarize,
        Task::Generate,
        Task::Review,
        Task::Fix,
        Task::Dataset,
        Task::Diagnose,
        Task::Judge,
        Task::AnswerSnippet,
        Task::PlanRepository,
        Task::GenerateFile,
        Task::RelatedWork,
    ];

    /// The pinned name, as in the `annapurna-task:` line and the stand-in's statistics.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Summarize => "summarize-chunk",
            Task::Generate => "generate-code",
            Task::Review => "review-code",
            Task::Fix => "fix-code",
            Task::Dataset => "recommend-dataset",
            Task::Diagnose => "diagnose-failure",
            Task::Judge => "judge-paper",
            Task::AnswerSnippet => "answer-snippet",
            Task::PlanRepository => "plan-repository",
            Task::GenerateFile => "generate-file",
            Task::RelatedWork => "related-work",
        }
    }

    /// The kind a system prompt declares on its first line, if any.
    pub fn of_system_prompt(system: &str) -> Option<Task> {
        let line = system
            .lines()
            .next()?
            .strip_prefix("annapurna-task: ")?
            .trim();
        Task::ALL.into_iter().find(|t| t.as_str() == line)
    }
}

/// The templates, one per prompt part, in `activities/templates/`; `target_notes` and
/// `run_contract` are included where the target's pitfalls and the run contract matter.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in [
        ("target_notes", include_str!("../templates/target_notes.j2")),
        ("context", include_str!("../templates/context.j2")),
        ("run_contract", include_str!("../templates/run_contract.j2")),
        (
            "summarize.system",
            include_str!("../templates/summarize.system.j2"),
        ),
        (
            "summarize.user",
            include_str!("../templates/summarize.user.j2"),
        ),
        (
            "dataset.system",
            include_str!("../templates/dataset.system.j2"),
        ),
        ("dataset.user", include_str!("../templates/dataset.user.j2")),
        (
            "generate.system",
            include_str!("../templates/generate.system.j2"),
        ),
        (
            "generate.user",
            include_str!("../templates/generate.user.j2"),
        ),
        (
            "review.system",
            include_str!("../templates/review.system.j2"),
        ),
        ("review.user", include_str!("../templates/review.user.j2")),
        ("fix.system", include_str!("../templates/fix.system.j2")),
        (
            "diagnose.system",
            include_str!("../templates/diagnose.system.j2"),
        ),
        (
            "diagnose.user",
            include_str!("../templates/diagnose.user.j2"),
        ),
        ("fix.user", include_str!("../templates/fix.user.j2")),
        ("judge.system", include_str!("../templates/judge.system.j2")),
        ("judge.user", include_str!("../templates/judge.user.j2")),
        (
            "plan_repository.system",
            include_str!("../templates/plan_repository.system.j2"),
        ),
        (
            "plan_repository.user",
            include_str!("../templates/plan_repository.user.j2"),
        ),
        (
            "generate_file.system",
            include_str!("../templates/generate_file.system.j2"),
        ),
        (
            "generate_file.user",
            include_str!("../templates/generate_file.user.j2"),
        ),
        (
            "review_file.system",
            include_str!("../templates/review_file.system.j2"),
        ),
        (
            "review_file.user",
            include_str!("../templates/review_file.user.j2"),
        ),
        (
            "fix_file.system",
            include_str!("../templates/fix_file.system.j2"),
        ),
        (
            "fix_file.user",
            include_str!("../templates/fix_file.user.j2"),
        ),
        (
            "related_work.system",
            include_str!("../templates/related_work.system.j2"),
        ),
        (
            "related_work.user",
            include_str!("../templates/related_work.user.j2"),
        ),
        (
            "answer_snippet.system",
            include_str!("../templates/answer_snippet.system.j2"),
        ),
        (
            "answer_snippet.user",
            include_str!("../templates/answer_snippet.user.j2"),
        ),
    ] {
        env.add_template(name, source)
            .expect("the prompt templates parse");
    }
    env
});

/// Renders `<name>.system` and `<name>.user` with `ctx`.
fn render(name: &str, ctx: minijinja::Value) -> (String, String) {
    let part = |p: &str| {
        TEMPLATES
            .get_template(&format!("{name}.{p}"))
            .and_then(|t| t.render(&ctx))
            .unwrap_or_else(|e| panic!("prompt template {name}.{p}: {e}"))
    };
    (part("system"), part("user"))
}

/// Summarise chunk `index` of `count`.
pub fn summarize(
    title: &str,
    index: u32,
    count: u32,
    sections: &[String],
    chunk: &str,
) -> (String, String) {
    let sections = if sections.is_empty() {
        "(continuation)".to_owned()
    } else {
        sections.join("; ")
    };
    render(
        "summarize",
        context! { title, part => index + 1, count, sections, chunk },
    )
}

/// Choose a dataset from the catalogue; the answer is JSON.
pub fn dataset(
    title: &str,
    catalogue: &[String],
    mentioned: &[String],
    excerpt: &str,
) -> (String, String) {
    let mentioned = if mentioned.is_empty() {
        "(none found)".to_owned()
    } else {
        mentioned.join(", ")
    };
    render(
        "dataset",
        context! { title, catalogue => catalogue.join(", "), mentioned, excerpt },
    )
}

/// The paper context that the code, review, fix and diagnosis prompts share, first in their
/// user message: title, target, dataset and the summaries. Being the same bytes at the start of
/// every one of them, it is what the providers' prompt caches keep (a Converse `cachePoint`
/// follows it; OpenAI caches a stable prefix on its own), so that review and repair rounds pay
/// the cache-read price for it.
pub fn paper_context(title: &str, target: &str, dataset: &str, summaries: &[String]) -> String {
    TEMPLATES
        .get_template("context")
        .and_then(|t| {
            t.render(context! { title, target, dataset, summaries => summaries.to_vec() })
        })
        .map(|c| format!("{}\n\n", c.trim_end()))
        .unwrap_or_else(|e| panic!("prompt template context: {e}"))
}

/// A prompt with the shared paper context (when there is one) opening its user message; the
/// prompt and the context's length in bytes, the prefix to cache.
pub fn with_context(
    context: Option<&str>,
    (system, user): (String, String),
) -> ((String, String), usize) {
    match context {
        Some(c) if !c.is_empty() => ((system, format!("{c}{user}")), c.len()),
        _ => ((system, user), 0),
    }
}

/// Write the code from the paper context ([`paper_context`]); the user message is the context
/// and one line, so the context's cache entry serves every later prompt.
pub fn generate(target: &str, context: &str) -> (String, String) {
    render("generate", context! { target, context })
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
    render(
        "review",
        context! { title, target, code, findings => findings_text(findings) },
    )
}

/// Diagnose a failed run; the answer is JSON.
pub fn diagnose(
    target: &str,
    code: &str,
    report: &workflows::types::ExecutionReport,
) -> (String, String) {
    render(
        "diagnose",
        context! {
            target, code,
            classification => report.classification.as_str(),
            exit_code => format!("{:?}", report.exit_code),
            signal => format!("{:?}", report.signal),
            wall_ms => report.wall_ms,
            peak_rss_kib => report.peak_rss_kib,
            stderr_tail => report.stderr_tail.clone(),
        },
    )
}

/// Judge a paper against `profile`; the answer is JSON.
pub fn judge(
    profile: &str,
    entry: &workflows::types::FeedEntry,
    excerpt: &str,
) -> (String, String) {
    render(
        "judge",
        context! {
            profile,
            title => entry.title.clone(),
            categories => if entry.categories.is_empty() { "(none)".to_owned() } else { entry.categories.join(", ") },
            venue => entry.venue.clone().unwrap_or_else(|| "(preprint)".to_owned()),
            abstract => if entry.abstract_text.is_empty() { "(none given)".to_owned() } else { entry.abstract_text.clone() },
            excerpt,
        },
    )
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
    render(
        "fix",
        context! { target, code, findings => findings_text(findings) },
    )
}

/// Fill block `block` of `file`: `code` is the file with the block's TODO line; `context` holds
/// (path, text) of the task's context files; `passages` the paper's best-matching chunks.
pub fn answer_snippet(
    title: &str,
    file: &str,
    block: &str,
    code: &str,
    summaries: &[String],
    passages: &[String],
    context: &[(String, String)],
) -> (String, String) {
    render(
        "answer_snippet",
        context! { title, file, block, code, summaries => summaries.to_vec(), passages => passages.to_vec(), context => context.to_vec() },
    )
}

/// Plan a repository from the paper context; the answer is JSON. `sections` is the paper's
/// structure (section titles in order), `examples` (source, code) from earlier repositories.
pub fn plan_repository(
    target: &str,
    context: &str,
    sections: &[String],
    examples: &[(String, String)],
    related_work: &str,
    max_files: usize,
) -> (String, String) {
    render(
        "plan_repository",
        context! { target, context, sections => sections.to_vec(), examples => examples.to_vec(), related_work, max_files },
    )
}

/// Write file `path` of the plan: the plan (JSON), the files it imports as written, the paper's
/// passages for it, code examples.
#[allow(clippy::too_many_arguments)]
pub fn generate_file(
    target: &str,
    context: &str,
    plan: &str,
    path: &str,
    entry: bool,
    written: &[(String, String)],
    passages: &[String],
    examples: &[(String, String)],
) -> (String, String) {
    render(
        "generate_file",
        context! { target, context, plan, path, entry, written => written.to_vec(), passages => passages.to_vec(), examples => examples.to_vec() },
    )
}

/// Review file `path` of a repository against the plan and its passages (fidelity); the answer
/// is JSON. `others` holds the interfaces of the other files.
#[allow(clippy::too_many_arguments)]
pub fn review_file(
    title: &str,
    target: &str,
    plan: &str,
    path: &str,
    code: &str,
    others: &[(String, String)],
    passages: &[String],
    findings: &[Finding],
) -> (String, String) {
    render(
        "review_file",
        context! { title, target, plan, path, code, others => others.to_vec(), passages => passages.to_vec(), findings => findings_text(findings) },
    )
}

/// Fix file `path` of a repository; the answer is the whole fixed file.
pub fn fix_file(
    target: &str,
    plan: &str,
    path: &str,
    code: &str,
    others: &[(String, String)],
    findings: &[Finding],
) -> (String, String) {
    render(
        "fix_file",
        context! { target, plan, path, code, others => others.to_vec(), findings => findings_text(findings) },
    )
}

/// What the most similar stored papers suggest: `related` holds (id, title, opening).
pub fn related_work(
    title: &str,
    summaries: &[String],
    related: &[(String, String, String)],
) -> (String, String) {
    render(
        "related_work",
        context! { title, summaries => summaries.to_vec(), related => related.to_vec() },
    )
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
    fn target_notes_follow_the_target() {
        let (trn, _) = generate(
            "trainium",
            &paper_context("t", "trainium", "synthetic", &["s".into()]),
        );
        assert!(trn.contains("xm.optimizer_step") && trn.contains("xm.mark_step()"));
        assert!(
            trn.contains("METRICS: {json}"),
            "the run contract is included"
        );
        let context = paper_context("t", "cpu", "cifar10", &["first".into(), "second".into()]);
        let (cpu, user) = generate("cpu", &context);
        // The context opens the user message, whole: its bytes are the cached prefix.
        assert!(user.starts_with(&context) && context.ends_with("</paper-context>\n\n"));
        let ((_, review), prefix) = with_context(Some(&context), review("t", "cpu", "x", &[]));
        assert_eq!(
            (&review[..prefix], prefix),
            (context.as_str(), context.len())
        );
        assert!(!cpu.contains("mark_step") && cpu.contains("never call `.cuda()`"));
        assert!(
            user.contains("<summary part=\"2\">\nsecond") && user.contains("`cifar10` dataset")
        );
        let (fix_trn, _) = fix("trainium", "x", &[]);
        assert!(fix_trn.contains("xm.xla_device()"));
    }

    #[test]
    fn system_prompts_carry_their_kind() {
        let kinds = [
            (summarize("t", 0, 1, &[], "c").0, Task::Summarize),
            (generate("cpu", "").0, Task::Generate),
            (review("t", "cpu", "", &[]).0, Task::Review),
            (fix("cpu", "", &[]).0, Task::Fix),
        ];
        for (system, task) in kinds {
            assert_eq!(Task::of_system_prompt(&system), Some(task), "{system}");
        }
        assert_eq!(Task::of_system_prompt("annapurna-task: nonsense\n"), None);
    }
}
