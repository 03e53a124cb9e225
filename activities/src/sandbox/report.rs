//! After a run: the artifacts under `output/`, the `METRICS:` lines, and one word for what
//! happened.

#[allow(unused_imports)]
use super::*;
use workflows::types::Classification;

/// Files the code left under `output/` (recursively, at most `max`), as (relative name, path).
pub fn artifacts(work: &Path, max: usize) -> Vec<(String, PathBuf)> {
    let root = work.join("output");
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    let name = path
                        .strip_prefix(&root)
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    found.push((name, path));
                }
                _ => {} // symlinks and the like are not followed
            }
        }
    }
    found.sort();
    found.truncate(max);
    found
}

/// `METRICS: {json}` lines of `stdout`, parsed (malformed lines are skipped).
pub fn parse_metrics(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        // A METRICS line is a small JSON object; longer ones are the code's noise, not metrics.
        .filter(|l| l.len() <= 16 * 1024)
        .filter_map(|l| l.trim().strip_prefix("METRICS:"))
        .filter_map(|j| serde_json::from_str::<serde_json::Value>(j.trim()).ok())
        .filter(|v| v.is_object())
        .take(10_000)
        .collect()
}

/// What happened, in one word: `ok`; `resource:time`, `resource:cpu`, `resource:memory`,
/// `resource:processes`, `resource:disk`; `environment` (a missing module); `sandbox-violation`
/// (the code tried the network, the host's files or a read-only place); `code-error`.
pub fn classify(o: &RunOutcome) -> Classification {
    let e = &o.stderr;
    if o.killed.as_deref() == Some("timeout") {
        return Classification::ResourceTime;
    }
    if o.killed.as_deref() == Some("disk") {
        return Classification::ResourceDisk;
    }
    if o.signal == Some(libc::SIGXCPU) {
        return Classification::ResourceCpu;
    }
    if o.signal == Some(libc::SIGXFSZ)
        || e.contains("File too large")
        || e.contains("No space left")
    {
        return Classification::ResourceDisk;
    }
    if o.exit_code == Some(0) && o.signal.is_none() {
        return Classification::Ok;
    }
    if e.contains("MemoryError")
        || e.contains("Cannot allocate memory")
        || e.contains("std::bad_alloc")
    {
        return Classification::ResourceMemory;
    }
    if e.contains("Resource temporarily unavailable") || e.contains("can't start new thread") {
        return Classification::ResourceProcesses;
    }
    if e.contains("ModuleNotFoundError") || e.contains("No module named") {
        return Classification::Environment;
    }
    if e.contains("Read-only file system")
        || e.contains("PermissionError")
        || e.contains("Network is unreachable")
        || e.contains("ConnectionRefusedError")
        || e.contains("Temporary failure in name resolution")
        || e.contains("socket.gaierror")
    {
        return Classification::SandboxViolation;
    }
    Classification::CodeError
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_metrics_lines_are_ignored() {
        let huge = format!("METRICS: {{\"pad\": \"{}\"}}", "x".repeat(1 << 20));
        let out = format!("METRICS: {{\"loss\": 0.5}}\n{huge}\nMETRICS: {{\"loss\": 0.4}}\n");
        let m = parse_metrics(&out);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1]["loss"], 0.4);
    }
}
