//! LoadPaper: the stored paper for an id, or a source added (idempotently) to the store.

use crate::prelude::*;

/// LoadPaper: the stored paper for an id, or a source added (idempotently) to the store.
pub async fn load_paper(d: Call<'_>, input: LoadPaperInput) -> Out<PaperRef> {
    let record = match (&input.paper_id, &input.source) {
        (Some(id), _) => d.papers.get(id).await?.ok_or_else(|| {
            permanent(
                "PaperNotFound",
                format!("no paper with id {id:?} in the paper store; add it with `annapurna paper add FILE`"),
            )
        })?,
        (None, Some(source)) => {
            add_paper(&d.blobs, &d.papers, &allowed_source(source, &d.source_roots)?.to_string_lossy()).await?.0
        }
        (None, None) => {
            return Err(permanent("InvalidInput", "LoadPaper needs a paper_id or a source"));
        }
    };
    Ok(paper_ref(&record))
}
