//! RecommendDataset: the catalogue dataset the paper names most; else the model's choice

use crate::prelude::*;

/// RecommendDataset: the catalogue dataset the paper names most; else the model's choice
/// within the catalogue; else `synthetic`. The reasons say which.
pub async fn recommend_dataset(d: Call<'_>, input: RecommendDatasetInput) -> Out<DatasetChoice> {
    let text = d.text(&input.paper.text).await?;
    let mentions = datasets::mentions(&text);
    let catalogue = &d.settings.datasets;
    let mut usage = LlmUsage::default();
    if let Some(m) = datasets::by_pattern(&mentions, catalogue) {
        let id = m.catalogue_id.clone().unwrap_or_default();
        let reasons = vec![format!(
            "the paper names {} {} time(s); the catalogue has it as `{id}`",
            m.name, m.count
        )];
        return Ok(DatasetChoice {
            dataset: id,
            source: "pattern".into(),
            reasons,
            mentions,
            usage,
        });
    }
    let names: Vec<String> = mentions
        .iter()
        .map(|m| format!("{} ({}×)", m.name, m.count))
        .collect();
    let excerpt: String = text.chars().take(6_000).collect();
    let prompt = prompts::dataset(&input.paper.title, catalogue, &names, &excerpt);
    let model = d.settings.model_for(ModelRole::Dataset, &input.model)?;
    let request = LlmRequest::single(model, prompt, 500, 0.0);
    let answer = d.converse(&request, &mut usage).await?;
    let parsed: Option<(String, Vec<String>)> = answer
        .text
        .find('{')
        .zip(answer.text.rfind('}'))
        .and_then(|(a, b)| serde_json::from_str::<serde_json::Value>(&answer.text[a..=b]).ok())
        .and_then(|v| {
            let id = v["dataset"].as_str()?.to_owned();
            let reasons = v["reasons"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Some((id, reasons))
        });
    let (dataset, source, reasons) = match parsed {
        Some((id, mut reasons)) if catalogue.contains(&id) => {
            if !names.is_empty() {
                reasons.insert(
                    0,
                    format!(
                        "the paper's datasets ({}) are not in the catalogue",
                        names.join(", ")
                    ),
                );
            }
            (id, "model", reasons)
        }
        Some((id, _)) => (
            "synthetic".to_owned(),
            "fallback",
            vec![format!(
                "the model chose `{id}`, which is not in the catalogue"
            )],
        ),
        None => (
            "synthetic".to_owned(),
            "fallback",
            vec!["the model's answer was not the JSON asked for".to_owned()],
        ),
    };
    Ok(DatasetChoice {
        dataset,
        source: source.into(),
        reasons,
        mentions,
        usage,
    })
}
