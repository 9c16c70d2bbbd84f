//! The `txlake` command line as a new user meets it: init, sync, query, connectors, runs,
//! and the errors for the usual mistakes.

use crate::support::{small_world, txlake, txlake_bin, write_config};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_writes_a_config_once() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("project");
    let output = txlake(&["init", target.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let config = std::fs::read_to_string(target.join("txlake.toml")).unwrap();
    assert!(config.contains("connector = \"sample\"") && config.contains("file://./lake"));
    assert!(text(&output.stdout).contains("txlake sync"), "tells what to run next");

    let again = txlake(&["init", target.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists") && text(&again.stderr).contains("--force"));
}

#[test]
fn sync_then_query_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &small_world(Some("2025-02-01")), 100_000);
    let config = config.to_str().unwrap();

    let sync = txlake(&["sync", "--config", config]);
    assert!(sync.status.success(), "{}", text(&sync.stderr));
    let summary = text(&sync.stdout);
    for stream in [
        "customers",
        "employees",
        "deals",
        "tickets",
        "survey_responses",
        "touchpoint_events",
        "courses",
        "enrollments",
        "touchpoint_targets",
    ] {
        assert!(
            summary.lines().any(|l| l.contains(stream) && l.contains("succeeded")),
            "{stream} in summary:\n{summary}"
        );
    }
    let logs = text(&sync.stderr);
    assert!(logs.contains("committed version"), "plain log lines when not on a terminal:\n{logs}");

    let csv = txlake(&["query", "--config", config, "--format", "csv", "SELECT count(*) AS n FROM demo.courses"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let csv = text(&csv.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("n"));
    assert!(lines.next().unwrap().parse::<u32>().unwrap() >= 10);

    let json = txlake(&[
        "query",
        "--config",
        config,
        "--format",
        "json",
        "SELECT segment, count(*) AS n FROM demo.customers GROUP BY segment ORDER BY segment",
    ]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let segments: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["segment"].as_str().unwrap()).collect();
    assert_eq!(segments, ["enterprise", "mid_market", "smb"]);

    let table = txlake(&["query", "--config", config, "SELECT id, name FROM demo.courses ORDER BY id LIMIT 2"]);
    assert!(table.status.success());
    assert!(text(&table.stdout).contains("| id "), "{}", text(&table.stdout));

    let runs = txlake(&["runs", "--config", config]);
    assert!(runs.status.success());
    assert!(text(&runs.stdout).contains("succeeded"));
}

#[test]
fn mistakes_get_errors_that_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let output = txlake(&["sync", "--config", missing.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("txlake init"), "{}", text(&output.stderr));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[connections.demo]\nconnector = \"sample\"\nconfig = { customers = \"many\" }\n").unwrap();
    let output = txlake(&["sync", "--config", bad.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(err.contains("config.customers") && err.contains("integer"), "{err}");
    assert!(!err.contains("panicked"));

    let config = write_config(dir.path(), &small_world(Some("2025-01-10")), 100_000);
    let output = txlake(&["sync", "--config", config.to_str().unwrap(), "crm"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("no connection `crm`") && text(&output.stderr).contains("demo"));

    let output = txlake(&["query", "--config", config.to_str().unwrap(), "SELEC 1"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("SQL error"), "{}", text(&output.stderr));
}

#[test]
fn connectors_describe_themselves() {
    let list = txlake(&["connectors", "list"]);
    assert!(list.status.success());
    for connector in ["sample", "hubspot", "zendesk", "bamboohr", "moodle", "airbyte:"] {
        assert!(text(&list.stdout).contains(connector), "{connector} is not listed: {}", text(&list.stdout));
    }

    let spec = txlake(&["connectors", "spec", "sample"]);
    assert!(spec.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&spec.stdout).unwrap();
    assert!(schema["properties"]["customers"].is_object());

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.toml");
    let discover = txlake(&["connectors", "discover", "--config", missing.to_str().unwrap(), "sample"]);
    assert!(discover.status.success(), "{}", text(&discover.stderr));
    let out = text(&discover.stdout);
    assert!(out.contains("tickets") && out.contains("incremental_dedupe") && out.contains("updated_at"), "{out}");

    let check = txlake(&["connectors", "check", "--config", missing.to_str().unwrap(), "sample"]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    let unknown = txlake(&["connectors", "spec", "workday"]);
    assert!(!unknown.status.success());
    let message = text(&unknown.stderr);
    assert!(
        message.contains("unknown connector `workday`; available connectors:") && message.contains("sample"),
        "{message}"
    );
}

#[test]
fn quickstart_syncs_prints_the_scorecard_serves_the_api_and_stops_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let mut child = std::process::Command::new(txlake_bin())
        .args(["quickstart", "--dir", demo.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    // The console is the first thing it asks to open.
    let console_url = loop {
        let Some(Ok(line)) = lines.next() else { panic!("quickstart ended before serving:\n{out}") };
        out.push_str(&line);
        out.push('\n');
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.to_string();
        }
    };
    assert!(console_url.ends_with('/'), "the first URL is the console's: {console_url}");
    assert!(out.contains("Total Experience scorecard by quarter"), "{out}");
    for column in ["period", "nps", "csat_pct", "enps", "customer_churn_pct", "avg_customer_ltv"] {
        assert!(out.contains(column), "{column} column in:\n{out}");
    }
    assert!(out.contains("2025-10-01"), "four quarters of the default year:\n{out}");
    assert!(out.contains("local mode"), "{out}");

    // Every URL it prints answers, the `curl` line's too.
    let mut urls = vec![console_url.clone()];
    loop {
        let Some(Ok(line)) = lines.next() else { panic!("quickstart ended while printing its URLs:\n{out}") };
        out.push_str(&line);
        out.push('\n');
        if line.contains("Ctrl-C stops it") {
            break;
        }
        let words = line.split_whitespace().map(|w| w.trim_matches('\''));
        urls.extend(words.filter(|w| w.starts_with("http://")).map(String::from));
    }
    assert!(urls.len() >= 7 && out.contains("curl"), "{out}");
    assert!(urls.iter().any(|u| u.ends_with("/docs")), "{out}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for url in &urls {
        let (status, body) = runtime.block_on(async {
            let response = reqwest::get(url).await.unwrap();
            (response.status(), response.text().await.unwrap())
        });
        assert_eq!(status, 200, "{url}: {body}");
        if url.contains("format=csv") {
            assert!(body.starts_with("segment,"), "{body}");
        }
        if url == &console_url {
            assert!(body.contains("<title>txlake console</title>"), "{body}");
        }
        if url.ends_with("/docs") {
            assert!(body.contains("openapi.json"), "the reference reads the served document: {body}");
        }
    }

    // SIGTERM (what Kubernetes sends) stops it cleanly.
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(demo.join("lake/raw/demo/customers/_delta_log").is_dir());

    // Running it again keeps the config and syncs incrementally.
    let again = txlake(&["quickstart", "--dir", demo.to_str().unwrap(), "--no-serve"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("Using the existing"));
    assert!(text(&again.stdout).contains("txlake serve --config"));
}

#[test]
fn config_check_accepts_a_good_file_and_lists_every_problem_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), &small_world(None), 100_000);
    let output = txlake(&["config", "check", "--config", good.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(out.contains("valid") && out.contains("connection demo (sample)") && out.contains("lake"), "{out}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"0.0.0.0:8080\"\n\n\
         [connections.crm]\nconnector = \"hubspot\"\nconfig = { start_date = \"yesterday\" }\n\n\
         [connections.hr]\nconnector = \"workday\"\nconfig = {}\n",
    )
    .unwrap();
    let output = txlake(&["config", "check", "--config", bad.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("connections.crm") && err.contains("access_token"), "{err}");
    assert!(err.contains("connections.hr") && err.contains("workday"), "{err}");
    assert!(err.contains("server.listen") && err.contains("txlake keys create"), "{err}");

    let unset = dir.path().join("unset.toml");
    std::fs::write(
        &unset,
        "[connections.crm]\nconnector = \"hubspot\"\nconfig = { access_token = \"${TXLAKE_TEST_UNSET_TOKEN}\" }\n",
    )
    .unwrap();
    let output = txlake(&["config", "check", "--config", unset.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("TXLAKE_TEST_UNSET_TOKEN"), "{}", text(&output.stderr));
}

#[test]
fn a_second_sync_of_a_running_connection_stops_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &small_world(Some("2025-01-05")), 100_000);
    // The lock a running sync (on another machine) holds, renewed a moment ago.
    let locks = dir.path().join("lake/_txlake/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let now = chrono::Utc::now();
    let holder = |expires: chrono::DateTime<chrono::Utc>| {
        serde_json::json!({
            "run_id": "run-elsewhere", "host": "sync-pod-1", "pid": 42,
            "acquired_at": now - chrono::Duration::minutes(3), "expires_at": expires
        })
        .to_string()
    };
    std::fs::write(locks.join("demo.json"), holder(now + chrono::Duration::seconds(50))).unwrap();
    let output = txlake(&["sync", "--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(err.contains("another sync of connection `demo` is running") && err.contains("sync-pod-1"), "{err}");
    assert!(!dir.path().join("lake/raw/demo").exists(), "nothing was written");

    // The same lock, expired: its sync was killed, so this one takes over and removes it after.
    std::fs::write(locks.join("demo.json"), holder(now - chrono::Duration::seconds(5))).unwrap();
    let output = txlake(&["sync", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!locks.join("demo.json").exists());
}
