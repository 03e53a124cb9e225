//! LaTeX source cleaned to readable text: commands that carry no prose dropped, citations and
//! references as placeholders, macros defined in the file expanded, display math kept as `$$`
//! blocks, and `\section`-like commands as Markdown headings, so that [`crate::extract`]'s one
//! section finder reads it like any other format.

use std::collections::HashMap;

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
                    "maketitle" | "centering" | "small" | "footnotesize" | "normalsize"
                    | "large" | "Large" | "noindent" | "newpage" | "clearpage"
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
