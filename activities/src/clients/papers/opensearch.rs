//! The OpenSearch backend, through the `opensearch` crate. Papers live in one index (default
//! `annapurna-papers`) whose mapping carries the metadata, the stage, the judge's scores, the latest
//! run's code and execution, and the whole record (stored, not indexed) so that reading back is
//! lossless; runs live in `<index>-runs`. Writes wait for a refresh, so what a worker stores is
//! what the next selection sees.

use std::time::Duration;

use opensearch::auth::Credentials;
use opensearch::http::StatusCode;
use opensearch::http::response::Response;
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::indices::{IndicesCreateParts, IndicesExistsParts};
use opensearch::params::Refresh;
use opensearch::{
    CountParts, CreateParts, GetParts, IndexParts, OpenSearch, SearchParts, UpdateParts,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workflows::types::Judgement;

use super::{PaperRecord, PaperStoreError, RunRecord, Selection, UNSELECTABLE_STAGES, query_dsl};

/// Where the OpenSearch paper store is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct OpenSearchConfig {
    /// The cluster's address.
    pub url: String,
    /// The papers index (runs go to `<index>-runs`).
    pub index: String,
    /// Basic-auth user, when the cluster needs one.
    pub username: String,
    /// Basic-auth password (better given as `ANNAPURNA_STORAGE__OPENSEARCH__PASSWORD`).
    pub password: String,
    /// Seconds one request may take.
    pub timeout_secs: u64,
    /// Sign requests with AWS SigV4 (Amazon OpenSearch Service), credentials and region from the
    /// standard AWS chain.
    pub aws_sigv4: bool,
    /// The SigV4 service: `es` (OpenSearch Service domains) or `aoss` (OpenSearch Serverless).
    pub aws_service: String,
    /// The region to sign for; empty: the AWS chain's (`AWS_REGION`, profile).
    pub aws_region: String,
}

impl Default for OpenSearchConfig {
    fn default() -> Self {
        Self {
            url: "http://localhost:9200".into(),
            index: "annapurna-papers".into(),
            username: String::new(),
            password: String::new(),
            timeout_secs: 30,
            aws_sigv4: false,
            aws_service: "es".into(),
            aws_region: String::new(),
        }
    }
}

/// The papers index's mapping.
pub fn papers_mapping() -> Value {
    let keyword = json!({"type": "keyword"});
    let text = json!({"type": "text"});
    json!({
        "settings": {"index": {"number_of_shards": 1}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": keyword,
                "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
                "abstract": text,
                "authors": text,
                "sections": text,
                "source": keyword,
                "format": keyword,
                "sha256": keyword,
                "characters": {"type": "long"},
                "added_at": {"type": "date"},
                "published": {"type": "date"},
                "stage": keyword,
                "origin": {"properties": {
                    "source": keyword,
                    "source_id": keyword,
                    "categories": keyword,
                    "venue": text,
                    "pdf_url": keyword
                }},
                "judge": {"properties": {
                    "pass": {"type": "boolean"},
                    "relevance": {"type": "integer"},
                    "novelty": {"type": "integer"},
                    "reasons": text,
                    "model": keyword,
                    "profile": keyword,
                    "standin": {"type": "boolean"}
                }},
                "code": {"properties": {
                    "uri": keyword,
                    "results": keyword,
                    "outcome": keyword,
                    "workflow_id": keyword,
                    "run_id": keyword
                }},
                "execution": {"properties": {
                    "status": keyword
                }},
                "record": {"type": "object", "enabled": false}
            }
        }
    })
}

fn runs_mapping() -> Value {
    json!({
        "settings": {"index": {"number_of_shards": 1}},
        "mappings": {
            "properties": {
                "paper_id": {"type": "keyword"},
                "workflow_id": {"type": "keyword"},
                "run_id": {"type": "keyword"},
                "outcome": {"type": "keyword"},
                "results": {"type": "keyword"},
                "code": {"type": "keyword"},
                "execution": {"type": "keyword"},
                "recorded_at": {"type": "date"},
                "seq": {"type": "long"}
            }
        }
    })
}

/// The searchable document of a paper.
fn document(record: &PaperRecord) -> Value {
    let origin = record.origin.as_ref();
    json!({
        "id": record.id,
        "title": record.title,
        "abstract": origin.map(|o| o.abstract_text.clone()).unwrap_or_default(),
        "authors": origin.map(|o| o.authors.clone()).unwrap_or_default(),
        "sections": record.sections,
        "source": record.source,
        "format": record.format,
        "sha256": record.sha256,
        "characters": record.characters,
        "added_at": record.added_at,
        "published": origin.and_then(|o| o.published.clone()),
        "stage": record.status,
        "origin": origin.map(|o| json!({
            "source": o.source,
            "source_id": o.source_id,
            "categories": o.categories,
            "venue": o.venue,
            "pdf_url": o.pdf_url,
        })),
        "judge": judge_doc(record.judgement.as_ref()),
        "record": record,
    })
}

/// The judge's fields the mapping indexes (not its token usage).
fn judge_doc(j: Option<&Judgement>) -> Value {
    j.map(|j| {
        json!({
            "pass": j.pass,
            "relevance": j.relevance,
            "novelty": j.novelty,
            "reasons": j.reasons,
            "model": j.model,
            "profile": j.profile,
            "standin": j.standin,
        })
    })
    .unwrap_or(Value::Null)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The OpenSearch paper store.
#[derive(Clone)]
pub struct OpenSearchPaperStore {
    client: OpenSearch,
    config: OpenSearchConfig,
}

impl OpenSearchPaperStore {
    /// Connects and creates the indices (with their mappings) when they do not exist. With
    /// `aws-sigv4`, credentials and region come from the standard AWS chain.
    pub async fn open(config: &OpenSearchConfig) -> Result<Self, PaperStoreError> {
        let aws = if config.aws_sigv4 {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if !config.aws_region.is_empty() {
                loader = loader.region(aws_config::Region::new(config.aws_region.clone()));
            }
            Some(loader.load().await)
        } else {
            None
        };
        Self::open_with_aws(config, aws.as_ref()).await
    }

    /// As [`OpenSearchPaperStore::open`], signing with this AWS configuration when given.
    pub async fn open_with_aws(
        config: &OpenSearchConfig,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, PaperStoreError> {
        let url = url::Url::parse(&config.url).map_err(|e| PaperStoreError::OpenSearch {
            url: config.url.clone(),
            index: config.index.clone(),
            reason: format!(
                "not a URL ({e}); set storage.opensearch.url to e.g. http://localhost:9200"
            ),
            retryable: false,
        })?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .disable_proxy();
        if let Some(aws) = aws {
            let credentials = Credentials::try_from(aws).map_err(|e| PaperStoreError::OpenSearch {
                url: config.url.clone(),
                index: config.index.clone(),
                reason: format!(
                    "cannot sign for AWS ({e}); configure AWS credentials and a region (AWS_REGION or \
                     storage.opensearch.aws-region)"
                ),
                retryable: false,
            })?;
            builder = builder.auth(credentials).service_name(&config.aws_service);
        } else if !config.username.is_empty() {
            builder = builder.auth(Credentials::Basic(
                config.username.clone(),
                config.password.clone(),
            ));
        }
        let transport = builder.build().map_err(|e| PaperStoreError::OpenSearch {
            url: config.url.clone(),
            index: config.index.clone(),
            reason: e.to_string(),
            retryable: false,
        })?;
        let store = Self {
            client: OpenSearch::new(transport),
            config: config.clone(),
        };
        store
            .ensure_index(&store.config.index, papers_mapping())
            .await?;
        store
            .ensure_index(&store.runs_index(), runs_mapping())
            .await?;
        Ok(store)
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        format!("opensearch {} index {}", self.config.url, self.config.index)
    }

    fn runs_index(&self) -> String {
        format!("{}-runs", self.config.index)
    }

    fn error(&self, reason: impl std::fmt::Display, retryable: bool) -> PaperStoreError {
        PaperStoreError::OpenSearch {
            url: self.config.url.clone(),
            index: self.config.index.clone(),
            reason: reason.to_string(),
            retryable,
        }
    }

    fn transport_error(&self, e: opensearch::Error) -> PaperStoreError {
        self.error(format!("{e}; is OpenSearch running at that address?"), true)
    }

    /// The response's JSON body when the status is a success (or `allowed`); an error otherwise.
    async fn body(
        &self,
        response: Result<Response, opensearch::Error>,
        allowed: &[StatusCode],
    ) -> Result<(StatusCode, Value), PaperStoreError> {
        let response = response.map_err(|e| self.transport_error(e))?;
        let status = response.status_code();
        let text = response.text().await.map_err(|e| self.transport_error(e))?;
        if !status.is_success() && !allowed.contains(&status) {
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            let reason: String = text.chars().take(500).collect();
            return Err(self.error(format!("HTTP {status}: {reason}"), retryable));
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| self.error(format!("unreadable answer ({e})"), true))?
        };
        Ok((status, body))
    }

    async fn ensure_index(&self, index: &str, mapping: Value) -> Result<(), PaperStoreError> {
        let exists = self
            .client
            .indices()
            .exists(IndicesExistsParts::Index(&[index]))
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        if exists.status_code().is_success() {
            return Ok(());
        }
        let created = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(index))
            .body(mapping)
            .send()
            .await;
        // Another worker may have created it in between.
        let (status, body) = self.body(created, &[StatusCode::BAD_REQUEST]).await?;
        if status == StatusCode::BAD_REQUEST
            && !body.to_string().contains("resource_already_exists")
        {
            return Err(self.error(format!("cannot create index {index}: {body}"), false));
        }
        Ok(())
    }

    fn decode(&self, hit: &Value) -> Result<PaperRecord, PaperStoreError> {
        let id = hit["_id"].as_str().unwrap_or_default().to_owned();
        serde_json::from_value(hit["_source"]["record"].clone()).map_err(|e| {
            PaperStoreError::Corrupt {
                path: self.describe(),
                id,
                reason: e.to_string(),
            }
        })
    }

    async fn search(&self, index: &str, body: Value) -> Result<Vec<Value>, PaperStoreError> {
        let response = self
            .client
            .search(SearchParts::Index(&[index]))
            .body(body)
            .send()
            .await;
        let (_, body) = self.body(response, &[]).await?;
        Ok(body["hits"]["hits"].as_array().cloned().unwrap_or_default())
    }

    /// Inserts a paper unless one with the same content is stored.
    pub async fn insert(
        &self,
        record: &PaperRecord,
    ) -> Result<(PaperRecord, bool), PaperStoreError> {
        if let Some(existing) = self.get_by_sha256(&record.sha256).await? {
            return Ok((existing, false));
        }
        let mut record = record.clone();
        if record.status.is_empty() {
            record.status = "added".into();
        }
        record.added_at = now_rfc3339();
        let response = self
            .client
            .create(CreateParts::IndexId(&self.config.index, &record.id))
            .body(document(&record))
            .refresh(Refresh::WaitFor)
            .send()
            .await;
        let (status, _) = self.body(response, &[StatusCode::CONFLICT]).await?;
        if status == StatusCode::CONFLICT {
            // The id derives from the content: someone stored the same paper just now.
            let existing = self
                .get(&record.id)
                .await?
                .ok_or_else(|| self.error("a paper vanished right after a conflict", true))?;
            return Ok((existing, false));
        }
        Ok((record, true))
    }

    /// The paper with this id.
    pub async fn get(&self, id: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        let response = self
            .client
            .get(GetParts::IndexId(&self.config.index, id))
            .send()
            .await;
        let (status, body) = self.body(response, &[StatusCode::NOT_FOUND]).await?;
        if status == StatusCode::NOT_FOUND || body["found"] == Value::Bool(false) {
            return Ok(None);
        }
        self.decode(&body).map(Some)
    }

    /// The paper with this content hash.
    pub async fn get_by_sha256(
        &self,
        sha256: &str,
    ) -> Result<Option<PaperRecord>, PaperStoreError> {
        let hits = self
            .search(
                &self.config.index,
                json!({"query": {"term": {"sha256": sha256}}, "size": 1}),
            )
            .await?;
        hits.first().map(|h| self.decode(h)).transpose()
    }

    /// The paper a feed entry brought (`<source>:<source-id>`).
    pub async fn get_by_origin(&self, key: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        let Some((source, source_id)) = key.split_once(':') else {
            return Ok(None);
        };
        let hits = self
            .search(
                &self.config.index,
                json!({
                    "query": {"bool": {"filter": [
                        {"term": {"origin.source": source}},
                        {"term": {"origin.source_id": source_id}},
                    ]}},
                    "size": 1,
                }),
            )
            .await?;
        hits.first().map(|h| self.decode(h)).transpose()
    }

    /// Papers, newest first.
    pub async fn list(&self, limit: u32) -> Result<Vec<PaperRecord>, PaperStoreError> {
        let hits = self
            .search(
                &self.config.index,
                json!({
                    "query": {"match_all": {}},
                    "sort": [{"added_at": "desc"}, {"id": "asc"}],
                    "size": limit.min(10_000),
                }),
            )
            .await?;
        hits.iter().map(|h| self.decode(h)).collect()
    }

    /// Number of papers stored.
    pub async fn count(&self) -> Result<u64, PaperStoreError> {
        let response = self
            .client
            .count(CountParts::Index(&[&self.config.index]))
            .send()
            .await;
        let (_, body) = self.body(response, &[]).await?;
        Ok(body["count"].as_u64().unwrap_or(0))
    }

    /// The query of a selection (without ids): every filter given, selectable stages only. Query
    /// DSL comes from whoever starts a batch: scripts and pattern queries are refused.
    pub fn selection_query(sel: &Selection) -> Result<Value, PaperStoreError> {
        let mut must = Vec::new();
        let mut filter = Vec::new();
        if let Some(q) = sel.query.as_deref() {
            match query_dsl(q) {
                Some(dsl) => {
                    let parsed: Value = serde_json::from_str(dsl).map_err(|e| {
                        PaperStoreError::BadQuery(format!(
                            "the query is not valid JSON ({e}); give OpenSearch query DSL such as \
                             {{\"match\": {{\"abstract\": \"diffusion\"}}}}, or plain words"
                        ))
                    })?;
                    let inner = parsed.get("query").cloned().unwrap_or(parsed);
                    if let Some(key) = forbidden_clause(&inner) {
                        return Err(PaperStoreError::BadQuery(format!(
                            "the query DSL may not use {key:?} (scripts and pattern queries can run \
                             code or scan the whole index); use match, term, range or bool"
                        )));
                    }
                    if !inner.is_object() {
                        return Err(PaperStoreError::BadQuery(
                            "the query DSL must be a JSON object such as {\"match\": {\"title\": \"attention\"}}"
                                .into(),
                        ));
                    }
                    must.push(inner);
                }
                None => must.push(json!({"simple_query_string": {
                    "query": q,
                    "fields": ["title^3", "abstract^2", "sections"],
                    "default_operator": "and"
                }})),
            }
        }
        if let Some(t) = sel.title.as_deref() {
            must.push(json!({"match_phrase": {"title": t}}));
        }
        if let Some(days) = sel.recent_days {
            // Recent means published (arXiv submission, OpenReview decision); a paper added by
            // hand has no publication date, and its day in the store stands in.
            let since = format!("now-{days}d");
            filter.push(json!({"bool": {
                "should": [
                    {"range": {"published": {"gte": since}}},
                    {"bool": {
                        "must_not": [{"exists": {"field": "published"}}],
                        "filter": [{"range": {"added_at": {"gte": since}}}],
                    }},
                ],
                "minimum_should_match": 1,
            }}));
        }
        let query = json!({"bool": {
            "must": must,
            "filter": filter,
            "must_not": [{"terms": {"stage": UNSELECTABLE_STAGES}}],
        }});
        Ok(match sel.random {
            Some(_) => json!({"function_score": {"query": query, "random_score": {}}}),
            None => query,
        })
    }

    /// Paper ids for a batch.
    pub async fn select(&self, sel: &Selection) -> Result<Vec<String>, PaperStoreError> {
        if !sel.ids.is_empty() {
            let mut found = Vec::new();
            for id in &sel.ids {
                if !found.contains(id) && self.get(id).await?.is_some() {
                    found.push(id.clone());
                }
            }
            found.truncate(sel.max as usize);
            return Ok(found);
        }
        let size = sel.random.map(|r| r.min(sel.max)).unwrap_or(sel.max);
        let mut body = json!({
            "query": Self::selection_query(sel)?,
            "size": size.min(10_000),
            "_source": ["id"],
        });
        if sel.random.is_none() && sel.query.is_none() {
            body["sort"] = json!([{"added_at": "desc"}, {"id": "asc"}]);
        }
        let hits = self
            .search(&self.config.index, body)
            .await
            .map_err(|e| match e {
                // A 400 here is the user's query DSL.
                PaperStoreError::OpenSearch {
                    reason,
                    retryable: false,
                    ..
                } => PaperStoreError::BadQuery(format!(
                    "OpenSearch refused the selection query: {reason}"
                )),
                other => other,
            })?;
        Ok(hits
            .iter()
            .filter_map(|h| h["_id"].as_str().map(str::to_owned))
            .collect())
    }

    async fn update(&self, id: &str, doc: Value) -> Result<(), PaperStoreError> {
        let response = self
            .client
            .update(UpdateParts::IndexId(&self.config.index, id))
            .body(json!({"doc": doc}))
            .refresh(Refresh::WaitFor)
            .retry_on_conflict(3)
            .send()
            .await;
        self.body(response, &[StatusCode::NOT_FOUND]).await?;
        Ok(())
    }

    /// Sets a paper's stage and, when given, the judge's verdict.
    pub async fn set_stage(
        &self,
        id: &str,
        stage: &str,
        judgement: Option<&Judgement>,
    ) -> Result<(), PaperStoreError> {
        let Some(mut record) = self.get(id).await? else {
            return Ok(());
        };
        record.status = stage.to_owned();
        if let Some(j) = judgement {
            record.judgement = Some(j.clone());
        }
        self.update(
            id,
            json!({
                "stage": stage,
                "judge": judge_doc(record.judgement.as_ref()),
                "record": record,
            }),
        )
        .await
    }

    /// Records a run and sets the paper's stage, code and execution to the run's.
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), PaperStoreError> {
        let run_doc_id = format!("{}/{}", run.workflow_id, run.run_id);
        let mut doc = serde_json::to_value(run).expect("a run record serialises");
        doc["recorded_at"] = json!(now_rfc3339());
        doc["seq"] = json!(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        );
        let response = self
            .client
            .index(IndexParts::IndexId(&self.runs_index(), &run_doc_id))
            .body(doc)
            .refresh(Refresh::WaitFor)
            .send()
            .await;
        self.body(response, &[]).await?;
        let Some(mut record) = self.get(&run.paper_id).await? else {
            return Ok(());
        };
        record.status = run.outcome.clone();
        self.update(
            &run.paper_id,
            json!({
                "stage": run.outcome,
                "record": record,
                "code": {
                    "uri": run.code,
                    "results": run.results,
                    "outcome": run.outcome,
                    "workflow_id": run.workflow_id,
                    "run_id": run.run_id,
                },
                "execution": {"status": run.execution},
            }),
        )
        .await
    }

    /// Runs recorded for a paper, oldest first.
    pub async fn runs(&self, paper_id: &str) -> Result<Vec<RunRecord>, PaperStoreError> {
        let hits = self
            .search(
                &self.runs_index(),
                json!({
                    "query": {"term": {"paper_id": paper_id}},
                    "sort": [{"seq": "asc"}],
                    "size": 1000,
                }),
            )
            .await?;
        hits.iter()
            .map(|h| {
                serde_json::from_value(h["_source"].clone()).map_err(|e| PaperStoreError::Corrupt {
                    path: self.describe(),
                    id: paper_id.to_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

/// The first clause anywhere in `dsl` that a batch's query may not use: scripts (they run code
/// in the cluster) and regexp / wildcard / fuzzy / prefix queries (they can scan the whole index).
fn forbidden_clause(dsl: &Value) -> Option<String> {
    const FORBIDDEN: [&str; 8] = [
        "script",
        "script_score",
        "script_fields",
        "scripted_metric",
        "regexp",
        "wildcard",
        "fuzzy",
        "prefix",
    ];
    match dsl {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if FORBIDDEN.contains(&k.as_str()) {
                Some(k.clone())
            } else {
                forbidden_clause(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(forbidden_clause),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_query_searches_title_abstract_and_sections_of_selectable_papers() {
        let q = OpenSearchPaperStore::selection_query(&Selection {
            query: Some("sparse attention".into()),
            recent_days: Some(7),
            max: 10,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            q["bool"]["must"][0]["simple_query_string"]["query"],
            "sparse attention"
        );
        let recent = &q["bool"]["filter"][0]["bool"]["should"];
        assert_eq!(recent[0]["range"]["published"]["gte"], "now-7d");
        assert_eq!(
            recent[1]["bool"]["filter"][0]["range"]["added_at"]["gte"],
            "now-7d"
        );
        assert_eq!(
            q["bool"]["must_not"][0]["terms"]["stage"],
            json!(["ingested", "rejected"])
        );
    }

    #[test]
    fn query_dsl_is_used_as_given_and_bad_json_is_refused() {
        let q = OpenSearchPaperStore::selection_query(&Selection {
            query: Some(r#"{"query": {"range": {"judge.relevance": {"gte": 8}}}}"#.into()),
            random: Some(3),
            max: 10,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            q["function_score"]["query"]["bool"]["must"][0]["range"]["judge.relevance"]["gte"],
            8
        );
        let bad = OpenSearchPaperStore::selection_query(&Selection {
            query: Some("{not json".into()),
            max: 10,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(bad, PaperStoreError::BadQuery(_)), "{bad}");
        for hostile in [
            r#"{"script": {"script": {"source": "Thread.sleep(100000)"}}}"#,
            r#"{"bool": {"must": [{"regexp": {"title": "(a+)+$"}}]}}"#,
            r#"{"query": {"function_score": {"script_score": {"script": "1"}}}}"#,
        ] {
            let e = OpenSearchPaperStore::selection_query(&Selection {
                query: Some(hostile.into()),
                max: 10,
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(e, PaperStoreError::BadQuery(_)), "{hostile}: {e}");
        }
    }
}
