//! The program `ExecuteCode` runs for one test of a task: it writes a copy of the task folder
//! (with the answer in place) into `task/` of the sandbox's work directory and runs the test
//! entry point there with the sandbox's Python, exiting with the test's status. The original
//! folder is never touched: the copy is made from the bundle, inside the sandbox.

use std::collections::BTreeMap;

/// Marks the first line of every program, with what it runs.
pub const HEADER: &str = "# annapurna eval:";

/// The program that runs `entry` in a copy of `files` (relative path → bytes). `label` says what
/// is tested (`reference`, or the snippet and how it was answered).
pub fn program(task: &str, label: &str, files: &BTreeMap<String, Vec<u8>>, entry: &str) -> String {
    let mut text = BTreeMap::new();
    let mut binary = BTreeMap::new();
    for (path, bytes) in files {
        // Relative paths inside the folder only (a bundle is an input like any other).
        if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
            continue;
        }
        match std::str::from_utf8(bytes) {
            Ok(t) => {
                text.insert(path.as_str(), t);
            }
            Err(_) => {
                binary.insert(path.as_str(), hex::encode(bytes));
            }
        }
    }
    // JSON string and object syntax is Python's too (serde_json escapes quotes, backslashes and
    // control characters, and writes no `true`/`null` here), so the files go in as literals.
    let files_json = serde_json::to_string(&text).expect("strings serialise");
    let binary_json = serde_json::to_string(&binary).expect("strings serialise");
    let meta = serde_json::to_string(&(task, label, entry)).expect("strings serialise");
    format!(
        r#"{HEADER} {task} / {label}
import os, subprocess, sys

TASK, LABEL, ENTRY = {meta}
FILES = {files_json}
BINARY = {binary_json}

root = os.path.join(os.getcwd(), "task")
for rel, content in list(FILES.items()) + [(k, bytes.fromhex(v)) for k, v in BINARY.items()]:
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content.encode("utf-8") if isinstance(content, str) else content)
print(f"annapurna eval: {{TASK}} / {{LABEL}}: python {{ENTRY}}", flush=True)
sys.exit(subprocess.run([sys.executable, ENTRY], cwd=root).returncode)
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The program writes the copy and passes the test's exit status through (run with the host's
    /// python3, when it has one).
    #[test]
    fn the_program_copies_the_folder_and_exits_with_the_tests_status() {
        let Ok(python) = which_python() else {
            eprintln!("skipped: no python3");
            return;
        };
        for (check, status) in [("assert v.X == 'a\"b\\\\c'", 0), ("assert v.X == 1", 1)] {
            let files: BTreeMap<String, Vec<u8>> = [
                ("pkg/v.py".to_owned(), b"X = 'a\"b\\\\c'\n".to_vec()),
                (
                    "paper2code_test.py".to_owned(),
                    format!("import sys\nsys.path.insert(0, 'pkg')\nimport v\n{check}\n")
                        .into_bytes(),
                ),
                ("blob.bin".to_owned(), vec![0xff, 0x00, 0xfe]),
            ]
            .into_iter()
            .collect();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("main.py"),
                program("t", "reference", &files, "paper2code_test.py"),
            )
            .unwrap();
            let out = std::process::Command::new(&python)
                .arg("main.py")
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(status),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                std::fs::read(dir.path().join("task/blob.bin")).unwrap(),
                [0xff, 0x00, 0xfe]
            );
        }
    }

    fn which_python() -> Result<String, ()> {
        for p in ["/usr/bin/python3", "/usr/local/bin/python3"] {
            if std::path::Path::new(p).is_file() {
                return Ok(p.to_owned());
            }
        }
        Err(())
    }
}
