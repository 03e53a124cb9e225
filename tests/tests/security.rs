//! Attacks by whoever can start a workflow, tried against a real stack: each must be refused or
//! contained, with the worker up and other papers completing.

use std::path::Path;
use std::time::Duration;

use annapurna_tests::Stack;
use temporalio_client::WorkflowGetResultOptions;
use workflows::types::PaperToCodeInput;

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                found.extend(files_containing(&p, needle));
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                found.push(p);
            }
        }
    }
    found
}

/// Issue 14, item 1: `source` may not read files outside the worker's allowed roots — not by
/// path, `file://` URI, symbolic link or `..` — and every refusal reads the same, whether the
/// file exists or not.
#[tokio::test(flavor = "multi_thread")]
async fn source_cannot_read_host_files_outside_the_roots() {
    let stack = Stack::start(&[]).await;
    let d = stack.dir.path();
    let marker = "ops-notes-3f9a1c: the database password is hunter2";
    let secret = d.join("notes.md");
    std::fs::write(&secret, format!("# Notes\n\n{marker}\n")).unwrap();
    let papers = d.join("papers");
    std::fs::create_dir_all(&papers).unwrap();
    std::os::unix::fs::symlink(&secret, papers.join("innocent.md")).unwrap();
    let attempts = [
        secret.display().to_string(),
        format!("file://{}", secret.display()),
        papers.join("innocent.md").display().to_string(),
        format!("{}/../notes.md", papers.display()),
        papers.join("no-such-file.md").display().to_string(),
        "/etc/hostname".to_owned(),
        "s3://someone-elses-bucket/paper.pdf".to_owned(),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (n, source) in attempts.iter().enumerate() {
        let input = PaperToCodeInput {
            source: Some(source.clone()),
            execute: Some(false),
            ..Default::default()
        };
        let handle = stack
            .start_paper(&format!("attack-{n}"), input)
            .await
            .unwrap();
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("a refused source fails fast")
        .expect_err("a source outside the roots must fail");
        let text = format!("{err:?}");
        assert!(text.contains("SourceNotAllowed"), "{source}: {text}");
        assert!(
            !text.contains("hunter2") && !text.contains("bytes"),
            "{text}"
        );
        // The same words for every refusal, whatever the path and whether it exists.
        let start = text
            .find("is not a file under")
            .expect("the refusal's words");
        messages.insert(text[start..start + 60].to_owned());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        files_containing(&d.join("blobs"), b"hunter2").is_empty(),
        "the secret reached the blob store"
    );
    assert_eq!(
        stack.standin_stats()["requests"],
        0,
        "no model saw anything"
    );

    // The worker is still up, and a paper under the root still works by `source`.
    let paper = stack.example_paper();
    let out = stack
        .run_paper(
            "legit-source",
            PaperToCodeInput {
                source: Some(paper.display().to_string()),
                execute: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("a source under the root completes");
    assert_eq!(out.outcome, "succeeded");
}

/// Issue 14, item 5: numbers that would overflow or never end, and models outside the catalogue,
/// are refused at once with a named failure; the worker stays up.
#[tokio::test(flavor = "multi_thread")]
async fn unbounded_inputs_and_unknown_models_are_refused() {
    let stack = Stack::start(&[]).await;
    let paper = stack.example_paper();
    let id = stack.add_paper(&paper);
    let cases = [
        (
            PaperToCodeInput {
                exec_timeout_secs: Some(u64::MAX),
                ..Default::default()
            },
            "InvalidInput",
            "exec_timeout_secs",
        ),
        (
            PaperToCodeInput {
                review_rounds: Some(1_000_000),
                ..Default::default()
            },
            "InvalidInput",
            "review_rounds",
        ),
        (
            PaperToCodeInput {
                parallel_chunks: Some(u32::MAX),
                ..Default::default()
            },
            "InvalidInput",
            "parallel_chunks",
        ),
        (
            PaperToCodeInput {
                summary_model: Some("attacker.free-model-v1".into()),
                execute: Some(false),
                ..Default::default()
            },
            "ModelNotAllowed",
            "attacker.free-model-v1",
        ),
    ];
    for (n, (mut input, failure, named)) in cases.into_iter().enumerate() {
        input.paper_id = Some(id.clone());
        let err = stack
            .run_paper(&format!("bounds-{n}"), input)
            .await
            .expect_err("must be refused");
        assert!(err.contains(failure) && err.contains(named), "{err}");
    }
    assert_eq!(stack.standin_stats()["requests"], 0, "no model was called");
    let out = stack
        .run_paper(
            "after-the-attacks",
            PaperToCodeInput {
                paper_id: Some(id),
                execute: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("the worker is still up");
    assert_eq!(out.outcome, "succeeded");
}
