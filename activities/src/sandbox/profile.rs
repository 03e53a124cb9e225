//! What a target adds to the sandbox (devices, drivers, environment), and the bubblewrap
//! command line that builds it.

#[allow(unused_imports)]
use super::*;

/// What a target adds to the sandbox: environment variables, device nodes, read-only
/// directories (drivers, runtimes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetProfile {
    /// Environment variables for the code.
    pub env: Vec<(String, String)>,
    /// Device nodes bound into the sandbox.
    pub devices: Vec<String>,
    /// Host directories bound read-only at the same path.
    pub ro_dirs: Vec<String>,
}

/// The profile of `target` on a host whose `/dev` holds `devices` and where `existing` says which
/// directories exist. Trainium: the Neuron runtime (`/opt/aws/neuron`), the `/dev/neuron*`
/// devices, PJRT on Neuron, a compile cache in the work directory, and with `profile` the Neuron
/// runtime inspector writing its traces to `output/neuron-profile/` (collected as artifacts).
/// CUDA: the `/dev/nvidia*` devices. CPU: nothing.
pub fn target_profile(
    target: &str,
    profile: bool,
    devices: &[String],
    existing: impl Fn(&str) -> bool,
) -> TargetProfile {
    let pick = |prefix: &str| -> Vec<String> {
        let mut d: Vec<String> = devices
            .iter()
            .filter(|d| d.starts_with(prefix))
            .cloned()
            .collect();
        d.sort();
        d
    };
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    match target {
        "trainium" => {
            let mut p = TargetProfile {
                env: env(&[
                    ("PJRT_DEVICE", "NEURON"),
                    ("NEURON_RT_LOG_LEVEL", "WARNING"),
                    ("NEURON_CC_FLAGS", "--cache_dir=/work/neuron-cache"),
                    ("PATH", "/opt/aws/neuron/bin:/usr/bin:/bin"),
                ]),
                devices: pick("/dev/neuron"),
                ro_dirs: ["/opt/aws/neuron"]
                    .iter()
                    .filter(|d| existing(d))
                    .map(|d| d.to_string())
                    .collect(),
            };
            if profile {
                p.env.extend(env(&[
                    ("NEURON_RT_INSPECT_ENABLE", "1"),
                    (
                        "NEURON_RT_INSPECT_OUTPUT_DIR",
                        "/work/output/neuron-profile",
                    ),
                ]));
            }
            p
        }
        "cuda" => TargetProfile {
            env: env(&[("NVIDIA_VISIBLE_DEVICES", "all")]),
            devices: pick("/dev/nvidia"),
            ro_dirs: Vec::new(),
        },
        _ => TargetProfile::default(),
    }
}

/// The profile of `target` on this host.
pub fn host_profile(target: &str, profile: bool) -> TargetProfile {
    let devices: Vec<String> = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    target_profile(target, profile, &devices, |p| Path::new(p).is_dir())
}

/// The pre-staged datasets: as configured, else the set-up script's (`…/annapurna/datasets`).
pub(crate) fn datasets_dir(config: &SandboxConfig) -> Option<PathBuf> {
    let dir = if config.datasets.is_empty() {
        crate::settings::cache_dir().join("datasets")
    } else {
        PathBuf::from(&config.datasets)
    };
    dir.is_dir().then_some(dir)
}

/// The evaluation venv's directory (`annapurna eval env` builds it).
pub fn eval_venv_path(config: &SandboxConfig) -> PathBuf {
    if config.eval_venv.is_empty() {
        crate::settings::cache_dir().join("eval-venv")
    } else {
        PathBuf::from(&config.eval_venv)
    }
}

/// The execution venv's directory.
pub fn exec_venv_path(config: &SandboxConfig) -> PathBuf {
    if config.venv.is_empty() {
        crate::settings::cache_dir().join("exec-venv")
    } else {
        PathBuf::from(&config.venv)
    }
}

/// Where a layered venv (the evaluation venv) finds the venv beneath it inside the sandbox.
pub const BASE_VENV_MOUNT: &str = "/opt/base-venv";

/// The Python to use and the directory to mount for it.
pub(crate) fn python(config: &SandboxConfig) -> (PathBuf, Option<PathBuf>) {
    let venv = if config.venv.is_empty() {
        crate::settings::cache_dir().join("exec-venv")
    } else {
        PathBuf::from(&config.venv)
    };
    if venv.join("bin/python").exists() {
        (venv.join("bin/python"), Some(venv))
    } else {
        (PathBuf::from("/usr/bin/python3"), None)
    }
}

pub(crate) fn bwrap_path() -> Option<PathBuf> {
    ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// The bubblewrap command line for running `python <args>` (e.g. `-I main.py`) in `work`.
pub fn bwrap_args(
    config: &SandboxConfig,
    work: &Path,
    python: &Path,
    venv: Option<&Path>,
    env: &[(String, String)],
    target: &TargetProfile,
    args: &[String],
) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/work",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        // Directories bwrap creates are 0700 unless told; the code's uid must traverse these.
        "--perms",
        "0755",
        "--dir",
        "/etc",
        "--perms",
        "0755",
        "--dir",
        "/opt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for dir in [
        "/lib",
        "/lib64",
        "/bin",
        "/sbin",
        "/etc/alternatives",
        "/etc/ssl",
        "/etc/ld.so.cache",
    ] {
        if Path::new(dir).exists() {
            a.extend(["--ro-bind".into(), dir.into(), dir.into()]);
        }
    }
    // The venv appears at /opt/venv: its python links to /usr/bin/python3 and finds its
    // packages next to itself, so it works from any mount point (and the host path, under /root,
    // is none of the code's business).
    if let Some(v) = venv {
        a.extend([
            "--ro-bind".into(),
            v.display().to_string(),
            VENV_MOUNT.into(),
        ]);
        // A layered venv names the venv beneath it (its packages are found through a .pth file
        // that points at this mount).
        if let Ok(base) = std::fs::read_to_string(v.join("annapurna-base-venv")) {
            let base = base.trim();
            if Path::new(base).is_dir() {
                a.extend(["--ro-bind".into(), base.to_owned(), BASE_VENV_MOUNT.into()]);
            }
        }
    }
    if let Some(datasets) = datasets_dir(config) {
        a.extend([
            "--ro-bind".into(),
            datasets.display().to_string(),
            "/datasets".into(),
        ]);
    }
    for dir in &target.ro_dirs {
        a.extend(["--ro-bind".into(), dir.clone(), dir.clone()]);
    }
    for dev in &target.devices {
        a.extend(["--dev-bind".into(), dev.clone(), dev.clone()]);
    }
    for (k, v) in target.env.iter().chain(env) {
        a.extend(["--setenv".into(), k.clone(), v.clone()]);
    }
    let uid = config.uid.to_string();
    a.extend(
        [
            "--bind",
            &work.display().to_string(),
            "/work",
            "--chdir",
            "/work",
            "/usr/bin/setpriv",
            "--reuid",
            &uid,
            "--regid",
            &uid,
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let python = match venv {
        Some(_) => format!("{VENV_MOUNT}/bin/python"),
        None => python.display().to_string(),
    };
    a.push(python);
    a.extend(args.iter().cloned());
    a
}
