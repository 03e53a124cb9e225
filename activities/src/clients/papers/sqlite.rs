//! The embedded backend: a SQLite file (rusqlite, bundled), opened in WAL mode with a busy timeout
//! so that `annapurna paper add` and running workers can share it. Titles and section headings are
//! indexed with FTS5 for text queries.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use workflows::types::Judgement;

use super::{PaperRecord, PaperStoreError, RunRecord, Selection, UNSELECTABLE_STAGES, query_dsl};

/// The embedded SQLite paper store.
#[derive(Clone)]
pub struct SqlitePaperStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    characters INTEGER NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS papers_origin ON papers(
    (json_extract(record, '$.origin.source') || ':' || json_extract(record, '$.origin.source_id'))
);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(id UNINDEXED, title, sections);
CREATE TABLE IF NOT EXISTS runs (
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers(id),
    outcome TEXT NOT NULL,
    results TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    code TEXT NOT NULL DEFAULT '',
    execution TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_id, run_id)
);
";

/// When a paper was published: its source's date, else the day it was stored.
const PUBLISHED: &str = "coalesce(json_extract(p.record, '$.origin.published'), p.added_at)";

/// Columns added after the first release, for files created before them.
const MIGRATIONS: [(&str, &str, &str); 2] = [
    (
        "runs",
        "code",
        "ALTER TABLE runs ADD COLUMN code TEXT NOT NULL DEFAULT ''",
    ),
    (
        "runs",
        "execution",
        "ALTER TABLE runs ADD COLUMN execution TEXT NOT NULL DEFAULT ''",
    ),
];

impl SqlitePaperStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, PaperStoreError> {
        let err = |source| PaperStoreError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        for (table, column, sql) in MIGRATIONS {
            let present: bool = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
                    [column],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(err)?
                > 0;
            if !present {
                conn.execute_batch(sql).map_err(err)?;
            }
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, PaperStoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|source| PaperStoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        })
    }

    fn decode(
        &self,
        id: String,
        json: String,
        status: String,
        added_at: String,
    ) -> Result<PaperRecord, PaperStoreError> {
        let mut record: PaperRecord =
            serde_json::from_str(&json).map_err(|e| PaperStoreError::Corrupt {
                path: self.path.display().to_string(),
                id,
                reason: e.to_string(),
            })?;
        record.status = status;
        record.added_at = added_at;
        Ok(record)
    }

    /// Inserts a paper unless one with the same content is stored; returns the stored record and
    /// whether it was new.
    pub fn insert(&self, record: &PaperRecord) -> Result<(PaperRecord, bool), PaperStoreError> {
        if let Some(existing) = self.get_by_sha256(&record.sha256)? {
            return Ok((existing, false));
        }
        let json = serde_json::to_string(record).expect("a paper record serialises");
        // Titles, headings and (for ingested papers) the abstract are searchable.
        let mut sections = record.sections.join(" \n ");
        if let Some(origin) = &record.origin {
            sections.push_str(" \n ");
            sections.push_str(&origin.abstract_text);
        }
        let status = if record.status.is_empty() {
            "added"
        } else {
            record.status.as_str()
        };
        let inserted = self.with(|c| {
            c.execute(
                "INSERT INTO papers_fts (id, title, sections) SELECT ?1, ?2, ?3
                 WHERE NOT EXISTS (SELECT 1 FROM papers WHERE sha256 = ?4)",
                params![record.id, record.title, sections, record.sha256],
            )?;
            c.execute(
                "INSERT OR IGNORE INTO papers (id, sha256, title, source, format, characters, record, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    record.id,
                    record.sha256,
                    record.title,
                    record.source,
                    record.format,
                    record.characters as i64,
                    json,
                    status
                ],
            )
        })?;
        let stored = self
            .get_by_sha256(&record.sha256)?
            .expect("the row was just inserted or already there");
        Ok((stored, inserted == 1))
    }

    /// The paper with this id.
    pub fn get(&self, id: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        self.get_where("id", id)
    }

    /// The paper with this content hash.
    pub fn get_by_sha256(&self, sha256: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        self.get_where("sha256", sha256)
    }

    /// The paper a feed entry brought (`<source>:<source-id>`, as `arxiv:2611.04821v1`).
    pub fn get_by_origin(&self, key: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        // The same expression as the papers_origin index, so the lookup uses it.
        self.get_where(
            "(json_extract(record, '$.origin.source') || ':' || json_extract(record, '$.origin.source_id'))",
            key,
        )
    }

    fn get_where(&self, column: &str, value: &str) -> Result<Option<PaperRecord>, PaperStoreError> {
        let sql = format!("SELECT id, record, status, added_at FROM papers WHERE {column} = ?1");
        let row = self.with(|c| {
            c.query_row(&sql, [value], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })?;
        row.map(|(id, json, status, added)| self.decode(id, json, status, added))
            .transpose()
    }

    /// Papers, newest first, at most `limit`.
    pub fn list(&self, limit: u32) -> Result<Vec<PaperRecord>, PaperStoreError> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, record, status, added_at FROM papers ORDER BY added_at DESC, id LIMIT ?1",
            )?;
            stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<(String, String, String, String)>>>()
        })?;
        rows.into_iter()
            .map(|(id, json, status, added)| self.decode(id, json, status, added))
            .collect()
    }

    /// Paper ids for a batch: explicit ids (those that exist), else the selectable papers
    /// matching all of recent days, title and full-text query, newest first; `random` picks that
    /// many at random among them; at most `max`.
    pub fn select(&self, sel: &Selection) -> Result<Vec<String>, PaperStoreError> {
        let max = sel.max;
        if !sel.ids.is_empty() {
            let mut found = Vec::new();
            for id in &sel.ids {
                if self.get(id)?.is_some() && !found.contains(id) {
                    found.push(id.clone());
                }
            }
            found.truncate(max as usize);
            return Ok(found);
        }
        let (recent_days, title, query, random) = (
            sel.recent_days,
            sel.title.as_deref(),
            sel.query.as_deref(),
            sel.random,
        );
        if query.and_then(query_dsl).is_some() {
            return Err(PaperStoreError::BadQuery(format!(
                "the SQLite paper store ({}) takes a text query (words to find in titles, headings \
                 and abstracts), not OpenSearch query DSL; set storage.paper-store = \"opensearch\" \
                 to select with query DSL",
                self.path.display()
            )));
        }
        let mut sql = format!(
            "SELECT p.id FROM papers p WHERE p.status NOT IN ({})",
            UNSELECTABLE_STAGES.map(|s| format!("'{s}'")).join(", ")
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(days) = recent_days {
            // Recent means published; a paper added by hand has only its day in the store.
            sql.push_str(&format!(
                " AND {PUBLISHED} >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)"
            ));
            args.push(format!("-{days} days"));
        }
        if let Some(t) = title {
            sql.push_str(" AND lower(p.title) LIKE ?");
            args.push(format!("%{}%", t.to_lowercase()));
        }
        if let Some(q) = query {
            sql.push_str(" AND p.id IN (SELECT id FROM papers_fts WHERE papers_fts MATCH ?)");
            // Each word as a quoted term: user text cannot break the FTS5 query syntax.
            let terms: Vec<String> = q
                .split_whitespace()
                .map(|w| format!("\"{}\"", w.replace('"', "")))
                .collect();
            args.push(terms.join(" "));
        }
        if random.is_some() {
            sql.push_str(" ORDER BY random()");
        } else {
            sql.push_str(&format!(" ORDER BY {PUBLISHED} DESC, p.id"));
        }
        let limit = random.map(|r| r.min(max)).unwrap_or(max);
        sql.push_str(&format!(" LIMIT {limit}"));
        self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                r.get::<_, String>(0)
            })?
            .collect()
        })
    }

    /// Number of papers stored.
    pub fn count(&self) -> Result<u64, PaperStoreError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM papers", [], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
    }

    /// Sets a paper's stage and, when given, keeps the judge's verdict in its record.
    pub fn set_stage(
        &self,
        id: &str,
        stage: &str,
        judgement: Option<&Judgement>,
    ) -> Result<(), PaperStoreError> {
        let Some(mut record) = self.get(id)? else {
            return Ok(());
        };
        if let Some(j) = judgement {
            record.judgement = Some(j.clone());
        }
        let json = serde_json::to_string(&record).expect("a paper record serialises");
        self.with(|c| {
            c.execute(
                "UPDATE papers SET status = ?2, record = ?3 WHERE id = ?1",
                params![id, stage, json],
            )
        })?;
        Ok(())
    }

    /// Records a run and sets the paper's status to its outcome (idempotent per run).
    pub fn record_run(&self, run: &RunRecord) -> Result<(), PaperStoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO runs (workflow_id, run_id, paper_id, outcome, results, code, execution)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.workflow_id,
                    run.run_id,
                    run.paper_id,
                    run.outcome,
                    run.results,
                    run.code,
                    run.execution
                ],
            )?;
            c.execute(
                "UPDATE papers SET status = ?2 WHERE id = ?1",
                params![run.paper_id, run.outcome],
            )?;
            Ok(())
        })
    }

    /// Runs recorded for a paper, oldest first.
    pub fn runs(&self, paper_id: &str) -> Result<Vec<RunRecord>, PaperStoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT paper_id, workflow_id, run_id, outcome, results, code, execution FROM runs
                 WHERE paper_id = ?1 ORDER BY recorded_at, run_id",
            )?;
            stmt.query_map([paper_id], |r| {
                Ok(RunRecord {
                    paper_id: r.get(0)?,
                    workflow_id: r.get(1)?,
                    run_id: r.get(2)?,
                    outcome: r.get(3)?,
                    results: r.get(4)?,
                    code: r.get(5)?,
                    execution: r.get(6)?,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::papers::{PaperOrigin, Selection};
    use workflows::types::BlobRef;

    fn record(id: &str, published: Option<&str>) -> PaperRecord {
        let blob = BlobRef {
            uri: format!("file:///blobs/{id}"),
            sha256: id.into(),
            bytes: 1,
        };
        PaperRecord {
            id: id.into(),
            title: id.into(),
            source: "test".into(),
            format: "md".into(),
            sha256: id.into(),
            characters: 1,
            sections: vec![],
            text: blob.clone(),
            sections_blob: blob.clone(),
            original: blob,
            status: "indexed".into(),
            added_at: String::new(),
            origin: published.map(|p| PaperOrigin {
                source: "arxiv".into(),
                source_id: id.into(),
                published: Some(p.into()),
                ..Default::default()
            }),
            judgement: None,
        }
    }

    /// Recent means published: a paper stored today but published years ago is not recent; one
    /// added by hand today (no publication date) is.
    #[test]
    fn recent_is_by_publication_date_then_by_the_day_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlitePaperStore::open(&dir.path().join("papers.db")).unwrap();
        let yesterday = (std::time::SystemTime::now() - std::time::Duration::from_secs(86_400))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let yesterday = store
            .with(|c| {
                c.query_row(
                    "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?1, 'unixepoch')",
                    [yesterday as i64],
                    |r| r.get::<_, String>(0),
                )
            })
            .unwrap();
        store
            .insert(&record("old-paper", Some("2019-03-01T00:00:00Z")))
            .unwrap();
        store
            .insert(&record("new-paper", Some(&yesterday)))
            .unwrap();
        store.insert(&record("added-by-hand", None)).unwrap();
        let mut recent = store
            .select(&Selection {
                recent_days: Some(7),
                max: 10,
                ..Default::default()
            })
            .unwrap();
        recent.sort();
        assert_eq!(recent, vec!["added-by-hand", "new-paper"]);
    }
}
