//! An entity set read: the options folded into a DataFusion plan over the set's rows, one page
//! of at most the page size pulled from its stream, encoded as OData JSON with
//! `@odata.context`, `@odata.count` (if asked) and `@odata.nextLink` (if more rows follow).
//! A page is held in memory as Arrow batches while it is encoded; the rest of the result stays
//! in the open cursor, so memory is bounded by the page size whatever the table.

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::common::Column;
use datafusion::logical_expr::SortExpr;
use datafusion::prelude::{DataFrame, Expr};
use futures::StreamExt as _;

use super::apply::parse_apply;
use super::error::ODataError;
use super::filter::parse_filter;
use super::model::EntitySet;
use super::options::QueryOptions;
use super::paging::{Cursor, SkipToken, fingerprint};
use super::{JSON, root_url, with_headers};
use crate::api::engine_error;
use crate::state::AppState;

/// Pages at most this large, whatever a client prefers.
pub const MAX_PAGE: usize = 50_000;

/// The plan of a read, before paging.
struct Planned {
    frame: DataFrame,
    counted: DataFrame,
    /// Identifies the read (set and options), for its skip tokens.
    read: String,
    context: String,
}

async fn plan(state: &AppState, name: &str, options: &QueryOptions, root: &str) -> Result<Planned, ODataError> {
    let engine = state.engine();
    let model = state.feed.model(&engine).await?;
    let set = model.set(name)?;
    let mut frame = match &options.apply {
        None => set.frame(&engine).await?,
        Some(text) => set.applied_frame(&engine, &parse_apply(text)?).await?,
    };
    // After `$apply` the rows are its result, whose columns are what the options may name.
    let columns: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
    if let Some(text) = &options.filter {
        let schema = frame.schema().as_arrow().clone();
        let expr = parse_filter(text, &schema).map_err(|e| {
            if let Some(what) = e.message.strip_prefix("not supported: ") {
                ODataError::not_implemented(
                    "$filter",
                    format!("$filter at position {}: {what} is not implemented", e.position),
                )
            } else {
                ODataError::bad_option("$filter", e.to_string())
            }
        })?;
        frame = frame.filter(expr).map_err(query_error)?;
    }
    let counted = frame.clone();
    if !options.orderby.is_empty() {
        let mut sort: Vec<SortExpr> = Vec::new();
        for item in &options.orderby {
            known(set, &columns, "$orderby", &item.property)?;
            sort.push(column(&item.property).sort(!item.descending, item.descending));
        }
        // The key breaks ties, so pages of an ordered read never overlap.
        let keys = set.key.iter().filter(|k| columns.contains(k));
        for key in keys.filter(|k| !options.orderby.iter().any(|o| &o.property == *k)) {
            sort.push(column(key).sort(true, false));
        }
        frame = frame.sort(sort).map_err(query_error)?;
    }
    let mut context = format!("{root}/$metadata#{name}");
    if let Some(select) = options.select.as_ref().filter(|s| !s.is_empty()) {
        for property in select {
            known(set, &columns, "$select", property)?;
        }
        let columns: Vec<Expr> = select.iter().map(|p| column(p)).collect();
        frame = frame.select(columns).map_err(query_error)?;
        context = format!("{context}({})", select.join(","));
    }
    let read = fingerprint(&format!(
        "{name}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        options.apply, options.select, options.filter, options.orderby, options.top, options.skip
    ));
    Ok(Planned { frame, counted, read, context })
}

fn known(set: &EntitySet, columns: &[String], option: &str, property: &str) -> Result<(), ODataError> {
    if columns.iter().any(|c| c == property) {
        return Ok(());
    }
    Err(ODataError::bad_option(
        option,
        format!(
            "`{option}`: entity set `{}` has no property `{property}`; properties: {}",
            set.name,
            columns.join(", ")
        ),
    ))
}

/// A DataFusion failure while planning or running a read, as the client should see it.
fn query_error(error: datafusion::error::DataFusionError) -> ODataError {
    engine_error(error.into()).into()
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// The lake version as a token carries it.
async fn version(state: &AppState) -> Result<String, ODataError> {
    Ok(fingerprint(&format!("{:?}", state.lake_version().await?)))
}

/// The page size: the server's, or less if the client prefers (`Prefer: odata.maxpagesize=N`).
fn page_size(state: &AppState, headers: &HeaderMap) -> (usize, bool) {
    let server = state.config.server.odata_page_size;
    let preferred = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .find_map(|n| n.trim().parse::<usize>().ok());
    match preferred {
        Some(n) if n >= 1 && n < server => (n, true),
        _ => (server, false),
    }
}

/// `GET /odata/{set}`: one page.
pub async fn page(
    state: &AppState,
    name: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, ODataError> {
    let options = QueryOptions::parse(query)?;
    let root = root_url(headers);
    let planned = plan(state, name, &options, &root).await?;
    let version = version(state).await?;
    let (size, preferred) = page_size(state, headers);

    let token = match &options.skiptoken {
        None => None,
        Some(text) => {
            let token = SkipToken::decode(text).filter(|t| t.read == planned.read).ok_or_else(|| {
                ODataError::bad_option(
                    "$skiptoken",
                    "`$skiptoken` is not one this feed gave for this read; follow @odata.nextLink as given",
                )
            })?;
            if token.version != version {
                return Err(ODataError {
                    status: StatusCode::GONE,
                    code: "lake_changed",
                    message: "the lake changed (a sync committed) since the first page of this read; read it again from the first page (refresh)".into(),
                    target: Some("$skiptoken".into()),
                });
            }
            Some(token)
        }
    };
    let offset = token.as_ref().map_or(0, |t| t.offset);
    let count = if options.count { Some(planned.counted.clone().count().await.map_err(query_error)?) } else { None };

    let remaining = options.top.map(|top| top.saturating_sub(offset));
    let want = remaining.map_or(size, |r| (r as usize).min(size));
    let continued = token.as_ref().and_then(|t| state.feed.cursors.take(t));
    let (mut stream, pending) = match continued {
        Some(cursor) => (cursor.stream, cursor.pending),
        None => {
            let skip = options.skip.saturating_add(offset) as usize;
            let frame = planned.frame.clone().limit(skip, remaining.map(|r| r as usize)).map_err(query_error)?;
            (frame.execute_stream().await.map_err(query_error)?, None)
        }
    };
    let schema = stream.schema();
    let mut rows: Vec<RecordBatch> = Vec::new();
    let mut taken = 0usize;
    // Rows up to the page size; the first row past it, if any, stays for the next page.
    let mut next = pending;
    loop {
        let batch = match next.take() {
            Some(batch) => batch,
            None => match stream.next().await {
                Some(batch) => batch.map_err(query_error)?,
                None => break,
            },
        };
        if batch.num_rows() == 0 {
            continue;
        }
        if taken == want {
            next = Some(batch);
            break;
        }
        let fits = (want - taken).min(batch.num_rows());
        rows.push(batch.slice(0, fits));
        taken += fits;
        if fits < batch.num_rows() {
            next = Some(batch.slice(fits, batch.num_rows() - fits));
            break;
        }
    }
    let next_link = match next {
        Some(pending) => {
            let token = SkipToken {
                read: planned.read.clone(),
                version: version.clone(),
                offset: offset + taken as u64,
                cursor: rand::random::<u64>() >> 1,
            };
            let link = next_link(&root, name, &options, &token);
            state.feed.cursors.put(Cursor::new(token, stream, Some(pending)));
            Some(link)
        }
        None => None,
    };

    let page = concat_batches(&schema, &rows)
        .map_err(|e| ODataError::from(crate::error::ApiError::internal(e.to_string())))?;
    let body = encode(&planned.context, count, &page, next_link.as_deref())?;
    let mut response = with_headers(body.into_response(), JSON);
    if preferred {
        response.headers_mut().insert(
            "Preference-Applied",
            HeaderValue::from_str(&format!("odata.maxpagesize={size}")).expect("a number is a valid header"),
        );
    }
    Ok(response)
}

/// `GET /odata/{set}/$count`: the rows matching `$filter`.
pub async fn count(state: &AppState, name: &str, query: Option<&str>) -> Result<usize, ODataError> {
    let options = QueryOptions::parse(query)?;
    let planned = plan(state, name, &options, "").await?;
    planned.counted.count().await.map_err(query_error)
}

fn next_link(root: &str, name: &str, options: &QueryOptions, token: &SkipToken) -> String {
    let token = token.encode();
    let pairs = options.kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain([("$skiptoken", token.as_str())]);
    let query: Vec<String> = pairs
        .map(|(key, value)| {
            let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            // `$select`, not `%24select`: the link stays readable; `$` is allowed in a query.
            let key = encode(key);
            let key = key.strip_prefix("%24").map_or(key.clone(), |rest| format!("${rest}"));
            format!("{key}={}", encode(value))
        })
        .collect();
    format!("{root}/{name}?{}", query.join("&"))
}

/// The page as OData JSON.
fn encode(
    context: &str,
    count: Option<usize>,
    page: &RecordBatch,
    next_link: Option<&str>,
) -> Result<Vec<u8>, ODataError> {
    let mut out = Vec::with_capacity(page.get_array_memory_size() + 256);
    out.extend_from_slice(b"{\"@odata.context\":");
    out.extend_from_slice(serde_json::to_string(context).expect("a string serializes").as_bytes());
    if let Some(count) = count {
        out.extend_from_slice(format!(",\"@odata.count\":{count}").as_bytes());
    }
    out.extend_from_slice(b",\"value\":");
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(&mut out);
    let internal = |e: arrow::error::ArrowError| {
        ODataError::from(crate::error::ApiError::internal(format!("cannot encode the page: {e}")))
    };
    writer.write(page).map_err(internal)?;
    writer.finish().map_err(internal)?;
    drop(writer);
    if let Some(link) = next_link {
        out.extend_from_slice(b",\"@odata.nextLink\":");
        out.extend_from_slice(serde_json::to_string(link).expect("a string serializes").as_bytes());
    }
    out.push(b'}');
    Ok(out)
}
