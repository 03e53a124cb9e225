//! The storage backends against real or wire-compatible servers: the paper store on SQLite and on
//! OpenSearch (`osmem-server`), the same behaviour checked on both; blobs on S3 (moto's server);
//! and one paper through PaperToCode with S3 blobs and results and the OpenSearch paper store.

use activities::clients::blobs::{BlobError, BlobStore, S3Overrides};
use activities::clients::papers::PaperOrigin;
use activities::clients::papers::{
    OpenSearchConfig, OpenSearchPaperStore, PaperStore, PaperStoreError, RunRecord, Selection,
    SqlitePaperStore,
};
use activities::extract::Format;
use activities::ingest::{Provenance, add_bytes, add_paper};
use annapurna_tests::{Stack, paper_input, papers_dir, start_moto, start_osmem};
use workflows::types::Judgement;

async fn pick(store: &PaperStore, selection: Selection) -> Vec<String> {
    store.select(&selection).await.unwrap()
}

fn sel() -> Selection {
    Selection {
        max: 100,
        ..Default::default()
    }
}

/// The papers `ids`, in that order.
fn by_ids(ids: &[&String]) -> Selection {
    Selection {
        ids: ids.iter().map(|id| id.to_string()).collect(),
        ..sel()
    }
}

/// The papers whose title contains `title`.
fn by_title(title: &str) -> Selection {
    Selection {
        title: Some(title.into()),
        ..sel()
    }
}

/// The papers a text query (or, on OpenSearch, query DSL) finds.
fn by_query(query: &str) -> Selection {
    Selection {
        query: Some(query.into()),
        ..sel()
    }
}

/// The papers added in the last `days` days.
fn recent(days: u32) -> Selection {
    Selection {
        recent_days: Some(days),
        ..sel()
    }
}

/// Blob store options for moto's S3 at `endpoint`.
fn moto_s3(endpoint: &str) -> S3Overrides {
    S3Overrides {
        endpoint: Some(endpoint.to_owned()),
        access_key_id: Some("moto".into()),
        secret_access_key: Some("moto".into()),
    }
}

/// The behaviour both backends share. Returns the ids of (attention, dyt, gps).
async fn shared_behaviour(store: &PaperStore, blobs: &BlobStore) -> (String, String, String) {
    let mut ids = Vec::new();
    for name in ["attention-is-all-you-need.tex", "dyt.tex", "gps.md"] {
        let path = papers_dir().join(name);
        let (record, new) = add_paper(blobs, store, path.to_str().unwrap())
            .await
            .unwrap();
        assert!(new, "{name} is new");
        assert_eq!(record.status, "added");
        let (again, new) = add_paper(blobs, store, path.to_str().unwrap())
            .await
            .unwrap();
        assert!(!new, "{name} added twice is not new");
        assert_eq!(again.id, record.id);
        ids.push(record.id);
    }
    let (attention, dyt, gps) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    assert_eq!(store.count().await.unwrap(), 3);
    assert_eq!(store.list(10).await.unwrap().len(), 3);
    let got = store.get(&dyt).await.unwrap().expect("dyt is stored");
    assert_eq!(got.title, "Transformers without Normalization");
    assert!(store.get("no-such-paper").await.unwrap().is_none());

    // Explicit ids: stored ones, in the order given, no repeats.
    let missing = "missing".to_owned();
    let picked = pick(store, by_ids(&[&dyt, &missing, &attention, &dyt])).await;
    assert_eq!(picked, vec![dyt.clone(), attention.clone()]);
    // Title, case-insensitive.
    let titled = pick(store, by_title("attention is ALL")).await;
    assert_eq!(titled, vec![attention.clone()]);
    // A text query over titles and headings.
    let found = pick(store, by_query("normalization")).await;
    assert_eq!(found, vec![dyt.clone()]);
    // Recent: all three were added just now.
    let added = pick(store, recent(1)).await;
    assert_eq!(added.len(), 3, "{added:?}");
    // Random: that many, all stored.
    let random = pick(
        store,
        Selection {
            random: Some(2),
            ..sel()
        },
    )
    .await;
    assert_eq!(random.len(), 2);
    assert!(random.iter().all(|id| ids.contains(id)), "{random:?}");
    // max caps every selection.
    let capped = pick(store, Selection { max: 1, ..sel() }).await;
    assert_eq!(capped.len(), 1);

    // A rejected paper is kept but no longer selected, except by id.
    let verdict = Judgement {
        pass: false,
        relevance: 2,
        novelty: 3,
        reasons: vec!["off topic".into()],
        model: "test".into(),
        profile: "p1".into(),
        usage: workflows::types::LlmUsage {
            input_tokens: 900,
            output_tokens: 80,
            ..Default::default()
        },
        ..Default::default()
    };
    store
        .set_stage(&dyt, "rejected", Some(&verdict))
        .await
        .unwrap();
    let kept = store
        .get(&dyt)
        .await
        .unwrap()
        .expect("a rejected paper is kept");
    assert_eq!(kept.status, "rejected");
    assert_eq!(kept.judgement, Some(verdict));
    let found = pick(store, by_query("normalization")).await;
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(pick(store, recent(1)).await.len(), 2);
    let by_id = pick(store, by_ids(&[&dyt])).await;
    assert_eq!(by_id, vec![dyt.clone()]);

    // Runs: recorded once per run, the paper's stage follows the latest.
    let run = RunRecord {
        paper_id: attention.clone(),
        workflow_id: format!("paper/{attention}"),
        run_id: "run-1".into(),
        outcome: "succeeded".into(),
        results: "file:///results/x".into(),
        code: "file:///blobs/code.py".into(),
        execution: "ok".into(),
    };
    store.record_run(&run).await.unwrap();
    store.record_run(&run).await.unwrap();
    let runs = store.runs(&attention).await.unwrap();
    assert_eq!(runs, vec![run.clone()]);
    assert_eq!(
        store.get(&attention).await.unwrap().unwrap().status,
        "succeeded"
    );
    let second = RunRecord {
        run_id: "run-2".into(),
        outcome: "execution-failed".into(),
        execution: "code-error".into(),
        ..run
    };
    store.record_run(&second).await.unwrap();
    let runs = store.runs(&attention).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].run_id, "run-2");
    assert_eq!(
        store.get(&attention).await.unwrap().unwrap().status,
        "execution-failed"
    );
    // Papers from feeds are found by their entry's key, so ingestion does not download them twice.
    let text =
        "# A Paper From A Feed\n\nIt has enough words in it to count as a paper for the store.\n";
    let (fed, _) = add_bytes(
        blobs,
        store,
        text.as_bytes().to_vec(),
        Format::Markdown,
        "http://feeds.example/pdf/2611.00001v1".into(),
        Provenance {
            title: Some("A Paper From A Feed".into()),
            origin: Some(PaperOrigin {
                source: "arxiv".into(),
                source_id: "2611.00001v1".into(),
                abstract_text: "An abstract.".into(),
                ..Default::default()
            }),
            stage: "ingested".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(fed.status, "ingested");
    let found = store.get_by_origin("arxiv:2611.00001v1").await.unwrap();
    assert_eq!(found.map(|p| p.id), Some(fed.id));
    assert!(
        store
            .get_by_origin("arxiv:2611.00001v2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_by_origin("openreview:2611.00001v1")
            .await
            .unwrap()
            .is_none()
    );
    (attention, dyt, gps)
}

#[tokio::test]
async fn sqlite_paper_store() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    let store: PaperStore = SqlitePaperStore::open(&dir.path().join("papers.db"))
        .unwrap()
        .into();
    shared_behaviour(&store, &blobs).await;
    // Query DSL needs OpenSearch: a clear error, not a silent empty selection.
    let err = store
        .select(&by_query(r#"{"match": {"title": "attention"}}"#))
        .await
        .unwrap_err();
    assert!(matches!(err, PaperStoreError::BadQuery(_)), "{err}");
    assert!(err.to_string().contains("opensearch"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn opensearch_paper_store_against_osmem() {
    let dir = tempfile::tempdir().unwrap();
    let (_osmem, url) = start_osmem(dir.path());
    let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    let config = OpenSearchConfig {
        url: url.clone(),
        index: "papers-test".into(),
        ..Default::default()
    };
    let store: PaperStore = OpenSearchPaperStore::open(&config).await.unwrap().into();
    let (attention, _dyt, gps) = shared_behaviour(&store, &blobs).await;

    // Query DSL, as JSON, with or without the outer "query".
    let failed = by_query(r#"{"query": {"term": {"stage": "execution-failed"}}}"#);
    assert_eq!(pick(&store, failed).await, vec![attention.clone()]);
    let gumbel = by_query(r#"{"match": {"title": "gumbel"}}"#);
    assert_eq!(pick(&store, gumbel).await, vec![gps]);
    let bad = store.select(&by_query("{not json")).await.unwrap_err();
    assert!(matches!(bad, PaperStoreError::BadQuery(_)), "{bad}");

    // The index carries the mapping: stage as keyword, judge scores, code and execution.
    let mapping = annapurna_tests::http_get_json(&format!("{url}/papers-test/_mapping"));
    let props = &mapping["papers-test"]["mappings"]["properties"];
    assert_eq!(props["stage"]["type"], "keyword", "{mapping}");
    assert_eq!(props["judge"]["properties"]["relevance"]["type"], "integer");
    assert_eq!(props["code"]["properties"]["results"]["type"], "keyword");
    assert_eq!(
        props["execution"]["properties"]["status"]["type"],
        "keyword"
    );
    // The document has the latest run's code and execution.
    let doc = annapurna_tests::http_get_json(&format!("{url}/papers-test/_doc/{attention}"));
    assert_eq!(doc["_source"]["execution"]["status"], "code-error", "{doc}");
    assert_eq!(doc["_source"]["code"]["run_id"], "run-2");

    // Opening again finds the index and what is in it.
    let again: PaperStore = OpenSearchPaperStore::open(&config).await.unwrap().into();
    assert_eq!(again.count().await.unwrap(), 4);

    // Nothing listening: a retryable error naming the address.
    let down = OpenSearchPaperStore::open(&OpenSearchConfig {
        url: format!("http://127.0.0.1:{}", annapurna_tests::free_port()),
        timeout_secs: 2,
        ..config
    })
    .await
    .err()
    .expect("no server");
    assert!(down.is_retryable(), "{down}");
    assert!(down.to_string().contains("127.0.0.1"), "{down}");
}

#[tokio::test]
async fn s3_blobs_against_moto() {
    let dir = tempfile::tempdir().unwrap();
    let (_moto, endpoint) = start_moto(dir.path(), "annapurna-blobs");
    let s3 = moto_s3(&endpoint);
    let blobs = BlobStore::open_with("s3://annapurna-blobs/run-a", &s3).unwrap();
    let paper = std::fs::read(papers_dir().join("attention-is-all-you-need.pdf")).unwrap();
    let blob = blobs
        .put("papers/x/original.pdf", paper.clone())
        .await
        .unwrap();
    assert_eq!(blob.uri, "s3://annapurna-blobs/run-a/papers/x/original.pdf");
    assert_eq!(blob.bytes, paper.len() as u64);
    assert_eq!(blobs.get(&blob).await.unwrap().as_ref(), &paper[..]);
    // Same key, same content: idempotent.
    assert_eq!(
        blobs
            .put("papers/x/original.pdf", paper.clone())
            .await
            .unwrap(),
        blob
    );
    // Another prefix of the same bucket does not see it.
    let other = BlobStore::open_with("s3://annapurna-blobs/run-b", &s3).unwrap();
    let err = other.get(&blob).await.unwrap_err();
    assert!(matches!(err, BlobError::Foreign { .. }), "{err}");
    // A reference whose hash does not match is refused.
    let mut tampered = blob.clone();
    tampered.sha256 = "0".repeat(64);
    let err = blobs.get(&tampered).await.unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    // A missing object.
    let mut missing = blob.clone();
    missing.uri = "s3://annapurna-blobs/run-a/papers/none".into();
    let err = blobs.get(&missing).await.unwrap_err();
    assert!(matches!(err, BlobError::Missing { .. }), "{err}");
}

/// One paper end to end with everything off the local disk: blobs and results in S3, the paper
/// store in OpenSearch.
#[tokio::test]
async fn paper_to_code_on_s3_and_opensearch() {
    let scratch = tempfile::tempdir().unwrap();
    let (_moto, s3) = start_moto(scratch.path(), "annapurna");
    let (_osmem, os) = start_osmem(scratch.path());
    let stack = Stack::start_with_env(
        &[],
        &[
            ("ANNAPURNA_STORAGE__BLOBS", "s3://annapurna/blobs"),
            ("ANNAPURNA_STORAGE__RESULTS", "s3://annapurna/results"),
            ("ANNAPURNA_STORAGE__PAPER_STORE", "opensearch"),
            ("ANNAPURNA_STORAGE__OPENSEARCH__URL", &os),
            ("ANNAPURNA_S3_ENDPOINT", &s3),
            ("ANNAPURNA_S3_ACCESS_KEY_ID", "moto"),
            ("ANNAPURNA_S3_SECRET_ACCESS_KEY", "moto"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
    .await;
    let id = stack.add_example();
    let out = stack
        .run_paper("s3-opensearch", paper_input(&id))
        .await
        .expect("the paper completes");
    assert!(
        out.results.starts_with("s3://annapurna/results/"),
        "{out:?}"
    );
    assert!(out.code.uri.starts_with("s3://annapurna/blobs/"), "{out:?}");
    // The paper store (OpenSearch) has the run.
    let shown = stack.show_paper(&id);
    assert_eq!(shown["paper"]["status"], out.outcome);
    assert_eq!(shown["runs"][0]["results"], out.results);
    // The results are in S3: the run's metadata.json is there.
    let results = BlobStore::open_with("s3://annapurna/results", &moto_s3(&s3)).unwrap();
    let metadata = results
        .try_get_uri(&format!("{}/metadata.json", out.results))
        .await
        .unwrap()
        .expect("metadata.json in S3");
    let metadata: serde_json::Value = serde_json::from_slice(&metadata).unwrap();
    assert_eq!(metadata["paper"]["id"], id, "{metadata}");
    let doc = annapurna_tests::http_get_json(&format!("{os}/annapurna-papers/_doc/{id}"));
    assert_eq!(doc["_source"]["code"]["results"], out.results, "{doc}");
    assert!(
        !stack.dir.path().join("blobs").exists(),
        "nothing on local disk"
    );
}

/// With `aws-sigv4`, every request to the cluster is signed for the configured service and region
/// (Amazon OpenSearch Service); checked on a local server that records what it receives.
#[tokio::test]
async fn opensearch_requests_are_signed_for_aws() {
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            record.lock().unwrap().push(auth);
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let aws = aws_config::SdkConfig::builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::from_keys(
                    "AKIDANNAPURNATEST",
                    "not-a-secret",
                    None,
                ),
            ),
        )
        .region(aws_config::Region::new("eu-west-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let config = OpenSearchConfig {
        url,
        aws_sigv4: true,
        aws_service: "aoss".into(),
        ..Default::default()
    };
    OpenSearchPaperStore::open_with_aws(&config, Some(&aws))
        .await
        .expect("the (fake) indices exist");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one existence check per index: {seen:?}");
    for auth in &seen {
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDANNAPURNATEST/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/aoss/aws4_request"), "{auth}");
        assert!(auth.contains("Signature="), "{auth}");
    }
}

/// SigV4 without credentials or a region is refused up front, naming what to configure.
#[tokio::test]
async fn opensearch_sigv4_without_aws_credentials_is_a_clear_error() {
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let config = OpenSearchConfig {
        url: "http://127.0.0.1:9".into(),
        aws_sigv4: true,
        ..Default::default()
    };
    let err = OpenSearchPaperStore::open_with_aws(&config, Some(&aws))
        .await
        .err()
        .expect("no credentials");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("AWS credentials"), "{err}");
}
