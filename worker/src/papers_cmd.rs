//! `annapurna paper add|list|show`.

use activities::clients::blobs::BlobStore;
use activities::clients::papers::{
    OpenSearchPaperStore, PaperRecord, PaperStore, SqlitePaperStore,
};
use activities::ingest::add_paper;
use anyhow::Context;

use crate::config::{Config, PaperStoreKind};

/// Opens the paper store named in the configuration (`storage.paper-store`).
pub async fn paper_store(config: &Config) -> anyhow::Result<PaperStore> {
    Ok(match config.storage.paper_store {
        PaperStoreKind::Sqlite => SqlitePaperStore::open(&config.storage.papers)?.into(),
        PaperStoreKind::Opensearch => OpenSearchPaperStore::open(&config.storage.opensearch)
            .await?
            .into(),
    })
}

/// Opens the blob store and the paper store named in the configuration.
pub async fn stores(config: &Config) -> anyhow::Result<(BlobStore, PaperStore)> {
    Ok((
        BlobStore::open(&config.storage.blobs)?,
        paper_store(config).await?,
    ))
}

fn describe(p: &PaperRecord) -> String {
    format!(
        "{} — {} ({} characters, {} sections, {}, {})",
        p.id,
        p.title,
        p.characters,
        p.sections.len(),
        p.format,
        p.status
    )
}

/// Adds a paper; prints a line about it and then its id alone on the last line.
pub async fn add(config: &Config, file: &str, json: bool) -> anyhow::Result<PaperRecord> {
    let (blobs, papers) = stores(config).await?;
    let (record, new) = add_paper(&blobs, &papers, file)
        .await
        .with_context(|| format!("cannot add paper {file}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        println!(
            "{} {}",
            if new { "added" } else { "already stored:" },
            describe(&record)
        );
        println!("{}", record.id);
    }
    Ok(record)
}

/// Lists the papers (the newest 10,000).
pub async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let papers = paper_store(config).await?;
    let all = papers.list(10_000).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for p in &all {
            println!("{}", describe(p));
        }
    }
    Ok(())
}

/// Shows one paper and its runs.
pub async fn show(config: &Config, id: &str) -> anyhow::Result<()> {
    let papers = paper_store(config).await?;
    let paper = papers
        .get(id)
        .await?
        .with_context(|| format!("no paper with id {id:?}; `annapurna paper list` shows them"))?;
    let runs = papers.runs(id).await?;
    // Each run with its tokens and cost per role and provider, from its metadata.json.
    let results = activities::clients::blobs::BlobStore::open(&config.storage.results)?;
    let mut shown = Vec::with_capacity(runs.len());
    for run in &runs {
        let mut v = serde_json::to_value(run)?;
        let uri = format!("{}/metadata.json", run.results.trim_end_matches('/'));
        let metadata = results
            .try_get_uri(&uri)
            .await
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        if let Some(m) = metadata {
            v["cost"] = m["cost"].clone();
        }
        shown.push(v);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({"paper": paper, "runs": shown}))?
    );
    Ok(())
}
