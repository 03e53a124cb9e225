//! A cgroup per run, where the host allows it, so that memory and processes are limited for the
//! run as a whole (the rlimits set on the process are per process, and stay as the fallback).
//!
//! - cgroup v2: under `sandbox.cgroup-parent`, a cgroup the operator delegated to the executor
//!   (systemd `Delegate=yes`, or a container's own cgroup) with no processes of its own; the
//!   executor enables `memory` and `pids` in its `cgroup.subtree_control`.
//! - cgroup v1 (hybrid hosts): under the executor's own cgroup in the `memory` and `pids`
//!   hierarchies, found by itself.
//!
//! The run's cgroup is `annapurna-<uid>` (one per slot): `memory.max` (v1
//! `memory.limit_in_bytes`) is the memory limit plus the disk quota (a tmpfs work directory is
//! charged as memory), no swap, and `pids.max` the process limit. The sandbox enters it between
//! fork and exec, so everything it starts is counted.

use std::fs::File;
use std::io::BufRead;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::SandboxConfig;

/// Where runs' cgroups are created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// One delegated v2 cgroup.
    V2(PathBuf),
    /// The executor's own cgroups in the v1 `memory` and `pids` hierarchies.
    V1 {
        /// In the memory hierarchy.
        memory: PathBuf,
        /// In the pids hierarchy.
        pids: PathBuf,
    },
}

impl Hierarchy {
    /// In words, for reports and logs.
    pub fn describe(&self) -> String {
        match self {
            Hierarchy::V2(p) => format!("cgroup v2 under {}", p.display()),
            Hierarchy::V1 { .. } => "cgroup v1 (memory, pids)".to_owned(),
        }
    }

    fn parents(&self) -> Vec<PathBuf> {
        match self {
            Hierarchy::V2(p) => vec![p.clone()],
            Hierarchy::V1 { memory, pids } => vec![memory.clone(), pids.clone()],
        }
    }
}

/// The hierarchy runs' cgroups go in, if the host has a usable one.
pub fn hierarchy(config: &SandboxConfig) -> Option<Hierarchy> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    if !config.cgroup_parent.is_empty() {
        let parent = PathBuf::from(&config.cgroup_parent);
        let controllers = std::fs::read_to_string(parent.join("cgroup.controllers")).ok()?;
        if !(controllers.contains("memory") && controllers.contains("pids")) {
            return None;
        }
        // Already enabled, or enabled now (fails when the cgroup holds processes itself).
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids");
        let enabled = std::fs::read_to_string(parent.join("cgroup.subtree_control")).ok()?;
        return (enabled.contains("memory") && enabled.contains("pids"))
            .then_some(Hierarchy::V2(parent));
    }
    let memory = v1_own_dir("memory")?;
    let pids = v1_own_dir("pids")?;
    Some(Hierarchy::V1 { memory, pids })
}

/// This process's cgroup directory in the v1 hierarchy of `controller`, if it is mounted and
/// writable.
fn v1_own_dir(controller: &str) -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_owned())
    })?;
    let info = File::open("/proc/self/mountinfo").ok()?;
    for line in std::io::BufReader::new(info).lines().map_while(Result::ok) {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let mut after = after.split(' ');
        if after.next() != Some("cgroup") {
            continue;
        }
        let options = after.nth(1).unwrap_or("");
        if !options.split(',').any(|o| o == controller) {
            continue;
        }
        let fields: Vec<&str> = before.split(' ').collect();
        let (root, mount_point) = (fields.get(3)?, fields.get(4)?);
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .trim_start_matches('/');
        let dir = Path::new(mount_point).join(relative);
        return nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK)
            .is_ok()
            .then_some(dir);
    }
    None
}

fn name(uid: u32) -> String {
    format!("annapurna-{uid}")
}

/// One run's cgroup: entered by the sandbox before exec, emptied and removed when dropped.
#[derive(Debug)]
pub struct RunCgroup {
    dirs: Vec<PathBuf>,
    procs: Vec<File>,
    /// Which hierarchy, in words.
    pub describe: String,
}

impl RunCgroup {
    /// Creates slot `uid`'s cgroup with the configured limits; `None` (with a warning) when the
    /// host has no usable hierarchy or creating it fails.
    pub fn create(config: &SandboxConfig, uid: u32) -> Option<RunCgroup> {
        let hierarchy = hierarchy(config)?;
        let memory = (config.memory_mib + config.disk_mib) << 20;
        let mut run = RunCgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
            describe: hierarchy.describe(),
        };
        let made = (|| -> std::io::Result<()> {
            for parent in hierarchy.parents() {
                let dir = parent.join(name(uid));
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                run.dirs.push(dir.clone());
                let files: Vec<(&str, String)> = match &hierarchy {
                    Hierarchy::V2(_) => vec![
                        ("memory.max", memory.to_string()),
                        ("memory.swap.max", "0".into()),
                        ("pids.max", config.processes.to_string()),
                    ],
                    Hierarchy::V1 { memory: m, .. } if *m == parent => vec![
                        ("memory.limit_in_bytes", memory.to_string()),
                        ("memory.memsw.limit_in_bytes", memory.to_string()),
                    ],
                    Hierarchy::V1 { .. } => vec![("pids.max", config.processes.to_string())],
                };
                for (file, value) in files {
                    let path = dir.join(file);
                    // Swap accounting may be off; the other limits must hold.
                    if let Err(e) = std::fs::write(&path, &value)
                        && !file.contains("swap")
                        && !file.contains("memsw")
                    {
                        return Err(e);
                    }
                }
                run.procs.push(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(dir.join("cgroup.procs"))?,
                );
            }
            Ok(())
        })();
        match made {
            Ok(()) => Some(run),
            Err(e) => {
                tracing::warn!(error = %e, hierarchy = %run.describe, "could not create a run's cgroup; only the per-process limits hold");
                None
            }
        }
    }

    /// File descriptors the child writes `0` to (itself) between fork and exec.
    pub fn enter_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }
}

/// SIGKILLs whatever is still in `dir`, then removes it (retrying while the processes exit).
fn empty_and_remove(dir: &Path) -> bool {
    if !dir.exists() {
        return false;
    }
    for _ in 0..100 {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(dir = %dir.display(), "could not remove a run's cgroup");
    true
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.procs.clear();
        for dir in &self.dirs {
            empty_and_remove(dir);
        }
    }
}

/// Removes slot `uid`'s cgroup left by an executor that died; true if there was one.
pub fn remove(config: &SandboxConfig, uid: u32) -> bool {
    let Some(hierarchy) = hierarchy(config) else {
        return false;
    };
    let mut found = false;
    for parent in hierarchy.parents() {
        found |= empty_and_remove(&parent.join(name(uid)));
    }
    found
}
