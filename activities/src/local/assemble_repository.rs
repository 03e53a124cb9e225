//! AssembleRepository: the written files with `config.yaml`, `requirements.txt` and
//! `README.md` rendered from the plan, as one repository bundle (JSON) that execution,
//! checks and results read.

use crate::prelude::*;

/// AssembleRepository: the bundle, and the entry point's text on its own.
pub async fn assemble_repository(
    d: Call<'_>,
    input: AssembleRepositoryInput,
) -> Out<RepositoryRef> {
    let (plan, _) = crate::llm::generate_file::load_plan(&d, &input.plan.plan).await?;
    let mut files = std::collections::BTreeMap::new();
    for f in &input.files {
        files.insert(f.path.clone(), d.text(&f.code).await?);
    }
    let standin = input.plan.usage.standin
        || files
            .values()
            .any(|t| t.contains(crate::clients::llm::STANDIN_MARKER));
    files.insert("config.yaml".into(), plan.config_yaml());
    files.insert("requirements.txt".into(), plan.requirements_txt());
    files.insert("README.md".into(), plan.readme(&input.title, standin));
    let bundle = RepoBundle {
        entry: plan.entry.clone(),
        files,
    };
    bundle
        .validate()
        .map_err(|e| permanent("InvalidRepository", e))?;
    let entry = input
        .files
        .iter()
        .find(|f| f.path == plan.entry)
        .map(|f| f.code.clone())
        .ok_or_else(|| {
            permanent(
                "InvalidRepository",
                format!("the entry point {:?} was not written", plan.entry),
            )
        })?;
    let json = serde_json::to_vec_pretty(&bundle).expect("a bundle serialises");
    let key = format!(
        "repos/{}/{}.json",
        input.paper_id,
        short(&sha256_hex(&json))
    );
    let blob = d.blobs.put(&key, json).await?;
    Ok(RepositoryRef {
        bundle: blob,
        entry_code: entry,
        entry: plan.entry,
        files: bundle.files.keys().cloned().collect(),
    })
}
