//! DownloadPaper: the entry's PDF within the size and time limits; the paper stored as

use crate::prelude::*;

/// DownloadPaper: the entry's PDF within the size and time limits; the paper stored as
/// `ingested` with the feed's title and abstract. A PDF that cannot be read is kept under
/// `raw/` and the entry fails with the reason; nothing else is written for it.
pub async fn download_paper(d: Call<'_>, input: DownloadPaperInput) -> Out<DownloadedPaper> {
    let key = &input.item.key;
    let entry: FeedEntry = serde_json::from_slice(&d.blobs.get(&input.item.entry).await?)
        .map_err(|e| permanent("MalformedFeedEntry", format!("{key}: {e}")))?;
    // An entry seen before (same source and id, version included) is not downloaded again.
    if let Some(existing) = d.papers.get_by_origin(key).await? {
        return Ok(DownloadedPaper {
            paper: paper_ref(&existing),
            new: false,
            stage: existing.status,
        });
    }
    let url = entry
        .pdf_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            permanent(
                "MalformedFeedEntry",
                format!("{key}: the feed entry has no PDF link"),
            )
        })?;
    let bytes =
        bytes::Bytes::from(crate::feeds::download_pdf(&d.sources, &entry.source, &url).await?);
    let origin = PaperOrigin {
        source: entry.source.clone(),
        source_id: entry.source_id.clone(),
        abstract_text: entry.abstract_text.clone(),
        authors: entry.authors.clone(),
        categories: entry.categories.clone(),
        published: entry.published.clone(),
        venue: entry.venue.clone(),
        pdf_url: Some(url.clone()),
    };
    let added = add_bytes(
        &d.blobs,
        &d.papers,
        bytes.clone(),
        crate::extract::Format::Pdf,
        url.clone(),
        Provenance {
            title: Some(entry.title.clone()),
            origin: Some(origin),
            stage: "ingested".into(),
        },
    )
    .await;
    let (record, new) = match added {
        Ok(r) => r,
        Err(e) if !e.is_retryable() => {
            // Kept for whoever wants to look at it; the entry fails with the reason.
            let raw_key = format!("raw/{}/{}.pdf", entry.source, short(&sha256_hex(&bytes)));
            let kept = d.blobs.put(&raw_key, bytes).await?;
            return Err(permanent(
                e.type_name(),
                format!("{key}: {e} (the download is kept at {})", kept.uri),
            ));
        }
        Err(e) => return Err(Classified::from(e)),
    };
    Ok(DownloadedPaper {
        paper: paper_ref(&record),
        new,
        stage: record.status,
    })
}
