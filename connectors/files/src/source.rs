//! Where files come from: a local folder, an object store (`s3://`) or one HTTP(S) URL.
//!
//! Everything here is synchronous and meant to run on a blocking thread: object store and
//! HTTP calls are driven with the runtime's [`Handle::block_on`], and their byte streams are
//! wrapped as [`Read`]ers, so every format reader is plain blocking code that reads ahead in
//! large chunks.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use chrono::DateTime;
use futures::StreamExt;
use futures::stream::BoxStream;
use globset::GlobMatcher;
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use serde_json::Value;
use tokio::runtime::Handle;
use url::Url;

/// One file of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The path relative to `url` (`exports/a.csv`), or the URL for an HTTP source.
    pub name: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Modification time, µs since the epoch (the time of the read when the source has none).
    pub modified: i64,
    /// The object's ETag, when the source gives one.
    pub etag: Option<String>,
}

/// The configured source of files.
#[derive(Clone)]
pub enum Location {
    /// A folder on this machine.
    Local(PathBuf),
    /// An object store and the prefix the files live under.
    Store {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The prefix (no trailing slash; empty for the bucket root).
        prefix: StorePath,
    },
    /// One file over HTTP(S).
    Http {
        /// The file's URL.
        url: Url,
        /// Request headers (`options.headers`).
        headers: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "Local({})", p.display()),
            Location::Store { store, prefix } => write!(f, "Store({store}, {prefix})"),
            Location::Http { url, .. } => write!(f, "Http({url})"),
        }
    }
}

fn string_options(options: &BTreeMap<String, Value>) -> Result<Vec<(String, String)>, String> {
    options
        .iter()
        .filter(|(k, _)| k.as_str() != "headers")
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(format!("options.{k} must be a string")),
        })
        .collect()
}

impl Location {
    /// Reads `url` and `options` (no I/O: a local folder's existence is checked when listed).
    pub fn parse(url: &str, options: &BTreeMap<String, Value>) -> Result<Location, String> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
            let headers = match options.get("headers") {
                None => Vec::new(),
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k.clone(), s.clone())),
                        _ => Err(format!("options.headers.{k} must be a string")),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("options.headers must be an object of header names to values".to_string()),
            };
            return Ok(Location::Http { url: parsed, headers });
        }
        if lower.starts_with("file://") {
            let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a valid file:// URL: {e}"))?;
            let path = parsed
                .to_file_path()
                .map_err(|()| format!("{url:?} is not a local path; write file:///absolute/folder"))?;
            return Ok(Location::Local(path));
        }
        if lower.starts_with("s3://") || lower.starts_with("s3a://") {
            let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a valid s3:// URL: {e}"))?;
            let (store, prefix) = object_store::parse_url_opts(&parsed, string_options(options)?)
                .map_err(|e| format!("cannot use {url}: {e}"))?;
            return Ok(Location::Store { store: Arc::from(store), prefix });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!(
                "`{scheme}://` is not supported; use a local folder, file:///…, s3://bucket/prefix or https://…/file"
            ));
        }
        Ok(Location::Local(PathBuf::from(url)))
    }

    /// What the location is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Location::Local(p) => p.display().to_string(),
            Location::Store { store, prefix } => format!("{store}/{prefix}"),
            Location::Http { url, .. } => url.to_string(),
        }
    }

    /// The files whose relative path matches `glob`, in name order. Names starting with `.`
    /// or `~$` (hidden files, Office lock files) are left out.
    pub fn list(&self, handle: &Handle, glob: &GlobMatcher) -> Result<Vec<FileMeta>, String> {
        let mut files = match self {
            Location::Local(root) => list_local(root, glob)?,
            Location::Store { store, prefix } => handle.block_on(async {
                let mut listing = store.list(Some(prefix));
                let mut files = Vec::new();
                while let Some(meta) = listing.next().await {
                    let meta = meta.map_err(|e| format!("cannot list {}: {e}", self.describe()))?;
                    let name = meta
                        .location
                        .prefix_match(prefix)
                        .map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/"))
                        .unwrap_or_else(|| meta.location.to_string());
                    if visible(&name) && glob.is_match(&name) {
                        files.push(FileMeta {
                            name,
                            size: Some(meta.size),
                            modified: meta.last_modified.timestamp_micros(),
                            etag: meta.e_tag.clone(),
                        });
                    }
                }
                Ok::<_, String>(files)
            })?,
            Location::Http { url, headers } => vec![http_head(handle, url, headers)?],
        };
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// The file's bytes from `offset` to its end, as a reader.
    pub fn open(&self, handle: &Handle, file: &FileMeta, offset: u64) -> Result<Box<dyn Read + Send>, String> {
        match self {
            Location::Local(root) => {
                let path = root.join(&file.name);
                let mut f = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                if offset > 0 {
                    f.seek(SeekFrom::Start(offset)).map_err(|e| format!("cannot seek in {}: {e}", path.display()))?;
                }
                Ok(Box::new(f))
            }
            Location::Store { store, prefix } => {
                let path = store_path(prefix, &file.name);
                let options =
                    GetOptions { range: (offset > 0).then_some(GetRange::Offset(offset)), ..Default::default() };
                let result = handle
                    .block_on(store.get_opts(&path, options))
                    .map_err(|e| format!("cannot read {}: {e}", file.name))?;
                Ok(Box::new(BlockingReader::new(handle.clone(), result.into_stream().boxed(), &file.name, 0)))
            }
            Location::Http { url, headers } => {
                let response = http_get(handle, url, headers, offset)?;
                // A server that ignores Range sends the whole file: skip what was read before.
                let skip = if response.status() == reqwest::StatusCode::PARTIAL_CONTENT { 0 } else { offset };
                let stream = response.bytes_stream().map(|r| r.map_err(io::Error::other)).boxed();
                Ok(Box::new(BlockingReader::new(handle.clone(), stream, url.as_str(), skip)))
            }
        }
    }

    /// A whole file, for formats that need random access (XLSX, Parquet): a local file is
    /// opened as it is, a remote one is downloaded into memory.
    pub fn fetch(&self, handle: &Handle, file: &FileMeta) -> Result<Whole, String> {
        match self {
            Location::Local(root) => {
                let path = root.join(&file.name);
                File::open(&path).map(Whole::File).map_err(|e| format!("cannot open {}: {e}", path.display()))
            }
            Location::Store { store, prefix } => {
                let path = store_path(prefix, &file.name);
                let bytes = handle
                    .block_on(async { store.get(&path).await?.bytes().await })
                    .map_err(|e| format!("cannot read {}: {e}", file.name))?;
                Ok(Whole::Bytes(bytes))
            }
            Location::Http { url, headers } => {
                let response = http_get(handle, url, headers, 0)?;
                let bytes = handle.block_on(response.bytes()).map_err(|e| format!("cannot download {url}: {e}"))?;
                Ok(Whole::Bytes(bytes))
            }
        }
    }
}

/// A whole file: open on disk, or in memory.
#[derive(Debug)]
pub enum Whole {
    /// A local file.
    File(File),
    /// Downloaded bytes.
    Bytes(Bytes),
}

fn visible(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    !file.starts_with('.') && !file.starts_with("~$")
}

fn store_path(prefix: &StorePath, name: &str) -> StorePath {
    name.split('/').fold(prefix.clone(), |path, part| path.clone().join(part))
}

fn list_local(root: &FsPath, glob: &GlobMatcher) -> Result<Vec<FileMeta>, String> {
    let meta = std::fs::metadata(root)
        .map_err(|e| format!("cannot read the folder {} that url names: {e}", root.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a folder; url must name the folder the files are in", root.display()));
    }
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, relative)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let name = if relative.is_empty() { file_name.clone() } else { format!("{relative}/{file_name}") };
            if !visible(&name) {
                continue;
            }
            let meta =
                std::fs::metadata(entry.path()).map_err(|e| format!("cannot stat {}: {e}", entry.path().display()))?;
            if meta.is_dir() {
                pending.push((entry.path(), name));
            } else if glob.is_match(&name) {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_micros() as i64)
                    .unwrap_or(0);
                files.push(FileMeta { name, size: Some(meta.len()), modified, etag: None });
            }
        }
    }
    Ok(files)
}

fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("txlake-files/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

fn with_headers(mut request: reqwest::RequestBuilder, headers: &[(String, String)]) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
}

fn http_status_error(url: &Url, status: reqwest::StatusCode) -> String {
    match status.as_u16() {
        401 | 403 => format!("{status} from {url}: check the credentials in options.headers (e.g. Authorization)"),
        404 => format!("{status} from {url}: no file at that URL"),
        _ => format!("{status} from {url}"),
    }
}

fn http_head(handle: &Handle, url: &Url, headers: &[(String, String)]) -> Result<FileMeta, String> {
    let client = http_client()?;
    let response = handle
        .block_on(with_headers(client.head(url.clone()), headers).send())
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    // Some servers refuse HEAD; their GET headers say the same.
    let response = if response.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED {
        handle
            .block_on(with_headers(client.get(url.clone()), headers).send())
            .map_err(|e| format!("cannot reach {url}: {e}"))?
    } else {
        response
    };
    if !response.status().is_success() {
        return Err(http_status_error(url, response.status()));
    }
    let header = |name: reqwest::header::HeaderName| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    };
    let size = header(reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let modified = header(reqwest::header::LAST_MODIFIED)
        .and_then(|v| DateTime::parse_from_rfc2822(&v).ok())
        .map(|t| t.timestamp_micros());
    let etag = header(reqwest::header::ETAG);
    Ok(FileMeta {
        name: url.to_string(),
        size,
        // Without Last-Modified the read time stands in; the file then counts as changed
        // unless its ETag and size say otherwise.
        modified: modified.unwrap_or_else(|| chrono::Utc::now().timestamp_micros()),
        etag: etag.or_else(|| modified.map(|m| format!("last-modified:{m}"))),
    })
}

fn http_get(
    handle: &Handle,
    url: &Url,
    headers: &[(String, String)],
    offset: u64,
) -> Result<reqwest::Response, String> {
    let client = http_client()?;
    let mut request = with_headers(client.get(url.clone()), headers);
    if offset > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let response = handle.block_on(request.send()).map_err(|e| format!("cannot download {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(http_status_error(url, response.status()));
    }
    Ok(response)
}

/// An async byte stream read as a blocking [`Read`] (on a blocking thread only).
struct BlockingReader {
    handle: Handle,
    stream: BoxStream<'static, Result<Bytes, io::Error>>,
    current: Bytes,
    name: String,
    skip: u64,
}

impl BlockingReader {
    fn new<E: Into<io::Error> + 'static>(
        handle: Handle,
        stream: BoxStream<'static, Result<Bytes, E>>,
        name: &str,
        skip: u64,
    ) -> BlockingReader {
        BlockingReader {
            handle,
            stream: stream.map(|r| r.map_err(Into::into)).boxed(),
            current: Bytes::new(),
            name: name.to_string(),
            skip,
        }
    }
}

impl Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.current.is_empty() {
                if self.skip > 0 {
                    let n = self.skip.min(self.current.len() as u64) as usize;
                    let _ = self.current.split_to(n);
                    self.skip -= n as u64;
                    continue;
                }
                let n = buf.len().min(self.current.len());
                buf[..n].copy_from_slice(&self.current.split_to(n));
                return Ok(n);
            }
            match self.handle.block_on(self.stream.next()) {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(io::Error::other(format!("{}: {e}", self.name))),
                None => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> GlobMatcher {
        globset::GlobBuilder::new(pattern).literal_separator(true).build().unwrap().compile_matcher()
    }

    #[test]
    fn locations_parse_by_scheme() {
        let none = BTreeMap::new();
        assert!(
            matches!(Location::parse("/data/exports", &none), Ok(Location::Local(p)) if p == FsPath::new("/data/exports"))
        );
        assert!(
            matches!(Location::parse("file:///data/x", &none), Ok(Location::Local(p)) if p == FsPath::new("/data/x"))
        );
        assert!(matches!(Location::parse("https://h/x.csv", &none), Ok(Location::Http { .. })));
        assert!(Location::parse("ftp://h/x", &none).unwrap_err().contains("not supported"));
        let mut options = BTreeMap::new();
        options.insert("aws_region".to_string(), Value::String("us-east-1".into()));
        assert!(matches!(Location::parse("s3://bucket/prefix", &options), Ok(Location::Store { .. })));
    }

    #[test]
    fn local_listing_globs_relative_paths_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("exports/2025")).unwrap();
        for name in ["b.csv", "a.csv", "c.xlsx", ".hidden.csv", "~$lock.xlsx", "exports/x.csv", "exports/2025/y.csv"] {
            std::fs::write(dir.path().join(name), "a\n1\n").unwrap();
        }
        let location = Location::Local(dir.path().to_path_buf());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let names = |pattern: &str| -> Vec<String> {
            location.list(runtime.handle(), &glob(pattern)).unwrap().into_iter().map(|f| f.name).collect()
        };
        assert_eq!(names("*.csv"), ["a.csv", "b.csv"]);
        assert_eq!(names("*"), ["a.csv", "b.csv", "c.xlsx"]);
        assert_eq!(names("exports/**/*.csv"), ["exports/2025/y.csv", "exports/x.csv"]);
        assert_eq!(names("**/*.xlsx"), ["c.xlsx"]);
        let missing = Location::Local(dir.path().join("nope"));
        assert!(missing.list(runtime.handle(), &glob("*")).unwrap_err().contains("cannot read the folder"));
    }
}
