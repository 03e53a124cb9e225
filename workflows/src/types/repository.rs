//! The planned repository (issue 17): `PlanRepository`'s plan, `GenerateFile` per file,
//! `AssembleRepository`, and the plan-approval signals. A plan travels as a blob; the workflow
//! sees only the file list it needs to order the writing.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// At most this many files in a plan.
pub const MAX_PLANNED_FILES: usize = 16;

/// One file of the plan, as the workflow needs it to order the writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// Path in the repository (`model.py`, `train.py`).
    pub path: String,
    /// What the file is for, one sentence.
    #[serde(default)]
    pub responsibility: String,
    /// Files of the plan this one imports (written before it).
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// What `PlanRepository` (and `ApplyPlanEdits`) return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoPlanRef {
    /// The whole plan, as JSON (components, files with interfaces, config, entry point).
    pub plan: BlobRef,
    /// The files, in an order where every file comes after the files it depends on.
    pub files: Vec<PlannedFile>,
    /// The entry point (`train.py`).
    pub entry: String,
    /// One paragraph: what the repository implements (the Web UI's result summary).
    #[serde(default)]
    pub summary: String,
    /// What it cost.
    pub usage: LlmUsage,
    /// The paper context every file prompt opens with (cached by the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
}

/// Input of `PlanRepository`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRepositoryInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title.
    pub title: String,
    /// Chunk summaries in paper order (the map of the paper).
    pub summaries: Vec<BlobRef>,
    /// The paper's chunks (its exact words; their section titles are the paper's structure).
    pub chunks: Vec<ChunkRef>,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// The dataset to train on.
    pub dataset: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
    /// What the most similar stored papers suggest (`FindRelatedWork`), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_work: Option<BlobRef>,
}

/// Input of `FindRelatedWork`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindRelatedWorkInput {
    /// The paper's id (never its own related work).
    pub paper_id: String,
    /// The paper's title.
    pub title: String,
    /// Its section titles (with the title, where the method's terms come from).
    pub sections: Vec<String>,
    /// Its chunk summaries.
    pub summaries: Vec<BlobRef>,
    /// Model (the summary role's); `None` for the worker's default.
    pub model: Option<String>,
}

/// A stored paper found related.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedPaper {
    /// Its id.
    pub paper_id: String,
    /// Its title.
    pub title: String,
    /// How many of the method's terms it matched.
    pub matched: u32,
}

/// What `FindRelatedWork` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedWorkRef {
    /// The papers found, most related first (none: nothing in the store matched).
    pub related: Vec<RelatedPaper>,
    /// The terms searched for.
    pub terms: Vec<String>,
    /// The model's advice (Markdown), when there were papers to read.
    pub advice: Option<BlobRef>,
    /// What it cost.
    pub usage: LlmUsage,
}

/// Input of `ApplyPlanEdits`: a user's edits to a plan (a JSON merge patch, RFC 7386).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyPlanEditsInput {
    /// The paper's id.
    pub paper_id: String,
    /// The plan as planned.
    pub plan: RepoPlanRef,
    /// The edits.
    pub edits: serde_json::Value,
}

/// A file written so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFile {
    /// Path in the repository.
    pub path: String,
    /// Its text.
    pub code: BlobRef,
}

/// Input of `GenerateFile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateFileInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title.
    pub title: String,
    /// The plan.
    pub plan: BlobRef,
    /// The file to write.
    pub path: String,
    /// Files written before it (their interfaces go into the prompt).
    pub written: Vec<RepoFile>,
    /// The paper's chunks, for retrieval of the passages this file implements.
    pub chunks: Vec<BlobRef>,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// The dataset to train on.
    pub dataset: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
    /// The paper context to open the prompt with (PlanRepository's), cached by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
}

/// What `GenerateFile` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    /// Path in the repository.
    pub path: String,
    /// Its text.
    pub code: BlobRef,
    /// The paper's passages it was written from (review checks fidelity against them).
    pub grounding: BlobRef,
    /// What it cost.
    pub usage: LlmUsage,
}

/// Input of `AssembleRepository`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssembleRepositoryInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title (the README's heading).
    pub title: String,
    /// The plan.
    pub plan: RepoPlanRef,
    /// The written files.
    pub files: Vec<RepoFile>,
}

/// A repository, by reference: a `RepoBundle` blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryRef {
    /// The bundle (JSON `{"entry": …, "files": {path: text}}`).
    pub bundle: BlobRef,
    /// The entry point's text.
    pub entry_code: BlobRef,
    /// The entry point's path.
    pub entry: String,
    /// Every path in it.
    pub files: Vec<String>,
}

/// Payload of the `approve_plan` signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlanApproval {
    /// Edits to the plan, as a JSON merge patch (`{"files": [...]}` replaces the file list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edits: Option<serde_json::Value>,
}

/// Payload of the `reject_plan` signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlanRejection {
    /// Why, in the user's words (the failure's message).
    #[serde(default)]
    pub reason: String,
}

/// The plan's files in waves: every file of a wave depends only on files of earlier waves, so
/// the files of one wave are written side by side. Dependencies on unknown files are ignored; a
/// cycle is broken by taking the first remaining file in plan order.
pub fn write_waves(files: &[PlannedFile]) -> Vec<Vec<PlannedFile>> {
    let known: std::collections::BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut done: std::collections::BTreeSet<String> = Default::default();
    let mut left: Vec<&PlannedFile> = files.iter().collect();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let ready = |f: &&&PlannedFile| {
            f.depends_on
                .iter()
                .all(|d| d == &f.path || !known.contains(d.as_str()) || done.contains(d))
        };
        let mut wave: Vec<PlannedFile> = left.iter().filter(ready).map(|f| (*f).clone()).collect();
        if wave.is_empty() {
            wave.push(left[0].clone());
        }
        for f in &wave {
            done.insert(f.path.clone());
        }
        left.retain(|f| !done.contains(&f.path));
        waves.push(wave);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, deps: &[&str]) -> PlannedFile {
        PlannedFile {
            path: path.into(),
            responsibility: String::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn waves_put_dependencies_first_and_independent_files_together() {
        let waves = write_waves(&[
            file("train.py", &["model.py", "data.py"]),
            file("model.py", &["layers.py"]),
            file("data.py", &[]),
            file("layers.py", &["nowhere.py"]),
        ]);
        let paths: Vec<Vec<&str>> = waves
            .iter()
            .map(|w| w.iter().map(|f| f.path.as_str()).collect())
            .collect();
        assert_eq!(
            paths,
            vec![
                vec!["data.py", "layers.py"],
                vec!["model.py"],
                vec!["train.py"]
            ]
        );
    }

    #[test]
    fn a_cycle_is_broken_in_plan_order() {
        let waves = write_waves(&[file("a.py", &["b.py"]), file("b.py", &["a.py"])]);
        assert_eq!(waves.len(), 2);
        assert_eq!(waves[0][0].path, "a.py");
        assert_eq!(waves[1][0].path, "b.py");
    }
}
