//! `EvaluateSuite`'s decisions, pure: what a test run says of a snippet or of a task's reference,
//! and the scores (pass@1 weighted by lines, and per snippet).

use crate::types::*;

/// The module a run's stderr says is missing (`No module named 'timm'` → `timm`).
pub fn missing_module(stderr: &str) -> Option<String> {
    let at = stderr.rfind("No module named ")?;
    let rest = stderr[at + "No module named ".len()..].trim_start();
    let name: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| !matches!(c, '\'' | '"' | '\n' | ' '))
        .collect();
    // `No module named 'a.b'`: the package to install is `a`.
    let top = name.split('.').next().unwrap_or("").to_owned();
    (!top.is_empty()).then_some(top)
}

/// The last line of stderr that says something, cut to 300 characters.
pub fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .chars()
        .take(300)
        .collect()
}

/// What one test run says: passed, the reason in one word, the detail, and whether the test ran
/// at all (no import or syntax error).
pub fn verdict(report: &ExecutionReport) -> (bool, String, String, bool) {
    let tail = &report.stderr_tail;
    if report.classification == Classification::Ok {
        return (true, "ok".to_owned(), String::new(), true);
    }
    let detail = last_line(tail);
    let import = tail.contains("ModuleNotFoundError") || tail.contains("ImportError");
    let syntax = tail.contains("SyntaxError") || tail.contains("IndentationError");
    let reason = if syntax {
        "syntax-error".to_owned()
    } else if import {
        "import-error".to_owned()
    } else if report.classification == Classification::CodeError {
        "test-failed".to_owned()
    } else {
        report.classification.as_str().to_owned()
    };
    (false, reason, detail, !(import || syntax))
}

/// A task's verdict from the run of its test on the unchanged folder: scored when it passed;
/// broken, naming the missing package or the failure, when it did not.
pub fn reference_verdict(report: &ExecutionReport) -> (TaskStatus, String) {
    if report.classification == Classification::Ok {
        return (TaskStatus::Scored, String::new());
    }
    let reason = match missing_module(&report.stderr_tail) {
        Some(m) => format!(
            "missing package: {m} (the execution venv cannot import it; install it there to score this task)"
        ),
        None => format!(
            "the task's own reference fails its test ({}): {}",
            report.classification,
            last_line(&report.stderr_tail)
        ),
    };
    (TaskStatus::Broken, reason)
}

/// The snippets to answer, in task then file order: (task index, snippet index) of every scored
/// task.
pub fn plan_snippets(tasks: &[EvalTaskState]) -> Vec<(u32, u32)> {
    tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status == TaskStatus::Scored)
        .flat_map(|(i, t)| (0..t.task.snippets.len()).map(move |s| (i as u32, s as u32)))
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The suite's scores from its tasks and snippet results. Broken tasks are listed with their
/// reason and count nowhere else.
pub fn score(tasks: &[EvalTaskState], results: &[SnippetResult]) -> SuiteScore {
    let mut out = SuiteScore::default();
    let (mut lines, mut passed_lines, mut executable) = (0u64, 0u64, 0u64);
    let mut cost = 0u64;
    for t in tasks {
        let mine: Vec<&SnippetResult> = results.iter().filter(|r| r.task == t.task.name).collect();
        let scored = t.status == TaskStatus::Scored;
        let l: u64 = mine.iter().map(|r| r.lines as u64).sum();
        let pl: u64 = mine
            .iter()
            .filter(|r| r.passed)
            .map(|r| r.lines as u64)
            .sum();
        let p = mine.iter().filter(|r| r.passed).count() as u64;
        let e = mine.iter().filter(|r| r.executable).count() as u64;
        let c = t.summary_cost_microusd + mine.iter().map(|r| r.cost_microusd).sum::<u64>();
        out.standin |= mine.iter().any(|r| r.standin);
        cost += c;
        if scored {
            lines += l;
            passed_lines += pl;
            executable += e;
            out.snippets += mine.len() as u32;
            out.passed += p as u32;
        }
        out.tasks.push(TaskScore {
            task: t.task.name.clone(),
            status: t.status,
            reason: t.reason.clone(),
            score: if scored { ratio(pl, l) } else { 0.0 },
            score_unweighted: if scored {
                ratio(p, mine.len() as u64)
            } else {
                0.0
            },
            snippets: if scored {
                mine.len() as u32
            } else {
                t.task.snippets.len() as u32
            },
            passed: p as u32,
            lines: l,
            passed_lines: pl,
            executability: ratio(e, mine.len() as u64),
            cost_usd: c as f64 / 1e6,
        });
    }
    out.score = ratio(passed_lines, lines);
    out.score_unweighted = ratio(out.passed as u64, out.snippets as u64);
    out.executability = ratio(executable, out.snippets as u64);
    out.cost_usd = cost as f64 / 1e6;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> BlobRef {
        BlobRef {
            uri: "file:///x".into(),
            sha256: "0".into(),
            bytes: 0,
        }
    }

    fn report(classification: Classification, stderr: &str) -> ExecutionReport {
        ExecutionReport {
            exit_code: Some(1),
            signal: None,
            killed: None,
            wall_ms: 1,
            cpu_ms: 1,
            peak_rss_kib: 1,
            metrics: vec![],
            stdout: blob(),
            stderr: blob(),
            stderr_tail: stderr.into(),
            artifacts: vec![],
            classification,
            sandbox: "bubblewrap".into(),
            trial: None,
        }
    }

    #[test]
    fn a_missing_import_breaks_the_task_and_names_the_package() {
        let r = report(
            Classification::Environment,
            "Traceback …\nModuleNotFoundError: No module named 'timm.layers'\n",
        );
        assert_eq!(missing_module(&r.stderr_tail).as_deref(), Some("timm"));
        let (status, reason) = reference_verdict(&r);
        assert_eq!(status, TaskStatus::Broken);
        assert!(reason.contains("missing package: timm"), "{reason}");
        let (status, reason) = reference_verdict(&report(
            Classification::CodeError,
            "AssertionError: 1 != 2\n",
        ));
        assert_eq!(status, TaskStatus::Broken);
        assert!(reason.contains("AssertionError: 1 != 2"), "{reason}");
        assert_eq!(
            reference_verdict(&report(Classification::Ok, "")).0,
            TaskStatus::Scored
        );
    }

    #[test]
    fn verdicts_classify_syntax_import_and_test_failures() {
        let v = verdict(&report(
            Classification::CodeError,
            "  File x\nIndentationError: expected\n",
        ));
        assert_eq!((v.0, v.1.as_str(), v.3), (false, "syntax-error", false));
        let v = verdict(&report(Classification::CodeError, "FAILED (failures=2)\n"));
        assert_eq!(
            (v.1.as_str(), v.2.as_str(), v.3),
            ("test-failed", "FAILED (failures=2)", true)
        );
        let v = verdict(&report(Classification::ResourceTime, ""));
        assert_eq!(v.1, "resource:time");
        assert!(verdict(&report(Classification::Ok, "")).0);
    }

    fn task(name: &str, status: TaskStatus, snippets: usize) -> EvalTaskState {
        EvalTaskState {
            task: EvalTask {
                name: name.into(),
                bundle: blob(),
                reference_program: blob(),
                timeout_secs: 60,
                snippets: (0..snippets)
                    .map(|i| EvalSnippet {
                        file: "m.py".into(),
                        name: format!("s{i}"),
                        lines: 1,
                        depth: 0,
                    })
                    .collect(),
                problem: None,
                paper: None,
            },
            status,
            reason: if status == TaskStatus::Broken {
                "missing package: jax".into()
            } else {
                String::new()
            },
            summaries: vec![],
            chunks: vec![],
            summary_cost_microusd: 0,
        }
    }

    fn result(task: &str, lines: u32, passed: bool) -> SnippetResult {
        SnippetResult {
            task: task.into(),
            file: "m.py".into(),
            name: "s".into(),
            lines,
            passed,
            reason: if passed { "ok" } else { "test-failed" }.into(),
            detail: String::new(),
            executable: true,
            input_tokens: 0,
            output_tokens: 0,
            cost_microusd: 250_000,
            seconds: 1.0,
            standin: false,
        }
    }

    #[test]
    fn scores_weight_by_lines_and_leave_broken_tasks_out() {
        let tasks = [
            task("a", TaskStatus::Scored, 2),
            task("b", TaskStatus::Scored, 1),
            task("c", TaskStatus::Broken, 5),
        ];
        assert_eq!(plan_snippets(&tasks), [(0, 0), (0, 1), (1, 0)]);
        let results = [
            result("a", 3, true),
            result("a", 1, false),
            result("b", 4, false),
        ];
        let s = score(&tasks, &results);
        assert_eq!((s.snippets, s.passed), (3, 1));
        assert!((s.score - 3.0 / 8.0).abs() < 1e-9, "{}", s.score);
        assert!((s.score_unweighted - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.cost_usd - 0.75).abs() < 1e-9);
        assert_eq!(s.tasks[0].score, 0.75);
        assert_eq!(s.tasks[2].status, TaskStatus::Broken);
        assert_eq!((s.tasks[2].score, s.tasks[2].snippets), (0.0, 5));
        assert!(s.tasks[2].reason.contains("jax"));
    }
}
