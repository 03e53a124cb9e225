//! Attacks by whoever can start a workflow, tried against a real stack: each must be refused or
//! contained, with the worker up and other papers completing.

use std::path::Path;

use annapurna_tests::{Stack, files_under, paper_input, source_input, wait_failure};
use workflows::types::PaperToCodeInput;

/// Runs the example paper by `source`, not executed, as `workflow_id`; asserts that it succeeds
/// (`what` says why it must).
async fn example_by_source_succeeds(stack: &Stack, workflow_id: &str, what: &str) {
    let input = PaperToCodeInput {
        execute: Some(false),
        ..source_input(&stack.example_paper())
    };
    stack.paper_succeeds(workflow_id, input, what).await;
}

/// The files under `dir`, at any depth, that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
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
        let text = wait_failure(&handle, 60).await;
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
    example_by_source_succeeds(&stack, "legit-source", "a source under the root completes").await;
}

/// Issue 14, item 5: numbers that would overflow or never end, and models outside the catalogue,
/// are refused at once with a named failure; the worker stays up.
#[tokio::test(flavor = "multi_thread")]
async fn unbounded_inputs_and_unknown_models_are_refused() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
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
    let input = PaperToCodeInput {
        execute: Some(false),
        ..paper_input(&id)
    };
    stack
        .paper_succeeds("after-the-attacks", input, "the worker is still up")
        .await;
}

/// Inputs that are JSON but not the workflow's input — a wrong type, an unknown feed kind, a list
/// where an object goes — fail the workflow at once with `InvalidInput` naming the field, instead
/// of failing its workflow task forever; the worker stays up.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_workflow_inputs_fail_at_once_naming_the_field() {
    let stack = Stack::start(&[]).await;
    let cases: [(&str, &str, &str, &[&str]); 5] = [
        (
            "PaperToCode",
            "bad-1",
            r#"{"paper_id": 5}"#,
            &["paper_id", "invalid type"],
        ),
        (
            "PaperToCode",
            "bad-2",
            r#"{"paper_id": "x", "review_rounds": "many"}"#,
            &["review_rounds"],
        ),
        (
            "PaperToCode",
            "bad-3",
            r#""paper.pdf""#,
            &["not a PaperToCode input"],
        ),
        (
            "PaperBatch",
            "bad-4",
            r#"{"paper_ids": "p1,p2"}"#,
            &["paper_ids"],
        ),
        (
            "IngestPapers",
            "bad-5",
            r#"{"feeds": [{"kind": "gopher"}]}"#,
            &["gopher"],
        ),
    ];
    for (kind, id, input, _) in cases {
        stack.start_with_cli(kind, id, input);
    }
    for (kind, id, _, named) in cases {
        let err = match kind {
            "PaperToCode" => stack.failure::<workflows::PaperToCode>(id, 60).await,
            "PaperBatch" => stack.failure::<workflows::PaperBatch>(id, 60).await,
            _ => stack.failure::<workflows::IngestPapers>(id, 60).await,
        };
        assert!(err.contains("InvalidInput"), "{kind} {id}: {err}");
        for word in named {
            assert!(
                err.contains(word),
                "{kind} {id} should name {word:?}: {err}"
            );
        }
    }
    let id = stack.add_example();
    let input = PaperToCodeInput {
        execute: Some(false),
        ..paper_input(&id)
    };
    stack
        .paper_succeeds("after-bad-inputs", input, "the worker is still up")
        .await;
}

/// Writes a small PDF whose one content stream inflates to `gib` GiB of spaces.
fn pdf_bomb(path: &Path, gib: u32) {
    let script = r#"
import sys, zlib
path, gib = sys.argv[1], int(sys.argv[2])
c = zlib.compressobj(9)
chunk = b" " * (64 << 20)
data = b"".join(c.compress(chunk) for _ in range(gib * 16)) + c.flush()
objs = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
    b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
]
out = bytearray(b"%PDF-1.4\n")
offsets = []
for i, o in enumerate(objs, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
for off in offsets:
    out += b"%010d 00000 n \n" % off
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open(path, "wb").write(out)
"#;
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(gib.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Issue 14, item 3: a PDF that inflates to gigabytes is parsed in a child process with memory
/// and time limits; the child dies, the paper fails as unreadable (not retried), and the worker
/// lives on to run other papers.
#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_bomb_kills_the_extractor_not_the_worker() {
    let stack = Stack::start(&[]).await;
    let papers = stack.dir.path().join("papers");
    std::fs::create_dir_all(&papers).unwrap();
    let bomb = papers.join("bomb.pdf");
    pdf_bomb(&bomb, 3);
    assert!(
        std::fs::metadata(&bomb).unwrap().len() < 8 << 20,
        "a small file"
    );

    // From the command line: refused with the reason, nothing stored.
    let out = stack.annapurna(&["paper", "add", bomb.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("bomb.pdf") && stderr.contains("limits"),
        "{stderr}"
    );

    // Through the worker: the paper fails as unreadable, the worker is still there.
    let worker_pid = stack.worker.as_ref().unwrap().pid();
    let err = stack
        .run_paper("bomb", source_input(&bomb))
        .await
        .expect_err("the bomb must fail");
    assert!(err.contains("UnparseablePaper"), "{err}");
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker_pid), None).is_ok(),
        "the worker died"
    );
    let what = "another paper completes on the same worker";
    example_by_source_succeeds(&stack, "after-the-bomb", what).await;
}
