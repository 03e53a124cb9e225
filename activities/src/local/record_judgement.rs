//! RecordJudgement: `indexed` when the judge passed the paper (or there was no judge),

use crate::prelude::*;

/// RecordJudgement: `indexed` when the judge passed the paper (or there was no judge),
/// `rejected` otherwise; a paper past ingestion (already run) keeps its stage.
pub async fn record_judgement(d: Call<'_>, input: RecordJudgementInput) -> Out<()> {
    let Some(paper) = d.papers.get(&input.paper_id).await? else {
        return Err(permanent(
            "PaperNotFound",
            format!(
                "no paper with id {:?} to record a judgement for",
                input.paper_id
            ),
        ));
    };
    // A paper past judging (added by hand, or already run) keeps its status.
    let judged = [
        PaperStatus::Ingested,
        PaperStatus::Indexed,
        PaperStatus::Rejected,
    ];
    if !judged.iter().any(|s| s.as_str() == paper.status) {
        return Ok(());
    }
    let pass = input.judgement.as_ref().is_none_or(|j| j.pass);
    d.papers
        .set_stage(
            &input.paper_id,
            if pass {
                PaperStatus::Indexed.as_str()
            } else {
                PaperStatus::Rejected.as_str()
            },
            input.judgement.as_ref(),
        )
        .await?;
    Ok(())
}
