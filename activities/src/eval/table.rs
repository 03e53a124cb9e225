//! The suite's scores as a table, for the terminal and `results/eval/<suite-run>/table.txt`.

use std::fmt::Write;

use workflows::types::{SuiteScore, TaskStatus};

/// The table: a row per task, then the totals; broken tasks with their reason; a stand-in run
/// says its score is a template score.
pub fn render(score: &SuiteScore) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>9} {:>8} {:>10} {:>8} {:>10}",
        "task", "status", "snippets", "passed", "pass@1(l)", "pass@1", "cost $"
    );
    for t in &score.tasks {
        let (weighted, plain) = if t.status == TaskStatus::Scored {
            (
                format!("{:.3}", t.score),
                format!("{:.3}", t.score_unweighted),
            )
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>9} {:>8} {:>10} {:>8} {:>10.4}",
            t.task,
            t.status.as_str(),
            t.snippets,
            t.passed,
            weighted,
            plain,
            t.cost_usd
        );
        if t.status == TaskStatus::Broken {
            let _ = writeln!(out, "    broken: {}", t.reason);
        }
    }
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>9} {:>8} {:>10.3} {:>8.3} {:>10.4}",
        "all (scored tasks)",
        "",
        score.snippets,
        score.passed,
        score.score,
        score.score_unweighted,
        score.cost_usd
    );
    let _ = writeln!(out, "executability: {:.3}", score.executability);
    if score.standin {
        let _ = writeln!(
            out,
            "STAND-IN: answers came from the Bedrock stand-in's templates; this is a template score, not a model's."
        );
    }
    out
}
