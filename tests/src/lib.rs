//! Helpers for the end-to-end tests: a real Temporal dev server (the `temporal` CLI), the Bedrock
//! stand-in and `annapurna worker` as real processes, each test with its own state directory and
//! ports. Every process runs in its own process group and is killed when its guard drops.
//!
//! Layout: this file holds the helpers; the tests are in `tests/`:
//! - `e2e.rs`: every real paper through PaperToCode, the plain `temporal workflow start`, the
//!   review/fix round, bad inputs
//! - `crash.rs`: the worker killed while summaries are in flight
//! - `dev_stack.rs`: `annapurna dev` starts and stops cleanly; docker-compose.yml validates
//! - `providers.rs`: the OpenAI-compatible provider: each failure mode against a local server,
//!   a paper split across Bedrock and the OpenAI path, prompt caching, cost, a throttling storm

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    Client, ClientOptions, Connection, WorkflowGetResultOptions, WorkflowHandle,
    WorkflowQueryOptions, WorkflowStartOptions,
};
use temporalio_common::HasWorkflowDefinition;
use workflows::types::{PaperToCodeInput, Progress};

/// The `annapurna` binary built beside this test binary (`target/debug/annapurna`), or
/// `ANNAPURNA_BIN`.
pub fn annapurna_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ANNAPURNA_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .join("annapurna");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --bins` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The `temporal` CLI: `TEMPORAL_BIN`, PATH, or the set-up script's venv.
pub fn temporal_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TEMPORAL_BIN") {
        return p.into();
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("temporal").is_file() {
            return dir.join("temporal");
        }
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let venv = PathBuf::from(home).join(".cache/annapurna/venv/bin/temporal");
    assert!(
        venv.is_file(),
        "the temporal CLI is missing: run ./scripts/setup.sh"
    );
    venv
}

/// `annapurna` run in `dir` as the benchmarks run it: the set-up's `temporal` on PATH, no instance
/// metadata service asked for credentials.
pub fn bench_command(dir: &Path) -> Command {
    let path = format!(
        "{}:{}",
        temporal_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(annapurna_bin());
    cmd.current_dir(dir)
        .env("PATH", path)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// A tool from PATH or the set-up script's venv (`scripts/setup.sh` installs it there).
pub fn venv_tool(name: &str) -> PathBuf {
    activities::settings::find_tool(name)
        .unwrap_or_else(|| panic!("{name} is missing: run ./scripts/setup.sh"))
}

/// Waits up to 30 s for something to listen on `port`.
pub fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An in-memory OpenSearch-compatible server (`osmem-server` from PyPI); its URL.
pub fn start_osmem(dir: &Path) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(venv_tool("osmem-server"));
    cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--no-stdin-watch"])
        .args(["--parent-pid", &std::process::id().to_string()]);
    let proc = Proc::spawn(cmd, dir.join("osmem.log"));
    wait_port(port, "osmem-server");
    (proc, format!("http://127.0.0.1:{port}"))
}

/// moto's S3-compatible server (`moto_server` from PyPI) with `bucket` created; its endpoint.
pub fn start_moto(dir: &Path, bucket: &str) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(venv_tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let proc = Proc::spawn(cmd, dir.join("moto.log"));
    wait_port(port, "moto_server");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "creating bucket {bucket}: {response}"
    );
    (proc, format!("http://127.0.0.1:{port}"))
}

/// GET `url` (plain HTTP on 127.0.0.1) and parse the body as JSON.
pub fn http_get_json(url: &str) -> serde_json::Value {
    let parsed = url::Url::parse(url).unwrap();
    let port = parsed.port().expect("a port in the URL");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        &url[url.find(parsed.path()).unwrap_or(0)..]
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").expect("an HTTP response").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// `../shared/papers` beside the checkout.
pub fn papers_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/papers");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

/// The real papers: every .pdf, .tex and .md in `../shared/papers` but its README.
pub fn real_papers() -> Vec<PathBuf> {
    let mut papers: Vec<PathBuf> = std::fs::read_dir(papers_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name != "README.md"
                && (name.ends_with(".pdf") || name.ends_with(".tex") || name.ends_with(".md"))
        })
        .collect();
    papers.sort();
    papers
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Panics, naming `what` and showing its output, unless the command behind `out` succeeded.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` to completion and asserts that it succeeded (see [`assert_success`]); its output.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: spawning {cmd:?}: {e}"));
    assert_success(&out, what);
    out
}

/// The JSON object printed on the last line of `out`'s stdout.
pub fn last_line_json(out: &Output) -> Value {
    let stdout = std::str::from_utf8(&out.stdout).expect("UTF-8 on stdout");
    let last = stdout.lines().last().expect("a last line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("JSON on the last line: {e}: {last}"))
}

/// The JSON file at `path`, parsed.
pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

/// The string `key` of every element of the JSON array `array`.
pub fn strings_of<'a>(array: &'a Value, key: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

/// Every file under `dir`, at any depth (none when `dir` cannot be read).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `python3 -m py_compile` accepts the Python file at `path`.
pub fn py_compiles(path: &Path) -> bool {
    Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(path)
        .status()
        .unwrap()
        .success()
}

/// PaperToCode's input for the stored paper `paper_id`, everything else by default.
pub fn paper_input(paper_id: &str) -> PaperToCodeInput {
    PaperToCodeInput {
        paper_id: Some(paper_id.to_owned()),
        ..Default::default()
    }
}

/// PaperToCode's input for the paper file at `path` (a `source`), everything else by default.
pub fn source_input(path: &Path) -> PaperToCodeInput {
    PaperToCodeInput {
        source: Some(path.display().to_string()),
        ..Default::default()
    }
}

/// A handle on a workflow of type `W` through a [`Client`].
pub type Handle<W> = WorkflowHandle<Client, W>;

/// How `handle`'s workflow ended, waiting at most `secs`; panics when it runs on.
pub async fn wait_outcome<W: HasWorkflowDefinition>(
    handle: &Handle<W>,
    secs: u64,
) -> Result<W::Output, WorkflowGetResultError> {
    wait_outcome_or(handle, secs, String::new).await
}

/// As [`wait_outcome`]; when it runs on, the panic shows `more()` after the end of the history.
async fn wait_outcome_or<W: HasWorkflowDefinition>(
    handle: &Handle<W>,
    secs: u64,
    more: impl FnOnce() -> String,
) -> Result<W::Output, WorkflowGetResultError> {
    let options = WorkflowGetResultOptions::default();
    match tokio::time::timeout(Duration::from_secs(secs), handle.get_result(options)).await {
        Ok(outcome) => outcome,
        Err(_) => panic!(
            "{} did not finish in {secs} s; its history ends:\n{}\n{}",
            handle.info().workflow_id,
            history_tail(handle, 25).await,
            more()
        ),
    }
}

use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

/// Every event of `handle`'s history.
pub async fn history_events<W: HasWorkflowDefinition>(
    handle: &Handle<W>,
) -> Result<Vec<HistoryEvent>, temporalio_client::errors::WorkflowInteractionError> {
    handle
        .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
}

/// The last `n` events of `handle`'s history, one a line (what a hung workflow waits for).
pub async fn history_tail<W: HasWorkflowDefinition>(handle: &Handle<W>, n: usize) -> String {
    let events = match history_events(handle).await {
        Ok(events) => events,
        Err(e) => return format!("(no history: {e})"),
    };
    let skip = events.len().saturating_sub(n);
    events[skip..]
        .iter()
        .map(|e| {
            let what = format!("{:?}", e.attributes);
            let what: String = what.chars().take(300).collect();
            format!(
                "{} {} {what}",
                e.event_id,
                e.event_time.map(|t| t.to_string()).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The result of `handle`'s workflow, waiting at most `secs`; panics when it runs on or fails.
pub async fn wait_result<W: HasWorkflowDefinition>(handle: &Handle<W>, secs: u64) -> W::Output {
    let id = &handle.info().workflow_id;
    wait_outcome(handle, secs)
        .await
        .unwrap_or_else(|e| panic!("{id} failed: {e:?}"))
}

/// The failure of `handle`'s workflow as text, waiting at most `secs`; panics when it runs on or
/// succeeds.
pub async fn wait_failure<W: HasWorkflowDefinition>(handle: &Handle<W>, secs: u64) -> String {
    match wait_outcome(handle, secs).await {
        Ok(_) => panic!("{} succeeded but must fail", handle.info().workflow_id),
        Err(e) => format!("{e:?}"),
    }
}

/// Polls PaperToCode's `progress` query every 100 ms until `until` holds, for at most `secs`;
/// that progress. Panics, naming `what`, when it never holds.
pub async fn wait_progress(
    handle: &Handle<workflows::PaperToCode>,
    secs: u64,
    what: &str,
    until: impl Fn(&Progress) -> bool,
) -> Progress {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        assert!(Instant::now() < deadline, "{what}");
        if let Ok(p) = handle
            .query(
                workflows::PaperToCode::progress,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
            && until(&p)
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A child process in its own process group, killed (with its children) on drop.
pub struct Proc {
    child: Child,
    /// Where its output goes.
    pub log: PathBuf,
}

impl Proc {
    /// Whether the process has ended.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Spawns `cmd` with stdout and stderr to `log`.
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        Proc { child, log }
    }
    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    /// Sends `signal` to the whole process group.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(-self.pid()), signal);
    }
    /// Waits up to `timeout` for the process to exit; its status when it did.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    /// Peak resident memory so far, in KiB (VmHWM), for the benchmark figures.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    /// Sends SIGTERM to the process alone and asserts that it exits cleanly within `timeout`
    /// (`what` names the expectation).
    pub fn stop(&mut self, timeout: Duration, what: &str) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.wait_timeout(timeout).expect(what);
        assert!(
            status.success(),
            "exit status {status}: {}",
            self.log_text()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// `temporal server start-dev`, headless on 127.0.0.1:`port`, with its SQLite file at `db`.
///
/// Without `matching.enableFairness`, unlike `annapurna dev` and `annapurna bench quota`: the
/// tests do not need it (a model call's fairness key is recorded in the history either way, and
/// the quota test runs the benchmark's server, which has it on), and two full runs had a workflow
/// whose first workflow task the server never handed to the polling worker in 300 s, both on
/// servers with fairness on (not proven to be the cause: none such before it was turned on).
pub fn temporal_dev_command(db: &Path, port: u16) -> Command {
    let mut cmd = Command::new(temporal_bin());
    cmd.args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
        .arg("--db-filename")
        .arg(db)
        .args(["--port", &port.to_string(), "--log-level", "warn"]);
    cmd
}

/// Starts a Temporal dev server with its SQLite file at `db`, headless, search attributes
/// registered, and waits until it answers.
pub async fn start_temporal(db: &Path, port: u16, log: PathBuf) -> (Proc, Client) {
    let mut proc = spawn_temporal(db, port, log);
    match answer_or_exit(port, &mut proc).await {
        Some(client) => (proc, client),
        None => panic!("the Temporal dev server on port {port} exited before it answered"),
    }
}

/// As [`start_temporal`] on a free port, and the port: a server that exits before it answers
/// (a port of its own that another test took between `free_port` and its bind) is started again
/// on another, twice at most.
pub async fn start_temporal_anywhere(db: &Path, log: PathBuf) -> (Proc, Client, u16) {
    for attempt in 1..=3 {
        let port = free_port();
        let mut proc = spawn_temporal(db, port, log.clone());
        if let Some(client) = answer_or_exit(port, &mut proc).await {
            return (proc, client, port);
        }
        let text = proc.log_text();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        eprintln!(
            "--- the Temporal dev server (attempt {attempt}, port {port}) exited; its log ends ---"
        );
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
    }
    panic!(
        "the Temporal dev server exited before it answered, three times (log: {})",
        log.display()
    )
}

fn spawn_temporal(db: &Path, port: u16, log: PathBuf) -> Proc {
    let mut cmd = temporal_dev_command(db, port);
    for sa in workflows::names::search_attribute::ALL {
        cmd.args(["--search-attribute", &format!("{sa}=Keyword")]);
    }
    Proc::spawn(cmd, log)
}

/// A client of the server `proc` on `port` once it answers as Temporal's frontend (within a
/// minute), or `None` when the process exits first. Whatever else listens on the port (another
/// test's server's internal service, when this one could not bind it) is not taken for it.
async fn answer_or_exit(port: u16, proc: &mut Proc) -> Option<Client> {
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let options = temporalio_client::ConnectionOptions::new(url).build();
        let problem = match Connection::connect(options).await {
            Ok(conn) => {
                let mut service = conn.workflow_service();
                let request =
                    temporalio_client::tonic::Request::new(GetSystemInfoRequest::default());
                match service.get_system_info(request).await {
                    Ok(_) if !proc.exited() => {
                        return Some(
                            Client::new(conn, ClientOptions::new("default").build()).unwrap(),
                        );
                    }
                    Ok(_) => "another process answers on the port".to_owned(),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        if proc.exited() {
            return None;
        }
        if Instant::now() > deadline {
            panic!("Temporal on port {port} did not answer: {problem}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One test's stack: Temporal, the stand-in, and a worker, all real processes.
pub struct Stack {
    /// State directory (blobs, results, papers.db, logs).
    pub dir: tempfile::TempDir,
    /// Temporal's gRPC port.
    pub port: u16,
    /// The stand-in's port.
    pub standin_port: u16,
    /// A client of the server.
    pub client: Client,
    /// The worker, when running.
    pub worker: Option<Proc>,
    /// The cpu executor (`annapurna worker --exec cpu`).
    pub executor: Option<Proc>,
    workers_started: u32,
    temporal_restarts: u32,
    env: Vec<(String, String)>,
    // Dropped last: the server outlives the workers.
    _standin: Proc,
    temporal: Proc,
}

impl Stack {
    /// Starts Temporal, the stand-in (with `standin_args`), and a worker.
    pub async fn start(standin_args: &[&str]) -> Stack {
        Self::start_with_env(standin_args, &[]).await
    }

    /// As [`Stack::start`], then adds `paper` from `../shared/papers`; the stack and the paper's id.
    pub async fn start_with_paper(standin_args: &[&str], paper: &str) -> (Stack, String) {
        let stack = Self::start(standin_args).await;
        let id = stack.add_paper(&papers_dir().join(paper));
        (stack, id)
    }

    /// As [`Stack::start`], with extra environment for every `annapurna` process (other storage,
    /// for instance); `{standin}` in a value stands for the stand-in's URL.
    pub async fn start_with_env(standin_args: &[&str], env: &[(&str, &str)]) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let (temporal, client, port) = start_temporal_anywhere(
            &dir.path().join("temporal.db"),
            dir.path().join("temporal.log"),
        )
        .await;
        let standin_port = free_port();
        let mut cmd = Command::new(annapurna_bin());
        cmd.args(["standin", "bedrock", "--port", &standin_port.to_string()])
            .args(standin_args);
        let standin = Proc::spawn(cmd, dir.path().join("standin.log"));
        let mut stack = Stack {
            dir,
            port,
            standin_port,
            client,
            worker: None,
            executor: None,
            workers_started: 0,
            temporal_restarts: 0,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _standin: standin,
            temporal,
        };
        stack.wait_standin();
        stack.start_worker();
        let mut cmd = stack.command();
        cmd.args(["worker", "--exec", "cpu"]);
        stack.executor = Some(Proc::spawn(cmd, stack.dir.path().join("executor.log")));
        stack
    }

    fn wait_standin(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.standin_port)).is_err() {
            assert!(Instant::now() < deadline, "the stand-in did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An `annapurna` command with this stack's configuration in its environment.
    pub fn command(&self) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(annapurna_bin());
        cmd.current_dir(d)
            .env("TEMPORAL_ADDRESS", format!("127.0.0.1:{}", self.port))
            .env("TEMPORAL_NAMESPACE", "default")
            .env("ANNAPURNA_STORAGE__BLOBS", d.join("blobs"))
            .env("ANNAPURNA_STORAGE__RESULTS", d.join("results"))
            .env("ANNAPURNA_STORAGE__PAPERS", d.join("papers.db"))
            .env(
                "ANNAPURNA_WORKER__SOURCE_ROOTS",
                format!("[{:?}]", d.join("papers").display().to_string()),
            )
            .env("ANNAPURNA_BEDROCK__STANDIN", "always")
            .env(
                "ANNAPURNA_BEDROCK__ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.standin_port),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env_remove("ANNAPURNA_CONFIG");
        // `{standin}` in a value stands for the stand-in's URL (its port is chosen at start).
        let standin = format!("http://127.0.0.1:{}", self.standin_port);
        cmd.envs(
            self.env
                .iter()
                .map(|(k, v)| (k, v.replace("{standin}", &standin))),
        );
        cmd
    }

    /// Runs `temporal ARGS --address <this stack's server>` to completion.
    pub fn temporal(&self, args: &[&str]) -> Output {
        Command::new(temporal_bin())
            .args(args)
            .args(["--address", &format!("127.0.0.1:{}", self.port)])
            .output()
            .unwrap()
    }

    /// How many executions of `workflow_id` ended by continuing as new (`temporal workflow list`).
    pub fn continued_as_new(&self, workflow_id: &str) -> usize {
        let query = format!("WorkflowId='{workflow_id}'");
        let list = self.temporal(&["workflow", "list", "--query", &query, "-o", "json"]);
        let runs: serde_json::Value = serde_json::from_slice(&list.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&list.stdout)));
        runs.as_array()
            .expect("a JSON array of executions")
            .iter()
            .filter(|r| {
                r["status"]
                    .as_str()
                    .is_some_and(|s| s.contains("CONTINUED_AS_NEW"))
            })
            .count()
    }

    /// With `ANNAPURNA_RECORD_HISTORIES` set, exports `workflow_id`'s history to
    /// `tests/histories/<file>`, where `replay.rs` replays every recorded history against the
    /// current code. (Set it by hand after an intended workflow change; tests never need it.)
    pub fn record_history(&self, workflow_id: &str, file: &str) {
        if std::env::var_os("ANNAPURNA_RECORD_HISTORIES").is_none() {
            return;
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("histories")
            .join(file);
        self.export_history(workflow_id, &path);
    }

    /// Exports `workflow_id`'s history to `file` with `annapurna history export`; panics when it
    /// fails.
    pub fn export_history(&self, workflow_id: &str, file: &Path) {
        let file = file.to_str().unwrap();
        self.annapurna_ok(&["history", "export", workflow_id, "--output", file]);
    }

    /// Runs `annapurna ARGS` to completion.
    pub fn annapurna(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs `annapurna ARGS` to completion and asserts that it succeeded; its output.
    pub fn annapurna_ok(&self, args: &[&str]) -> Output {
        run_ok(
            self.command().args(args),
            &format!("annapurna {}", args.join(" ")),
        )
    }

    /// The stored papers, as `annapurna paper list --json` prints them.
    pub fn papers(&self) -> Vec<Value> {
        let out = self.annapurna_ok(&["paper", "list", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The paper `id` and its runs, as `annapurna paper show` prints them.
    pub fn show_paper(&self, id: &str) -> Value {
        let out = self.annapurna_ok(&["paper", "show", id]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Adds a paper with the CLI; returns its id (the last line of stdout).
    pub fn add_paper(&self, path: &Path) -> String {
        let out = self.annapurna_ok(&["paper", "add", path.to_str().unwrap()]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout
            .lines()
            .last()
            .expect("an id on the last line")
            .trim()
            .to_owned()
    }

    /// Starts a worker process (`annapurna worker`).
    pub fn start_worker(&mut self) {
        assert!(self.worker.is_none(), "a worker is already running");
        self.workers_started += 1;
        let mut cmd = self.command();
        cmd.arg("worker")
            .env("ANNAPURNA_WORKER__GRACEFUL_SHUTDOWN_SECS", "5");
        let log = self
            .dir
            .path()
            .join(format!("worker-{}.log", self.workers_started));
        self.worker = Some(Proc::spawn(cmd, log));
    }

    /// SIGKILLs the worker.
    pub fn kill_worker(&mut self) {
        let worker = self.worker.take().expect("a running worker");
        worker.signal(nix::sys::signal::Signal::SIGKILL);
        drop(worker);
    }

    /// SIGKILLs the Temporal server and starts it again on the same port with the same SQLite
    /// file; waits until it answers.
    pub async fn restart_temporal(&mut self) {
        self.temporal.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.temporal.wait_timeout(Duration::from_secs(10));
        self.temporal_restarts += 1;
        let log = self
            .dir
            .path()
            .join(format!("temporal-{}.log", self.temporal_restarts));
        let (proc, client) =
            start_temporal(&self.dir.path().join("temporal.db"), self.port, log).await;
        self.temporal = proc;
        self.client = client;
    }

    /// The stand-in's request counts (`GET /_standin/stats`).
    pub fn standin_stats(&self) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.standin_port)).unwrap();
        write!(s, "GET /_standin/stats HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let body = response.split_once("\r\n\r\n").expect("an HTTP response").1;
        serde_json::from_str(body).unwrap()
    }

    /// A copy of the example paper (`examples/papers/gated-residual-mlp.md`) in the stack's
    /// directory.
    pub fn example_paper(&self) -> PathBuf {
        // Under `papers/`, the worker's allowed root for `source` inputs.
        std::fs::create_dir_all(self.dir.path().join("papers")).unwrap();
        let paper = self.dir.path().join("papers/example.md");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/papers/gated-residual-mlp.md"),
            &paper,
        )
        .unwrap();
        paper
    }

    /// Adds [`Stack::example_paper`] with the CLI; returns its id.
    pub fn add_example(&self) -> String {
        self.add_paper(&self.example_paper())
    }

    /// Starts PaperToCode as `workflow_id` on the `annapurna` queue; a handle on that id.
    pub async fn start_paper(
        &self,
        workflow_id: &str,
        input: PaperToCodeInput,
    ) -> Result<Handle<workflows::PaperToCode>, String> {
        let options = WorkflowStartOptions::new(workflows::names::TASK_QUEUE, workflow_id).build();
        self.client
            .start_workflow(workflows::PaperToCode::run, input, options)
            .await
            .map_err(|e| format!("starting {workflow_id}: {e:?}"))?;
        Ok(self.client.get_workflow_handle(workflow_id))
    }

    /// Starts PaperToCode as `workflow_id` and waits (at most five minutes) for its result; the
    /// failure, as text, when it failed.
    pub async fn run_paper(
        &self,
        workflow_id: &str,
        input: PaperToCodeInput,
    ) -> Result<workflows::types::PaperToCodeOutput, String> {
        let handle = self.start_paper(workflow_id, input).await?;
        wait_outcome(&handle, 300)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    /// As [`Stack::run_paper`]; panics, naming `what`, unless the paper completes with the outcome
    /// `succeeded`.
    pub async fn paper_succeeds(
        &self,
        workflow_id: &str,
        input: PaperToCodeInput,
        what: &str,
    ) -> workflows::types::PaperToCodeOutput {
        let out = self.run_paper(workflow_id, input).await.expect(what);
        assert_eq!(out.outcome, "succeeded", "{what}: {out:?}");
        out
    }

    /// Starts `workflow_type` as `workflow_id` on the `annapurna` queue with the plain Temporal
    /// CLI and a JSON input, as the README shows; panics when the CLI refuses.
    pub fn start_with_cli(&self, workflow_type: &str, workflow_id: &str, input: &str) {
        let out = self.temporal(&[
            "workflow",
            "start",
            "--type",
            workflow_type,
            "--task-queue",
            workflows::names::TASK_QUEUE,
            "--workflow-id",
            workflow_id,
            "--input",
            input,
        ]);
        assert_success(
            &out,
            &format!("temporal workflow start --type {workflow_type}"),
        );
    }

    /// The result of `workflow_id` as workflow `W`, waiting at most `secs`; panics when it does
    /// not finish in time or fails.
    pub async fn result<W: HasWorkflowDefinition>(
        &self,
        workflow_id: &str,
        secs: u64,
    ) -> W::Output {
        let handle = self.client.get_workflow_handle::<W>(workflow_id);
        wait_outcome_or(&handle, secs, || self.processes())
            .await
            .unwrap_or_else(|e| panic!("{workflow_id} failed: {e:?}"))
    }

    /// Whether the stack's worker and Temporal server still run, and the ends of their logs: what
    /// a test that waited in vain shows.
    pub fn processes(&self) -> String {
        let mut out = String::new();
        for (name, proc) in [
            ("worker", self.worker.as_ref()),
            ("temporal", Some(&self.temporal)),
        ] {
            let Some(proc) = proc else {
                out.push_str(&format!("{name}: not running (none started)\n"));
                continue;
            };
            // The state letter after the command in /proc/PID/stat: Z is a process that ended.
            let state = std::fs::read_to_string(format!("/proc/{}/stat", proc.pid()))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.trim().chars().next())
                })
                .flatten();
            let alive = matches!(state, Some(c) if c != 'Z' && c != 'X');
            let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            out.push_str(&format!(
                "{name} (pid {}, {}), the end of {}:\n{}\n",
                proc.pid(),
                if alive { "running" } else { "ended" },
                proc.log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        out
    }

    /// The failure of `workflow_id` as workflow `W`, as text, waiting at most `secs`; panics when
    /// it does not end in time or succeeds.
    pub async fn failure<W: HasWorkflowDefinition>(&self, workflow_id: &str, secs: u64) -> String {
        let handle = self.client.get_workflow_handle::<W>(workflow_id);
        wait_failure(&handle, secs).await
    }

    /// Path of a file under a `file://` URI.
    pub fn path_of(uri: &str) -> PathBuf {
        PathBuf::from(uri.strip_prefix("file://").expect("a file:// URI"))
    }
}
