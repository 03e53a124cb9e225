//! Static checks of generated Python. Syntax comes from Python's own parser (`ast.parse` in a
//! child `python3`), not from regular expressions; a syntax error at the end of the file, or an
//! unclosed bracket, is reported as truncated code.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use workflows::types::{CheckReport, Finding};

/// Why the checker itself could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The interpreter could not be started or answered nonsense.
    #[error(
        "cannot run the Python checker with {python:?}: {reason}; install python3 or set checks.python"
    )]
    Interpreter {
        /// The configured interpreter.
        python: String,
        /// Why.
        reason: String,
    },
}

const AST_CHECK: &str = r#"
import ast, json, sys
src = sys.stdin.read()
try:
    ast.parse(src)
    print(json.dumps({"ok": True}))
except SyntaxError as e:
    print(json.dumps({"ok": False, "line": e.lineno or 0, "msg": e.msg}))
"#;

fn finding(rule: &str, severity: &str, line: u32, message: String) -> Finding {
    Finding {
        rule: rule.to_owned(),
        severity: severity.to_owned(),
        line,
        message,
    }
}

/// Checks `code` with `python` (an interpreter path or name).
pub async fn check_python(python: &str, code: &str) -> Result<CheckReport, CheckError> {
    let err = |reason: String| CheckError::Interpreter {
        python: python.to_owned(),
        reason,
    };
    let mut child = tokio::process::Command::new(python)
        .args(["-I", "-c", AST_CHECK])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let src = code.to_owned();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(src.as_bytes()).await;
    });
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| err(e.to_string()))?;
    let _ = writer.await;
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        err(format!(
            "unexpected output {:?} {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    let mut findings = Vec::new();
    if answer["ok"] != serde_json::Value::Bool(true) {
        let line = answer["line"].as_u64().unwrap_or(0) as u32;
        let msg = answer["msg"].as_str().unwrap_or("syntax error").to_owned();
        let last_line = code.trim_end().lines().count() as u32;
        let truncated = msg.contains("was never closed")
            || msg.contains("unexpected EOF")
            || (line >= last_line && msg.contains("expected"));
        if truncated {
            findings.push(finding(
                "truncated-code",
                "error",
                line,
                format!("the code stops mid-statement ({msg}); it was probably cut off"),
            ));
        } else {
            findings.push(finding("syntax-error", "error", line, msg));
        }
    }
    if !code.contains("METRICS:") {
        findings.push(finding(
            "no-metrics-output",
            "warning",
            0,
            "the script never prints a `METRICS: {json}` line, so its training cannot be followed"
                .into(),
        ));
    }
    Ok(CheckReport { findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn syntax_truncation_and_clean() {
        let clean = check_python("python3", "print('METRICS: {}')\n")
            .await
            .unwrap();
        assert!(!clean.is_blocking(), "{clean:?}");
        let bad = check_python("python3", "def f(:\n    pass\nprint('METRICS:')\n")
            .await
            .unwrap();
        assert_eq!(bad.findings[0].rule, "syntax-error");
        assert_eq!(bad.findings[0].line, 1);
        let cut = check_python("python3", "x = [1, 2,\nprint('METRICS:')\n")
            .await
            .unwrap();
        assert_eq!(cut.findings[0].rule, "truncated-code", "{cut:?}");
        let none = check_python("python3", "x = 1\n").await.unwrap();
        assert_eq!(none.findings[0].rule, "no-metrics-output");
        assert!(!none.is_blocking());
        assert!(check_python("/nonexistent/python", "x=1").await.is_err());
    }
}
