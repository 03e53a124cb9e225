//! The planned repository: the plan a model answers (checked, since its paths and names come
//! from a model that read an untrusted paper), the files rendered from it (`config.yaml`,
//! `requirements.txt`, `README.md`), the interfaces of written files, and the paper's passages
//! a file is grounded in (BM25 over the paper's own paragraphs).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use workflows::types::{MAX_PLANNED_FILES, PlannedFile};

/// The plan as the model answers it and as it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What the repository implements, one paragraph.
    #[serde(default)]
    pub summary: String,
    /// The method's parts and how they connect.
    #[serde(default)]
    pub components: Vec<Component>,
    /// The files, dependencies first.
    pub files: Vec<PlanFile>,
    /// The entry point.
    #[serde(default = "default_entry")]
    pub entry: String,
    /// What the entry point logs in its `METRICS:` lines.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Hyperparameters (with where the paper states them), search space, dataset.
    #[serde(default)]
    pub config: PlanConfig,
    /// Python packages the code imports (names only).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// What the paper leaves open and what was assumed.
    #[serde(default)]
    pub assumptions: Vec<String>,
}

fn default_entry() -> String {
    "train.py".to_owned()
}

/// A part of the method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The components it feeds or uses.
    #[serde(default)]
    pub connects_to: Vec<String>,
}

/// A file of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Path in the repository.
    pub path: String,
    /// What it is for.
    #[serde(default)]
    pub responsibility: String,
    /// Its public classes and functions, with signatures.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Files of the plan it imports.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The paper's sections (or tables, algorithms) it implements.
    #[serde(default)]
    pub sections: Vec<String>,
}

/// `config.yaml` as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlanConfig {
    /// Every hyperparameter the paper states, with its value and where.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, Hyperparameter>,
    /// The hyperparameters the paper leaves open: `{name, type, low, high, log}` or
    /// `{name, type: categorical, choices}`.
    #[serde(default)]
    pub search_space: Vec<Value>,
    /// The dataset: `{name, notes}`.
    #[serde(default)]
    pub dataset: Value,
}

/// One hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameter {
    /// Its value (a number, string, boolean or list of them).
    pub value: Value,
    /// Where the paper states it (`Section 4.2`, `Table 3`), or `assumed`.
    #[serde(default)]
    pub source: String,
}

/// The files a plan may not name: they are written from the plan itself.
const RENDERED: [&str; 3] = ["config.yaml", "requirements.txt", "README.md"];

/// Whether `name` is a Python identifier (ASCII).
fn identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// Why `path` cannot be a planned file's path, if it cannot: relative, forward slashes, each
/// part a Python identifier (so that it can be imported), ending in `.py`.
pub fn bad_path(path: &str) -> Option<String> {
    let Some(stem) = path.strip_suffix(".py") else {
        return Some(format!("{path:?} is not a .py file"));
    };
    if path.len() > 120 {
        return Some(format!("{path:?} is longer than 120 characters"));
    }
    let parts: Vec<&str> = stem.split('/').collect();
    if parts.len() > 3 || parts.iter().any(|p| !identifier(p)) {
        return Some(format!(
            "{path:?} is not an importable module path (relative, at most 3 parts, each a Python identifier)"
        ));
    }
    None
}

/// A package requirement the repository may list: a name and an optional `==version`; anything
/// else (URLs, options, paths) is dropped.
fn requirement(r: &str) -> Option<String> {
    let r = r.trim();
    let (name, version) = r.split_once("==").unwrap_or((r, ""));
    let ok = |s: &str, extra: &str| {
        !s.is_empty()
            && s.len() <= 60
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c) || extra.contains(c))
    };
    (ok(name, "") && (version.is_empty() || ok(version, "+"))).then(|| r.to_owned())
}

impl Plan {
    /// The plan, checked and put in order: safe, importable, distinct paths (at most
    /// [`MAX_PLANNED_FILES`]), an entry point among them, dependencies on planned files only,
    /// hyperparameter names that are identifiers, requirements that are package names.
    pub fn normalized(mut self) -> Result<Plan, String> {
        if self.files.is_empty() {
            return Err("the plan has no files".into());
        }
        if self.files.len() > MAX_PLANNED_FILES {
            return Err(format!(
                "the plan has {} files; at most {MAX_PLANNED_FILES}",
                self.files.len()
            ));
        }
        let mut seen = BTreeSet::new();
        for f in &mut self.files {
            f.path = f.path.trim().trim_start_matches("./").to_owned();
            if let Some(problem) = bad_path(&f.path) {
                return Err(format!("file {problem}"));
            }
            if RENDERED.contains(&f.path.as_str()) || !seen.insert(f.path.clone()) {
                return Err(format!("file {:?} is planned twice", f.path));
            }
            f.responsibility = clip(&f.responsibility, 600);
            f.interfaces.truncate(30);
            for i in &mut f.interfaces {
                *i = clip(i, 300);
            }
            f.sections.truncate(12);
        }
        let known = seen;
        for f in &mut self.files {
            let own = f.path.clone();
            f.depends_on.retain(|d| d != &own && known.contains(d));
            f.depends_on.dedup();
        }
        self.entry = self.entry.trim().trim_start_matches("./").to_owned();
        if !known.contains(&self.entry) {
            return Err(format!(
                "the entry point {:?} is not one of the planned files",
                self.entry
            ));
        }
        if let Some(bad) = self.config.hyperparameters.keys().find(|k| !identifier(k)) {
            return Err(format!("hyperparameter name {bad:?} is not an identifier"));
        }
        self.config.search_space.retain(|s| {
            s.get("name")
                .and_then(Value::as_str)
                .is_some_and(identifier)
        });
        self.requirements = self
            .requirements
            .iter()
            .filter_map(|r| requirement(r))
            .collect();
        for must in ["torch", "numpy", "pyyaml"] {
            if !self
                .requirements
                .iter()
                .any(|r| r.to_lowercase().starts_with(must))
            {
                self.requirements.push(must.to_owned());
            }
        }
        self.summary = clip(&self.summary, 2_000);
        Ok(self)
    }

    /// The files as the workflow orders them.
    pub fn planned_files(&self) -> Vec<PlannedFile> {
        self.files
            .iter()
            .map(|f| PlannedFile {
                path: f.path.clone(),
                responsibility: f.responsibility.clone(),
                depends_on: f.depends_on.clone(),
            })
            .collect()
    }

    /// The planned file at `path`.
    pub fn file(&self, path: &str) -> Option<&PlanFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// `config.yaml`: the hyperparameters (defaults), where the paper states each, the search
    /// space and the dataset. Values are written as JSON, which YAML reads as they are.
    pub fn config_yaml(&self) -> String {
        let json = |v: &Value| serde_json::to_string(v).unwrap_or_else(|_| "null".into());
        let mut out = String::from(
            "# Written from the repository plan: the paper's hyperparameters (with where it states\n# them), the search space for what it leaves open, and the dataset.\nhyperparameters:\n",
        );
        if self.config.hyperparameters.is_empty() {
            out.push_str("  {}\n");
        }
        for (name, h) in &self.config.hyperparameters {
            out.push_str(&format!("  {name}: {}\n", json(&h.value)));
        }
        out.push_str("sources:\n");
        if self.config.hyperparameters.is_empty() {
            out.push_str("  {}\n");
        }
        for (name, h) in &self.config.hyperparameters {
            let source = if h.source.trim().is_empty() {
                "assumed"
            } else {
                h.source.trim()
            };
            out.push_str(&format!(
                "  {name}: {}\n",
                json(&Value::String(clip(source, 200)))
            ));
        }
        out.push_str("search_space:\n");
        if self.config.search_space.is_empty() {
            out.push_str("  []\n");
        }
        for s in &self.config.search_space {
            out.push_str(&format!("  - {}\n", json(s)));
        }
        let dataset = if self.config.dataset.is_null() {
            serde_json::json!({"name": "synthetic"})
        } else {
            self.config.dataset.clone()
        };
        out.push_str(&format!("dataset: {}\n", json(&dataset)));
        out
    }

    /// `requirements.txt`.
    pub fn requirements_txt(&self) -> String {
        let mut lines = self.requirements.clone();
        lines.sort();
        lines.dedup();
        format!("{}\n", lines.join("\n"))
    }

    /// `README.md`: what is implemented, where each part of the paper lives, the
    /// hyperparameters and their sources, assumptions and deviations.
    pub fn readme(&self, title: &str, standin: bool) -> String {
        let env = {
            let mut env = minijinja::Environment::new();
            env.add_template("readme.md", README)
                .expect("the README template parses");
            env
        };
        env.get_template("readme.md")
            .and_then(|t| {
                t.render(minijinja::context! {
                    title => clip(title, 300),
                    plan => minijinja::Value::from(minijinja::value::Serde(self)),
                    config => self.config_yaml(),
                    standin,
                })
            })
            .unwrap_or_else(|e| panic!("README template: {e}"))
    }
}

const README: &str = r#"# {{ title }}

{% if standin -%}
> **Stand-in output.** This repository was planned and written from the Bedrock stand-in's
> templates, not by a model: it shows the shape of the output, not an implementation of the paper.

{% endif -%}
{{ plan.summary }}

## Running it

```
pip install -r requirements.txt
python {{ plan.entry }}
```

`{{ plan.entry }}` trains with the defaults in `config.yaml` and prints one `METRICS: {json}` line
per epoch{% if plan.logs %} ({{ plan.logs | join(", ") }}){% endif %}. It exposes `train_model(...)`
(the training contract), so that a harness can run it with other hyperparameters.

## Where the paper lives in the code

| file | what it does | the paper's part |
|---|---|---|
{% for f in plan.files -%}
| `{{ f.path }}` | {{ f.responsibility | replace("|", "/") | replace("\n", " ") }} | {{ f.sections | join("; ") | replace("|", "/") }} |
{% endfor %}
{% if plan.components %}
## Components

{% for c in plan.components -%}
- **{{ c.name }}**: {{ c.description }}{% if c.connects_to %} (feeds {{ c.connects_to | join(", ") }}){% endif %}
{% endfor %}
{% endif %}
## Hyperparameters

{% for name, h in plan.config.hyperparameters | items -%}
- `{{ name }}` = `{{ h.value }}` ({{ h.source or "assumed" }})
{% else -%}
None stated.
{% endfor %}
## Assumptions and deviations

{% for a in plan.assumptions -%}
- {{ a }}
{% else -%}
None recorded.
{% endfor %}"#;

/// `text` cut to `max` characters.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The public interface of a Python file: its imports, top-level `class`/`def` lines (with
/// their signatures, up to the colon) and the `def` lines of methods, and top-level
/// assignments in capitals. What a later file needs to call it, not its bodies.
pub fn interface(code: &str) -> String {
    let mut out = Vec::new();
    for line in code.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let keep = (indent == 0
            && (t.starts_with("class ")
                || t.starts_with("def ")
                || t.starts_with("async def ")
                || t.starts_with("import ")
                || t.starts_with("from ")
                || t.split('=').next().is_some_and(|n| {
                    let n = n.trim();
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })))
            || (indent > 0 && indent <= 8 && t.starts_with("def "));
        if keep {
            out.push(clip(line, 300));
        }
    }
    out.join("\n")
}

/// The paper's paragraphs (blank-line separated, across `chunks`) that best match `query` by
/// BM25 with English stemming, best first, until `budget` characters are taken; then in paper
/// order, so the passages read as the paper does.
pub fn grounding(query: &str, chunks: &[String], budget: usize) -> Vec<String> {
    let paragraphs: Vec<String> = chunks
        .iter()
        .flat_map(|c| c.split("\n\n"))
        .map(str::trim)
        .filter(|p| p.chars().count() >= 40)
        .map(str::to_owned)
        .collect();
    if paragraphs.is_empty() || query.trim().is_empty() {
        return Vec::new();
    }
    let hits = rank(query, &paragraphs);
    let mut taken = 0;
    let mut chosen: Vec<usize> = Vec::new();
    for (_, i) in hits {
        if taken >= budget {
            break;
        }
        taken += paragraphs[i].len();
        chosen.push(i);
    }
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|i| clip(&paragraphs[i], budget))
        .collect()
}

/// The indices of `documents` that match `query` by BM25 (English stemming), best first;
/// equal scores in the documents' order, so the same input gives the same prompt (and cache key).
pub fn rank(query: &str, documents: &[String]) -> Vec<(f32, usize)> {
    if documents.is_empty() || query.trim().is_empty() {
        return Vec::new();
    }
    let engine =
        bm25::SearchEngineBuilder::<u32>::with_corpus(bm25::Language::English, documents.to_vec())
            .build();
    let mut hits: Vec<(f32, usize)> = engine
        .search(query, documents.len())
        .into_iter()
        .map(|r| (r.score, r.document.id as usize))
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits
}

/// What a file's passages are looked up by: its path's words, responsibility, interfaces and
/// the sections it implements.
pub fn grounding_query(file: &PlanFile) -> String {
    format!(
        "{} {} {} {}",
        file.path.replace(['/', '_', '.'], " "),
        file.responsibility,
        file.interfaces.join(" "),
        file.sections.join(" ")
    )
}

/// A JSON merge patch (RFC 7386) over the plan: the user's edits, then the plan checked again.
pub fn apply_edits(plan: &Plan, edits: &Value) -> Result<Plan, String> {
    if !edits.is_object() {
        return Err("the edits must be a JSON object (a merge patch of the plan)".into());
    }
    let mut doc = serde_json::to_value(plan).map_err(|e| e.to_string())?;
    json_patch::merge(&mut doc, edits);
    let edited: Plan =
        serde_json::from_value(doc).map_err(|e| format!("the edited plan is not a plan: {e}"))?;
    edited.normalized()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "summary": "A small net.",
            "files": [
                {"path": "model.py", "responsibility": "the net", "interfaces": ["class Net(nn.Module)"]},
                {"path": "./train.py", "responsibility": "training", "depends_on": ["model.py", "missing.py", "train.py"]}
            ],
            "config": {"hyperparameters": {"lr": {"value": 0.001, "source": "Table 2"}, "hidden": {"value": 64}},
                       "search_space": [{"name": "lr", "type": "float", "low": 1e-4, "high": 0.1, "log": true}, {"name": "bad name"}]},
            "requirements": ["torch==2.5.1", "git+https://evil.example/x", "--index-url=http://x", "einops"]
        }))
        .unwrap()
    }

    #[test]
    fn a_plan_is_checked_and_cleaned() {
        let p = plan().normalized().unwrap();
        assert_eq!(p.entry, "train.py");
        assert_eq!(p.files[1].path, "train.py");
        assert_eq!(p.files[1].depends_on, vec!["model.py".to_owned()]);
        assert_eq!(p.config.search_space.len(), 1);
        assert_eq!(
            p.requirements,
            vec!["torch==2.5.1", "einops", "numpy", "pyyaml"]
        );
        let yaml = p.config_yaml();
        assert!(yaml.contains("  lr: 0.001\n"), "{yaml}");
        assert!(yaml.contains("  lr: \"Table 2\"\n"), "{yaml}");
        assert!(yaml.contains("  hidden: \"assumed\"\n"), "{yaml}");
        let readme = p.readme("T", true);
        assert!(readme.contains("Stand-in output"), "{readme}");
        assert!(readme.contains("| `model.py` | the net |"), "{readme}");
    }

    #[test]
    fn hostile_paths_and_names_are_refused() {
        for path in [
            "../evil.py",
            "/etc/x.py",
            "a/../../b.py",
            "run.sh",
            "my-model.py",
            "README.md",
            "a/b/c/d.py",
        ] {
            let mut p = plan();
            p.files[0].path = path.into();
            assert!(p.normalized().is_err(), "{path} was accepted");
        }
        let mut p = plan();
        p.entry = "main.py".into();
        assert!(p.normalized().unwrap_err().contains("entry point"));
        let mut p = plan();
        p.config.hyperparameters.insert(
            "x: 1\nevil".into(),
            Hyperparameter {
                value: Value::Null,
                source: String::new(),
            },
        );
        assert!(p.normalized().is_err());
    }

    #[test]
    fn edits_rename_a_file_and_are_checked_again() {
        let p = plan().normalized().unwrap();
        let mut files = serde_json::to_value(&p.files).unwrap();
        files[0]["path"] = "network.py".into();
        files[1]["depends_on"] = serde_json::json!(["network.py"]);
        let edited = apply_edits(&p, &serde_json::json!({"files": files})).unwrap();
        assert_eq!(edited.files[0].path, "network.py");
        assert_eq!(edited.summary, "A small net.");
        let bad = apply_edits(&p, &serde_json::json!({"entry": "../x.py"}));
        assert!(bad.is_err());
        assert!(apply_edits(&p, &serde_json::json!([1])).is_err());
    }

    #[test]
    fn interfaces_keep_signatures_not_bodies() {
        let code = "import torch\nclass Net(nn.Module):\n    def __init__(self, hidden: int):\n        super().__init__()\n        self.x = 1\n\ndef helper(a, b=2):\n    return a\nEPOCHS = 3\n";
        assert_eq!(
            interface(code),
            "import torch\nclass Net(nn.Module):\n    def __init__(self, hidden: int):\ndef helper(a, b=2):\nEPOCHS = 3"
        );
    }

    #[test]
    fn grounding_finds_the_paragraphs_of_the_file() {
        let chunks = vec![
            "We train with Adam at a learning rate of 0.001 for 20 epochs on CIFAR-10 images.\n\nThe attention layer computes softmax(QK^T / sqrt(d)) V over the token sequence."
                .to_owned(),
            "Related work on convolutional networks and their many variants is extensive.".to_owned(),
        ];
        let got = grounding("attention layer softmax queries keys", &chunks, 100);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("The attention layer"));
        let both = grounding("attention training learning rate epochs", &chunks, 10_000);
        assert!(both[0].starts_with("We train"), "paper order: {both:?}");
    }
}
