//! JudgePaper: relevance and novelty against the profile; passes when both reach the

use crate::prelude::*;

/// The judge's JSON answer: both scores 0–10 and at least one reason.
pub(crate) fn parse_judgement(text: &str) -> Option<(u8, u8, Vec<String>)> {
    let v: serde_json::Value =
        serde_json::from_str(text.get(text.find('{')?..=text.rfind('}')?)?).ok()?;
    let score = |k: &str| {
        v[k].as_u64()
            .or_else(|| v[k].as_f64().map(|f| f.round() as u64))
            .filter(|s| *s <= 10)
            .map(|s| s as u8)
    };
    let reasons: Vec<String> = v["reasons"]
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    (!reasons.is_empty()).then_some((score("relevance")?, score("novelty")?, reasons))
}

/// JudgePaper: relevance and novelty against the profile; passes when both reach the
/// configured thresholds.
pub async fn judge_paper(d: Call<'_>, input: JudgePaperInput) -> Out<Judgement> {
    let entry: FeedEntry = serde_json::from_slice(&d.blobs.get(&input.entry).await?)
        .map_err(|e| permanent("MalformedFeedEntry", e.to_string()))?;
    let text = d.text(&input.paper.text).await?;
    judge(&d, &entry, &text).await
}

/// The judgement of one paper (its feed entry and text) by the configured judge, changing
/// nothing: the activity's work, and `annapurna judge check`'s.
pub async fn judge(d: &Deps, entry: &FeedEntry, text: &str) -> Out<Judgement> {
    let judge = &d.settings.judge;
    let excerpt: String = text.chars().take(judge.excerpt_chars).collect();
    let model = d.settings.configured_model(ModelRole::Judge);
    let prompt = prompts::judge(&judge.profile, entry, &excerpt);
    let mut request = LlmRequest::single(model.clone(), prompt, 600, 0.0);
    let mut usage = LlmUsage::default();
    let (relevance, novelty, reasons) = d
        .converse_json(&mut request, &mut usage, parse_judgement)
        .await?
        .ok_or_else(|| {
            permanent(
                "JudgeAnswerUnreadable",
                format!(
                    "the judge ({model}) did not answer with the scores asked for, twice; \
                     the paper stays ingested and is judged again by the next ingestion"
                ),
            )
        })?;
    let profile = short(&sha256_hex(
        format!(
            "{}\n{}\n{}",
            judge.profile, judge.min_relevance, judge.min_novelty
        )
        .as_bytes(),
    ))
    .to_owned();
    Ok(Judgement {
        pass: relevance >= judge.min_relevance && novelty >= judge.min_novelty,
        relevance,
        novelty,
        reasons,
        model,
        profile,
        standin: usage.standin,
        usage,
    })
}
