//! The committed OpenAPI document (`openapi/openapi.json`) is a valid OpenAPI document: checked
//! by openapi-spec-validator from PyPI (`tests/openapi_validator/run.sh`), a validator that knows
//! nothing of utoipa, which generates ours. Client generators, Power Apps custom connectors and
//! API gateways import this file, and several of them fail or clash on duplicate operationIds.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::txlake_bin;

fn committed() -> (String, serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
    let text = std::fs::read_to_string(&path).expect("openapi/openapi.json is committed");
    let doc = serde_json::from_str(&text).expect("openapi/openapi.json is JSON");
    (text, doc)
}

#[test]
fn the_committed_openapi_document_passes_an_independent_validator() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openapi_validator/run.sh");
    let output = Command::new("bash").arg(script).output().expect("bash runs tests/openapi_validator/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("openapi.json: OK"),
        "openapi-spec-validator rejects openapi/openapi.json:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_operation_has_a_unique_descriptive_operation_id() {
    let (_, doc) = committed();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if !["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let here = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{here} has no operationId"));
            // A bare verb (`list`, `show`: the handler's function name, utoipa's default) says
            // nothing about what it lists; ids are a verb and a noun, in camelCase.
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{here}: operationId {id:?} is not camelCase"
            );
            assert!(
                !["list", "show", "get", "run", "start", "rows", "connections"].contains(&id),
                "{here}: operationId {id:?} is the handler's bare name; name what it acts on (listMetrics, getSync, …)"
            );
            if let Some(other) = seen.insert(id.to_string(), here.clone()) {
                panic!("operationId {id:?} is used by both {other} and {here}");
            }
        }
    }
    assert!(operations >= 12, "only {operations} operations in openapi/openapi.json");
    for id in ["listMetrics", "getMetric", "listTables", "getTableRows", "runQuery", "startSync", "getSync"] {
        assert!(seen.contains_key(id), "no operation {id}: {:?}", seen.keys());
    }
}

/// The validated file is the document the binary serves (`txlake openapi` prints it).
#[test]
fn the_committed_openapi_document_is_what_txlake_prints() {
    let (text, _) = committed();
    let output = Command::new(txlake_bin()).arg("openapi").output().expect("txlake openapi runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.stdout == text.as_bytes(),
        "openapi/openapi.json differs from `txlake openapi`; regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}
