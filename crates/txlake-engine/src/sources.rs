//! The SQL files the engine loads: canonical views (`sql/model/<view>.sql`), connector
//! mappings onto them (`connectors/<connector>/models/<view>.sql`) and metrics
//! (`sql/metrics/<name>.sql`). Built-in files are embedded at compile time.

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_sql.rs"));
}

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
