//! What each part of a paper is, so that the model reads the parts that matter: the main text
//! (and related work) always, appendices last and only within a budget, and never the reference
//! list, the acknowledgements or the checklists and statements venues ask for.
//!
//! A section's kind comes from its heading ("References", "Acknowledgments", "NeurIPS Paper
//! Checklist", "Appendix", "A. Proofs", …), from where it stands (a top-level section after the
//! references or after an "Appendix" heading is an appendix), and, for a section whose heading
//! says nothing, from its content (a body that is mostly citations is a reference list).
//! Subsections take their parent's kind.

use workflows::types::{Section, SectionKind};

/// A stretch of the text of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Its kind.
    pub kind: SectionKind,
    /// The heading it starts at (empty for the text before the first heading).
    pub title: String,
}

/// Heading text without numbering ("3.1", "A.", "IV", "Appendix B:"), lower case, single-spaced.
fn normalise(title: &str) -> String {
    let lower = title.trim().to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut rest: &[&str] = &words;
    // Leading numbering: "3", "3.1", "3.1.", "a", "a.", "a.1", "iv.", "(a)".
    if let Some(first) = rest.first() {
        let t = first.trim_matches(|c: char| c == '(' || c == ')' || c == ':');
        let numbering = !t.is_empty()
            && (t.chars().all(|c| c.is_ascii_digit() || c == '.')
                || (t.len() <= 4
                    && t.ends_with('.')
                    && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
                || (t.len() == 1 && t.chars().all(|c| c.is_ascii_alphabetic()) && rest.len() > 1)
                || (t.chars().all(|c| "ivx".contains(c)) && rest.len() > 1 && t.len() <= 4));
        if numbering {
            rest = &rest[1..];
        }
    }
    rest.join(" ")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_owned()
}

/// Whether a heading opens lettered appendix numbering ("A", "A.", "A.1", "B Proofs").
fn lettered(title: &str) -> bool {
    let first = title.split_whitespace().next().unwrap_or("");
    let mut chars = first.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c == '.' || c == ':' || c.is_ascii_digit())
        && title.split_whitespace().count() > 1
}

/// The kind a heading names, if it names one.
pub fn kind_of_title(title: &str) -> Option<SectionKind> {
    let t = normalise(title);
    let starts = |p: &str| t == p || t.starts_with(&format!("{p} "));
    if [
        "references",
        "bibliography",
        "literature cited",
        "works cited",
    ]
    .iter()
    .any(|p| starts(p))
    {
        return Some(SectionKind::References);
    }
    if t.starts_with("acknowledg") || t == "funding" {
        return Some(SectionKind::Acknowledgements);
    }
    let statements = [
        "checklist",
        "paper checklist",
        "neurips paper checklist",
        "reproducibility checklist",
        "ethics statement",
        "reproducibility statement",
        "broader impact",
        "broader impacts",
        "impact statement",
        "broader impact statement",
        "author contributions",
        "contributions",
        "ethical considerations",
    ];
    if statements.contains(&t.as_str()) || t.ends_with(" checklist") {
        return Some(SectionKind::Checklist);
    }
    if starts("appendix") || starts("appendices") || starts("supplementary material") {
        return Some(SectionKind::Appendix);
    }
    if [
        "related work",
        "related works",
        "prior work",
        "background and related work",
    ]
    .iter()
    .any(|p| starts(p))
    {
        return Some(SectionKind::RelatedWork);
    }
    None
}

/// Whether a body is mostly a reference list: most of its non-empty lines look like entries
/// (`[12] …`, `- Author, A. …`, or a line with a year and several commas).
pub fn looks_like_references(body: &str) -> bool {
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() < 5 {
        return false;
    }
    let year = |l: &str| {
        l.as_bytes().windows(4).any(|w| {
            (w.starts_with(b"19") || w.starts_with(b"20")) && w.iter().all(u8::is_ascii_digit)
        })
    };
    let entries = lines
        .iter()
        .filter(|l| {
            let numbered = l.starts_with('[')
                && l[1..].split(']').next().is_some_and(|n| {
                    !n.is_empty() && n.len() <= 4 && n.chars().all(|c| c.is_ascii_digit())
                });
            numbered || (year(l) && l.matches(',').count() >= 2)
        })
        .count();
    entries * 10 >= lines.len() * 6
}

/// Splits `text` into regions by kind, covering it exactly once, in order.
pub fn regions(text: &str, sections: &[Section]) -> Vec<Region> {
    let mut out: Vec<Region> = Vec::new();
    let first = sections
        .first()
        .map(|s| (s.offset as usize).min(text.len()))
        .unwrap_or(text.len());
    if first > 0 || sections.is_empty() {
        out.push(Region {
            start: 0,
            end: first,
            kind: SectionKind::Main,
            title: String::new(),
        });
    }
    let top = sections.iter().map(|s| s.level).min().unwrap_or(1);
    let mut parent = SectionKind::Main;
    let mut in_back_matter = false;
    for (i, s) in sections.iter().enumerate() {
        let start = (s.offset as usize).min(text.len());
        let end = sections
            .get(i + 1)
            .map(|n| (n.offset as usize).min(text.len()))
            .unwrap_or(text.len())
            .max(start);
        let named = kind_of_title(&s.title);
        let kind = if s.level > top {
            // A subsection: its parent's kind, unless it names a skipped kind itself.
            match named {
                Some(k) if !k.summarised() => k,
                _ => parent,
            }
        } else {
            let k = match named {
                Some(k) => k,
                None if in_back_matter
                    || (out.iter().any(|r| r.kind == SectionKind::References)
                        && lettered(&s.title)) =>
                {
                    SectionKind::Appendix
                }
                None if looks_like_references(&text[start..end]) => SectionKind::References,
                None => SectionKind::Main,
            };
            // After the references or an appendix heading, an unnamed top-level section is an
            // appendix.
            if matches!(k, SectionKind::References | SectionKind::Appendix) {
                in_back_matter = true;
            }
            parent = k;
            k
        };
        match out.last_mut() {
            Some(last) if last.kind == kind && last.end == start => last.end = end,
            _ => out.push(Region {
                start,
                end,
                kind,
                title: s.title.clone(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(title: &str, level: u8, offset: usize) -> Section {
        Section {
            title: title.into(),
            level,
            offset: offset as u64,
        }
    }

    #[test]
    fn headings_name_their_kind() {
        for (title, kind) in [
            ("References", Some(SectionKind::References)),
            ("7 REFERENCES", Some(SectionKind::References)),
            ("Bibliography", Some(SectionKind::References)),
            ("Acknowledgments", Some(SectionKind::Acknowledgements)),
            ("ACKNOWLEDGMENT", Some(SectionKind::Acknowledgements)),
            ("NeurIPS Paper Checklist", Some(SectionKind::Checklist)),
            ("Ethics Statement", Some(SectionKind::Checklist)),
            ("Reproducibility Statement", Some(SectionKind::Checklist)),
            ("A. Appendix", Some(SectionKind::Appendix)),
            ("Appendix B: Proofs", Some(SectionKind::Appendix)),
            ("2. Related work", Some(SectionKind::RelatedWork)),
            ("2 RELATED WORK", Some(SectionKind::RelatedWork)),
            ("3 Method", None),
            ("Introduction", None),
            ("Referenced experiments", None),
        ] {
            assert_eq!(kind_of_title(title), kind, "{title}");
        }
    }

    #[test]
    fn reference_lists_are_recognised_by_content() {
        let refs = "[1] A. Vaswani, N. Shazeer, N. Parmar. Attention is all you need. 2017.\n\
                    [2] K. He, X. Zhang, S. Ren. Deep residual learning. CVPR, 2016.\n\
                    [3] D. Kingma, J. Ba. Adam. ICLR, 2015.\n\
                    [4] J. Devlin, M. Chang. BERT. NAACL, 2019.\n\
                    [5] T. Brown, B. Mann. Language models are few-shot learners. 2020.\n";
        assert!(looks_like_references(refs));
        let prose =
            "We train for 10 epochs.\nThe loss falls.\nSee Table 2.\nResults hold.\nDone.\n";
        assert!(!looks_like_references(prose));
    }

    #[test]
    fn regions_cover_the_text_and_follow_the_back_matter() {
        let text = "Title\n# 1 Introduction\nintro\n## 1.1 Setup\nsetup\n# 2 Related Work\nrw\n\
                    # References\n[1] x\n# A Proofs\nproof\n## A.1 Lemma\nlemma\n# Acknowledgments\nthanks\n";
        let at = |needle: &str| text.find(needle).unwrap();
        let sections = vec![
            section("1 Introduction", 1, at("# 1 Intro")),
            section("1.1 Setup", 2, at("## 1.1")),
            section("2 Related Work", 1, at("# 2 Related")),
            section("References", 1, at("# References")),
            section("A Proofs", 1, at("# A Proofs")),
            section("A.1 Lemma", 2, at("## A.1")),
            section("Acknowledgments", 1, at("# Acknowledgments")),
        ];
        let r = regions(text, &sections);
        let kinds: Vec<SectionKind> = r.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![
                SectionKind::Main,
                SectionKind::RelatedWork,
                SectionKind::References,
                SectionKind::Appendix,
                SectionKind::Acknowledgements,
            ]
        );
        let covered: String = r.iter().map(|r| &text[r.start..r.end]).collect();
        assert_eq!(covered, text);
    }
}
