//! `annapurna dev` as a user runs it, and the production-shaped docker-compose.yml.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use annapurna_tests::{Proc, annapurna_bin, free_port, run_ok, strings_of, temporal_bin};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `docker-compose -f docker-compose.yml config` in the repository.
fn compose_config() -> Command {
    let mut cmd = Command::new("docker-compose");
    cmd.current_dir(repo())
        .args(["-f", "docker-compose.yml", "config"]);
    cmd
}

/// The embedded stack starts (Temporal with its SQLite file under .annapurna/, search
/// attributes registered, the stand-in announced loudly because no AWS credentials exist), runs
/// the example paper with `annapurna run --follow`, and stops everything on SIGTERM.
#[test]
fn dev_stack_runs_a_paper_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ui_port, standin_port) = (free_port(), free_port(), free_port());
    let temporal_dir = temporal_bin().parent().unwrap().to_owned();
    let cache_home = std::env::var("XDG_CACHE_HOME")
        .unwrap_or_else(|_| format!("{}/.cache", std::env::var("HOME").unwrap_or_default()));
    let path = format!(
        "{}:{}",
        temporal_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // `annapurna ARGS` as the user runs it here.
    let annapurna = |args: &[&str]| {
        let mut cmd = Command::new(annapurna_bin());
        cmd.args(args)
            .current_dir(dir.path())
            .env("HOME", dir.path()) // no ~/.aws here: the stand-in is chosen automatically
            .env("XDG_CACHE_HOME", cache_home.clone()) // the execution venv of scripts/setup.sh
            .env("PATH", &path)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ANNAPURNA_DEV__STANDIN_PORT", standin_port.to_string())
            .env("TEMPORAL_ADDRESS", format!("127.0.0.1:{port}"));
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "ANNAPURNA_CONFIG",
        ] {
            cmd.env_remove(k);
        }
        cmd
    };
    let (port_arg, ui_port_arg) = (port.to_string(), ui_port.to_string());
    let cmd = annapurna(&["dev", "--port", &port_arg, "--ui-port", &ui_port_arg]);
    let mut dev = Proc::spawn(cmd, dir.path().join("dev.log"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !dev.log_text().contains("worker polling") {
        assert!(Instant::now() < deadline, "annapurna dev did not start");
        assert!(
            dev.wait_timeout(Duration::from_millis(200)).is_none(),
            "annapurna dev exited"
        );
    }
    let log = dev.log_text();
    assert!(
        log.contains("NO AWS CREDENTIALS") && log.contains("STAND-IN"),
        "the stand-in must be announced: {log}"
    );
    assert!(dir.path().join(".annapurna/temporal.db").is_file());

    let sa = Command::new(temporal_bin())
        .args([
            "operator",
            "search-attribute",
            "list",
            "--address",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let sa = String::from_utf8_lossy(&sa.stdout);
    for name in workflows::names::search_attribute::ALL {
        assert!(
            sa.contains(name),
            "search attribute {name} not registered: {sa}"
        );
    }

    let example = repo().join("examples/papers/gated-residual-mlp.md");
    let mut run = annapurna(&["run"]);
    run.arg(&example).arg("--follow");
    let out = run_ok(&mut run, "annapurna run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("results: file://"), "{stderr}");
    // The code ran in the dev stack's cpu executor.
    assert!(stderr.contains("outcome: succeeded"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"execution\": \"ok\""));
    assert!(stderr.contains("stand-in"), "{stderr}");
    let results = dir.path().join("results");
    assert!(results.is_dir() && std::fs::read_dir(&results).unwrap().count() == 1);

    // `annapurna doctor --json` against the dev stack: every check is reported, none failed,
    // and it found the dev stand-in by itself (no AWS credentials here).
    let out = annapurna(&["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{report:#}");
    assert_eq!(report["standin"], true);
    assert_eq!(report["fail"], 0, "{report:#}");
    let names = strings_of(&report["checks"], "name");
    for name in [
        "temporal.reachable",
        "temporal.search-attributes",
        "model.summary+dataset+judge.lifecycle",
        "model.summary+dataset+judge.access",
        "model.summary+dataset+judge.converse",
        "model.summary+dataset+judge.quota",
        "model.code+review+fix+diagnose.converse",
        "sandbox.run",
        "store.papers",
        "store.blobs",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }

    // A trainium paper on the dev stack (a cpu executor only): warned at start, then fails
    // cleanly once executor_wait_secs has passed, naming the queue.
    let mut run = annapurna(&["run"]);
    run.arg(&example).args([
        "--target",
        "trainium",
        "--executor-wait-secs",
        "20",
        "--follow",
    ]);
    let started = Instant::now();
    let out = run.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no executor polls annapurna-exec-trainium"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NoExecutor") && stderr.contains("annapurna-exec-trainium"),
        "{stderr}"
    );
    eprintln!(
        "trainium paper on annapurna dev failed after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // SIGTERM to annapurna alone: it must stop its worker, the stand-in and the Temporal server.
    dev.stop(
        Duration::from_secs(45),
        "annapurna dev stopped after SIGTERM",
    );
    let db = dir.path().join(".annapurna/temporal.db");
    let left = Command::new("pgrep")
        .args(["-f", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the Temporal server is still running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", standin_port)).is_err(),
        "the stand-in still listens"
    );
}

/// docker-compose.yml is valid Compose (Docker does not run here, so it is parsed, not started)
/// and wires the production shape.
#[test]
fn docker_compose_file_is_valid() {
    let mut config = compose_config();
    config
        .env("AWS_ACCESS_KEY_ID", "")
        .env("POSTGRES_PASSWORD", "from-the-environment")
        .env("MINIO_ROOT_PASSWORD", "from-the-environment-too")
        .env("GRAFANA_ADMIN_PASSWORD", "from-the-environment-as-well")
        .env_remove("ANNAPURNA_BIND");
    let what = "docker-compose config (docker-compose is installed by scripts/setup.sh)";
    let out = run_ok(&mut config, what);
    let config = String::from_utf8_lossy(&out.stdout);
    for service in [
        "postgresql:",
        "temporal:",
        "temporal-ui:",
        "opensearch:",
        "minio:",
        "worker:",
        "otel-collector:",
        "prometheus:",
        "grafana:",
    ] {
        assert!(
            config.contains(&format!("  {service}")),
            "service {service} missing:\n{config}"
        );
    }
    // Issue 14, item 8: nothing is published on every interface by default, and no default
    // password is left in the file.
    assert!(!config.contains("annapurna-secret") && !config.contains("POSTGRES_PWD: temporal\n"));
    // Published ports, as `docker-compose config` writes them: `- HOST_IP:HOST:CONTAINER/tcp`.
    let published: Vec<&str> = config
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") && l.ends_with("/tcp") && l.matches(':').count() == 2)
        .collect();
    assert_eq!(
        published.len(),
        4,
        "only Temporal, the Web UI, Prometheus and Grafana are published:\n{config}"
    );
    for port in &published {
        assert!(
            port.starts_with("- 127.0.0.1:"),
            "{port} is published beyond localhost"
        );
    }
    let refused = compose_config()
        .env_remove("MINIO_ROOT_PASSWORD")
        .env("POSTGRES_PASSWORD", "x")
        .env("GRAFANA_ADMIN_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a missing password must stop compose"
    );
    for wiring in [
        "TEMPORAL_ADDRESS: temporal:7233",
        "POSTGRES_SEEDS: postgresql",
        "ANNAPURNA_STORAGE__BLOBS: s3://",
        "ANNAPURNA_TELEMETRY__OTLP_ENDPOINT: http://otel-collector:4317",
        "ANNAPURNA_TELEMETRY__PROMETHEUS_LISTEN: 0.0.0.0:9464",
        "otel-collector.yaml",
    ] {
        assert!(config.contains(wiring), "{wiring} missing:\n{config}");
    }
}
