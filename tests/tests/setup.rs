//! `scripts/setup.sh --check`: on this machine (set up by `scripts/test.sh`) nothing is missing;
//! and each need is checked by what it is for: a `protoc` that cannot find
//! `google/protobuf/field_mask.proto` is reported with the package that has it, even though the
//! command exists; an empty cache reports the venvs and tools it would install.

use std::path::Path;
use std::process::{Command, Output};

fn setup_check(env: &[(&str, &str)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup.sh");
    Command::new("bash")
        .arg(script)
        .arg("--check")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_finds_nothing_missing_on_a_set_up_machine() {
    let out = setup_check(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("everything is in place"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_protoc_without_the_well_known_types_is_reported_with_the_fix() {
    // A protoc binary whose own include directory is missing: the command runs, but
    // `import "google/protobuf/field_mask.proto"` does not resolve, as on a machine with
    // protobuf-compiler and without libprotobuf-dev.
    let protoc = which("protoc").expect("protoc is installed by scripts/setup.sh");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let bare = dir.path().join("bin/protoc");
    std::fs::copy(&protoc, &bare).unwrap();
    let bare = bare.to_str().unwrap();
    let out = setup_check(&[("PROTOC", bare)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("libprotobuf-dev"), "{}", text(&out));
    // With the well-known types' directory named, the same protoc passes.
    let out = setup_check(&[("PROTOC", bare), ("PROTOC_INCLUDE", "/usr/include")]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn an_empty_cache_reports_each_tool_to_install() {
    let cache = tempfile::tempdir().unwrap();
    let out = setup_check(&[("ANNAPURNA_CACHE", cache.path().to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = text(&out);
    for need in [
        "temporal CLI",
        "ruff",
        "osmem-server",
        "moto[server]",
        "execution venv",
        "digits.npz",
    ] {
        assert!(report.contains(need), "{need} not reported: {report}");
    }
    // --check installs nothing.
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
