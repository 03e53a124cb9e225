//! FindRelatedWork: the stored papers closest to this one, found by full-text search of the
//! paper store on the method's terms (its title's and headings' distinctive words, each searched
//! on its own, papers ranked by how many they match), and what the summary model says they
//! suggest for the architecture and hyperparameters. No web access: only papers the team stored.

use std::collections::BTreeMap;

use crate::prelude::*;

/// At most this many related papers are read, each by this many characters of its text.
const RELATED: usize = 3;
const OPENING_CHARS: usize = 2_500;
/// At most this many terms are searched.
const TERMS: usize = 10;

/// Words that name no method: common English and the headings every paper has.
const COMMON: &[&str] = &[
    "about",
    "abstract",
    "after",
    "algorithm",
    "also",
    "analysis",
    "appendix",
    "approach",
    "based",
    "being",
    "between",
    "conclusion",
    "conclusions",
    "data",
    "deep",
    "discussion",
    "each",
    "evaluation",
    "experiment",
    "experimental",
    "experiments",
    "from",
    "further",
    "into",
    "introduction",
    "learning",
    "method",
    "methods",
    "model",
    "models",
    "network",
    "networks",
    "neural",
    "novel",
    "other",
    "over",
    "paper",
    "preliminaries",
    "proposed",
    "references",
    "related",
    "results",
    "setup",
    "show",
    "small",
    "study",
    "than",
    "that",
    "their",
    "these",
    "this",
    "training",
    "under",
    "using",
    "when",
    "which",
    "while",
    "with",
    "without",
    "work",
];

/// The method's terms: distinctive words (five letters or more) of the title first, then of the
/// headings, lower-cased, each once.
pub fn method_terms(title: &str, sections: &[String]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for text in std::iter::once(title).chain(sections.iter().map(String::as_str)) {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            let w = word.to_lowercase();
            if w.chars().count() >= 5
                && w.chars().all(|c| c.is_alphabetic())
                && !COMMON.contains(&w.as_str())
                && !terms.contains(&w)
            {
                terms.push(w);
            }
        }
    }
    terms.truncate(TERMS);
    terms
}

/// FindRelatedWork: the related papers and, when there are any, the model's advice.
pub async fn find_related_work(d: Call<'_>, input: FindRelatedWorkInput) -> Out<RelatedWorkRef> {
    let terms = method_terms(&input.title, &input.sections);
    let mut matched: BTreeMap<String, u32> = BTreeMap::new();
    for term in &terms {
        let selection = Selection {
            query: Some(term.clone()),
            max: 50,
            ..Selection::default()
        };
        for id in d.papers.select(&selection).await? {
            if id != input.paper_id {
                *matched.entry(id).or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<(String, u32)> = matched.into_iter().collect();
    // Most terms first; equal counts by id, so the same store gives the same prompt.
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut related = Vec::new();
    let mut openings = Vec::new();
    for (id, n) in ranked.into_iter().take(RELATED) {
        let Some(record) = d.papers.get(&id).await? else {
            continue;
        };
        let text = d.text(&record.text).await?;
        let opening: String = text.chars().take(OPENING_CHARS).collect();
        openings.push((id.clone(), record.title.clone(), opening));
        related.push(RelatedPaper {
            paper_id: id,
            title: record.title,
            matched: n,
        });
    }
    let mut usage = LlmUsage::default();
    let advice = if related.is_empty() {
        None
    } else {
        let mut summaries = Vec::new();
        for s in &input.summaries {
            summaries.push(d.text(s).await?);
        }
        let prompt = prompts::related_work(&input.title, &summaries, &openings);
        let model = d.settings.model_for(ModelRole::Summary, &input.model)?;
        let request = LlmRequest::single(model, prompt, 1_500, 0.2);
        let answer = d.converse_whole(request, &mut usage).await?;
        let key = format!(
            "related/{}/{}.md",
            input.paper_id,
            short(&sha256_hex(answer.as_bytes()))
        );
        Some(d.blobs.put(&key, answer).await?)
    };
    Ok(RelatedWorkRef {
        related,
        terms,
        advice,
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_the_distinctive_words_of_title_and_headings() {
        let terms = method_terms(
            "Gated Residual MLPs for Small Tabular Problems",
            &[
                "1 Introduction".into(),
                "3 Gating and residual connections".into(),
                "4 Experiments".into(),
            ],
        );
        assert_eq!(
            terms,
            [
                "gated",
                "residual",
                "tabular",
                "problems",
                "gating",
                "connections"
            ]
        );
    }
}
