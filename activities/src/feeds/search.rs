//! A search term (`--search LLM`): checked once, then matched on a paper's title and abstract,
//! by the source itself where it can search (arXiv) and here where it cannot (OpenReview, MLSys).

#[allow(unused_imports)]
use super::*;

/// The longest search term accepted, in characters.
pub const SEARCH_MAX_CHARS: usize = 100;

/// A search term: words (whitespace collapsed) looked for in titles and abstracts,
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// As given, whitespace collapsed (what arXiv is asked for).
    text: String,
    /// Lower case, for matching here.
    lower: String,
}

impl SearchTerm {
    /// The term of a feed query: `None` when there is none (or only blanks); a term with double
    /// quotes, backslashes or control characters, or longer than [`SEARCH_MAX_CHARS`], is a
    /// [`SourceError::BadQuery`] (it could not be put into arXiv's quoted phrase as it is).
    pub fn parse(term: Option<&str>) -> Result<Option<SearchTerm>, SourceError> {
        let Some(text) = term.map(collapse).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > SEARCH_MAX_CHARS {
            return Err(SourceError::BadQuery(format!(
                "the search term is longer than {SEARCH_MAX_CHARS} characters: give a few words, \
                 such as LLM or \"state space model\""
            )));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| *c == '"' || *c == '\\' || c.is_control())
        {
            return Err(SourceError::BadQuery(format!(
                "the search term `{}` contains {bad:?}: give plain words (they are matched as a \
                 phrase), such as LLM or state space model",
                text.escape_debug()
            )));
        }
        let lower = text.to_lowercase();
        Ok(Some(SearchTerm { text, lower }))
    }

    /// The term as given, whitespace collapsed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The arXiv `search_query` clause: the phrase in the title or the abstract.
    pub fn arxiv_clause(&self) -> String {
        format!("(ti:\"{0}\" OR abs:\"{0}\")", self.text)
    }

    /// Whether the entry's title or abstract has the term at the start of a word, ignoring case:
    /// `LLM` matches "LLMs" and "(LLM)", not "smallmodel".
    pub fn matches(&self, entry: &FeedEntry) -> bool {
        self.found_in(&entry.title) || self.found_in(&entry.abstract_text)
    }

    fn found_in(&self, text: &str) -> bool {
        let text = collapse(text).to_lowercase();
        text.match_indices(&self.lower).any(|(at, _)| {
            text[..at]
                .chars()
                .next_back()
                .is_none_or(|before| !before.is_alphanumeric())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, abstract_text: &str) -> FeedEntry {
        FeedEntry {
            title: title.to_owned(),
            abstract_text: abstract_text.to_owned(),
            ..FeedEntry::default()
        }
    }

    #[test]
    fn blank_terms_are_no_term() {
        assert_eq!(SearchTerm::parse(None).expect("none"), None);
        assert_eq!(SearchTerm::parse(Some(" \t ")).expect("blank"), None);
        let term = SearchTerm::parse(Some("  state \n space  model "))
            .expect("valid")
            .expect("a term");
        assert_eq!(term.as_str(), "state space model");
    }

    #[test]
    fn terms_that_would_break_a_phrase_are_refused() {
        for bad in ["say \"hi\"", "back\\slash", "tab\u{7}bell"] {
            match SearchTerm::parse(Some(bad)) {
                Err(e @ SourceError::BadQuery(_)) => {
                    assert!(e.to_string().contains("plain words"), "{bad}: {e}")
                }
                other => panic!("{bad:?}: expected BadQuery, got {other:?}"),
            }
        }
        let long = "x".repeat(SEARCH_MAX_CHARS + 1);
        assert!(matches!(
            SearchTerm::parse(Some(&long)),
            Err(SourceError::BadQuery(_))
        ));
    }

    #[test]
    fn matches_title_or_abstract_at_a_word_start_ignoring_case() {
        let llm = SearchTerm::parse(Some("LLM"))
            .expect("valid")
            .expect("term");
        assert!(llm.matches(&entry("Serving LLMs at Scale", "")));
        assert!(llm.matches(&entry("Paging", "We serve large models (llm) fast.")));
        assert!(llm.matches(&entry("", "LLM-based compilers")));
        assert!(!llm.matches(&entry("Smallmodel kernels", "A fullmoon of GPUs.")));
        let phrase = SearchTerm::parse(Some("Mixture of  Experts"))
            .expect("valid")
            .expect("term");
        assert!(phrase.matches(&entry("Sparse mixture\nof experts routing", "")));
        assert!(!phrase.matches(&entry("Mixture of sparse experts", "")));
        let accented = SearchTerm::parse(Some("ÉCOLE"))
            .expect("valid")
            .expect("term");
        assert!(accented.matches(&entry("Une école", "")));
    }

    #[test]
    fn arxiv_clause_quotes_the_phrase() {
        let term = SearchTerm::parse(Some("state space model"))
            .expect("valid")
            .expect("term");
        assert_eq!(
            term.arxiv_clause(),
            "(ti:\"state space model\" OR abs:\"state space model\")"
        );
    }
}
