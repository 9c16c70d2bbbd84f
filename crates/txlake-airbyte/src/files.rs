//! The JSON files a verb is given (`--config`, `--catalog`, `--state`), in a private
//! temporary folder that lives as long as the process and is removed after it.

use std::path::PathBuf;

use serde_json::Value;
use tempfile::TempDir;
use txlake_connector::ConnectorError;

/// A private temporary folder (mode 0700: the config holds secrets).
#[derive(Debug)]
pub struct ProtocolFiles {
    dir: TempDir,
}

impl ProtocolFiles {
    /// A new folder under the system temporary directory (`TMPDIR`).
    pub fn new() -> Result<Self, ConnectorError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("txlake-airbyte-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = builder
            .tempdir()
            .map_err(|e| ConnectorError::Internal(format!("cannot create a temporary folder for the source: {e}")))?;
        Ok(Self { dir })
    }

    /// Writes `value` to `<folder>/<name>` and returns the path.
    pub fn write(&self, name: &str, value: &Value) -> Result<PathBuf, ConnectorError> {
        let path = self.dir.path().join(name);
        let text = serde_json::to_vec(value).map_err(|e| ConnectorError::Internal(format!("{name}: {e}")))?;
        std::fs::write(&path, text)
            .map_err(|e| ConnectorError::Internal(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn files_are_written_and_removed_with_the_folder() {
        let files = ProtocolFiles::new().unwrap();
        let path = files.write("config.json", &json!({"token": "s3cret"})).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"token":"s3cret"}"#);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the folder");
        }
        drop(files);
        assert!(!path.exists());
    }
}
