//! Where the lake lives: resolving the configured URL, the storage backends txlake registers
//! with Delta (`file://`, `s3://`, `memory://`), and the layout of tables inside the lake.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
    object_store_factories, store_for,
};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::memory::InMemory;
use object_store::path::Path;
use url::Url;

use crate::error::{LakeError, Result};

/// A raw table of the lake: the stream of one connection, at `raw/<connection>/<stream>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    /// The connection name (a SQL schema name: `demo`).
    pub connection: String,
    /// The stream name (a SQL table name: `tickets`).
    pub stream: String,
}

impl TableId {
    /// The raw table of a connection's stream.
    pub fn new(connection: impl Into<String>, stream: impl Into<String>) -> Self {
        Self { connection: connection.into(), stream: stream.into() }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.connection, self.stream)
    }
}

/// The lake: a root URL on object storage plus the options to reach it.
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
    options: HashMap<String, String>,
}

impl Lake {
    /// Opens the lake at `url`: `file://…` or a plain path (relative paths resolve against
    /// `base_dir`, the folder of the configuration file), `s3://bucket/prefix` (AWS
    /// environment variables or `options` such as `aws_endpoint`, `aws_region`,
    /// `aws_allow_http`), or `memory://name` (in-process, for tests).
    pub fn open(url: &str, base_dir: &FsPath, options: HashMap<String, String>) -> Result<Self> {
        register_storage_backends();
        let root = resolve_url(url, base_dir)?;
        if root.scheme() == "file" {
            let dir = root.to_file_path().map_err(|()| invalid(url, "not a usable local path"))?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| invalid(url, &format!("cannot create folder {}: {e}", dir.display())))?;
        }
        Ok(Self { root, options })
    }

    /// The lake's root URL, always ending in `/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The storage options every table of this lake is opened with.
    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// URL of the raw table of a connection's stream.
    pub fn table_url(&self, id: &TableId) -> Url {
        self.url_of(&format!("raw/{}/{}/", id.connection, id.stream))
    }

    /// URL of a table that txlake keeps for itself (`_txlake/<name>`).
    pub fn internal_table_url(&self, name: &str) -> Url {
        self.url_of(&format!("_txlake/{name}/"))
    }

    fn url_of(&self, relative: &str) -> Url {
        // `root` ends with '/', so joining a relative path never replaces its last segment.
        self.root.join(relative).expect("relative table path joins onto the lake root")
    }

    /// Loads the Delta table at `url`, or `None` when nothing has been committed there yet.
    pub async fn load_table(&self, url: &Url) -> Result<Option<DeltaTable>> {
        if !self.has_delta_log(url).await? {
            return Ok(None);
        }
        let mut table = self.table_builder(url)?.build().map_err(LakeError::delta(url.as_str()))?;
        match table.load().await {
            Ok(()) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(LakeError::delta(url.as_str())(e)),
        }
    }

    /// Whether anything was ever committed at `url` (its `_delta_log/` has an entry).
    async fn has_delta_log(&self, url: &Url) -> Result<bool> {
        let relative = url.as_str().strip_prefix(self.root.as_str()).unwrap_or(url.path());
        let log = Path::from(relative).join("_delta_log");
        let store = self.root_store()?;
        let mut entries = store.list(Some(&log));
        match futures::StreamExt::next(&mut entries).await {
            Some(Ok(_)) => Ok(true),
            Some(Err(object_store::Error::NotFound { .. })) | None => Ok(false),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// An unloaded table handle at `url`, for creating a table.
    pub(crate) fn table_builder(&self, url: &Url) -> Result<DeltaTableBuilder> {
        Ok(DeltaTableBuilder::from_url(url.clone())
            .map_err(LakeError::delta(url.as_str()))?
            .with_storage_options(self.options.clone()))
    }

    /// Every raw table that has at least one commit, sorted by connection and stream.
    pub async fn list_raw_tables(&self) -> Result<Vec<TableId>> {
        let store = self.root_store()?;
        let mut tables = Vec::new();
        let connections = store.list_with_delimiter(Some(&Path::from("raw"))).await?;
        for connection in connections.common_prefixes {
            let Some(connection_name) = connection.filename() else { continue };
            let streams = store.list_with_delimiter(Some(&connection)).await?;
            for stream in streams.common_prefixes {
                let Some(stream_name) = stream.filename() else { continue };
                let log = stream.clone().join("_delta_log");
                let mut entries = store.list(Some(&log));
                if futures::StreamExt::next(&mut entries).await.is_some() {
                    tables.push(TableId::new(connection_name, stream_name));
                }
            }
        }
        tables.sort();
        Ok(tables)
    }

    /// The object store rooted at the lake root.
    pub fn root_store(&self) -> Result<ObjectStoreRef> {
        store_for(&self.root, self.options.iter()).map_err(LakeError::delta(self.root.as_str()))
    }
}

fn invalid(url: &str, reason: &str) -> LakeError {
    LakeError::InvalidUrl { url: url.to_string(), reason: reason.to_string() }
}

/// Turns the configured lake location into an absolute URL ending in `/`.
fn resolve_url(url: &str, base_dir: &FsPath) -> Result<Url> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid(url, "it is empty; use e.g. file://./lake or s3://bucket/prefix"));
    }
    let mut resolved = if let Some(path) = trimmed.strip_prefix("file://") {
        file_url(url, &absolute(base_dir, path))?
    } else if trimmed.contains("://") {
        let parsed = Url::parse(trimmed).map_err(|e| invalid(url, &e.to_string()))?;
        match parsed.scheme() {
            "s3" | "s3a" | "memory" => {}
            other => {
                return Err(invalid(
                    url,
                    &format!("scheme `{other}` is not supported; use file://, s3:// or memory://"),
                ));
            }
        }
        if parsed.scheme() != "memory" && parsed.host_str().unwrap_or("").is_empty() {
            return Err(invalid(url, "it names no bucket; use s3://bucket/prefix"));
        }
        parsed
    } else {
        file_url(url, &absolute(base_dir, trimmed))?
    };
    if !resolved.path().ends_with('/') {
        let path = format!("{}/", resolved.path());
        resolved.set_path(&path);
    }
    Ok(resolved)
}

fn absolute(base_dir: &FsPath, path: &str) -> PathBuf {
    let path = FsPath::new(path);
    let joined = if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) };
    // Normalise `.` and `..` without touching the file system (the folder may not exist yet).
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn file_url(original: &str, path: &FsPath) -> Result<Url> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    Url::from_directory_path(&path).map_err(|()| invalid(original, "not an absolute local path"))
}

/// Registers the `s3://` and `memory://` backends with Delta once per process.
fn register_storage_backends() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for scheme in ["s3://", "s3a://"] {
            let url = Url::parse(scheme).expect("static scheme URL");
            object_store_factories().insert(url.clone(), Arc::new(S3Factory));
            logstore_factories().insert(url, Arc::new(DefaultLogStores));
        }
        let memory = Url::parse("memory://").expect("static scheme URL");
        object_store_factories().insert(memory.clone(), Arc::new(SharedMemoryFactory));
        logstore_factories().insert(memory, Arc::new(DefaultLogStores));
    });
}

/// S3 and S3-compatible stores (MinIO, Ceph, R2) through `object_store`, configured from the
/// AWS environment variables and the lake's options. Commits use S3 conditional writes.
struct S3Factory;

impl ObjectStoreFactory for S3Factory {
    fn parse_url_opts(&self, url: &Url, config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, Path)> {
        let mut bucket_url = url.clone();
        bucket_url.set_path("/");
        let mut builder = AmazonS3Builder::from_env().with_url(bucket_url.as_str());
        for (key, value) in &config.raw {
            let key = key.to_ascii_lowercase();
            let parsed = key.parse().map_err(|_| {
                DeltaTableError::Generic(format!(
                    "unknown S3 option `{key}`; see the object_store AmazonS3ConfigKey names (aws_endpoint, aws_region, aws_access_key_id, …)"
                ))
            })?;
            builder = builder.with_config(parsed, value.clone());
        }
        let store = builder.build().map_err(|e| DeltaTableError::Generic(format!("S3 store for {url}: {e}")))?;
        Ok((Arc::new(store), Path::from(url.path())))
    }
}

/// `memory://name/…`: one in-process store per name, shared by every table handle in the
/// process (Delta's own memory factory makes a new empty store for each handle).
struct SharedMemoryFactory;

impl ObjectStoreFactory for SharedMemoryFactory {
    fn parse_url_opts(&self, url: &Url, _config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, Path)> {
        static STORES: OnceLock<Mutex<HashMap<String, ObjectStoreRef>>> = OnceLock::new();
        let name = url.host_str().unwrap_or_default().to_string();
        let mut stores = STORES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        let store = stores.entry(name).or_insert_with(|| Arc::new(InMemory::new()) as Arc<dyn ObjectStore>).clone();
        Ok((store, Path::from(url.path())))
    }
}

struct DefaultLogStores;

impl LogStoreFactory for DefaultLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_file_urls_resolve_against_the_config_folder() {
        let url = resolve_url("file://./lake", FsPath::new("/srv/tx")).unwrap();
        assert_eq!(url.as_str(), "file:///srv/tx/lake/");
        let url = resolve_url("data/../lake", FsPath::new("/srv/tx")).unwrap();
        assert_eq!(url.as_str(), "file:///srv/tx/lake/");
        let url = resolve_url("file:///abs/lake", FsPath::new("/srv/tx")).unwrap();
        assert_eq!(url.as_str(), "file:///abs/lake/");
    }

    #[test]
    fn cloud_urls_keep_their_prefix() {
        let url = resolve_url("s3://bucket/tx", FsPath::new("/")).unwrap();
        assert_eq!(url.as_str(), "s3://bucket/tx/");
    }

    #[test]
    fn bad_urls_say_what_is_accepted() {
        let err = resolve_url("ftp://host/x", FsPath::new("/")).unwrap_err().to_string();
        assert!(err.contains("file://, s3:// or memory://"), "{err}");
        let err = resolve_url("s3:///nobucket", FsPath::new("/")).unwrap_err().to_string();
        assert!(err.contains("bucket"), "{err}");
        assert!(resolve_url("  ", FsPath::new("/")).is_err());
    }

    #[test]
    fn table_urls_follow_the_layout() {
        let lake = Lake::open("memory://layout", FsPath::new("/"), HashMap::new()).unwrap();
        assert_eq!(lake.table_url(&TableId::new("demo", "tickets")).as_str(), "memory://layout/raw/demo/tickets/");
        assert_eq!(lake.internal_table_url("sync_runs").as_str(), "memory://layout/_txlake/sync_runs/");
    }
}
