//! `annapurna paper add|list|show`.

use activities::clients::blobs::BlobStore;
use activities::clients::papers::{PaperRecord, SqlitePaperStore};
use activities::ingest::add_paper;
use anyhow::Context;

use crate::config::Config;

/// Opens the blob store and the paper store named in the configuration.
pub fn stores(config: &Config) -> anyhow::Result<(BlobStore, SqlitePaperStore)> {
    Ok((
        BlobStore::open(&config.storage.blobs)?,
        SqlitePaperStore::open(&config.storage.papers)?,
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
    let (blobs, papers) = stores(config)?;
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

/// Lists the papers.
pub fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let (_, papers) = stores(config)?;
    let all = papers.list()?;
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
pub fn show(config: &Config, id: &str) -> anyhow::Result<()> {
    let (_, papers) = stores(config)?;
    let paper = papers
        .get(id)?
        .with_context(|| format!("no paper with id {id:?}; `annapurna paper list` shows them"))?;
    let runs = papers.runs(id)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({"paper": paper, "runs": runs}))?
    );
    Ok(())
}
