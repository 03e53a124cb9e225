//! `annapurna-bench` (also run as `annapurna bench …`): benchmarks that start their own stack.
//! Figures go to BENCHMARKS.md; nothing here is asserted as a limit.
//!
//! - [`quota`]: the map phase against a provider quota, and the replaced sequential method
//! - [`chaos`]: papers run while the worker is SIGKILLed again and again
//! - [`stores`]: the paper store per backend

mod chaos;
mod quota;
mod stores;

use annapurna::config::Config;
use clap::{Parser, Subcommand};

/// Annapurna's benchmarks.
#[derive(Parser)]
#[command(name = "annapurna bench", version)]
struct Cli {
    /// Configuration file (default: ./annapurna.toml when present).
    #[arg(long, global = true, env = "ANNAPURNA_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// The map phase against a provider quota, and the old sequential method on the same work.
    Quota(quota::QuotaArgs),
    /// Papers run while the worker is SIGKILLed again and again.
    Chaos(chaos::ChaosArgs),
    /// The paper store per backend: inserts, stage updates, selections.
    Stores(stores::StoresArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    let _telemetry = annapurna::telemetry::init(&config.telemetry)?;
    match cli.which {
        Which::Quota(args) => quota::quota(config, args).await,
        Which::Chaos(args) => chaos::chaos(config, args).await,
        Which::Stores(args) => stores::stores(args).await,
    }
}
