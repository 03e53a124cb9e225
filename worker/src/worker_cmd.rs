//! `annapurna worker [--exec TARGET]`: a production worker on `annapurna` and `annapurna-llm`,
//! or an executor on `annapurna-exec-<target>`.

use crate::config::{Config, StandinMode};
use crate::wiring;

/// Runs the worker until SIGTERM or Ctrl-C.
pub async fn run(config: &Config, exec: Option<String>) -> anyhow::Result<()> {
    let config = config.clone();
    let standin_url = (config.bedrock.standin == StandinMode::Always)
        .then(|| config.bedrock.endpoint_url.clone())
        .filter(|u| !u.is_empty());
    if config.bedrock.standin == StandinMode::Always && standin_url.is_none() {
        anyhow::bail!(
            "bedrock.standin = \"always\" needs bedrock.endpoint-url set to the stand-in's URL"
        );
    }
    if standin_url.is_some() {
        tracing::warn!(url = ?standin_url, "model calls go to the Bedrock STAND-IN: template answers, not generation");
    }
    if exec.is_none() {
        wiring::log_model_checks(&config, standin_url.as_deref());
    }
    let llm = wiring::models(&config, standin_url.as_deref()).await?;
    let deps = wiring::deps(&config, llm).await?;
    let client = wiring::temporal_client(None).await?;
    let queues = wiring::Queues {
        main: exec.is_none(),
        exec,
    };
    wiring::run_queues(client, &config, deps, &queues, wiring::shutdown_signal()).await
}
