//! The TX console and the API reference: the web pages under the repository's `console/`
//! folder, embedded in the binary so that `txlake serve` needs no files beside it and no
//! internet access (every script, style and chart library is vendored, see
//! `console/vendor/README.md`).
//!
//! `/` serves the console's shell (`console/index.html`), `/console/<path>` its files, `/docs`
//! the API reference page. Files are static and carry no data, so they need no key: the pages
//! fetch everything from the API with the key the user entered. Each answer carries a strong
//! ETag (a `304` when the browser already has the file) and is gzip-compressed when the client
//! accepts it, compressed once on first request (a large file on a thread of its own, served
//! uncompressed until that is done).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The metrics the console's first page (the Scorecard) asks for: after a start or a sync the
/// server computes their views before the others, so the page that opens first is ready first.
pub const LANDING_METRICS: &[&str] = &["tx_scorecard"];

/// One embedded file: its path under `console/` and its bytes.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

/// Embeds `console/<path>`.
///
/// The list is explicit (a build script scanning folders was fooled by two checkouts sharing
/// one target directory, see txlake-engine's `embedded.rs`); `every_console_file_is_embedded`
/// fails when a file is missing here.
macro_rules! embed {
    ($path:literal) => {
        Asset { path: $path, bytes: include_bytes!(concat!("../../../console/", $path)) }
    };
}

/// Every file the console and the API reference serve.
static ASSETS: &[Asset] = &[
    embed!("index.html"),
    embed!("app.js"),
    embed!("style.css"),
    embed!("favicon.svg"),
    embed!("lib/api.js"),
    embed!("lib/charts.js"),
    embed!("lib/dom.js"),
    embed!("pages/scorecard.js"),
    embed!("pages/trends.js"),
    embed!("pages/connections.js"),
    embed!("pages/journey.js"),
    embed!("pages/cx_ex.js"),
    embed!("vendor/uplot/uPlot.iife.min.js"),
    embed!("vendor/uplot/uPlot.min.css"),
    embed!("vendor/uplot/LICENSE"),
    embed!("docs.html"),
    embed!("docs.js"),
    embed!("vendor/scalar/standalone.js"),
    embed!("vendor/scalar/LICENSE"),
];

/// Files under `console/` that are not served: the npm pins of the vendored files and their
/// notes.
#[cfg(test)]
const NOT_SERVED: &[&str] = &["package.json", "package-lock.json", "vendor/README.md", "vendor/update.sh"];

/// What is computed once per file: its ETag and gzip form.
struct Prepared {
    etag: HeaderValue,
    gzip: Option<Vec<u8>>,
}

/// Files larger than this (the API reference's renderer, ~5 MB) are prepared on a thread of
/// their own, and served as they are until that is done: compressing them takes seconds in a
/// debug build, which no request should wait for. Smaller files take milliseconds, inline.
const PREPARE_INLINE_MAX: usize = 512 * 1024;

fn cells() -> &'static [OnceLock<Prepared>] {
    static CELLS: OnceLock<Vec<OnceLock<Prepared>>> = OnceLock::new();
    CELLS.get_or_init(|| ASSETS.iter().map(|_| OnceLock::new()).collect())
}

fn prepare(index: usize) -> Prepared {
    let bytes = ASSETS[index].bytes;
    let digest = Sha256::digest(bytes);
    let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
        .expect("a hex string is a valid header value");
    Prepared { etag, gzip: compress(bytes) }
}

/// The prepared form of a file, waiting for it however long it takes.
fn prepared_now(index: usize) -> &'static Prepared {
    cells()[index].get_or_init(|| prepare(index))
}

/// The prepared form of a file, or `None` while a large one is still being prepared (in the
/// background, started by the first request for it).
fn prepared(index: usize) -> Option<&'static Prepared> {
    let cell = &cells()[index];
    if let Some(ready) = cell.get() {
        return Some(ready);
    }
    if ASSETS[index].bytes.len() <= PREPARE_INLINE_MAX {
        return Some(prepared_now(index));
    }
    static STARTED: OnceLock<Vec<AtomicBool>> = OnceLock::new();
    let started = STARTED.get_or_init(|| ASSETS.iter().map(|_| AtomicBool::new(false)).collect());
    if !started[index].swap(true, Ordering::AcqRel) {
        std::thread::spawn(move || {
            prepared_now(index);
        });
    }
    None
}

/// The gzip form of `bytes`, when compressing saves anything worth a header.
fn compress(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    let gzip = encoder.finish().ok()?;
    (gzip.len() + 64 < bytes.len()).then_some(gzip)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// The answer for `console/<path>`, or `None` if no such file is embedded.
fn serve(path: &str, request: &HeaderMap) -> Option<Response> {
    let index = ASSETS.iter().position(|asset| asset.path == path)?;
    let asset = &ASSETS[index];
    let mut headers = HeaderMap::new();
    // Revalidated on every load (a 304 costs one round trip on loopback), so an upgraded
    // binary is never hidden behind a cached script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(asset.path)));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let Some(prepared) = prepared(index) else {
        return Some((headers, asset.bytes).into_response());
    };
    headers.insert(header::ETAG, prepared.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if request.get(header::IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == prepared.etag.as_bytes()) {
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::X_CONTENT_TYPE_OPTIONS);
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    match &prepared.gzip {
        Some(gzip) if accepts_gzip(request) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Some((headers, gzip.as_slice()).into_response())
        }
        _ => Some((headers, asset.bytes).into_response()),
    }
}

fn accepts_gzip(request: &HeaderMap) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused =
                parts.any(|p| matches!(p.trim().replace(' ', "").as_str(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

/// `GET /`: the console.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers).expect("index.html is embedded")
}

/// `GET /docs`: the API reference (`console/docs.html`), Scalar rendering `/openapi.json`.
pub async fn docs(headers: HeaderMap) -> Response {
    serve("docs.html", &headers).expect("docs.html is embedded")
}

/// `GET /console/{*path}`: a file of the console.
pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match serve(&path, &headers) {
        Some(response) => response,
        None => ApiError::not_found("not_found", format!("the console has no file {path}")).into_response(),
    }
}

/// Total bytes of the embedded files, raw and as served gzip-compressed, for the files whose
/// path starts with `prefix` (`""` for all). Used by `txlake bench console`.
pub fn asset_sizes(prefix: &str) -> (usize, usize) {
    ASSETS.iter().enumerate().filter(|(_, a)| a.path.starts_with(prefix)).fold((0, 0), |(raw, gz), (i, a)| {
        let served = prepared_now(i).gzip.as_ref().map_or(a.bytes.len(), Vec::len);
        (raw + a.bytes.len(), gz + served)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            if path.is_dir() {
                files_under(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_console_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        let missing: Vec<&String> = on_disk
            .iter()
            .filter(|p| !NOT_SERVED.contains(&p.as_str()) && !ASSETS.iter().any(|a| a.path == p.as_str()))
            .collect();
        assert!(missing.is_empty(), "console files not in the embed list of console.rs: {missing:?}");
        for asset in ASSETS {
            assert!(on_disk.iter().any(|p| p == asset.path), "{} is embedded but not in console/", asset.path);
        }
    }

    #[test]
    fn a_file_is_served_compressed_with_an_etag_and_revalidated() {
        let mut request = HeaderMap::new();
        request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br"));
        let response = serve("vendor/uplot/uPlot.iife.min.js", &request).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let etag = response.headers()[header::ETAG].clone();

        let plain = serve("vendor/uplot/uPlot.iife.min.js", &HeaderMap::new()).unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::ETAG], etag);

        request.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("vendor/uplot/uPlot.iife.min.js", &request).unwrap().status(), StatusCode::NOT_MODIFIED);
        assert!(serve("nope.js", &HeaderMap::new()).is_none());
    }

    #[test]
    fn a_large_file_is_served_as_it_is_until_its_gzip_form_is_ready() {
        let path = "vendor/scalar/standalone.js";
        let index = ASSETS.iter().position(|a| a.path == path).unwrap();
        assert!(ASSETS[index].bytes.len() > PREPARE_INLINE_MAX, "the test needs a file prepared in the background");
        let mut request = HeaderMap::new();
        request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let first = serve(path, &request).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        if first.headers().get(header::CONTENT_ENCODING).is_none() {
            // Not ready yet: the bytes as they are, and no ETag to revalidate against.
            assert!(first.headers().get(header::ETAG).is_none());
        }
        prepared_now(index);
        let later = serve(path, &request).unwrap();
        assert_eq!(later.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(later.headers().get(header::ETAG).is_some());
    }

    #[test]
    fn gzip_refused_with_q_zero_is_not_used() {
        let mut request = HeaderMap::new();
        request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, identity"));
        assert!(!accepts_gzip(&request));
        request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, GZIP;q=0.5"));
        assert!(accepts_gzip(&request));
    }

    #[test]
    fn the_gzip_form_decompresses_to_the_file() {
        use std::io::Read;
        let index = ASSETS.iter().position(|a| a.path == "index.html").unwrap();
        if let Some(gzip) = &prepared_now(index).gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(gzip.as_slice()).read_to_end(&mut out).unwrap();
            assert_eq!(out, ASSETS[index].bytes);
        }
        let (raw, gzip) = asset_sizes("");
        assert!(gzip < raw && raw > 0);
    }
}
