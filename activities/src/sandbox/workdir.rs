//! Execution slots and their work directories.
//!
//! An executor runs at most `sandbox.slots` programs at once; slot `n` runs as uid
//! `sandbox.uid + n` (so the process limit, which the kernel counts per uid, is per run) in the
//! work directory `<work-root>/<uid>`. A slot is held with an exclusive lock on
//! `<work-root>/<uid>.lock`, so two executors on one host never share a uid or a directory, and a
//! slot whose lock is free has no live owner: whatever is left there (a directory, a mount, a
//! cgroup) is from an executor that died, and is removed before the slot is used, and by
//! [`clean_leftovers`] when an executor starts.
//!
//! Where the executor may mount (it runs as root), the work directory is a tmpfs of exactly the
//! disk quota (`size=`, and an inode limit), so the kernel refuses the write that would pass it;
//! elsewhere it is a plain directory and the watcher's polled size is the only limit (the run's
//! report says which). Either way it is mode 0700, owned by the slot's uid.

use std::fs::File;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{SandboxConfig, SandboxError};

/// The directory that holds the work directories and slot locks.
pub fn work_root(config: &SandboxConfig) -> PathBuf {
    if config.work_root.is_empty() {
        std::env::temp_dir().join("annapurna-exec")
    } else {
        PathBuf::from(&config.work_root)
    }
}

/// A slot held by this process: its uid, its lock (released when dropped).
#[derive(Debug)]
pub struct Slot {
    /// The uid code in this slot runs as.
    pub uid: u32,
    _lock: nix::fcntl::Flock<File>,
}

fn start_err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Start(format!("{what}: {e}"))
}

fn prepare_root(root: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(root)
        .map_err(|e| start_err(&format!("creating {}", root.display()), e))?;
    // Only the executor lists or enters it; the sandbox sees its own directory at /work.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| start_err(&format!("securing {}", root.display()), e))
}

/// Tries to take slot `n`'s lock; `None` when another run or executor holds it.
fn try_slot(config: &SandboxConfig, n: u32) -> Result<Option<Slot>, SandboxError> {
    let uid = config.uid.saturating_add(n);
    let path = work_root(config).join(format!("{uid}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| start_err(&format!("opening {}", path.display()), e))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(Slot { uid, _lock: lock })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(start_err(&format!("locking {}", path.display()), e)),
    }
}

/// Waits for a free slot (all `sandbox.slots` may be busy with runs of this or another
/// executor), then clears whatever a dead executor left in it.
pub fn acquire(
    config: &SandboxConfig,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Slot, SandboxError> {
    let root = work_root(config);
    prepare_root(&root)?;
    loop {
        for n in 0..config.slots.max(1) {
            if let Some(slot) = try_slot(config, n)? {
                remove_leftover(config, slot.uid)?;
                return Ok(slot);
            }
        }
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(SandboxError::Start(
                "cancelled while waiting for a free slot".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// At executor start-up: removes what dead executors left in every slot no one holds (work
/// directories, their mounts, cgroups). Returns how many slots had something left.
pub fn clean_leftovers(config: &SandboxConfig) -> Result<usize, SandboxError> {
    let root = work_root(config);
    prepare_root(&root)?;
    let mut cleaned = 0;
    for n in 0..config.slots.max(1) {
        if let Some(slot) = try_slot(config, n)?
            && remove_leftover(config, slot.uid)?
        {
            cleaned += 1;
        }
    }
    Ok(cleaned)
}

/// Mount points at or under `dir`, deepest first (from /proc/self/mountinfo).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(file) = File::open("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.split(' ').nth(4).map(unescape_mountinfo))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

fn unescape_mountinfo(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes slot `uid`'s directory (unmounting it first) and cgroups; true if anything was there.
fn remove_leftover(config: &SandboxConfig, uid: u32) -> Result<bool, SandboxError> {
    let dir = work_root(config).join(uid.to_string());
    let mut found = false;
    for mount in mounts_under(&dir) {
        found = true;
        nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| start_err(&format!("unmounting the leftover {}", mount.display()), e))?;
    }
    if dir.exists() {
        found = true;
        std::fs::remove_dir_all(&dir)
            .map_err(|e| start_err(&format!("removing the leftover {}", dir.display()), e))?;
    }
    if super::cgroup::remove(config, uid) {
        found = true;
    }
    Ok(found)
}

/// How the work directory's size is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLimit {
    /// A tmpfs of the quota's size: the kernel refuses the write past it.
    Kernel,
    /// A plain directory: the watcher polls its size and kills the run past the quota.
    Polled,
}

/// A slot's work directory; unmounted and removed when dropped (after the run has ended: the
/// run's blocking task owns it).
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    mounted: bool,
    /// The slot this directory belongs to (released after the directory is gone).
    pub slot: Slot,
}

impl WorkDir {
    /// Creates the slot's work directory: mode 0700, owned by the slot's uid when the executor
    /// is root, a tmpfs of `disk-mib` where mounting is allowed.
    pub fn create(config: &SandboxConfig, slot: Slot) -> Result<WorkDir, SandboxError> {
        let path = work_root(config).join(slot.uid.to_string());
        std::fs::create_dir(&path)
            .map_err(|e| start_err(&format!("creating {}", path.display()), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| start_err(&format!("securing {}", path.display()), e))?;
        let root = nix::unistd::geteuid().is_root();
        let mounted = root && mount_tmpfs(&path, config, slot.uid).is_ok();
        let dir = WorkDir {
            path,
            mounted,
            slot,
        };
        if root {
            std::os::unix::fs::chown(&dir.path, Some(dir.slot.uid), Some(dir.slot.uid)).map_err(
                |e| {
                    start_err(
                        &format!("giving {} to uid {}", dir.path.display(), dir.slot.uid),
                        e,
                    )
                },
            )?;
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How its size is limited.
    pub fn disk_limit(&self) -> DiskLimit {
        if self.mounted {
            DiskLimit::Kernel
        } else {
            DiskLimit::Polled
        }
    }
}

/// Writes `files` (relative paths, checked again here: nothing may land outside `work`) into
/// `work`, creating their directories; with `owner`, everything written belongs to that uid, so
/// the sandboxed code may change its own repository as it would a checkout.
pub fn write_files(
    work: &Path,
    files: &[(String, String)],
    owner: Option<u32>,
) -> Result<(), SandboxError> {
    for (rel, text) in files {
        // Repositories were validated (`RepoBundle::validate`); this is the line that matters
        // here: plain names only, so nothing lands outside the work directory.
        let plain = !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Err(SandboxError::Start(format!(
                "refusing to write {rel:?}: not a plain relative path"
            )));
        }
        let path = work.join(rel);
        let mut made = Vec::new();
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == work || d.exists() {
                break;
            }
            made.push(d.to_owned());
            dir = d.parent();
        }
        for d in made.iter().rev() {
            std::fs::create_dir(d)
                .map_err(|e| start_err(&format!("creating {}", d.display()), e))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| start_err(&format!("writing {}", path.display()), e))?;
        if let Some(uid) = owner {
            for p in made.iter().chain(std::iter::once(&path)) {
                std::os::unix::fs::chown(p, Some(uid), Some(uid))
                    .map_err(|e| start_err(&format!("giving {} to uid {uid}", p.display()), e))?;
            }
        }
    }
    Ok(())
}

fn mount_tmpfs(path: &Path, config: &SandboxConfig, uid: u32) -> nix::Result<()> {
    let bytes = config.disk_mib.max(1) << 20;
    // An inode per 16 KiB of quota (at least 1,024): empty files count too.
    let inodes = (bytes / 16_384).max(1_024);
    let options = format!("size={bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}");
    nix::mount::mount(
        Some("annapurna-work"),
        path,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.mounted
            && let Err(e) = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH)
        {
            tracing::warn!(dir = %self.path.display(), error = %e, "could not unmount a work directory");
        }
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(dir = %self.path.display(), error = %e, "could not remove a work directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration whose work root is a fresh scratch directory.
    fn config_in_scratch(uid: u32, slots: u32) -> (tempfile::TempDir, SandboxConfig) {
        let root = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            work_root: root.path().display().to_string(),
            uid,
            slots,
            ..Default::default()
        };
        (root, config)
    }

    #[test]
    fn files_are_written_in_their_directories_and_nothing_escapes() {
        let work = tempfile::tempdir().unwrap();
        let files = vec![
            ("train.py".to_owned(), "import model\n".to_owned()),
            ("pkg/sub/model.py".to_owned(), "X = 1\n".to_owned()),
        ];
        write_files(work.path(), &files, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(work.path().join("pkg/sub/model.py")).unwrap(),
            "X = 1\n"
        );
        for bad in ["../x.py", "/etc/x.py", "a/../../x.py", "./x.py", ""] {
            let err = write_files(work.path(), &[(bad.to_owned(), String::new())], None);
            assert!(err.is_err(), "{bad:?} was written");
        }
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape_mountinfo("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn slots_are_exclusive_and_uids_follow_the_slot() {
        let (_root, config) = config_in_scratch(70_000, 2);
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let a = acquire(&config, &cancel).unwrap();
        let b = acquire(&config, &cancel).unwrap();
        assert_eq!((a.uid, b.uid), (70_000, 70_001));
        // Both taken: a third waits; with the cancel flag set it gives up.
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(acquire(&config, &cancel).is_err());
        drop(a);
        cancel.store(false, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(acquire(&config, &cancel).unwrap().uid, 70_000);
    }

    #[test]
    fn a_leftover_directory_is_removed_when_its_slot_is_taken() {
        let (root, config) = config_in_scratch(70_100, 1);
        std::fs::create_dir_all(root.path().join("70100/output")).unwrap();
        std::fs::write(root.path().join("70100/output/x"), b"left").unwrap();
        assert_eq!(clean_leftovers(&config).unwrap(), 1);
        assert!(!root.path().join("70100").exists());
        assert_eq!(clean_leftovers(&config).unwrap(), 0);
    }
}
