//! `annapurna judge check [--sample N] [--labels FILE.csv] [--json]`: the current judge (prompt,
//! profile, thresholds, model) over stored papers, changing nothing, and how often it agrees with
//! the decisions stored for them or with a file of labels, so that a changed prompt or profile
//! is measured before it ships.

use std::path::Path;

use activities::clients::papers::PaperRecord;
use anyhow::Context;
use serde::Serialize;
use workflows::types::FeedEntry;

use crate::config::Config;

/// One paper the judge now decides otherwise.
#[derive(Debug, Serialize)]
pub struct Disagreement {
    /// The paper.
    pub paper_id: String,
    /// Its title.
    pub title: String,
    /// The decision stored or labelled (`pass` or `fail`).
    pub expected: String,
    /// The decision now.
    pub now: String,
    /// Scores now.
    pub relevance: u8,
    /// Scores now.
    pub novelty: u8,
    /// The judge's first reason now.
    pub reason: String,
}

/// What `judge check` prints.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// `stored decisions` or the labels file.
    pub against: String,
    /// Papers judged.
    pub checked: usize,
    /// Papers judged as expected.
    pub agree: usize,
    /// `agree / checked`.
    pub agreement: f64,
    /// The others.
    pub disagreements: Vec<Disagreement>,
    /// True when the answers came from the Bedrock stand-in (templates, not judgements).
    pub standin: bool,
    /// Tokens in and out.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
}

fn decision(pass: bool) -> &'static str {
    if pass { "pass" } else { "fail" }
}

/// A label: `pass`/`indexed`/`true`/`1` or `fail`/`rejected`/`false`/`0`.
fn parse_label(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "pass" | "indexed" | "true" | "1" | "yes" => Some(true),
        "fail" | "rejected" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `paper id,expected` lines (a header line is skipped when its second field is no label).
fn read_labels(path: &Path) -> anyhow::Result<Vec<(String, bool)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the labels file {}", path.display()))?;
    let mut labels = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (id, label) = line.split_once(',').with_context(|| {
            format!(
                "{}:{}: expected `paper id,pass|fail`",
                path.display(),
                n + 1
            )
        })?;
        match parse_label(label) {
            Some(pass) => labels.push((id.trim().to_owned(), pass)),
            None if n == 0 => {}
            None => anyhow::bail!(
                "{}:{}: `{}` is not a label: use pass or fail",
                path.display(),
                n + 1,
                label.trim()
            ),
        }
    }
    Ok(labels)
}

/// The feed entry the judge reads for a stored paper: its origin, or only its title.
fn entry_of(record: &PaperRecord) -> FeedEntry {
    let origin = record.origin.clone().unwrap_or_default();
    FeedEntry {
        source: if origin.source.is_empty() {
            record.source.clone()
        } else {
            origin.source
        },
        source_id: origin.source_id,
        title: record.title.clone(),
        abstract_text: origin.abstract_text,
        authors: origin.authors,
        categories: origin.categories,
        published: origin.published,
        venue: origin.venue,
        pdf_url: origin.pdf_url,
        ..Default::default()
    }
}

/// Judges the sampled or labelled papers; prints the report.
pub async fn check(
    config: &Config,
    sample: Option<usize>,
    labels: Option<&Path>,
    seed: u64,
    json: bool,
) -> anyhow::Result<CheckReport> {
    let standin = crate::doctor::standin_url(config);
    let llm = crate::wiring::models(config, standin.as_deref()).await?;
    let deps = crate::wiring::deps(config, llm).await?;
    let (against, expected): (String, Vec<(PaperRecord, bool)>) = match labels {
        Some(path) => {
            let mut papers = Vec::new();
            for (id, pass) in read_labels(path)? {
                let record = deps
                    .papers
                    .get(&id)
                    .await?
                    .with_context(|| format!("{}: no stored paper {id}", path.display()))?;
                papers.push((record, pass));
            }
            (path.display().to_string(), papers)
        }
        None => {
            let mut judged: Vec<(PaperRecord, bool)> = deps
                .papers
                .list(100_000)
                .await?
                .into_iter()
                .filter_map(|r| {
                    let pass = r.judgement.as_ref()?.pass;
                    Some((r, pass))
                })
                .collect();
            judged.sort_by(|a, b| a.0.id.cmp(&b.0.id));
            fastrand::Rng::with_seed(seed).shuffle(&mut judged);
            judged.truncate(sample.unwrap_or(20));
            ("stored decisions".to_owned(), judged)
        }
    };
    if expected.is_empty() {
        anyhow::bail!(
            "no papers to check: no stored paper has a judgement yet (ingest with the judge on), \
             or give --labels FILE.csv with `paper id,pass|fail` lines"
        );
    }
    let mut report = CheckReport {
        against,
        checked: 0,
        agree: 0,
        agreement: 0.0,
        disagreements: Vec::new(),
        standin: false,
        input_tokens: 0,
        output_tokens: 0,
    };
    for (record, pass) in &expected {
        let text = deps
            .blobs
            .get_text(&record.text)
            .await
            .with_context(|| format!("reading the text of {}", record.id))?;
        let now = activities::llm::judge_paper::judge(&deps, &entry_of(record), &text)
            .await
            .map_err(|e| anyhow::anyhow!("judging {}: {:?}", record.id, e.0))?;
        report.checked += 1;
        report.standin |= now.standin;
        report.input_tokens += now.usage.input_tokens;
        report.output_tokens += now.usage.output_tokens;
        if now.pass == *pass {
            report.agree += 1;
        } else {
            report.disagreements.push(Disagreement {
                paper_id: record.id.clone(),
                title: record.title.clone(),
                expected: decision(*pass).to_owned(),
                now: decision(now.pass).to_owned(),
                relevance: now.relevance,
                novelty: now.novelty,
                reason: now.reasons.first().cloned().unwrap_or_default(),
            });
        }
    }
    report.agreement = report.agree as f64 / report.checked as f64;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "judge check: {} of {} papers agree with {} ({:.0}%){}",
            report.agree,
            report.checked,
            report.against,
            report.agreement * 100.0,
            if report.standin {
                " — STAND-IN templates, not judgements"
            } else {
                ""
            }
        );
        for d in &report.disagreements {
            println!(
                "  {} — {}: expected {}, now {} (relevance {}, novelty {}): {}",
                d.paper_id, d.title, d.expected, d.now, d.relevance, d.novelty, d.reason
            );
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        std::fs::write(&path, "paper,expected\na-1,pass\nb-2, rejected \n\nc-3,1\n").unwrap();
        assert_eq!(
            read_labels(&path).unwrap(),
            vec![
                ("a-1".to_owned(), true),
                ("b-2".to_owned(), false),
                ("c-3".to_owned(), true)
            ]
        );
        std::fs::write(&path, "a-1,pass\nb-2,maybe\n").unwrap();
        let err = read_labels(&path).unwrap_err().to_string();
        assert!(err.contains(":2:") && err.contains("maybe"), "{err}");
    }
}
