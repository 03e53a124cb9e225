//! Text out of papers: PDF (pdf-extract), LaTeX (cleaned to readable text with Markdown-style
//! headings), Markdown and plain text; then the title and the section headings.
//!
//! Every format ends up as UTF-8 text in which a section heading is a line of its own, so one
//! section finder serves them all: Markdown headings (`# Title`) and numbered headings
//! (`3.1 Encoder and Decoder Stacks`, as PDF text has them).

use workflows::types::Section;

pub use crate::latex::clean_latex;

/// Formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Document Format.
    Pdf,
    /// LaTeX source.
    Tex,
    /// Markdown.
    Markdown,
    /// Plain text.
    Text,
    /// Paper2Code's JSON: the s2orc-doc2json parse of a PDF (`pdf_parse.body_text` paragraphs
    /// with their section names), as its `0_pdf_process.py` writes it.
    Paper2CodeJson,
}

impl Format {
    /// The format for a file name's extension, if supported.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "pdf" => Some(Format::Pdf),
            "tex" | "latex" => Some(Format::Tex),
            "md" | "markdown" => Some(Format::Markdown),
            "txt" | "text" => Some(Format::Text),
            "json" => Some(Format::Paper2CodeJson),
            _ => None,
        }
    }
    /// Short name stored with the paper.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Tex => "tex",
            Format::Markdown => "md",
            Format::Text => "txt",
            Format::Paper2CodeJson => "json",
        }
    }
}

/// Why a file could not be read as a paper. Each is permanent: the same bytes fail again.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    /// Nothing in it.
    #[error("the file is empty")]
    Empty,
    /// Not text (for .tex/.md/.txt).
    #[error("the file is not UTF-8 text ({0}); convert it to UTF-8 or give the PDF")]
    NotText(String),
    /// A PDF that could not be parsed.
    #[error("the PDF could not be parsed ({0}); is it a complete, unencrypted PDF?")]
    BadPdf(String),
    /// Parsed, but without readable text.
    #[error(
        "no readable text was found ({0} letters); a scanned PDF needs OCR first, and a text file needs prose"
    )]
    NoText(usize),
    /// A `.json` file that is not Paper2Code's parse of a paper.
    #[error(
        "the JSON is not a Paper2Code paper ({0}); give the s2orc-doc2json parse its \
         0_pdf_process.py writes (an object with pdf_parse.body_text: a list of {{\"section\", \"text\"}}), or the PDF itself"
    )]
    NotPaper2Code(String),
}

/// A paper's text, title and sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// Title (first heading or line when the format has no title field).
    pub title: String,
    /// Readable UTF-8 text.
    pub text: String,
    /// Section headings with byte offsets into `text`.
    pub sections: Vec<Section>,
}

/// Extracts text, title and sections from a file's bytes.
pub fn extract(bytes: &[u8], format: Format) -> Result<Extracted, ExtractError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ExtractError::Empty);
    }
    let (text, title) = match format {
        Format::Pdf => (normalise(&pdf_text(bytes)?), None),
        Format::Tex => {
            let src = as_text(bytes)?;
            let (text, title) = clean_latex(&src);
            (normalise(&text), title)
        }
        Format::Markdown | Format::Text => (normalise(&as_text(bytes)?), None),
        Format::Paper2CodeJson => {
            let (text, title) = paper2code_markdown(bytes)?;
            (normalise(&text), title)
        }
    };
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 50 {
        return Err(ExtractError::NoText(letters));
    }
    let sections = find_sections(&text);
    // LaTeX names its title; Markdown has it as the first `# ` heading; PDF and plain text only
    // as a line near the top.
    let first_heading = || {
        sections
            .iter()
            .find(|s| s.level == 1 && text[s.offset as usize..].starts_with("# "))
            .map(|s| s.title.clone())
    };
    let title = title
        .filter(|t| !t.trim().is_empty())
        .or_else(|| match format {
            Format::Markdown | Format::Tex | Format::Paper2CodeJson => {
                first_heading().or_else(|| guess_title(&text))
            }
            Format::Pdf | Format::Text => guess_title(&text).or_else(first_heading),
        })
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Ok(Extracted {
        title: shorten(title.trim_start_matches('#').trim(), 200),
        text,
        sections,
    })
}

/// Paper2Code's JSON as Markdown: the title, the abstract, then each run of `body_text`
/// paragraphs under a heading made of its `sec_num` and `section` (subsections, `3.1`, one level
/// down). Returns the text and the title.
fn paper2code_markdown(bytes: &[u8]) -> Result<(String, Option<String>), ExtractError> {
    use serde_json::Value;
    let bad = |why: &str| ExtractError::NotPaper2Code(why.to_owned());
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let parse = v
        .get("pdf_parse")
        .ok_or_else(|| bad("it has no pdf_parse"))?;
    let body = parse
        .get("body_text")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("pdf_parse.body_text is not a list"))?;
    let text_of = |p: &Value| {
        p.get("text")
            .and_then(Value::as_str)
            .map(str::trim)
            .map(str::to_owned)
    };
    let title = v
        .get("title")
        .or_else(|| parse.get("title"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let mut out = String::new();
    if let Some(t) = &title {
        out.push_str(&format!("# {t}\n\n"));
    }
    let abstract_text: Vec<String> = match v.get("abstract").or_else(|| parse.get("abstract")) {
        Some(Value::String(a)) => vec![a.trim().to_owned()],
        Some(Value::Array(paragraphs)) => paragraphs.iter().filter_map(text_of).collect(),
        _ => Vec::new(),
    };
    if abstract_text.iter().any(|a| !a.is_empty()) {
        out.push_str("# Abstract\n\n");
        out.push_str(&abstract_text.join("\n\n"));
        out.push_str("\n\n");
    }
    let mut current: Option<(String, String)> = None;
    let mut paragraphs = 0;
    for p in body {
        let Some(text) = text_of(p) else {
            return Err(bad("a body_text entry has no text"));
        };
        let section = p
            .get("section")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned();
        let number = p
            .get("sec_num")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned();
        if current.as_ref() != Some(&(section.clone(), number.clone())) && !section.is_empty() {
            let depth = 1 + number.matches('.').count().min(2);
            let heading = [number.as_str(), section.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&format!("{} {heading}\n\n", "#".repeat(depth)));
        }
        current = Some((section, number));
        out.push_str(&text);
        out.push_str("\n\n");
        paragraphs += 1;
    }
    if paragraphs == 0 {
        return Err(bad("pdf_parse.body_text is empty"));
    }
    Ok((out, title))
}

/// The title of a text without markup: among the first lines, the first that reads like a title
/// (two to twenty words, Title Case, no final period). PDF text often opens with a licence
/// notice or a running header, which this skips.
fn guess_title(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(40)
        .find(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let long: Vec<&&str> = words
                .iter()
                .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 4)
                .collect();
            let capitalised = long
                .iter()
                .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
                .count();
            (2..=20).contains(&words.len())
                && !line.ends_with('.')
                && !line.contains('@')
                && !long.is_empty()
                && capitalised * 10 >= long.len() * 7
        })
        .map(str::to_owned)
}

fn shorten(s: &str, max_chars: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn as_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ExtractError::NotText(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .count();
    if control * 100 > text.chars().count() || text.contains('\0') {
        return Err(ExtractError::NotText(format!(
            "{control} control characters"
        )));
    }
    Ok(text.to_owned())
}

/// When set (the `annapurna` binary sets it to itself at start), PDF text is extracted in a child
/// process, `PROGRAM extract-pdf`, which reads the PDF on stdin and writes the text on stdout
/// under [`PDF_EXTRACT_MEMORY`] of address space and [`PDF_EXTRACT_SECS`] of CPU and wall time: a
/// PDF built to expand to gigabytes, or to loop, kills the child, not the worker. Unset (unit
/// tests, libraries), it runs in this process.
pub static PDF_EXTRACTOR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
/// Address space of the PDF extractor process.
pub const PDF_EXTRACT_MEMORY: u64 = 2 << 30;
/// CPU and wall-clock seconds of the PDF extractor process.
pub const PDF_EXTRACT_SECS: u64 = 120;

fn pdf_text(bytes: &[u8]) -> Result<String, ExtractError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(ExtractError::BadPdf("no %PDF- header".into()));
    }
    match PDF_EXTRACTOR.get() {
        Some(program) => pdf_text_in_child(program, bytes),
        None => pdf_text_here(bytes),
    }
}

/// Runs `program extract-pdf` on `bytes` under the limits; its stdout is the text.
fn pdf_text_in_child(program: &std::path::Path, bytes: &[u8]) -> Result<String, ExtractError> {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(program);
    cmd.arg("extract-pdf")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = |resource, value: u64| {
                nix::sys::resource::setrlimit(resource, value, value)
                    .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
            };
            limit(nix::sys::resource::Resource::RLIMIT_AS, PDF_EXTRACT_MEMORY)?;
            limit(nix::sys::resource::Resource::RLIMIT_CPU, PDF_EXTRACT_SECS)?;
            limit(nix::sys::resource::Resource::RLIMIT_CORE, 0)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ExtractError::BadPdf(format!("the PDF extractor could not start: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.by_ref().take(256 << 20).read_to_end(&mut out);
        out
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.by_ref().take(64 << 10).read_to_string(&mut err);
        err
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(PDF_EXTRACT_SECS);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(String::from_utf8_lossy(&out).into_owned()),
        Some(s) if s.code() == Some(2) => {
            Err(ExtractError::BadPdf(err.trim().chars().take(300).collect()))
        }
        _ => Err(ExtractError::BadPdf(format!(
            "the PDF extractor was stopped at its limits ({} MiB of memory, {PDF_EXTRACT_SECS} s): the file expands beyond what a paper needs",
            PDF_EXTRACT_MEMORY >> 20
        ))),
    }
}

/// Extracts a PDF's text in this process (what the `extract-pdf` child runs).
pub fn pdf_text_here(bytes: &[u8]) -> Result<String, ExtractError> {
    // pdf-extract panics on some malformed files; a bad paper must fail cleanly, not take the
    // worker down with it.
    let owned = bytes.to_vec();
    let result = std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem(&owned));
    match result {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(ExtractError::BadPdf(e.to_string())),
        Err(_) => Err(ExtractError::BadPdf(
            "the PDF parser gave up on this file".into(),
        )),
    }
}

/// Unix newlines, no trailing spaces, at most one blank line in a row, no form feeds.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text
        .replace("\r\n", "\n")
        .replace(['\r', '\u{c}'], "\n")
        .lines()
    {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
            out.push('\n');
        } else {
            blank_run = 0;
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_start_matches('\n').to_owned()
}

/// Headings that papers use without numbers.
const PLAIN_HEADINGS: &[&str] = &[
    "abstract",
    "introduction",
    "related work",
    "background",
    "method",
    "methods",
    "experiments",
    "results",
    "discussion",
    "conclusion",
    "conclusions",
    "references",
    "acknowledgements",
    "acknowledgments",
    "appendix",
    "limitations",
];

/// Level of a numbered heading such as `3.1 Encoder and Decoder Stacks` or `2. Method`.
fn numbered_heading_level(line: &str) -> Option<u8> {
    if line.len() > 90 || line.ends_with('.') || line.ends_with(',') {
        return None;
    }
    let (number, rest) = line.split_once(char::is_whitespace)?;
    let number = number.trim_end_matches('.');
    if number.is_empty()
        || !number
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let rest = rest.trim();
    let first = rest.chars().next()?;
    let words = rest.split_whitespace().count();
    (first.is_uppercase()
        && (1..=10).contains(&words)
        && rest.chars().filter(|c| c.is_alphabetic()).count() >= 3)
        .then(|| number.split('.').count().min(6) as u8)
}

/// Finds section headings: Markdown headings outside code fences, numbered headings, and the
/// usual unnumbered ones (Abstract, References, …) on a line of their own.
pub fn find_sections(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut in_fence = false;
    let mut offset = 0usize;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim();
        let start = offset;
        offset += raw.len();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || line.is_empty() {
            continue;
        }
        let heading = if let Some(rest) = line.strip_prefix('#') {
            let hashes = 1 + rest.chars().take_while(|&c| c == '#').count();
            let title = line[hashes..].trim();
            (hashes <= 6 && line[hashes..].starts_with(' ') && !title.is_empty())
                .then(|| (title.trim_matches('*').trim().to_owned(), hashes as u8))
        } else if let Some(level) = numbered_heading_level(line) {
            Some((line.to_owned(), level))
        } else if PLAIN_HEADINGS.contains(&line.trim_end_matches(':').to_ascii_lowercase().as_str())
        {
            Some((line.trim_end_matches(':').to_owned(), 1))
        } else {
            None
        };
        if let Some((title, level)) = heading {
            sections.push(Section {
                title: shorten(&title, 120),
                level,
                offset: start as u64,
            });
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small paper in Paper2Code's JSON (the s2orc-doc2json shape its 0_pdf_process.py keeps).
    pub(crate) const PAPER2CODE_JSON: &str = r#"{
        "paper_id": "gated-mlp",
        "title": "Gated Residual MLPs for Small Tabular Problems",
        "abstract": "We gate the residual branch of an MLP and train it on small tables.",
        "pdf_parse": {
            "paper_id": "gated-mlp",
            "abstract": [{"text": "We gate the residual branch of an MLP.", "section": "Abstract"}],
            "body_text": [
                {"text": "Small tabular problems overfit wide networks easily, so we keep them narrow.", "section": "Introduction", "sec_num": "1"},
                {"text": "Each block computes x + g(x) * f(x), where g is a sigmoid gate.", "section": "Method", "sec_num": "2"},
                {"text": "We train with AdamW at a learning rate of 0.001 for 50 epochs.", "section": "Training", "sec_num": "2.1"},
                {"text": "On the digits dataset the gated MLP reaches 97% accuracy.", "section": "Experiments", "sec_num": "3"}
            ],
            "back_matter": []
        }
    }"#;

    #[test]
    fn paper2code_json_keeps_title_and_sections() {
        let e = extract(PAPER2CODE_JSON.as_bytes(), Format::Paper2CodeJson).unwrap();
        assert_eq!(e.title, "Gated Residual MLPs for Small Tabular Problems");
        let titles: Vec<(&str, u8)> = e
            .sections
            .iter()
            .map(|s| (s.title.as_str(), s.level))
            .collect();
        for expected in [
            ("Abstract", 1),
            ("1 Introduction", 1),
            ("2 Method", 1),
            ("2.1 Training", 2),
            ("3 Experiments", 1),
        ] {
            assert!(
                titles.contains(&expected),
                "{expected:?} missing from {titles:?}"
            );
        }
        assert!(e.text.contains("x + g(x) * f(x)"));
        assert_eq!(
            Format::from_path("paper.JSON"),
            Some(Format::Paper2CodeJson)
        );
    }

    #[test]
    fn other_json_is_refused_with_what_to_give() {
        for (json, why) in [
            ("[1, 2, 3]", "no pdf_parse"),
            (r#"{"pdf_parse": {"body_text": {}}}"#, "not a list"),
            (r#"{"pdf_parse": {"body_text": []}}"#, "is empty"),
            (
                r#"{"pdf_parse": {"body_text": [{"section": "x"}]}}"#,
                "has no text",
            ),
            ("{not json", "not JSON"),
        ] {
            match extract(json.as_bytes(), Format::Paper2CodeJson) {
                Err(e @ ExtractError::NotPaper2Code(_)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(why) && text.contains("pdf_parse.body_text"),
                        "{text}"
                    );
                }
                other => panic!("{json}: expected NotPaper2Code, got {other:?}"),
            }
        }
    }

    #[test]
    fn latex_headings_title_comments_and_macros() {
        let src = r"\documentclass{article}
\usepackage{amsmath} % preamble
\title{Dynamic \textbf{Tanh}}
\begin{document}
\maketitle
\begin{abstract}
We replace normalization. % a comment
\end{abstract}
\section{Introduction}\label{sec:intro}
Layer norm~\cite{ba2016} is everywhere, see Section~\ref{sec:method}. 50\% faster.
% whole line comment
\subsection*{Setup}
Text here.
\end{document}
ignored after the end";
        let e = extract(src.as_bytes(), Format::Tex).unwrap();
        assert_eq!(e.title, "Dynamic Tanh");
        assert!(
            e.text
                .contains("Layer norm [cite] is everywhere, see Section [ref]. 50% faster."),
            "{}",
            e.text
        );
        assert!(!e.text.contains("comment"));
        assert!(!e.text.contains("ignored after"));
        assert!(!e.text.contains("amsmath"));
        let titles: Vec<_> = e
            .sections
            .iter()
            .map(|s| (s.title.as_str(), s.level))
            .collect();
        assert_eq!(
            titles,
            vec![("Abstract", 1), ("Introduction", 1), ("Setup", 2)]
        );
        for s in &e.sections {
            assert!(e.text[s.offset as usize..].starts_with('#'));
        }
    }

    #[test]
    fn latex_macros_without_arguments_are_expanded() {
        let src = r"\newcommand{\method}{\textsc{TabDiff}\xspace}
\def\loop{\loop}
\newcommand{\withargs}[1]{#1 twice}
\title{\method: a Mixed-type Model}
\begin{document}
We call it \method{} and \loop. Enough words here to make a paper of some fifty letters or more.
\end{document}";
        let e = extract(src.as_bytes(), Format::Tex).unwrap();
        assert_eq!(e.title, "TabDiff: a Mixed-type Model");
        assert!(e.text.contains("We call it TabDiff and ."), "{}", e.text);
    }

    #[test]
    fn pdf_like_text_skips_notices_for_the_title() {
        let text = "Provided proper attribution is provided, Google hereby grants permission to\nreproduce the tables.\n\nAttention Is All You Need\n\nAshish Vaswani\u{2217} Google Brain avaswani@google.com\n\nAbstract\n\nThe dominant sequence transduction models are based on complex recurrent networks.\n";
        let e = extract(text.as_bytes(), Format::Text).unwrap();
        assert_eq!(e.title, "Attention Is All You Need");
    }

    #[test]
    fn numbered_and_markdown_headings() {
        let text = "A Title Line\n\n1 Introduction\n\nSome prose that ends.\n\n3.1 Encoder and Decoder Stacks\n\n```\n# not a heading\n```\n## Results\n";
        let s = find_sections(text);
        let titles: Vec<_> = s.iter().map(|s| (s.title.as_str(), s.level)).collect();
        assert_eq!(
            titles,
            vec![
                ("1 Introduction", 1),
                ("3.1 Encoder and Decoder Stacks", 2),
                ("Results", 2)
            ]
        );
    }

    #[test]
    fn refuses_empty_garbage_and_bad_pdf() {
        assert_eq!(extract(b"  \n", Format::Text), Err(ExtractError::Empty));
        assert!(matches!(
            extract(&[0xff, 0xfe, 0x00, 0x80, 0x81], Format::Markdown),
            Err(ExtractError::NotText(_))
        ));
        assert!(matches!(
            extract(b"%PDF-1.4 garbage garbage", Format::Pdf),
            Err(ExtractError::BadPdf(_))
        ));
        assert!(matches!(
            extract(b"hello", Format::Pdf),
            Err(ExtractError::BadPdf(_))
        ));
        assert!(matches!(
            extract(b"1 2 3 4 5 6 7", Format::Text),
            Err(ExtractError::NoText(_))
        ));
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::from_path("a/b.PDF"), Some(Format::Pdf));
        assert_eq!(Format::from_path("x.tex"), Some(Format::Tex));
        assert_eq!(Format::from_path("x.docx"), None);
        assert_eq!(Format::from_path("noext"), None);
    }
}
