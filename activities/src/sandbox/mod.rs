//! Running untrusted generated code. bubblewrap builds the sandbox: no network (a network
//! namespace with nothing in it), a private PID namespace (killing it kills everything in it,
//! detached daemons included), the system and the Python environment read-only, a private `/tmp`,
//! no `/root`, `/home` or host `/tmp`, an empty environment, and one writable place, the work
//! directory. Inside, `setpriv` drops to an unprivileged uid with no capabilities, so the resource
//! limits set here (CPU seconds, address space, processes, file size, open files) hold. A watcher
//! kills the whole sandbox at the wall-clock timeout, or when the work directory outgrows its
//! disk quota. Without bubblewrap nothing runs unless the configuration says `mode = "none"`, and
//! then every report says so.

//!
//! - here: configuration, errors, [`run`] (the process, its limits and the watcher)
//! - [`profile`]: what each target adds (devices, drivers, environment) and the bubblewrap command
//! - [`report`]: artifacts, `METRICS:` lines and the classification of a run
//! - [`workdir`]: execution slots (a uid each), their size-limited work directories, and what
//!   dead executors left behind
//! - [`cgroup`]: a cgroup per run (memory and processes for the run as a whole)

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub mod cgroup;
pub mod profile;
pub mod report;
pub mod workdir;

pub use profile::*;
pub use report::*;

/// How code is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// bubblewrap (the default; refuse to run without it).
    Bubblewrap,
    /// No isolation at all: only for hosts that are themselves throwaway. Reports say so.
    None,
}

/// Sandbox configuration (`[sandbox]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SandboxConfig {
    /// `bubblewrap` or `none`.
    pub mode: SandboxMode,
    /// The execution venv (read-only inside); its `bin/python` runs the code. Empty: the set-up
    /// script's (`$XDG_CACHE_HOME/annapurna/exec-venv`), else `/usr/bin/python3`.
    pub venv: String,
    /// Pre-staged datasets, mounted read-only at `/datasets`. Empty: the set-up script's
    /// (`$XDG_CACHE_HOME/annapurna/datasets`) when it exists.
    pub datasets: String,
    /// The first of `slots` consecutive unprivileged uids (and gids): slot `n` runs code as
    /// `uid + n`. No one else on the host may use them.
    pub uid: u32,
    /// Programs this executor runs at once (the worker raises it to
    /// `worker.max-concurrent-executions`).
    pub slots: u32,
    /// Where work directories and slot locks live. Empty: `$TMPDIR/annapurna-exec`.
    pub work_root: String,
    /// A cgroup v2 directory delegated to the executor, for a cgroup per run. Empty: cgroup v1
    /// where the host has it, else only per-process limits.
    pub cgroup_parent: String,
    /// CPU seconds.
    pub cpu_secs: u64,
    /// Address space, MiB.
    pub memory_mib: u64,
    /// Processes (and threads) of the uid.
    pub processes: u64,
    /// Largest file, MiB.
    pub file_mib: u64,
    /// Open files.
    pub open_files: u64,
    /// Work directory quota, MiB.
    pub disk_mib: u64,
    /// Bytes of stdout and of stderr kept.
    pub output_bytes: u64,
    /// Wall-clock timeout, seconds, when the request does not say.
    pub timeout_secs: u64,
    /// On Trainium, capture a Neuron runtime profile into `output/neuron-profile/`.
    pub neuron_profile: bool,
    /// The evaluation venv (`annapurna eval env`), layered over `venv`; empty: `eval-venv` in
    /// the cache. Used for runs that ask for the `eval` environment, when it exists.
    pub eval_venv: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            mode: SandboxMode::Bubblewrap,
            venv: String::new(),
            datasets: String::new(),
            uid: 64000,
            slots: 4,
            work_root: String::new(),
            cgroup_parent: String::new(),
            cpu_secs: 600,
            memory_mib: 8192,
            processes: 256,
            file_mib: 256,
            open_files: 256,
            disk_mib: 1024,
            output_bytes: 1 << 20,
            timeout_secs: 900,
            neuron_profile: false,
            eval_venv: String::new(),
        }
    }
}

/// Why code could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No bubblewrap and no permission to run unsandboxed.
    #[error(
        "bubblewrap (bwrap) is not installed, so generated code will not run: install it (Debian: bubblewrap) or, on a throwaway host only, set sandbox.mode = \"none\""
    )]
    Unavailable,
    /// The executor does not run as root, so the code cannot be dropped to another uid.
    #[error(
        "the executor must run as root (on a host or in a container of its own) to run code as the unprivileged uid {0}, where the process limits hold; run `annapurna worker --exec …` as root, or on a throwaway host set sandbox.mode = \"none\""
    )]
    NeedsRoot(u32),
    /// Setting up the work directory or starting the process failed.
    #[error("cannot start the sandbox: {0}")]
    Start(String),
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Exit status, when the process exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Why the sandbox killed it: `timeout`, `disk` or `cancelled`.
    pub killed: Option<String>,
    /// Wall time, milliseconds.
    pub wall_ms: u64,
    /// CPU time of the whole process tree, milliseconds (sampled every 100 ms).
    pub cpu_ms: u64,
    /// Peak resident memory of any process of the tree, KiB (sampled every 100 ms).
    pub peak_rss_kib: u64,
    /// stdout (at most `output_bytes`).
    pub stdout: String,
    /// stderr (at most `output_bytes`).
    pub stderr: String,
    /// Whether stdout or stderr was cut.
    pub output_truncated: bool,
    /// `METRICS: {json}` lines, parsed, in order.
    pub metrics: Vec<serde_json::Value>,
    /// `bubblewrap` or `none`.
    pub sandbox: String,
    /// What went wrong, in one word (see [`classify`]).
    pub classification: workflows::types::Classification,
    /// How the limits were enforced: the uid, whether a cgroup held memory and processes for
    /// the whole run, and whether the kernel or a poll held the disk quota.
    #[serde(default)]
    pub limits: String,
}

/// Where the execution venv is mounted inside the sandbox.
pub const VENV_MOUNT: &str = "/opt/venv";

pub(crate) fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_owned()];
    while let Some(p) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&p) {
            for e in entries.flatten() {
                match e.metadata() {
                    Ok(m) if m.is_dir() => stack.push(e.path()),
                    Ok(m) => total += m.len(),
                    Err(_) => {}
                }
            }
        }
    }
    total
}

/// CPU time (ms, including reaped children) and the largest peak RSS (KiB) of `root` and its
/// descendants now, read from /proc.
pub(crate) fn sample_tree(root: i32) -> (u64, u64) {
    let tick = 1000 / (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64);
    let mut parent = std::collections::HashMap::new();
    let mut stats = std::collections::HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name, which is in parentheses and may hold spaces.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() < 15 {
                continue;
            }
            let ppid: i32 = f[1].parse().unwrap_or(0);
            let cpu: u64 = f[11..15].iter().filter_map(|v| v.parse::<u64>().ok()).sum();
            parent.insert(pid, ppid);
            stats.insert(pid, cpu * tick);
        }
    }
    let mut cpu = 0;
    let mut rss = 0;
    for (&pid, &ticks) in &stats {
        let mut p = pid;
        let mut inside = false;
        for _ in 0..64 {
            if p == root {
                inside = true;
                break;
            }
            match parent.get(&p) {
                Some(&pp) if pp > 1 => p = pp,
                _ => break,
            }
        }
        if !inside {
            continue;
        }
        cpu += ticks;
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            rss = rss.max(hwm);
        }
    }
    (cpu, rss)
}

/// The latest `METRICS:` line of a running script, for heartbeats.
pub type LatestMetrics = Arc<std::sync::Mutex<Option<serde_json::Value>>>;

pub(crate) fn read_capped(
    mut r: impl std::io::Read,
    cap: u64,
    truncated: Arc<AtomicBool>,
    latest: Option<LatestMetrics>,
) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut scanned = 0; // bytes of `kept` already searched for whole METRICS lines
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = (cap as usize).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                if n > room {
                    truncated.store(true, Ordering::Relaxed);
                }
                if let Some(latest) = &latest
                    && let Some(end) = kept.iter().rposition(|&b| b == b'\n')
                    && end >= scanned
                {
                    let fresh = String::from_utf8_lossy(&kept[scanned..=end]);
                    if let Some(m) = parse_metrics(&fresh).pop() {
                        *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
                    }
                    scanned = end + 1;
                }
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// What a run executes: files written into the work directory (relative paths), and the
/// arguments given to Python there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Relative path → content.
    pub files: Vec<(String, String)>,
    /// Python's arguments, e.g. `-I main.py`.
    pub args: Vec<String>,
}

impl Program {
    /// One file of code, run as `python -I main.py`.
    pub fn script(code: &str) -> Program {
        Program {
            files: vec![("main.py".into(), code.to_owned())],
            args: vec!["-I".into(), "main.py".into()],
        }
    }

    /// A repository (validated by the caller), its entry run from the work directory. Not
    /// `-I`: that would keep the entry's own directory off `sys.path`, and the repository's
    /// modules import each other; `-E -s` still ignore the environment and user site.
    pub fn repository(bundle: &workflows::types::RepoBundle) -> Program {
        Program {
            files: bundle
                .files
                .iter()
                .map(|(p, t)| (p.clone(), t.clone()))
                .collect(),
            args: vec!["-E".into(), "-s".into(), bundle.entry.clone()],
        }
    }
}

/// Runs `program` in `work` (a directory the caller owns; `output/` in it collects artifacts):
/// its files written there, Python started there with its arguments; `latest` follows the
/// newest `METRICS:` line while it runs. Blocking: call it from `spawn_blocking`.
///
/// The whole sandbox is killed as soon as `cancel` is set (the activity was cancelled, or its
/// future dropped): the watcher checks it with the wall clock and the disk quota.
#[allow(clippy::too_many_arguments)]
pub fn run(
    config: &SandboxConfig,
    work: &Path,
    disk: workdir::DiskLimit,
    program: &Program,
    timeout: Duration,
    env: &[(String, String)],
    target: &TargetProfile,
    latest: Option<LatestMetrics>,
    cancel: Arc<AtomicBool>,
) -> Result<RunOutcome, SandboxError> {
    let start_err = |e: std::io::Error| SandboxError::Start(e.to_string());
    std::fs::create_dir_all(work.join("output")).map_err(start_err)?;
    let owner = (config.mode == SandboxMode::Bubblewrap && unsafe { libc::geteuid() } == 0)
        .then_some(config.uid);
    workdir::write_files(work, &program.files, owner)?;
    let (python, venv) = python(config);
    let mut cmd = match config.mode {
        SandboxMode::Bubblewrap => {
            let bwrap = bwrap_path().ok_or(SandboxError::Unavailable)?;
            if unsafe { libc::geteuid() } != 0 {
                return Err(SandboxError::NeedsRoot(config.uid));
            }
            // The sandboxed uid owns the work directory and nothing else; no one else reads it.
            for p in [work.to_owned(), work.join("output")] {
                std::os::unix::fs::chown(&p, Some(config.uid), Some(config.uid))
                    .map_err(start_err)?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))
                    .map_err(start_err)?;
            }
            let mut c = std::process::Command::new(bwrap);
            c.args(bwrap_args(
                config,
                work,
                &python,
                venv.as_deref(),
                env,
                target,
                &program.args,
            ));
            c
        }
        SandboxMode::None => {
            let mut c = std::process::Command::new(&python);
            c.args(&program.args)
                .current_dir(work)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .envs(env.iter().cloned());
            c
        }
    };
    let limits = [
        (nix::sys::resource::Resource::RLIMIT_CPU, config.cpu_secs),
        (
            nix::sys::resource::Resource::RLIMIT_AS,
            config.memory_mib << 20,
        ),
        (nix::sys::resource::Resource::RLIMIT_NPROC, config.processes),
        (
            nix::sys::resource::Resource::RLIMIT_FSIZE,
            config.file_mib << 20,
        ),
        (
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            config.open_files,
        ),
        (nix::sys::resource::Resource::RLIMIT_CORE, 0),
    ];
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // The run's cgroup (memory and processes for the run as a whole), where the host has one.
    let cgroup = cgroup::RunCgroup::create(config, config.uid);
    let enter: Vec<std::os::fd::RawFd> = cgroup.as_ref().map(|c| c.enter_fds()).unwrap_or_default();
    // SAFETY: only async-signal-safe calls (write, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &enter {
                // `0`: the process writing it, so the sandbox and all it starts are inside.
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (resource, value) in limits {
                nix::sys::resource::setrlimit(resource, value, value)
                    .map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(start_err)?;
    let pid = child.id() as i32;
    let truncated = Arc::new(AtomicBool::new(false));
    let (so, se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (t1, t2) = (truncated.clone(), truncated.clone());
    let cap = config.output_bytes;
    let out_reader = std::thread::spawn(move || read_capped(so, cap, t1, latest));
    let err_reader = std::thread::spawn(move || read_capped(se, cap, t2, None));

    // The watcher: wall clock and disk quota; SIGKILL to the process group ends the sandbox and,
    // through its PID namespace, everything started in it.
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicU64::new(0)); // 0 none, 1 timeout, 2 disk
    let (w_done, w_killed, w_work) = (done.clone(), killed.clone(), work.to_owned());
    // A kernel-limited directory cannot pass its size; the poll stays as a second line.
    let disk_cap = config.disk_mib << 20;
    // Sampled CPU and peak memory of the tree (wait4's usage does not see through bubblewrap).
    let (peak_cpu, peak_rss) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (w_cpu, w_rss) = (peak_cpu.clone(), peak_rss.clone());
    let watcher = std::thread::spawn(move || {
        while !w_done.load(Ordering::Relaxed) {
            let (cpu, rss) = sample_tree(pid);
            w_cpu.fetch_max(cpu, Ordering::Relaxed);
            w_rss.fetch_max(rss, Ordering::Relaxed);
            let why = if started.elapsed() > timeout {
                1
            } else if dir_size(&w_work) > disk_cap {
                2
            } else if cancel.load(Ordering::Relaxed) {
                3
            } else {
                0
            };
            if why != 0 {
                w_killed.store(why, Ordering::Relaxed);
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // wait4 for the rusage of the whole tree (descendants are reaped inside, their usage rolls up).
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    // Whatever is left in the group (nothing, with the PID namespace) goes too.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let wall_ms = started.elapsed().as_millis() as u64;
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    drop(child); // already reaped by wait4; dropping does not wait or kill
    let (exit_code, signal) = if waited == pid {
        if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (None, None)
        }
    } else {
        (None, None)
    };
    let cpu_ms = ((usage.ru_utime.tv_sec as u64 + usage.ru_stime.tv_sec as u64) * 1000
        + (usage.ru_utime.tv_usec as u64 + usage.ru_stime.tv_usec as u64) / 1000)
        .max(peak_cpu.load(Ordering::Relaxed));
    let killed = match killed.load(Ordering::Relaxed) {
        1 => Some("timeout".to_owned()),
        2 => Some("disk".to_owned()),
        3 => Some("cancelled".to_owned()),
        _ => None,
    };
    let metrics = parse_metrics(&stdout);
    let mut outcome = RunOutcome {
        exit_code,
        signal,
        killed,
        wall_ms,
        cpu_ms,
        peak_rss_kib: (usage.ru_maxrss.max(0) as u64).max(peak_rss.load(Ordering::Relaxed)),
        stdout,
        stderr,
        output_truncated: truncated.load(Ordering::Relaxed),
        metrics,
        sandbox: match config.mode {
            SandboxMode::Bubblewrap => "bubblewrap".into(),
            SandboxMode::None => "none".into(),
        },
        classification: workflows::types::Classification::Ok,
        limits: format!(
            "uid {}; memory and processes: {}; disk: {}",
            config.uid,
            match &cgroup {
                Some(c) => format!("{} and per process", c.describe),
                None => "per process (rlimits) only".to_owned(),
            },
            match disk {
                workdir::DiskLimit::Kernel => "a tmpfs of the quota (kernel-enforced)",
                workdir::DiskLimit::Polled => "polled every 100 ms (no mount allowed here)",
            }
        ),
    };
    drop(cgroup);
    outcome.classification = classify(&outcome);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        exit: Option<i32>,
        signal: Option<i32>,
        killed: Option<&str>,
        stderr: &str,
    ) -> RunOutcome {
        RunOutcome {
            exit_code: exit,
            signal,
            killed: killed.map(str::to_owned),
            wall_ms: 0,
            cpu_ms: 0,
            peak_rss_kib: 0,
            stdout: String::new(),
            stderr: stderr.to_owned(),
            output_truncated: false,
            metrics: vec![],
            sandbox: "bubblewrap".into(),
            classification: workflows::types::Classification::Ok,
            limits: String::new(),
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(&outcome(Some(0), None, None, "")), "ok");
        assert_eq!(
            classify(&outcome(None, Some(9), Some("timeout"), "")),
            "resource:time"
        );
        assert_eq!(
            classify(&outcome(None, Some(libc::SIGXCPU), None, "")),
            "resource:cpu"
        );
        assert_eq!(
            classify(&outcome(Some(1), None, None, "Traceback\nMemoryError")),
            "resource:memory"
        );
        assert_eq!(
            classify(&outcome(
                Some(1),
                None,
                None,
                "BlockingIOError: [Errno 11] Resource temporarily unavailable"
            )),
            "resource:processes"
        );
        assert_eq!(
            classify(&outcome(
                Some(1),
                None,
                None,
                "ModuleNotFoundError: No module named 'x'"
            )),
            "environment"
        );
        assert_eq!(
            classify(&outcome(
                Some(1),
                None,
                None,
                "OSError: [Errno 30] Read-only file system"
            )),
            "sandbox-violation"
        );
        assert_eq!(
            classify(&outcome(
                Some(1),
                None,
                None,
                "Traceback\nZeroDivisionError"
            )),
            "code-error"
        );
    }

    #[test]
    fn the_latest_metrics_line_is_followed_and_output_capped() {
        let latest: LatestMetrics = Default::default();
        let truncated = Arc::new(AtomicBool::new(false));
        let text = "METRICS: {\"epoch\": 0}\nnoise\nMETRICS: {\"epoch\": 1}\n".to_owned()
            + &"x".repeat(100);
        let kept = read_capped(
            std::io::Cursor::new(text),
            60,
            truncated.clone(),
            Some(latest.clone()),
        );
        assert_eq!(kept.len(), 60);
        assert!(truncated.load(Ordering::Relaxed));
        assert_eq!(latest.lock().unwrap().as_ref().unwrap()["epoch"], 1);
    }

    #[test]
    fn metrics_lines() {
        let m = parse_metrics(
            "x\nMETRICS: {\"epoch\": 1, \"loss\": 0.5}\nMETRICS: nope\n  METRICS: {\"epoch\": 2}\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1]["epoch"], 2);
    }

    #[test]
    fn the_command_isolates() {
        let args = bwrap_args(
            &SandboxConfig::default(),
            Path::new("/w"),
            Path::new("/usr/bin/python3"),
            None,
            &[],
            &TargetProfile::default(),
            &Program::script("").args,
        )
        .join(" ");
        for must in [
            "--unshare-net",
            "--unshare-pid",
            "--clearenv",
            "--die-with-parent",
            "--ro-bind /usr /usr",
            "--bind /w /work",
            "--reuid 64000",
            "--no-new-privs",
        ] {
            assert!(args.contains(must), "{must} missing from {args}");
        }
        // Nothing is mounted at or under /root or /home inside the sandbox.
        let words: Vec<&str> = args.split(' ').collect();
        for w in words.windows(3) {
            if w[0] == "--bind" || w[0] == "--ro-bind" || w[0] == "--dev-bind" {
                assert!(
                    !w[2].starts_with("/root") && !w[2].starts_with("/home"),
                    "{} is mounted inside",
                    w[2]
                );
            }
        }
    }

    #[test]
    fn trainium_profile_builds_the_neuron_command() {
        let devices: Vec<String> = ["/dev/neuron1", "/dev/neuron0", "/dev/null", "/dev/nvidia0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let trn = target_profile("trainium", true, &devices, |p| p == "/opt/aws/neuron");
        let args = bwrap_args(
            &SandboxConfig::default(),
            Path::new("/w"),
            Path::new("/p"),
            None,
            &[],
            &trn,
            &Program::script("").args,
        )
        .join(" ");
        for must in [
            "--dev-bind /dev/neuron0 /dev/neuron0",
            "--dev-bind /dev/neuron1 /dev/neuron1",
            "--ro-bind /opt/aws/neuron /opt/aws/neuron",
            "--setenv PJRT_DEVICE NEURON",
            "--setenv NEURON_CC_FLAGS --cache_dir=/work/neuron-cache",
            "--setenv NEURON_RT_INSPECT_ENABLE 1",
            "--setenv NEURON_RT_INSPECT_OUTPUT_DIR /work/output/neuron-profile",
        ] {
            assert!(args.contains(must), "{must} missing from {args}");
        }
        assert!(!args.contains("nvidia"));
        let quiet = target_profile("trainium", false, &devices, |_| false);
        assert!(
            !quiet
                .env
                .iter()
                .any(|(k, _)| k == "NEURON_RT_INSPECT_ENABLE")
        );
        assert!(quiet.ro_dirs.is_empty());
        let cuda = target_profile("cuda", false, &devices, |_| false);
        assert_eq!(cuda.devices, vec!["/dev/nvidia0".to_owned()]);
        assert_eq!(
            target_profile("cpu", true, &devices, |_| true),
            TargetProfile::default()
        );
    }
}
