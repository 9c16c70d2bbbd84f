//! Crash safety: `txlake sync` killed with SIGKILL at random points, then resumed, ends with
//! exactly the tables of an uninterrupted run.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::support::{
    TestRng, assert_same_tables, count_ids, file_lake, small_world, txlake, txlake_bin, write_config,
};

/// Starts a sync, reads `lines` log lines from it (0: none) and SIGKILLs it.
fn sync_and_kill_after(config: &std::path::Path, lines: u64) {
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    // Waiting for output, not for time: the kill lands at a point in the sync's own progress.
    for _ in BufReader::new(stderr).lines().take(lines as usize) {}
    child.kill().expect("SIGKILL is delivered or the process already ended");
    child.wait().expect("the killed sync is reaped");
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let world = small_world(None);
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &world, 1_000);
    let output = txlake(&["sync", "--config", reference_config.to_str().unwrap()]);
    assert!(output.status.success(), "reference sync: {}", String::from_utf8_lossy(&output.stderr));
    let log_lines = String::from_utf8_lossy(&output.stderr).lines().count() as u64;
    assert!(log_lines > 20, "the reference run commits often enough to be interrupted: {log_lines} lines");

    let crashed = tempfile::tempdir().unwrap();
    let crashed_config = write_config(crashed.path(), &world, 1_000);
    let mut rng = TestRng::from_env();
    for _ in 0..24 {
        sync_and_kill_after(&crashed_config, rng.below(log_lines));
    }
    let output = txlake(&["sync", "--config", crashed_config.to_str().unwrap()]);
    assert!(output.status.success(), "final sync: {}", String::from_utf8_lossy(&output.stderr));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let expected = file_lake(reference.path());
        let actual = file_lake(crashed.path());
        for table in ["demo.survey_responses", "demo.touchpoint_events", "demo.deals", "demo.customers", "demo.tickets"]
        {
            let (rows, ids) = count_ids(&actual, table).await;
            assert_eq!(rows, ids, "{table}: no id twice");
            assert_eq!((rows, ids), count_ids(&expected, table).await, "{table}: same count as the uninterrupted run");
        }
        assert_same_tables(&expected, &actual).await;
    });
}

#[test]
fn ctrl_c_commits_up_to_the_next_checkpoint_and_resumes() {
    let world = small_world(None);
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &world, 1_000);
    assert!(txlake(&["sync", "--config", reference_config.to_str().unwrap()]).status.success());

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &world, 1_000);
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Interrupt right after the first commit, as a user pressing Ctrl-C would.
    for line in lines.by_ref() {
        if line.unwrap().contains("committed version") {
            break;
        }
    }
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted sync exits 130; log:\n{}", rest.join("\n"));
    assert!(rest.iter().any(|l| l.contains("stopping at the next checkpoint")), "{}", rest.join("\n"));

    let runs = txlake(&["runs", "--config", config.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&runs.stdout).contains("cancelled"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let lake = file_lake(dir.path());
        for table in ["demo.survey_responses", "demo.touchpoint_events"] {
            let (rows, ids) = count_ids(&lake, table).await;
            assert_eq!(rows, ids, "{table}: consistent after the stop");
        }
    });
    assert!(txlake(&["sync", "--config", config.to_str().unwrap()]).status.success());
    runtime.block_on(assert_same_tables(&file_lake(reference.path()), &file_lake(dir.path())));
}
