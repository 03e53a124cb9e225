//! `annapurna bench stores`: the paper store's own cost, per backend. Inserts N synthetic paper
//! records (metadata only; the blobs they name are not written), then times selections the way a
//! batch makes them (text query, title, recent days, random N, query DSL on OpenSearch) and stage
//! updates the way ingestion makes them. SQLite always (a scratch file); OpenSearch when
//! `--opensearch-url` names a cluster (a scratch index `annapurna-bench-<time>`, left in place).

use std::time::{Duration, Instant};

use activities::clients::papers::{
    OpenSearchConfig, OpenSearchPaperStore, PaperOrigin, PaperRecord, PaperStore, Selection,
    SqlitePaperStore,
};
use anyhow::Context;
use serde_json::{Value, json};
use workflows::types::{BlobRef, Judgement};

/// Options of `annapurna bench stores`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoresArgs {
    /// Papers inserted.
    #[arg(long, default_value_t = 2_000)]
    pub papers: u32,
    /// Repetitions of each selection.
    #[arg(long, default_value_t = 30)]
    pub queries: u32,
    /// Also measure an OpenSearch cluster (a scratch index `annapurna-bench-<time>`).
    #[arg(long)]
    pub opensearch_url: Option<String>,
    /// Print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

const TOPICS: [&str; 12] = [
    "attention",
    "diffusion",
    "normalization",
    "optimizer",
    "distillation",
    "retrieval",
    "quantization",
    "routing",
    "recurrence",
    "contrastive",
    "tokenization",
    "pruning",
];

fn blob(name: String) -> BlobRef {
    BlobRef {
        uri: format!("file:///bench/{name}"),
        sha256: "0".repeat(64),
        bytes: 0,
    }
}

/// A synthetic record: two topics in the title, six section headings, an abstract.
fn record(i: u32) -> PaperRecord {
    let a = TOPICS[i as usize % TOPICS.len()];
    let b = TOPICS[(i as usize / TOPICS.len()) % TOPICS.len()];
    let sha256 = format!("{:064x}", u64::from(i) * 2_654_435_761 + 1);
    PaperRecord {
        id: format!("bench-{a}-{b}-{i}"),
        title: format!("Scalable {a} with {b} number {i}"),
        source: format!("bench://{i}"),
        format: "pdf".into(),
        sha256,
        characters: 60_000,
        sections: [
            "Introduction",
            "Related work",
            "Method",
            "Experiments",
            "Ablations",
            "Conclusion",
        ]
        .iter()
        .map(|s| format!("{s} on {a}"))
        .collect(),
        text: blob(format!("{i}/text.txt")),
        sections_blob: blob(format!("{i}/sections.json")),
        original: blob(format!("{i}/original.pdf")),
        status: "ingested".into(),
        added_at: String::new(),
        origin: Some(PaperOrigin {
            source: "arxiv".into(),
            source_id: format!("2611.{i:05}v1"),
            abstract_text: format!(
                "We study {a} and {b} in large models and report a method that improves both \
                 accuracy and cost on standard benchmarks; paper {i}."
            ),
            authors: vec!["A. Author".into(), "B. Author".into()],
            categories: vec!["cs.LG".into()],
            published: None,
            venue: None,
            pdf_url: None,
        }),
        judgement: None,
    }
}

/// Median and 95th percentile, milliseconds.
fn summary(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        (samples[i].as_secs_f64() * 1000.0 * 100.0).round() / 100.0
    };
    json!({"median_ms": at(0.5), "p95_ms": at(0.95)})
}

async fn time_selection(
    store: &PaperStore,
    queries: u32,
    make: impl Fn(u32) -> Selection,
) -> anyhow::Result<(Value, usize)> {
    let mut samples = Vec::new();
    let mut found = 0;
    for q in 0..queries {
        let selection = make(q);
        let started = Instant::now();
        found = store.select(&selection).await?.len();
        samples.push(started.elapsed());
    }
    let mut v = summary(samples);
    v["selected"] = json!(found);
    Ok((v, found))
}

async fn measure(store: &PaperStore, args: &StoresArgs, dsl: bool) -> anyhow::Result<Value> {
    let started = Instant::now();
    for i in 0..args.papers {
        store.insert(&record(i)).await?;
    }
    let insert_s = started.elapsed().as_secs_f64();
    // Ingestion judges every paper: half pass.
    let started = Instant::now();
    let judged = args.papers.min(500);
    for i in 0..judged {
        let r = record(i);
        let pass = i % 2 == 0;
        let verdict = Judgement {
            pass,
            relevance: if pass { 8 } else { 3 },
            novelty: 6,
            reasons: vec!["bench".into()],
            ..Default::default()
        };
        store
            .set_stage(
                &r.id,
                if pass { "indexed" } else { "rejected" },
                Some(&verdict),
            )
            .await?;
    }
    let stage_s = started.elapsed().as_secs_f64();
    let n = args.queries;
    let max = 100;
    let (text, _) = time_selection(store, n, |q| Selection {
        query: Some(TOPICS[q as usize % TOPICS.len()].to_owned()),
        max,
        ..Default::default()
    })
    .await?;
    let (title, _) = time_selection(store, n, |q| Selection {
        title: Some(format!("with {}", TOPICS[q as usize % TOPICS.len()])),
        max,
        ..Default::default()
    })
    .await?;
    let (recent, _) = time_selection(store, n, |_| Selection {
        recent_days: Some(7),
        max,
        ..Default::default()
    })
    .await?;
    let (random, _) = time_selection(store, n, |_| Selection {
        random: Some(20),
        max,
        ..Default::default()
    })
    .await?;
    let mut report = json!({
        "papers": args.papers,
        "insert_s": (insert_s * 100.0).round() / 100.0,
        "inserts_per_s": (f64::from(args.papers) / insert_s).round(),
        "stage_updates": judged,
        "stage_updates_per_s": (f64::from(judged) / stage_s).round(),
        "select_text_query": text,
        "select_title": title,
        "select_recent_days": recent,
        "select_random": random,
    });
    if dsl {
        let (v, _) = time_selection(store, n, |_| Selection {
            query: Some(r#"{"range": {"judge.relevance": {"gte": 7}}}"#.into()),
            max,
            ..Default::default()
        })
        .await?;
        report["select_query_dsl"] = v;
    }
    Ok(report)
}

/// Runs the benchmark and prints its report.
pub async fn stores(args: StoresArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let sqlite: PaperStore = SqlitePaperStore::open(&dir.path().join("papers.db"))?.into();
    eprintln!("bench: {} papers into SQLite …", args.papers);
    let mut report = json!({"sqlite": measure(&sqlite, &args, false).await?});
    if let Some(url) = &args.opensearch_url {
        let index = format!(
            "annapurna-bench-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
        );
        eprintln!(
            "bench: {} papers into OpenSearch {url} index {index} …",
            args.papers
        );
        let store: PaperStore = OpenSearchPaperStore::open(&OpenSearchConfig {
            url: url.clone(),
            index,
            ..Default::default()
        })
        .await?
        .into();
        report["opensearch"] = measure(&store, &args, true).await?;
    }
    if !args.json {
        eprintln!("{}", serde_json::to_string_pretty(&report)?);
    }
    println!("{report}");
    Ok(())
}
