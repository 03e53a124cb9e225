//! SelectPapers: a batch's papers from the paper store.

use crate::prelude::*;

/// SelectPapers: a batch's papers from the paper store.
pub async fn select_papers(d: Call<'_>, input: SelectPapersInput) -> Out<Vec<String>> {
    let s = &input.selection;
    let selection = Selection {
        ids: s.paper_ids.clone(),
        recent_days: s.recent_days,
        title: s.title.clone(),
        query: s.query.clone(),
        random: s.random,
        max: s.max_papers.unwrap_or(100),
    };
    let ids = d.papers.select(&selection).await?;
    Ok(ids)
}
