//! RecordEval: an evaluation suite's scores in `results/eval/<suite-run>/`: `score.json` (the
//! object `annapurna eval --json` prints), `snippets.json` (every snippet), `table.txt`.

use crate::prelude::*;

/// RecordEval: the suite's scores in `results/eval/<suite-run>/`; returns the directory's URI.
pub async fn record_eval(d: Call<'_>, input: RecordEvalInput) -> Out<String> {
    let dir = crate::local::prepare_eval_task::task_prefix(&input.suite_run, "");
    let dir = dir.trim_end_matches('/');
    let json = |v: serde_json::Value| serde_json::to_vec_pretty(&v).expect("JSON values serialise");
    let score = serde_json::json!({
        "suite_run": input.suite_run,
        "mode": input.mode,
        "standin": input.score.standin,
        "note": if input.score.standin {
            "STAND-IN: answers came from the Bedrock stand-in's templates; this is a template score"
        } else { "" },
        "score": input.score,
    });
    d.results
        .put(&format!("{dir}/score.json"), json(score))
        .await?;
    let snippets = serde_json::to_value(&input.results).expect("results serialise");
    d.results
        .put(&format!("{dir}/snippets.json"), json(snippets))
        .await?;
    d.results
        .put(
            &format!("{dir}/table.txt"),
            crate::eval::table::render(&input.score),
        )
        .await?;
    Ok(d.results.uri_of(dir))
}
