//! The ResearchCodeBench task format, read in pure Rust: which folders are tasks, the nested
//! `# <paper2code name="…">` … `# </paper2code name="…">` tags of every Python file,
//! `paper2code.yaml`'s fields, and masking and filling one snippet.
//!
//! A task folder holds `paper2code_test.py` (or the test entry point its yaml names), the paper
//! (`paper2code_paper.tex` or `.md`) and Python files with tagged snippets. The snippets that are
//! challenges are those of the yaml's `mask_file_path` (one path or a list); without a yaml, those
//! of every tagged Python file except the test entry point and `*_ref.py` reference copies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The test entry point when the yaml names none.
pub const DEFAULT_TEST_ENTRY: &str = "paper2code_test.py";
/// Seconds a task's test may run when the yaml names no `timeout`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Files larger than this are left out of a task's copy (a task folder is code and a paper).
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// At most this many files in a task folder.
pub const MAX_FILES: usize = 2_000;

/// What is wrong with a task folder, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A closing tag without its opening tag, or closing another snippet than the innermost.
    #[error("{file}:{line}: closing tag for {name:?} {why}")]
    Mismatched {
        /// The file, relative to the task folder.
        file: String,
        /// 1-based line.
        line: usize,
        /// The name in the closing tag.
        name: String,
        /// What was expected instead.
        why: String,
    },
    /// An opening tag never closed.
    #[error("{file}:{line}: tag {name:?} is never closed")]
    Unclosed {
        /// The file.
        file: String,
        /// 1-based line of the opening tag.
        line: usize,
        /// Its name.
        name: String,
    },
    /// Two snippets of one file with the same name.
    #[error("{file}:{line}: a second snippet named {name:?} in the same file")]
    Duplicate {
        /// The file.
        file: String,
        /// 1-based line of the second opening tag.
        line: usize,
        /// The name.
        name: String,
    },
    /// The yaml names a file that is not in the folder, or is unreadable.
    #[error("{task}: {what}")]
    Task {
        /// The task folder's name.
        task: String,
        /// What is wrong.
        what: String,
    },
    /// A folder given is neither a task nor holds any.
    #[error("{0}: no task folders (a task folder holds paper2code_test.py or paper2code.yaml)")]
    NoTasks(String),
    /// Reading the folder failed.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        message: String,
    },
}

/// One tagged snippet of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The tag's name.
    pub name: String,
    /// The file, relative to the task folder.
    pub file: String,
    /// 0-based line of the opening tag.
    pub open: usize,
    /// 0-based line of the closing tag.
    pub close: usize,
    /// The opening tag's indentation (the TODO and the answer take it).
    pub indent: String,
    /// How many snippets enclose it.
    pub depth: u32,
    /// The name of the snippet that directly encloses it.
    pub parent: Option<String>,
    /// Lines of code in it (not blank, not a tag), nested snippets included: its weight.
    pub code_lines: u32,
}

/// The fields of `paper2code.yaml` that matter here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskYaml {
    /// The files whose snippets are challenges.
    pub mask_files: Vec<String>,
    /// Files given to the model as context besides the masked file.
    pub context_files: Vec<String>,
    /// The test script.
    pub test_entry_point: Option<String>,
    /// The paper file.
    pub paper: Option<String>,
    /// The test's timeout, seconds.
    pub timeout_secs: Option<u64>,
}

/// A task folder, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The folder's name.
    pub name: String,
    /// Every file (relative path → bytes), the paper included.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The paper's relative path, when there is one.
    pub paper: Option<String>,
    /// Context files for the model (relative paths).
    pub context_files: Vec<String>,
    /// The test script (relative path).
    pub test_entry: String,
    /// The test's timeout, seconds.
    pub timeout_secs: u64,
    /// The challenges: every snippet of the masked files, in file then line order.
    pub snippets: Vec<Snippet>,
}

impl Task {
    /// A file's text (empty when it is not UTF-8 or absent).
    pub fn text(&self, file: &str) -> &str {
        self.files
            .get(file)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// Whether `dir` is a task folder.
pub fn is_task_dir(dir: &Path) -> bool {
    dir.join(DEFAULT_TEST_ENTRY).is_file() || dir.join("paper2code.yaml").is_file()
}

/// The task folders `dirs` name: each one that is a task, and the task folders directly inside
/// each one that is not; sorted by path, each once.
pub fn discover(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, FormatError> {
    let mut found = Vec::new();
    for dir in dirs {
        if is_task_dir(dir) {
            found.push(dir.clone());
            continue;
        }
        let entries = std::fs::read_dir(dir).map_err(|e| FormatError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut inside: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && is_task_dir(p))
            .collect();
        if inside.is_empty() {
            return Err(FormatError::NoTasks(dir.display().to_string()));
        }
        inside.sort();
        found.extend(inside);
    }
    let mut seen = std::collections::BTreeSet::new();
    found.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    Ok(found)
}

/// Every file under `dir` (relative path with `/` → bytes), skipping hidden entries,
/// `__pycache__` and files over [`MAX_FILE_BYTES`].
pub fn read_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, FormatError> {
    let io = |p: &Path, e: std::io::Error| FormatError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| io(&d, e))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "__pycache__" {
                continue;
            }
            let path = e.path();
            // Links are not followed: a task's copy holds what is in its folder.
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && meta.len() <= MAX_FILE_BYTES {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under the task folder")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                files.insert(rel, std::fs::read(&path).map_err(|e| io(&path, e))?);
                if files.len() > MAX_FILES {
                    return Err(FormatError::Task {
                        task: dir.display().to_string(),
                        what: format!("more than {MAX_FILES} files"),
                    });
                }
            }
        }
    }
    Ok(files)
}

/// A tag line: `Some((closing, name))` for `# <paper2code name="x">` or
/// `# </paper2code name="x">`.
fn tag(line: &str) -> Option<(bool, String)> {
    let rest = line.trim().strip_prefix('#')?.trim_start();
    let (closing, rest) = match rest.strip_prefix("</paper2code") {
        Some(r) => (true, r),
        None => (false, rest.strip_prefix("<paper2code")?),
    };
    let rest = rest.trim_start().strip_prefix("name=")?;
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    let after = rest[end + 1..].trim();
    if after != ">" {
        return None;
    }
    Some((closing, rest[..end].to_owned()))
}

/// The snippets of one file, in the order of their opening tags.
pub fn parse_tags(file: &str, text: &str) -> Result<Vec<Snippet>, FormatError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut done: Vec<Snippet> = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (n, line) in lines.iter().enumerate() {
        let Some((closing, name)) = tag(line) else {
            continue;
        };
        if !closing {
            if !names.insert(name.clone()) {
                return Err(FormatError::Duplicate {
                    file: file.to_owned(),
                    line: n + 1,
                    name,
                });
            }
            open.push((name, n));
            continue;
        }
        match open.pop() {
            Some((inner, start)) if inner == name => {
                let indent: String = lines[start]
                    .chars()
                    .take_while(|c| c.is_whitespace())
                    .collect();
                let code_lines = lines[start + 1..n]
                    .iter()
                    .filter(|l| !l.trim().is_empty() && tag(l).is_none())
                    .count() as u32;
                done.push(Snippet {
                    name,
                    file: file.to_owned(),
                    open: start,
                    close: n,
                    indent,
                    depth: open.len() as u32,
                    parent: open.last().map(|(p, _)| p.clone()),
                    code_lines,
                });
            }
            Some((inner, start)) => {
                return Err(FormatError::Mismatched {
                    file: file.to_owned(),
                    line: n + 1,
                    name,
                    why: format!("while {inner:?} (opened at line {}) is open", start + 1),
                });
            }
            None => {
                return Err(FormatError::Mismatched {
                    file: file.to_owned(),
                    line: n + 1,
                    name,
                    why: "without an opening tag".to_owned(),
                });
            }
        }
    }
    if let Some((name, line)) = open.pop() {
        return Err(FormatError::Unclosed {
            file: file.to_owned(),
            line: line + 1,
            name,
        });
    }
    done.sort_by_key(|s| s.open);
    Ok(done)
}

/// A yaml scalar without its comment and quotes; `None` for `null`, `~` or nothing.
fn scalar(value: &str) -> Option<String> {
    let value = match value.find(" #") {
        Some(i) => &value[..i],
        None if value.trim_start().starts_with('#') => "",
        None => value,
    }
    .trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    (!matches!(value, "" | "null" | "~" | "Null" | "NULL")).then(|| value.to_owned())
}

/// A value that may be one path, a flow list `[a, b]`, or a block list (`- a` lines).
fn paths(value: Option<String>, items: &[String]) -> Vec<String> {
    match value {
        Some(v) if v.starts_with('[') && v.ends_with(']') => {
            v[1..v.len() - 1].split(',').filter_map(scalar).collect()
        }
        Some(v) => vec![v],
        None => items.to_vec(),
    }
}

/// `paper2code.yaml`'s fields (the flat subset of YAML the benchmark writes: `key: value`, flow
/// or block lists, `#` comments, `null`).
pub fn parse_yaml(text: &str) -> TaskYaml {
    let mut fields: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ")
            && line.starts_with([' ', '-'])
            && let Some(key) = &current
        {
            if let Some(v) = scalar(item) {
                fields.entry(key.clone()).or_default().1.push(v);
            }
            continue;
        }
        if !line.starts_with(' ')
            && let Some((key, value)) = trimmed.split_once(':')
        {
            let key = key.trim().to_owned();
            fields.entry(key.clone()).or_default().0 = scalar(value);
            current = Some(key);
        }
    }
    let mut take = |k: &str| fields.remove(k).unwrap_or_default();
    let (mask, mask_items) = take("mask_file_path");
    let (context, context_items) = take("context_file_paths");
    let (entry, _) = take("test_entry_point");
    let (paper_tex, _) = take("paper_tex");
    let (paper_md, _) = take("paper_md");
    let (timeout, _) = take("timeout");
    TaskYaml {
        mask_files: paths(mask, &mask_items),
        context_files: paths(context, &context_items),
        test_entry_point: entry,
        paper: paper_tex.or(paper_md),
        timeout_secs: timeout.and_then(|t| t.parse().ok()),
    }
}

/// Whether a Python file is a reference copy that tests compare against (`model_ref.py`).
fn is_reference_copy(file: &str) -> bool {
    file.rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".py"))
        .is_some_and(|stem| stem.ends_with("_ref"))
}

/// Reads a task from its files (as [`read_files`] gives them); `name` names it in errors.
pub fn parse_task(name: &str, files: BTreeMap<String, Vec<u8>>) -> Result<Task, FormatError> {
    let bad = |what: String| FormatError::Task {
        task: name.to_owned(),
        what,
    };
    let yaml_ref = files
        .get("paper2code.yaml")
        .map(|bytes| parse_yaml(&String::from_utf8_lossy(bytes)))
        .unwrap_or_default();
    let test_entry = yaml_ref
        .test_entry_point
        .clone()
        .unwrap_or_else(|| DEFAULT_TEST_ENTRY.to_owned());
    if !files.contains_key(&test_entry) {
        return Err(bad(format!("the test entry point {test_entry} is missing")));
    }
    let paper = yaml_ref
        .paper
        .clone()
        .filter(|p| files.contains_key(p))
        .or_else(|| {
            ["paper2code_paper.tex", "paper2code_paper.md"]
                .into_iter()
                .find(|p| files.contains_key(*p))
                .map(str::to_owned)
        });
    for f in yaml_ref.mask_files.iter().chain(&yaml_ref.context_files) {
        if !files.contains_key(f) {
            return Err(bad(format!(
                "paper2code.yaml names {f}, which is not in the folder"
            )));
        }
    }
    let mut snippets = Vec::new();
    let masked: Vec<String> = if yaml_ref.mask_files.is_empty() {
        files
            .keys()
            .filter(|f| f.ends_with(".py") && **f != test_entry && !is_reference_copy(f))
            .cloned()
            .collect()
    } else {
        yaml_ref.mask_files.clone()
    };
    for file in &masked {
        let text =
            std::str::from_utf8(&files[file]).map_err(|_| bad(format!("{file} is not UTF-8")))?;
        snippets.extend(parse_tags(file, text)?);
    }
    if snippets.is_empty() {
        return Err(bad(format!(
            "no tagged snippets in {}",
            if masked.is_empty() {
                "any Python file".to_owned()
            } else {
                masked.join(", ")
            }
        )));
    }
    Ok(Task {
        name: name.to_owned(),
        paper,
        context_files: yaml_ref.context_files,
        test_entry,
        timeout_secs: yaml_ref.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        snippets,
        files,
    })
}

/// Reads the task folder `dir`.
pub fn read_task(dir: &Path) -> Result<Task, FormatError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    parse_task(&name, read_files(dir)?)
}

/// The TODO line that stands for a masked snippet.
pub fn todo_line(snippet: &Snippet) -> String {
    format!(
        "{}# TODO: Implement block \"{}\"",
        snippet.indent, snippet.name
    )
}

/// The lines between a snippet's tags, as they are in `text`.
pub fn original(text: &str, snippet: &Snippet) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[snippet.open + 1..snippet.close].join("\n");
    out.push('\n');
    out
}

/// `text` with the snippet's lines (nested snippets included) replaced by its TODO line; the tags
/// stay.
pub fn mask(text: &str, snippet: &Snippet) -> String {
    splice(text, snippet, &format!("{}\n", todo_line(snippet)))
}

/// `text` with the lines between the snippet's tags replaced by `body` (whole lines).
fn splice(text: &str, snippet: &Snippet, body: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + body.len());
    for l in &lines[..=snippet.open] {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    for l in &lines[snippet.close..] {
        out.push_str(l);
        out.push('\n');
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

/// `answer` at the snippet's indentation: unchanged when its least indented line already is at
/// it, else moved there as a block.
pub fn reindent(answer: &str, indent: &str) -> String {
    let least = answer
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    if least == indent.len() {
        return answer.to_owned();
    }
    let mut out = String::new();
    for l in answer.lines() {
        if l.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(indent);
            out.push_str(&l[least.min(l.len() - l.trim_start().len())..]);
            out.push('\n');
        }
    }
    out
}

/// The file `text` (the original) with the snippet's lines replaced by `answer`, verbatim when
/// `verbatim` (the original snippet put back), else re-indented to the snippet's indentation.
pub fn fill(text: &str, snippet: &Snippet, answer: &str, verbatim: bool) -> String {
    let body = if verbatim {
        answer.to_owned()
    } else {
        reindent(answer, &snippet.indent)
    };
    splice(text, snippet, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    const NESTED: &str = "\
import torch

class M:
    def f(self, x):
        # <paper2code name=\"outer\">
        y = x + 1

        # <paper2code name=\"inner\">
        z = y * 2
        # </paper2code name=\"inner\">
        return z
        # </paper2code name=\"outer\">
";

    #[test]
    fn nested_tags_give_depth_parent_and_weight() {
        let s = parse_tags("m.py", NESTED).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].name.as_str(), s[0].depth, s[0].code_lines),
            ("outer", 0, 3)
        );
        assert_eq!(s[1].name, "inner");
        assert_eq!(s[1].depth, 1);
        assert_eq!(s[1].parent.as_deref(), Some("outer"));
        assert_eq!(s[1].code_lines, 1);
        assert_eq!(s[0].indent, "        ");
        assert_eq!((s[0].open, s[0].close), (4, 11));
    }

    #[test]
    fn masking_replaces_children_too_and_filling_back_restores_the_file() {
        let s = parse_tags("m.py", NESTED).unwrap();
        let masked = mask(NESTED, &s[0]);
        assert!(!masked.contains("z = y * 2"), "{masked}");
        assert!(!masked.contains("name=\"inner\""), "{masked}");
        assert!(masked.contains("        # TODO: Implement block \"outer\"\n"));
        assert!(masked.contains("# </paper2code name=\"outer\">"));
        let original = original(NESTED, &s[0]);
        assert_eq!(fill(NESTED, &s[0], &original, true), NESTED);
        let inner = mask(NESTED, &s[1]);
        assert!(inner.contains("y = x + 1") && !inner.contains("z = y * 2"));
        // A model's answer, at no indentation, lands at the snippet's.
        let filled = fill(NESTED, &s[1], "z = y * 3\n", false);
        assert!(filled.contains("\n        z = y * 3\n"), "{filled}");
        assert_eq!(filled.lines().count(), NESTED.lines().count());
    }

    #[test]
    fn mismatched_and_unclosed_tags_name_file_and_line() {
        let crossed = "# <paper2code name=\"a\">\n# <paper2code name=\"b\">\n# </paper2code name=\"a\">\n# </paper2code name=\"b\">\n";
        let e = parse_tags("x/y.py", crossed).unwrap_err();
        assert!(matches!(&e, FormatError::Mismatched { line: 3, .. }), "{e}");
        assert!(e.to_string().starts_with("x/y.py:3:"), "{e}");
        let e = parse_tags("y.py", "a = 1\n# <paper2code name=\"a\">\nb = 2\n").unwrap_err();
        assert_eq!(e.to_string(), "y.py:2: tag \"a\" is never closed");
        let e = parse_tags("y.py", "# </paper2code name=\"q\">\n").unwrap_err();
        assert!(e.to_string().contains("without an opening tag"), "{e}");
        let twice = "# <paper2code name=\"a\">\n# </paper2code name=\"a\">\n# <paper2code name=\"a\">\n# </paper2code name=\"a\">\n";
        assert!(matches!(
            parse_tags("y.py", twice),
            Err(FormatError::Duplicate { line: 3, .. })
        ));
    }

    #[test]
    fn yaml_fields_scalars_flow_and_block_lists() {
        let y = parse_yaml(
            "mask_file_path: model.py  # the file\n\ncontext_file_paths: null\ntest_entry_point: run_test.py # x\npaper_tex: p.tex\ntimeout: 90\n",
        );
        assert_eq!(y.mask_files, ["model.py"]);
        assert!(y.context_files.is_empty());
        assert_eq!(y.test_entry_point.as_deref(), Some("run_test.py"));
        assert_eq!(y.paper.as_deref(), Some("p.tex"));
        assert_eq!(y.timeout_secs, Some(90));
        let y = parse_yaml(
            "mask_file_path: [a.py, 'pkg/b.py']\ncontext_file_paths:\n  - utils.py\n  - cfg.py\n",
        );
        assert_eq!(y.mask_files, ["a.py", "pkg/b.py"]);
        assert_eq!(y.context_files, ["utils.py", "cfg.py"]);
    }

    #[test]
    fn several_masked_files_and_context_files_from_the_yaml() {
        let a = "def a():\n    # <paper2code name=\"one\">\n    return 1\n    # </paper2code name=\"one\">\n";
        let b = "def b():\n    # <paper2code name=\"two\">\n    x = 2\n    return x\n    # </paper2code name=\"two\">\n";
        let t = parse_task(
            "t",
            files(&[
                ("paper2code.yaml", "mask_file_path:\n  - a.py\n  - pkg/b.py\ncontext_file_paths: [util.py]\n"),
                ("a.py", a),
                ("pkg/b.py", b),
                ("util.py", "# <paper2code name=\"not-a-challenge\">\n# </paper2code name=\"not-a-challenge\">\n"),
                ("paper2code_test.py", "import a\n"),
                ("paper2code_paper.md", "# Paper\n"),
            ]),
        )
        .unwrap();
        let names: Vec<(&str, &str)> = t
            .snippets
            .iter()
            .map(|s| (s.file.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(names, [("a.py", "one"), ("pkg/b.py", "two")]);
        assert_eq!(t.context_files, ["util.py"]);
        assert_eq!(t.paper.as_deref(), Some("paper2code_paper.md"));
        assert_eq!(t.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert_eq!(t.snippets[1].code_lines, 2);
    }

    #[test]
    fn without_a_yaml_every_tagged_file_but_references_and_the_test() {
        let code = "# <paper2code name=\"s\">\nx = 1\n# </paper2code name=\"s\">\n";
        let t = parse_task(
            "t",
            files(&[
                ("model.py", code),
                ("model_ref.py", code),
                ("extra.py", code),
                ("paper2code_test.py", code),
            ]),
        )
        .unwrap();
        let files: Vec<&str> = t.snippets.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(files, ["extra.py", "model.py"]);
        assert_eq!(t.paper, None);
    }

    #[test]
    fn a_yaml_naming_a_missing_file_or_a_folder_without_snippets_is_refused() {
        let e = parse_task(
            "t",
            files(&[
                ("paper2code.yaml", "mask_file_path: gone.py\n"),
                ("paper2code_test.py", ""),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("gone.py"), "{e}");
        let e = parse_task(
            "t",
            files(&[("paper2code_test.py", ""), ("m.py", "x = 1\n")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no tagged snippets"), "{e}");
        let e = parse_task("t", files(&[("m.py", "x = 1\n")])).unwrap_err();
        assert!(
            e.to_string().contains("paper2code_test.py is missing"),
            "{e}"
        );
    }

    #[test]
    fn discovery_takes_task_folders_and_folders_of_tasks() {
        let dir = tempfile::tempdir().unwrap();
        for t in ["b", "a"] {
            std::fs::create_dir_all(dir.path().join("suite").join(t)).unwrap();
            std::fs::write(
                dir.path().join("suite").join(t).join(DEFAULT_TEST_ENTRY),
                "",
            )
            .unwrap();
        }
        std::fs::create_dir_all(dir.path().join("suite/not-a-task")).unwrap();
        let suite = dir.path().join("suite");
        let found = discover(&[suite.clone(), suite.join("a")]).unwrap();
        assert_eq!(found, [suite.join("a"), suite.join("b")]);
        assert!(matches!(
            discover(&[suite.join("not-a-task")]),
            Err(FormatError::NoTasks(_))
        ));
        std::fs::create_dir_all(suite.join("a/pkg/__pycache__")).unwrap();
        std::fs::write(suite.join("a/pkg/m.py"), "x").unwrap();
        std::fs::write(suite.join("a/pkg/__pycache__/m.pyc"), "x").unwrap();
        let files = read_files(&suite.join("a")).unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["paper2code_test.py", "pkg/m.py"]
        );
    }

    /// The six ResearchCodeBench folders in `../shared/rcb` parse, and masking then filling back
    /// every snippet gives the original file.
    #[test]
    fn the_shared_benchmark_folders_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/rcb");
        if !root.is_dir() {
            eprintln!("skipped: {} is not here", root.display());
            return;
        }
        let tasks = discover(&[root]).unwrap();
        assert_eq!(tasks.len(), 6, "{tasks:?}");
        let mut total = 0;
        for dir in tasks {
            let t = read_task(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert!(t.paper.is_some(), "{}: a paper", t.name);
            assert!(t.snippets.len() >= 3, "{}: {}", t.name, t.snippets.len());
            for s in &t.snippets {
                let text = t.text(&s.file);
                let masked = mask(text, s);
                assert!(masked.contains(&todo_line(s)));
                assert_eq!(
                    fill(text, s, &original(text, s), true),
                    text,
                    "{} {}",
                    t.name,
                    s.name
                );
            }
            total += t.snippets.len();
        }
        assert!(total > 40, "{total} snippets");
    }
}
