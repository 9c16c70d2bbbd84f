//! The connectors built into txlake: the Rust ones, the declarative manifests under
//! `connectors/<name>/manifest.yaml` (embedded in the binary), and any manifests found in a
//! connectors folder given at run time (`--connectors-dir`, config `connectors_dir`).

use std::path::Path;
use std::sync::Arc;

use txlake_connector::airbyte_manifest;
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
    registry.register_scheme(airbyte_manifest::SCHEME, Arc::new(airbyte_manifest::ManifestResolver::default()));
    for (path, text) in BUILTIN_MANIFESTS {
        // A broken built-in manifest is a build defect that `builtin_manifests_parse` catches.
        match builtin_connector(path, text) {
            Ok(connector) => {
                registry.register(Arc::new(connector));
            }
            Err(e) => tracing::error!("{e}"),
        }
    }
    registry
}

/// One embedded manifest's connector: ours, or an Airbyte manifest named after its folder.
fn builtin_connector(path: &str, text: &str) -> Result<DeclarativeConnector, ConnectorError> {
    if airbyte_manifest::is_airbyte_manifest(text) {
        let name = Path::new(path).parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().to_string());
        airbyte_manifest::connector(path, name.as_deref().unwrap_or_default(), text, None)
    } else {
        DeclarativeConnector::from_manifest(path, text)
    }
}

/// The built-in registry plus the manifests of `connectors_dir` (which replace built-in
/// connectors of the same name). A `DIR/<name>/manifest.yaml` whose top level says `type:
/// DeclarativeSource` is an Airbyte manifest, translated and named `<name>`.
pub fn registry_with(connectors_dir: Option<&Path>) -> Result<Registry, ConnectorError> {
    let mut registry = builtin_registry();
    if let Some(dir) = connectors_dir {
        for connector in load_dir(dir)? {
            registry.register(Arc::new(connector));
        }
    }
    Ok(registry)
}

/// `<dir>/*/manifest.yaml`, ours or Airbyte's, one connector per folder.
fn load_dir(dir: &Path) -> Result<Vec<DeclarativeConnector>, ConnectorError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConnectorError::Manifest {
        origin: dir.display().to_string(),
        message: format!("cannot read the connectors folder: {e}"),
    })?;
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path().join("manifest.yaml")).filter(|p| p.is_file()).collect();
    paths.sort();
    let mut connectors = Vec::new();
    for path in paths {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConnectorError::Manifest { origin: origin.clone(), message: e.to_string() })?;
        let folder = path.parent().unwrap_or(dir);
        connectors.push(if airbyte_manifest::is_airbyte_manifest(&text) {
            let name = folder.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            airbyte_manifest::connector(&origin, &name, &text, Some(folder))?
        } else {
            DeclarativeConnector::from_manifest(&origin, &text)?
        });
    }
    Ok(connectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse() {
        for (path, text) in BUILTIN_MANIFESTS {
            builtin_connector(path, text).unwrap();
        }
    }

    #[test]
    fn a_connectors_dir_loads_airbyte_manifests_by_folder_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("acme/schemas")).unwrap();
        std::fs::write(
            dir.join("acme/manifest.yaml"),
            r#"
version: 6.0.0
type: DeclarativeSource
check: { type: CheckStream, stream_names: [users] }
streams:
  - type: DeclarativeStream
    name: users
    primary_key: id
    schema_loader: { type: JsonFileSchemaLoader }
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: https://api.acme.com
        path: /users
        authenticator: { type: BearerAuthenticator, api_token: "{{ config['token'] }}" }
      record_selector: { type: RecordSelector, extractor: { type: DpathExtractor, field_path: [users] } }
spec:
  type: Spec
  connection_specification:
    type: object
    required: [token]
    properties: { token: { type: string, airbyte_secret: true } }
"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("acme/schemas/users.json"),
            r#"{"type": "object", "properties": {"id": {"type": "integer"}, "email": {"type": ["null", "string"]}}}"#,
        )
        .unwrap();
        let registry = registry_with(Some(&dir)).unwrap();
        let connector = registry.get("acme").unwrap();
        let spec = connector.spec();
        assert_eq!(spec.config_schema["properties"]["token"]["x-secret"], true);
        let err = spec.validate("acme", &serde_json::json!({})).unwrap_err().to_string();
        assert!(err.contains("token"), "the Airbyte spec validates the config: {err}");
        let path = dir.join("acme/manifest.yaml");
        let by_scheme =
            futures::executor::block_on(registry.resolve(&format!("airbyte-manifest:{}", path.display()))).unwrap();
        assert_eq!(by_scheme.name(), "acme");
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
