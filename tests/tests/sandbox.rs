//! Generated code is untrusted. Each hostile script in `tests/hostile/` runs through the real
//! sandbox (`annapurna exec`, bubblewrap, an unprivileged uid of its own) and is judged by what it
//! manages to do to the host, not by what the report says: no connection reaches a listener on
//! the host's loopback, no secret leaks, no file outside the work directory changes, the limits
//! stop the bombs, the timeout kills what ignores SIGTERM, and nothing is left running.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use annapurna_tests::{annapurna_bin, run_ok};

const SECRET: &str = "annapurna-test-secret-8c1f";
// The sandbox's limits, as `annapurna exec` reads them from its environment.
const PROCESSES: &str = "ANNAPURNA_SANDBOX__PROCESSES";
const MEMORY_MIB: &str = "ANNAPURNA_SANDBOX__MEMORY_MIB";
const DISK_MIB: &str = "ANNAPURNA_SANDBOX__DISK_MIB";

struct Run {
    report: serde_json::Value,
    stdout_all: String,
    wall: Duration,
}

impl Run {
    /// Asserts that the report classifies the run as `expected`.
    fn assert_classified(&self, expected: &str) {
        assert_eq!(self.report["classification"], expected, "{}", self.report);
    }
}

/// `annapurna exec PATH --timeout TIMEOUT --json` in a sandbox slot of `uid`.
fn exec_command(path: &Path, uid: u32, timeout: u64) -> Command {
    let mut cmd = Command::new(annapurna_bin());
    cmd.args(["exec"])
        .arg(path)
        .args(["--timeout", &timeout.to_string(), "--json"])
        .env("ANNAPURNA_SANDBOX__UID", uid.to_string());
    cmd
}

/// What `pgrep -u UID` prints: the processes running as `uid`.
fn processes_of(uid: u32) -> String {
    let out = Command::new("pgrep")
        .args(["-u", &uid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn script(name: &str, replace: &[(&str, String)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("hostile")
            .join(name),
    )
    .unwrap();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The work directories of runs as `uid` (slot directories are named after the slot's uid).
fn work_dirs(uid: u32) -> Vec<PathBuf> {
    let dir = std::env::temp_dir()
        .join("annapurna-exec")
        .join(uid.to_string());
    if dir.exists() { vec![dir] } else { Vec::new() }
}

fn nothing_left(uid: u32) {
    // No work directory of this run is left behind.
    let left = work_dirs(uid);
    assert!(left.is_empty(), "work directories left behind: {left:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = processes_of(uid);
        if running.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of uid {uid} still running: {running}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn exec(path: &Path, uid: u32, timeout: u64, env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let out = exec_command(path, uid, timeout)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ACCESS_KEY_ID", "AKIAANNAPURNATEST")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stdout_all = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: serde_json::Value =
        serde_json::from_str(stdout_all.lines().last().unwrap_or("null")).unwrap_or_else(|_| {
            panic!(
                "no report: {stdout_all} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    nothing_left(uid);
    // The worker side is unaffected: it can still start processes.
    assert!(Command::new("true").status().unwrap().success());
    Run {
        report,
        stdout_all,
        wall,
    }
}

/// Runs the hostile script `name`, as it is, through [`exec`].
fn exec_script(name: &str, uid: u32, timeout: u64, env: &[(&str, &str)]) -> Run {
    let (_dir, path) = script(name, &[]);
    exec(&path, uid, timeout, env)
}

/// A file on the host holding `text`, and the script `name` told its path (`HOSTFILE`).
fn with_host_file(name: &str, text: &str) -> (tempfile::NamedTempFile, tempfile::TempDir, PathBuf) {
    let host_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(host_file.path(), text).unwrap();
    let (dir, path) = script(
        name,
        &[("HOSTFILE", host_file.path().display().to_string())],
    );
    (host_file, dir, path)
}

/// Runs the hostile script `name` with a timeout of `timeout` s and asserts that it was killed
/// at the timeout, in less than `within` of wall time.
fn assert_killed_at_timeout(name: &str, uid: u32, timeout: u64, within: Duration) {
    let run = exec_script(name, uid, timeout, &[]);
    run.assert_classified("resource:time");
    assert!(run.wall < within, "{:?}", run.wall);
}

#[test]
fn a_good_training_script_runs_with_metrics_and_artifacts() {
    let run = exec_script("good_training.py", 61001, 300, &[]);
    let r = &run.report;
    assert_eq!(r["classification"], "ok", "{r}");
    assert_eq!(r["sandbox"], "bubblewrap");
    assert_eq!(r["metrics"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(r["metrics"][2]["epoch"], 2);
    assert_eq!(r["artifacts"], serde_json::json!(["model.pt"]));
    assert!(
        r["stdout"].as_str().unwrap().contains("digits (1797, 64)"),
        "{r}"
    );
    assert!(r["wall_ms"].as_u64().unwrap() > 0 && r["peak_rss_kib"].as_u64().unwrap() > 0);
}

#[test]
fn connecting_to_the_host_loopback_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_d, path) = script("connect_host.py", &[("PORT", port.to_string())]);
    let run = exec(&path, 61002, 60, &[]);
    run.assert_classified("sandbox-violation");
    assert!(!run.stdout_all.contains("CONNECTED"));
    let mut stolen = Vec::new();
    if let Ok((mut s, _)) = listener.accept() {
        let _ = s.read_to_end(&mut stolen);
        panic!("the sandbox reached the host's listener: {stolen:?}");
    }
}

#[test]
fn the_workers_environment_and_files_stay_secret() {
    let (_host_file, _d, path) = with_host_file("read_secrets.py", "host-secret-5d2a");
    let run = exec(&path, 61003, 60, &[]);
    let out = run.report["stdout"].as_str().unwrap();
    assert!(out.contains("ENV"), "{out}");
    for leak in [SECRET, "AKIAANNAPURNATEST", "host-secret-5d2a", "AWS_"] {
        assert!(!out.contains(leak), "{leak} leaked: {out}");
    }
    assert!(out.contains("DENIED /root/.aws/credentials"), "{out}");
}

#[test]
fn a_fork_bomb_hits_the_process_limit() {
    let run = exec_script("fork_bomb.py", 61004, 60, &[(PROCESSES, "64")]);
    run.assert_classified("resource:processes");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let run = exec_script("memory_bomb.py", 61005, 60, &[(MEMORY_MIB, "1024")]);
    run.assert_classified("resource:memory");
    assert!(
        run.report["peak_rss_kib"].as_u64().unwrap() < 1024 * 1024 + 65536,
        "{}",
        run.report
    );
}

#[test]
fn filling_the_disk_is_stopped() {
    let run = exec_script("fill_disk.py", 61006, 60, &[(DISK_MIB, "64")]);
    run.assert_classified("resource:disk");
}

#[test]
fn an_endless_loop_is_killed_at_the_timeout() {
    assert_killed_at_timeout("endless_loop.py", 61007, 3, Duration::from_secs(10));
}

#[test]
fn writing_outside_the_work_directory_changes_nothing() {
    let (host_file, _d, path) = with_host_file("write_outside.py", "untouched");
    let run = exec(&path, 61008, 60, &[]);
    run.assert_classified("sandbox-violation");
    assert_eq!(
        std::fs::read_to_string(host_file.path()).unwrap(),
        "untouched"
    );
    for p in [
        "/usr/lib/annapurna-was-here",
        "/etc/annapurna-was-here",
        "/tmp/annapurna-was-here",
    ] {
        assert!(!Path::new(p).exists(), "{p} was written on the host");
    }
}

#[test]
fn ignoring_sigterm_does_not_outlive_the_timeout() {
    assert_killed_at_timeout("ignore_sigterm.py", 61009, 2, Duration::from_secs(8));
}

#[test]
fn a_detached_daemon_does_not_survive_the_run() {
    let run = exec_script("detached_daemon.py", 61010, 30, &[]);
    run.assert_classified("ok");
    // exec() has already checked that no process of the uid is left.
}

/// Issue 14, item 4: when `ExecuteCode` is cancelled or times out, its future is dropped; the
/// run must die with it (not live on with its slot freed), and its work directory must go only
/// after the process has ended.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_run_is_killed_and_then_its_directory_removed() {
    let uid = 64_123;
    let config = activities::sandbox::SandboxConfig {
        uid,
        ..Default::default()
    };
    let code =
        "import time\nopen('output/started', 'w').write('1')\nwhile True:\n    time.sleep(0.05)\n";
    let run = activities::exec::execute_code::execute(
        &config,
        code.to_owned(),
        "cpu",
        Duration::from_secs(600),
        None,
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(4), run)
            .await
            .is_err(),
        "the endless script must still be running when its future is dropped"
    );
    let dirs = || work_dirs(uid);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running = processes_of(uid);
        if running.is_empty() && dirs().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "10 s after the drop: processes {running:?}, directories {:?}",
            dirs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 14, item 6: the disk quota is the kernel's (a tmpfs of its size): four processes writing
/// at once end within 1 MiB of it.
#[test]
fn four_parallel_writers_stay_within_the_disk_quota() {
    let run = exec_script("parallel_writers.py", 61020, 120, &[(DISK_MIB, "32")]);
    let used = run.report["metrics"][0]["used_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count: {}", run.report));
    let quota = 32u64 << 20;
    assert!(
        used <= quota + (1 << 20),
        "{used} bytes written against a quota of {quota}: {}",
        run.report
    );
    assert!(
        used >= quota - (2 << 20),
        "the writers stopped early: {used}"
    );
    assert!(
        run.report["limits"]
            .as_str()
            .unwrap()
            .contains("kernel-enforced"),
        "{}",
        run.report
    );
}

/// Issue 14, item 6: memory is limited for the run as a whole where the host has cgroups:
/// four processes of 100 MiB each, each under the 256 MiB per-process limit, do not all fit.
#[test]
fn memory_is_limited_for_the_whole_run() {
    let run = exec_script(
        "memory_together.py",
        61021,
        120,
        &[(MEMORY_MIB, "256"), (DISK_MIB, "16")],
    );
    let limits = run.report["limits"].as_str().unwrap().to_owned();
    if !limits.contains("cgroup") {
        // Only the per-process limits exist on this host: say so rather than pass quietly.
        panic!("no cgroup hierarchy is usable here, so the whole-run limit is untested: {limits}");
    }
    let killed = run.report["metrics"][0]["killed"].as_u64();
    assert!(
        killed.is_some_and(|k| k >= 1),
        "400 MiB fitted in a 272 MiB cgroup: {}",
        run.report
    );
}

/// Issue 14, item 6: an executor SIGKILLed mid-run leaves its work directory (a tmpfs mount) and
/// cgroup behind; the next executor start removes them, and no one else can read them meanwhile.
#[test]
fn an_executor_killed_mid_run_leaves_nothing_after_its_restart() {
    use std::os::unix::fs::MetadataExt;
    let uid = 61022;
    let root = tempfile::tempdir().unwrap();
    let root_env = root.path().display().to_string();
    let (_d, path) = script("slow_forever.py", &[]);
    let mut executor = exec_command(&path, uid, 600)
        .env("ANNAPURNA_SANDBOX__WORK_ROOT", &root_env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let work = root.path().join(uid.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !work.join("output/started").exists() {
        assert!(Instant::now() < deadline, "the script never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let meta = std::fs::metadata(&work).unwrap();
    assert_eq!(meta.mode() & 0o077, 0, "the work directory is private");
    assert_eq!(meta.uid(), uid, "the slot's uid owns it");
    let mounted = |dir: &Path| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap()))
    };
    assert!(mounted(&work), "the work directory is a mount of its own");
    executor.kill().unwrap();
    executor.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        work.exists() && mounted(&work),
        "a SIGKILL leaves it behind"
    );

    // The restart: the same executor settings, a good script.
    let (_g, good) = script("parallel_writers.py", &[]);
    let mut restart = exec_command(&good, uid, 60);
    restart
        .env("ANNAPURNA_SANDBOX__WORK_ROOT", &root_env)
        .env(DISK_MIB, "8");
    run_ok(&mut restart, "annapurna exec after the restart");
    assert!(
        !work.exists(),
        "left behind after the restart: {}",
        work.display()
    );
    assert!(!mounted(&work), "a mount left behind after the restart");
    for hierarchy in ["pids", "memory"] {
        let left = std::fs::read_dir(format!("/sys/fs/cgroup/{hierarchy}"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy() == format!("annapurna-{uid}"));
        assert!(!left, "a cgroup left behind in {hierarchy}");
    }
    nothing_left(uid);
}
