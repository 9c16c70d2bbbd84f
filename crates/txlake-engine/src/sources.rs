//! The SQL files the engine loads: canonical views (`sql/model/<view>.sql`), connector
//! mappings onto them (`connectors/<connector>/models/<view>.sql`), the mappings driven by
//! settings (`sql/mappings/<view>.sql`), shared helper views
//! (`sql/views/<name>.sql`) and metrics (`sql/metrics/<name>.sql`). Built-in files are embedded at compile time.

use crate::embedded;

/// One SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    /// Path from the repository root (`sql/metrics/nps.sql`), used in every error.
    pub path: String,
    /// Its text.
    pub text: String,
}

impl SqlFile {
    /// The file name without `.sql`.
    pub fn stem(&self) -> &str {
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        name.strip_suffix(".sql").unwrap_or(name)
    }
}

/// A set of SQL files, by path.
#[derive(Debug, Clone, Default)]
pub struct SqlSources {
    files: Vec<SqlFile>,
}

impl SqlSources {
    /// The files shipped with txlake.
    pub fn builtin() -> Self {
        Self::from_files(
            embedded::EMBEDDED_SQL
                .iter()
                .map(|(path, text)| SqlFile { path: path.to_string(), text: text.to_string() }),
        )
    }

    /// A set built from files (tests use this for fixtures).
    pub fn from_files(files: impl IntoIterator<Item = SqlFile>) -> Self {
        let mut files: Vec<SqlFile> = files.into_iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Self { files }
    }

    /// Adds the models of a connectors folder (`<dir>/<name>/models/*.sql`), as if they were
    /// `connectors/<name>/models/*.sql`; they replace built-in files of the same path.
    pub fn add_connectors_dir(&mut self, dir: &std::path::Path) -> std::io::Result<()> {
        let mut connectors: Vec<_> = std::fs::read_dir(dir)?.flatten().filter(|e| e.path().is_dir()).collect();
        connectors.sort_by_key(|e| e.file_name());
        for connector in connectors {
            let Ok(models) = std::fs::read_dir(connector.path().join("models")) else { continue };
            let mut files: Vec<_> =
                models.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file)?;
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let path = format!("connectors/{}/models/{name}", connector.file_name().to_string_lossy());
                self.insert(SqlFile { path, text });
            }
        }
        Ok(())
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, file: SqlFile) {
        self.files.retain(|f| f.path != file.path);
        self.files.push(file);
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// Canonical view definitions, `sql/model/<view>.sql`.
    pub fn canonical_views(&self) -> impl Iterator<Item = &SqlFile> {
        self.files.iter().filter(|f| in_folder(&f.path, "sql/model"))
    }

    /// A connector's mappings onto the canonical views, `connectors/<connector>/models/<view>.sql`.
    pub fn connector_models(&self, connector: &str) -> impl Iterator<Item = &SqlFile> {
        let folder = format!("connectors/{connector}/models");
        self.files.iter().filter(move |f| in_folder(&f.path, &folder))
    }

    /// The mapping that adds rows to a canonical view from the connections' mapping settings
    /// (`sql/mappings/<view>.sql`: `surveys` from `tx.survey_answers` and `tx.survey_mapping`).
    pub fn mapping(&self, view: &str) -> Option<&SqlFile> {
        self.files.iter().find(|f| in_folder(&f.path, "sql/mappings") && f.stem() == view)
    }

    /// Shared helper views over the canonical model, `sql/views/<name>.sql` (each a
    /// `CREATE VIEW tx.<name> AS …`), created before the metrics that use them.
    pub fn views(&self) -> impl Iterator<Item = &SqlFile> {
        self.files.iter().filter(|f| in_folder(&f.path, "sql/views"))
    }

    /// Metric definitions, `sql/metrics/<name>.sql`.
    pub fn metrics(&self) -> impl Iterator<Item = &SqlFile> {
        self.files.iter().filter(|f| in_folder(&f.path, "sql/metrics"))
    }

    /// A file by path.
    pub fn get(&self, path: &str) -> Option<&SqlFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

fn in_folder(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder).and_then(|rest| rest.strip_prefix('/')).is_some_and(|name| !name.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.sql` file under `sql/` and `connectors/*/models/` must be in `embedded.rs`.
    #[test]
    fn every_sql_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if path.extension().is_some_and(|e| e == "sql") {
                    out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk = Vec::new();
        walk(&root.join("sql"), &root, &mut on_disk);
        for connector in std::fs::read_dir(root.join("connectors")).unwrap().flatten() {
            walk(&connector.path().join("models"), &root, &mut on_disk);
        }
        on_disk.sort();
        let embedded: Vec<String> = embedded::EMBEDDED_SQL.iter().map(|(p, _)| p.to_string()).collect();
        let missing: Vec<&String> = on_disk.iter().filter(|p| !embedded.contains(p)).collect();
        assert!(missing.is_empty(), "add these to crates/txlake-engine/src/embedded.rs: {missing:?}");
        let stale: Vec<&String> = embedded.iter().filter(|p| !on_disk.contains(p)).collect();
        assert!(stale.is_empty(), "remove these from crates/txlake-engine/src/embedded.rs: {stale:?}");
    }

    #[test]
    fn builtin_files_are_embedded_and_sorted_by_role() {
        let sources = SqlSources::builtin();
        assert!(sources.get("sql/model/customers.sql").is_some());
        assert!(sources.get("connectors/sample/models/customers.sql").is_some());
        let file = SqlFile { path: "sql/metrics/nps.sql".into(), text: String::new() };
        assert_eq!(file.stem(), "nps");
        let sources = SqlSources::from_files([
            SqlFile { path: "sql/model/customers.sql".into(), text: "a".into() },
            SqlFile { path: "connectors/sample/models/customers.sql".into(), text: "b".into() },
            SqlFile { path: "sql/metrics/nps.sql".into(), text: "c".into() },
        ]);
        assert_eq!(sources.canonical_views().count(), 1);
        assert_eq!(sources.connector_models("sample").count(), 1);
        assert_eq!(sources.connector_models("hubspot").count(), 0);
        assert_eq!(sources.metrics().count(), 1);
    }
}
