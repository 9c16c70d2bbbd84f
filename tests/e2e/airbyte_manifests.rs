//! Real Airbyte low-code manifests for the proof connectors (`connectors/airbyte-<vendor>/`):
//! `connectors/airbyte/fetch.sh` downloads the wheels pinned in `connectors/airbyte/packages.txt`
//! from PyPI (sha256 checked) and extracts their `manifest.yaml` once per test run (the folders
//! under `~/.cache/txlake-airbyte-manifests/` are reused across runs), and a test asks for the
//! manifest of a package by name. Also the small pieces every proof test needs: a
//! `txlake.toml` with an `airbyte-manifest:` connection, and the binary's sync and query.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::txlake;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// `package` → the folder its manifest was extracted to, or fetch.sh's error.
fn folders() -> &'static Result<BTreeMap<String, PathBuf>, String> {
    static FOLDERS: OnceLock<Result<BTreeMap<String, PathBuf>, String>> = OnceLock::new();
    FOLDERS.get_or_init(|| {
        let script = root().join("connectors/airbyte/fetch.sh");
        let output = Command::new("bash").arg(&script).output().map_err(|e| format!("{}: {e}", script.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "{} failed ({}):\n{}\n{}",
                script.display(),
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let pins =
            std::fs::read_to_string(root().join("connectors/airbyte/packages.txt")).map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        for pin in pins.lines().filter_map(|l| l.split_whitespace().next()).filter(|p| !p.starts_with('#')) {
            let Some((package, version)) = pin.split_once("==") else { continue };
            let suffix = format!("/{package}-{version}");
            if let Some(dir) = stdout.lines().find(|l| l.ends_with(&suffix)) {
                out.insert(package.to_string(), PathBuf::from(dir));
            }
        }
        Ok(out)
    })
}

/// The folder holding `package`'s extracted `manifest.yaml` (and its `schemas/`), fetched on
/// first use; `package` is a name pinned in `connectors/airbyte/packages.txt`, such as
/// `airbyte-source-delighted`. Panics with fetch.sh's output when PyPI is unreachable.
pub fn manifest_dir(package: &str) -> PathBuf {
    match folders() {
        Ok(map) => map
            .get(package)
            .unwrap_or_else(|| panic!("{package} is not pinned in connectors/airbyte/packages.txt"))
            .clone(),
        Err(e) => panic!("the pinned Airbyte manifests could not be fetched: {e}"),
    }
}

/// `package`'s `manifest.yaml`, unchanged from its wheel.
pub fn manifest(package: &str) -> PathBuf {
    manifest_dir(package).join("manifest.yaml")
}

/// `value` as a TOML inline value (nested objects and lists included), for `config = …`.
pub fn toml_value(value: &Value) -> String {
    match value {
        // A JSON string literal is a valid TOML basic string (serde_json escapes no `/`).
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.to_string(),
        Value::Null => "\"\"".to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{} = {}", Value::String(k.clone()), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Writes `dir/txlake.toml`: a file lake in `dir/lake` and one connection `name` running
/// `package`'s manifest unchanged with `config`; `extra` lines are appended to the connection
/// (such as `models = "airbyte-delighted"`).
pub fn write_config(dir: &Path, name: &str, package: &str, config: &Value, extra: &str) -> PathBuf {
    let path = dir.join("txlake.toml");
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n[connections.{name}]\nconnector = {}\nconfig = {}\n{extra}\n",
        Value::String(format!("airbyte-manifest:{}", manifest(package).display())),
        toml_value(config)
    );
    std::fs::write(&path, text).expect("txlake.toml is written");
    path
}

/// Runs `txlake ARGS` on a blocking thread, so an in-process fake keeps answering.
pub async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || txlake(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .expect("the txlake process is waited for")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `txlake sync --config CONFIG`, asserted to succeed; returns its stdout and stderr.
pub async fn sync(config: &Path) -> (String, String) {
    let output = run(vec!["sync".into(), "--config".into(), config.display().to_string()]).await;
    assert!(output.status.success(), "sync failed:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    (text(&output.stdout), text(&output.stderr))
}

/// `txlake query --format json SQL` → its rows.
pub async fn query(config: &Path, sql: &str) -> Vec<Value> {
    let output = run(vec![
        "query".into(),
        "--config".into(),
        config.display().to_string(),
        "--format".into(),
        "json".into(),
        sql.into(),
    ])
    .await;
    assert!(output.status.success(), "{sql}: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("query prints JSON")
}

/// `txlake connectors translate MANIFEST`: the native manifest the translator makes of it
/// (or its refusal).
pub fn translate(manifest: &Path) -> Output {
    txlake(&["connectors", "translate", &manifest.display().to_string()])
}

#[test]
fn fetch_sh_extracts_every_pinned_manifest() {
    let pins = std::fs::read_to_string(root().join("connectors/airbyte/packages.txt")).unwrap();
    let packages: Vec<&str> = pins
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|p| !p.starts_with('#'))
        .filter_map(|p| p.split_once("==").map(|(name, _)| name))
        .collect();
    assert!(packages.len() >= 4, "{packages:?}");
    for package in packages {
        let text = std::fs::read_to_string(manifest(package)).unwrap();
        assert!(text.contains("DeclarativeSource") || text.contains("streams:"), "{package}: not a manifest");
    }
    // A second run reuses the folders: same lines, nothing downloaded.
    let again = Command::new("bash").arg(root().join("connectors/airbyte/fetch.sh")).output().unwrap();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .any(|l| Path::new(l) == manifest_dir("airbyte-source-delighted"))
    );
}

#[test]
fn toml_values_nest() {
    let v = serde_json::json!({ "a": "x\"y", "region": { "url_base": "http://h" }, "ids": [1, 2] });
    assert_eq!(toml_value(&v), r#"{ "a" = "x\"y", "ids" = [1, 2], "region" = { "url_base" = "http://h" } }"#);
}
