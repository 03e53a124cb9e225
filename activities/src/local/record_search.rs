//! RecordSearch: a hyperparameter search's files under `<paper-id>/<run-id>/search/` in the
//! results store: `trials/trial-<n>.json` (hyperparameters, metrics, status, seconds, model
//! size), `best.json` (the best trial), `curve.json` and `curve.csv` (best so far per trial),
//! `search.json` (the search, the budget, the space).

use crate::prelude::*;

/// RecordSearch: writes the search's files; returns the directory.
pub async fn record_search(d: Call<'_>, input: RecordSearchInput) -> Out<String> {
    let dir = input.dir.trim_end_matches('/');
    let json = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    for t in &input.trials {
        let body = serde_json::to_value(t).unwrap_or_default();
        d.results
            .put(
                &format!("{dir}/trials/trial-{:03}.json", t.number),
                json(&body),
            )
            .await?;
    }
    let best = input
        .best
        .and_then(|n| input.trials.iter().find(|t| t.number == n));
    let best_json = match best {
        Some(t) => serde_json::json!({
            "trial": t.number,
            "metric": input.search.metric,
            "direction": input.search.direction,
            "value": t.value,
            "hyperparameters": t.hyperparameters,
            "metrics": t.metrics,
            "size": t.size,
            "seconds": t.seconds,
        }),
        None => serde_json::json!({
            "trial": null,
            "metric": input.search.metric,
            "reason": "no trial succeeded",
        }),
    };
    d.results
        .put(&format!("{dir}/best.json"), json(&best_json))
        .await?;
    let mut sorted: Vec<&TrialRecord> = input.trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let curve: Vec<serde_json::Value> = sorted
        .iter()
        .zip(&input.curve)
        .map(|(t, best)| {
            serde_json::json!({"trial": t.number, "value": t.value, "best_so_far": best})
        })
        .collect();
    d.results
        .put(
            &format!("{dir}/curve.json"),
            json(&serde_json::Value::from(curve)),
        )
        .await?;
    let mut csv = format!(
        "trial,status,{},best_so_far,seconds,train_seconds,params\n",
        input.search.metric
    );
    for (t, best) in sorted.iter().zip(&input.curve) {
        let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{:.3},{:.3},{}\n",
            t.number,
            match t.status {
                TrialStatus::Ok => "ok",
                TrialStatus::Failed => "failed",
            },
            num(t.value),
            num(*best),
            t.seconds,
            t.train_seconds,
            t.size
                .as_ref()
                .map(|s| s.params.to_string())
                .unwrap_or_default(),
        ));
    }
    d.results
        .put(&format!("{dir}/curve.csv"), csv.into_bytes())
        .await?;
    let summary = serde_json::json!({
        "search": input.search,
        "budget": input.budget,
        "space": input.space,
        "trials": input.trials.len(),
        "succeeded": input.trials.iter().filter(|t| t.status == TrialStatus::Ok).count(),
        "best": input.best,
    });
    d.results
        .put(&format!("{dir}/search.json"), json(&summary))
        .await?;
    Ok(dir.to_owned())
}
