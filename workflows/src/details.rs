//! What a paper's workflow page in the Temporal Web UI says in words: the static summary set when
//! it starts (title or source, target, models) and the current details (what it is doing and what
//! it waits for), from the same [`Progress`] the `progress` query returns. Current details are
//! answered from the worker's memory (Temporal's metadata query), never written to the history, so
//! changing these words needs no patch.

use crate::types::Progress;

/// One line for the Web UI's summary of a paper's run: what, where, with which models.
pub fn static_summary(paper: &str, target: &str, models: &[(&str, &str)]) -> String {
    let models: Vec<String> = models
        .iter()
        .filter(|(_, model)| !model.is_empty())
        .map(|(role, model)| format!("{role} {model}"))
        .collect();
    let mut line = format!("{} → {target}", one_line(paper, 120));
    if !models.is_empty() {
        line.push_str(&format!(" · {}", models.join(", ")));
    }
    line
}

/// The current details: the stage in words, with its counts and what it waits for.
pub fn current_details(p: &Progress) -> String {
    let cost = if p.cost_microusd > 0 {
        format!(
            " · {} tokens, ${:.4}",
            p.input_tokens + p.output_tokens,
            p.cost_microusd as f64 / 1e6
        )
    } else if p.input_tokens + p.output_tokens > 0 {
        format!(" · {} tokens", p.input_tokens + p.output_tokens)
    } else {
        String::new()
    };
    let doing = match p.stage.as_str() {
        "" | "loading" => "loading the paper".to_owned(),
        "planning" => "planning chunks at section boundaries".to_owned(),
        "summarizing" => {
            let failed = if p.chunks_failed > 0 {
                format!(", {} failed", p.chunks_failed)
            } else {
                String::new()
            };
            format!(
                "summarising: {} of {} chunks{failed}",
                p.chunks_done, p.chunks_total
            )
        }
        "generating" if p.files_total > 0 => format!(
            "writing the planned repository: {} of {} files",
            p.files_done, p.files_total
        ),
        "generating" => "generating the code from the summaries".to_owned(),
        "awaiting-approval" if !p.plan_problem.is_empty() => format!(
            "waiting for approve_plan or reject_plan; the last edits were refused: {}",
            one_line(&p.plan_problem, 200)
        ),
        "awaiting-approval" => {
            "waiting for the plan's approval (signal approve_plan or reject_plan)".to_owned()
        }
        "reviewing" if p.review_round > 0 => format!(
            "reviewing: round {} of {}",
            p.review_round,
            p.review_rounds.max(p.review_round)
        ),
        "reviewing" => "checking the code".to_owned(),
        "waiting-for-executor" => format!(
            "executing: waiting for an executor on {}",
            if p.waiting_on_queue.is_empty() {
                "its target's queue"
            } else {
                &p.waiting_on_queue
            }
        ),
        "executing" => format!("executing: attempt {}", p.execution_attempt.max(1)),
        "recording" => "recording the results".to_owned(),
        "done" => "done".to_owned(),
        other => other.to_owned(),
    };
    format!("{doing}{cost}")
}

/// `text` on one line, at most `max` characters (an ellipsis says it was cut).
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_say_what_each_stage_does_and_waits_for() {
        let mut p = Progress {
            stage: "summarizing".into(),
            chunks_total: 232,
            chunks_done: 37,
            ..Progress::default()
        };
        assert_eq!(current_details(&p), "summarising: 37 of 232 chunks");
        p.chunks_failed = 2;
        p.input_tokens = 900;
        p.output_tokens = 100;
        p.cost_microusd = 1_500;
        assert_eq!(
            current_details(&p),
            "summarising: 37 of 232 chunks, 2 failed · 1000 tokens, $0.0015"
        );
        let waiting = Progress {
            stage: "waiting-for-executor".into(),
            waiting_on_queue: "annapurna-exec-trainium".into(),
            ..Progress::default()
        };
        assert_eq!(
            current_details(&waiting),
            "executing: waiting for an executor on annapurna-exec-trainium"
        );
        let review = Progress {
            stage: "reviewing".into(),
            review_round: 2,
            review_rounds: 3,
            ..Progress::default()
        };
        assert_eq!(current_details(&review), "reviewing: round 2 of 3");
    }

    #[test]
    fn the_summary_is_one_bounded_line() {
        let long = format!("A\nvery {}", "long ".repeat(60));
        let line = static_summary(&long, "cpu", &[("code", "openai/gpt-5"), ("summary", "")]);
        assert!(!line.contains('\n'));
        assert!(
            line.contains('…') && line.ends_with("→ cpu · code openai/gpt-5"),
            "{line}"
        );
        assert_eq!(static_summary("paper.pdf", "cuda", &[]), "paper.pdf → cuda");
    }
}
