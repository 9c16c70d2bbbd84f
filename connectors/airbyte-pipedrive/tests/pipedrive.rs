//! Airbyte's own `airbyte-source-pipedrive` manifest (PyPI 2.3.7) is refused at load: its
//! incremental streams select records with `class_name:
//! source_pipedrive.extractor.NullCheckedDpathExtractor`, a Python class shipped in the wheel
//! (it treats `"data": null` as no records). txlake runs no Python inside its engine, so the
//! load stops naming that component and its place in the manifest, and advises running the
//! source as a process (`connector = "airbyte:…"`); nothing is read and no table is written,
//! never a partial run of the streams that would load.

use serde_json::json;

use crate::airbyte_manifests::{self, run};

const PACKAGE: &str = "airbyte-source-pipedrive";

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn pipedrive_manifest_is_refused_naming_its_custom_extractor() {
    let output = airbyte_manifests::translate(&airbyte_manifests::manifest(PACKAGE));
    let said = text(&output);
    assert!(!output.status.success(), "a manifest with a Python class must not translate:\n{said}");
    assert!(said.contains("source_pipedrive.extractor.NullCheckedDpathExtractor"), "names the class: {said}");
    assert!(said.contains("extractor"), "names where in the manifest: {said}");
    assert!(said.contains("airbyte:"), "advises running the source as a process: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipedrive_sync_fails_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: a refused manifest must not get as far as a request.
    let config = json!({ "api_token": "pd-test", "replication_start_date": "2026-01-01 00:00:00Z", "base_url": "http://127.0.0.1:9/v1" });
    let path = airbyte_manifests::write_config(dir.path(), "pipedrive", PACKAGE, &config, "");
    let output = run(vec!["sync".into(), "--config".into(), path.display().to_string()]).await;
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("NullCheckedDpathExtractor"), "{said}");
    assert!(!said.contains("127.0.0.1:9"), "no request was attempted: {said}");
    let lake = dir.path().join("lake");
    // Only txlake's own bookkeeping (`_txlake/`, the sync's lock) may exist: no table.
    let tables: Vec<String> = std::fs::read_dir(&lake)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(tables.iter().all(|t| t == "_txlake"), "no table was written under {}: {tables:?}", lake.display());
}
