//! Text out of papers: PDF (pdf-extract), LaTeX (cleaned to readable text with Markdown-style
//! headings), Markdown and plain text; then the title and the section headings.
//!
//! Every format ends up as UTF-8 text in which a section heading is a line of its own, so one
//! section finder serves them all: Markdown headings (`# Title`) and numbered headings
//! (`3.1 Encoder and Decoder Stacks`, as PDF text has them).

use std::collections::HashMap;

use workflows::types::Section;

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
            Format::Markdown | Format::Tex => first_heading().or_else(|| guess_title(&text)),
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

/// LaTeX commands whose arguments are dropped entirely.
const DROP_WITH_ARGS: &[&str] = &[
    "label",
    "includegraphics",
    "vspace",
    "hspace",
    "bibliographystyle",
    "bibliography",
    "input",
    "include",
    "usepackage",
    "documentclass",
    "newcommand",
    "renewcommand",
    "providecommand",
    "newenvironment",
    "setlength",
    "setcounter",
    "addtolength",
    "author",
    "date",
    "thanks",
    "affiliation",
    "email",
    "icmlauthor",
    "icmlaffiliation",
    "icmlcorrespondingauthor",
    "icmlkeywords",
    "pagestyle",
    "thispagestyle",
    "hypersetup",
    "definecolor",
    "DeclareMathOperator",
    "newtheorem",
    "graphicspath",
    "captionsetup",
    "vskip",
    "hskip",
    "fontsize",
    "color",
    "newcolumntype",
    "addbibresource",
    "crefname",
    "Crefname",
];
/// Display-math environments.
const MATH_ENVIRONMENTS: &[&str] = &[
    "equation",
    "align",
    "eqnarray",
    "gather",
    "multline",
    "displaymath",
];
/// Citation-like commands, shown as a placeholder.
const CITE: &[&str] = &[
    "cite",
    "citep",
    "citet",
    "citealp",
    "citeauthor",
    "citeyear",
    "parencite",
    "textcite",
];
/// Reference-like commands, shown as a placeholder.
const REF: &[&str] = &[
    "ref", "eqref", "autoref", "cref", "Cref", "pageref", "nameref",
];

/// Reads a `{…}` group starting at `chars[i] == '{'`; returns its content and the index after it.
fn brace_group(chars: &[char], i: usize) -> Option<(String, usize)> {
    if chars.get(i) != Some(&'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((chars[i + 1..j].iter().collect(), j + 1));
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Skips `[…]` optional arguments and spaces; returns the next index.
fn skip_optional(chars: &[char], mut i: usize) -> usize {
    loop {
        let mut k = i;
        while chars.get(k) == Some(&' ') {
            k += 1;
        }
        if chars.get(k) != Some(&'[') {
            return i;
        }
        i = k;
        match chars[i..].iter().position(|&c| c == ']') {
            Some(p) => i += p + 1,
            None => return i,
        }
    }
}

/// Removes comments (an unescaped `%` to the end of the line).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let bytes = line.as_bytes();
        let mut cut = line.len();
        for (k, &b) in bytes.iter().enumerate() {
            if b == b'%' {
                let backslashes = bytes[..k].iter().rev().take_while(|&&c| c == b'\\').count();
                if backslashes % 2 == 0 {
                    cut = k;
                    break;
                }
            }
        }
        let kept = &line[..cut];
        if cut < line.len() && kept.trim().is_empty() {
            continue; // a whole-line comment disappears, as in LaTeX
        }
        out.push_str(kept);
        out.push('\n');
    }
    out
}

/// Zero-argument macros defined with `\newcommand`, `\renewcommand` or `\def`, so that a title
/// such as `\method: a Mixed-type Diffusion Model` reads with the method's name.
fn find_macros(src: &str) -> HashMap<String, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut macros = HashMap::new();
    for def in [
        "\\newcommand",
        "\\renewcommand",
        "\\providecommand",
        "\\def",
    ] {
        let mut from = 0;
        while let Some(found) = src[from..].find(def) {
            let at = from + found + def.len();
            from = at;
            let i = src[..at].chars().count();
            let (name, next) = match chars.get(i) {
                Some('{') => match brace_group(&chars, i) {
                    Some((n, next)) => (n.trim().to_owned(), next),
                    None => continue,
                },
                Some('\\') => {
                    let len = chars[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .count();
                    (chars[i..i + 1 + len].iter().collect(), i + 1 + len)
                }
                _ => continue,
            };
            let Some(name) = name.strip_prefix('\\') else {
                continue;
            };
            // Only macros without arguments: `[n]` or `#1` means arguments.
            if let Some((body, _)) = brace_group(&chars, next)
                && !body.contains('#')
                && !name.is_empty()
            {
                macros.insert(name.to_owned(), body);
            }
        }
    }
    macros
}

/// Cleans LaTeX source into readable text with Markdown headings; returns the text and the
/// `\title{…}` when there is one.
pub fn clean_latex(src: &str) -> (String, Option<String>) {
    let src = strip_comments(src);
    let macros = find_macros(&src);
    clean_with(&src, &macros, 0)
}

fn clean_with(src: &str, macros: &HashMap<String, String>, depth: u8) -> (String, Option<String>) {
    let chars: Vec<char> = src.chars().collect();
    let mut title = None;
    // Start at \begin{document} when there is one: the preamble is configuration, not prose.
    let body_start = src
        .find("\\begin{document}")
        .map(|b| src[..b].chars().count())
        .unwrap_or(0);
    if let Some(t) = src.find("\\title")
        && let Some(brace) = src[t..].find('{')
    {
        let at = src[..t + brace].chars().count();
        if let Some((raw, _)) = brace_group(&chars, at) {
            title = Some(clean_inline(&raw, macros, depth));
        }
    }
    let mut out = String::with_capacity(src.len());
    let mut i = body_start;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let name_len = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
                if name_len == 0 {
                    // Escaped symbol or line break.
                    match chars.get(i + 1) {
                        Some('\\') => out.push('\n'),
                        Some(&s @ ('%' | '&' | '_' | '$' | '#' | '{' | '}')) => out.push(s),
                        Some(_) => out.push(' '),
                        None => {}
                    }
                    i += 2;
                    continue;
                }
                let name: String = chars[i + 1..i + 1 + name_len].iter().collect();
                i += 1 + name_len;
                if chars.get(i) == Some(&'*') {
                    i += 1;
                }
                let level = match name.as_str() {
                    "chapter" | "section" => Some(1),
                    "subsection" => Some(2),
                    "subsubsection" => Some(3),
                    "paragraph" => Some(4),
                    _ => None,
                };
                if let Some(level) = level {
                    let j = skip_optional(&chars, i);
                    if let Some((raw, next)) = brace_group(&chars, j) {
                        out.push_str("\n\n");
                        out.push_str(&"#".repeat(level));
                        out.push(' ');
                        out.push_str(&clean_inline(&raw, macros, depth));
                        out.push_str("\n\n");
                        i = next;
                    }
                    continue;
                }
                match name.as_str() {
                    "title" => {
                        // Read separately above; skip it here.
                        let j = skip_optional(&chars, i);
                        if let Some((_, next)) = brace_group(&chars, j) {
                            i = next;
                        }
                    }
                    // What follows is back matter: a heading says so (see `sections`).
                    "appendix" => out.push_str("\n\n# Appendix\n\n"),
                    "maketitle" | "centering" | "small" | "footnotesize"
                    | "normalsize" | "large" | "Large" | "noindent" | "newpage" | "clearpage"
                    | "tableofcontents" | "toprule" | "midrule" | "bottomrule" | "hline" => {}
                    "begin" | "end" => {
                        if let Some((env, next)) = brace_group(&chars, i) {
                            i = skip_optional(&chars, next);
                            if name == "begin" && env == "abstract" {
                                out.push_str("\n\n# Abstract\n\n");
                            } else if name == "begin" && env == "thebibliography" {
                                out.push_str("\n\n# References\n\n");
                            } else if name == "end" && env == "document" {
                                break;
                            } else if MATH_ENVIRONMENTS.contains(&env.trim_end_matches('*')) {
                                // Display math as a `$$` block: readable, and never cut in two.
                                out.push_str("\n$$\n");
                            } else {
                                out.push('\n');
                            }
                        }
                    }
                    "item" | "bibitem" => {
                        i = skip_optional(&chars, i);
                        if name == "bibitem"
                            && let Some((_, next)) = brace_group(&chars, i)
                        {
                            i = next;
                        }
                        out.push_str("\n- ");
                    }
                    n if CITE.contains(&n) || REF.contains(&n) || DROP_WITH_ARGS.contains(&n) => {
                        let mut j = skip_optional(&chars, i);
                        while let Some((_, next)) = brace_group(&chars, j) {
                            j = skip_optional(&chars, next);
                        }
                        i = j;
                        if CITE.contains(&n) {
                            out.push_str("[cite]");
                        } else if REF.contains(&n) {
                            out.push_str("[ref]");
                        }
                    }
                    "href" => {
                        // \href{url}{text}: keep the text.
                        if let Some((_, next)) = brace_group(&chars, i) {
                            i = next;
                        }
                    }
                    "footnote" => out.push(' '),
                    // A macro the paper defined: its text. Depth-limited against self-reference.
                    n if depth < 4 && macros.contains_key(n) => {
                        out.push_str(&clean_inline(&macros[n], macros, depth + 1));
                    }
                    // Any other command: drop its name, keep its arguments' text.
                    _ => {}
                }
            }
            '{' | '}' => i += 1,
            '~' => {
                out.push(' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, title)
}

/// Cleans a short piece of LaTeX (a title or heading) to plain text on one line.
fn clean_inline(raw: &str, macros: &HashMap<String, String>, depth: u8) -> String {
    let (text, _) = clean_with(raw, macros, depth);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
