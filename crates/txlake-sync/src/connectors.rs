//! The connectors built into txlake: the Rust ones, the declarative manifests under
//! `connectors/<name>/manifest.yaml` (embedded in the binary), and any manifests found in a
//! connectors folder given at run time (`--connectors-dir`, config `connectors_dir`).

use std::path::Path;
use std::sync::Arc;

use txlake_connector::{ConnectorError, DeclarativeConnector, Registry};

/// `(path from the repository root, contents)`.
macro_rules! manifest {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../", $path)))
    };
}

/// Every declarative connector shipped with txlake; `every_manifest_is_embedded` fails when
/// a `connectors/*/manifest.yaml` is missing here.
pub static BUILTIN_MANIFESTS: &[(&str, &str)] = &[
    manifest!("connectors/hubspot/manifest.yaml"),
    manifest!("connectors/zendesk/manifest.yaml"),
    manifest!("connectors/bamboohr/manifest.yaml"),
    manifest!("connectors/moodle/manifest.yaml"),
    manifest!("connectors/typeform/manifest.yaml"),
    manifest!("connectors/surveymonkey/manifest.yaml"),
];

/// A registry with every built-in connector.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(txlake_connector_sample::SampleConnector));
    registry.register(Arc::new(txlake_connector_qualtrics::QualtricsConnector));
    registry.register(Arc::new(txlake_connector_files::FilesConnector));
    registry.register_scheme(txlake_airbyte::SCHEME, Arc::new(txlake_airbyte::AirbyteResolver));
    for (path, text) in BUILTIN_MANIFESTS {
        // A broken built-in manifest is a build defect that `builtin_manifests_parse` catches.
        match DeclarativeConnector::from_manifest(path, text) {
            Ok(connector) => {
                registry.register(Arc::new(connector));
            }
            Err(e) => tracing::error!("{e}"),
        }
    }
    registry
}

/// The built-in registry plus the manifests of `connectors_dir` (which replace built-in
/// connectors of the same name).
pub fn registry_with(connectors_dir: Option<&Path>) -> Result<Registry, ConnectorError> {
    let mut registry = builtin_registry();
    if let Some(dir) = connectors_dir {
        for connector in DeclarativeConnector::load_dir(dir)? {
            registry.register(Arc::new(connector));
        }
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse() {
        for (path, text) in BUILTIN_MANIFESTS {
            DeclarativeConnector::from_manifest(path, text).unwrap();
        }
    }

    #[test]
    fn every_manifest_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join("connectors"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("manifest.yaml").is_file())
            .map(|e| format!("connectors/{}/manifest.yaml", e.file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN_MANIFESTS.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "list every connectors/*/manifest.yaml in BUILTIN_MANIFESTS (crates/txlake-sync/src/connectors.rs)"
        );
    }
}
