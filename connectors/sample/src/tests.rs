//! End-to-end tests of the connector through its public API: spec and errors, determinism,
//! the state contract (incremental continuation and resumption from any checkpoint), and the
//! planted effects measured in the generated records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::StreamExt;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, Message, ReadRequest, StateMap, StreamMode,
};

use crate::{SampleConnector, StreamKind, catalog};

const DAY_US: i64 = 86_400_000_000;
/// 2025-01-01T00:00:00Z.
const START_US: i64 = 1_735_689_600_000_000;

/// The small world most tests use.
fn small() -> Value {
    json!({"customers": 300, "employees": 30, "days": 120, "seed": 7})
}

fn with(mut config: Value, key: &str, value: Value) -> Value {
    config[key] = value;
    config
}

/// A request for every stream in its default mode.
fn request(config: Value, state: StateMap) -> ReadRequest {
    let streams = catalog()
        .streams
        .into_iter()
        .map(|stream| {
            let mode = stream.default_mode;
            ConfiguredStream { stream, mode }
        })
        .collect();
    ReadRequest { config, catalog: ConfiguredCatalog { streams }, state }
}

/// A request for the named streams in the given modes.
fn request_for(config: Value, streams: &[(&str, StreamMode)], state: StateMap) -> ReadRequest {
    let catalog = catalog();
    let streams = streams
        .iter()
        .map(|(name, mode)| ConfiguredStream {
            stream: catalog.stream(name).cloned().unwrap_or_else(|| {
                let mut s = catalog.streams[0].clone();
                s.name = name.to_string();
                s
            }),
            mode: *mode,
        })
        .collect();
    ReadRequest { config, catalog: ConfiguredCatalog { streams }, state }
}

/// Every message of a read, in order (on the current thread).
fn read_all(request: &ReadRequest) -> Vec<Message> {
    let mut messages = Vec::new();
    SampleConnector
        .read_blocking(request, |m| {
            messages.push(m);
            true
        })
        .unwrap();
    messages
}

/// Every message of a read, through the async `Connector::read`.
async fn read_async(request: ReadRequest) -> Vec<Message> {
    let stream = SampleConnector.read(request).await.unwrap();
    stream.map(|m| m.unwrap()).collect().await
}

/// The batches of each stream concatenated, in emission order.
fn tables(messages: &[Message]) -> BTreeMap<String, RecordBatch> {
    let mut batches: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for m in messages {
        if let Message::Batch { stream, batch } = m {
            batches.entry(stream.clone()).or_default().push(batch.clone());
        }
    }
    StreamKind::ALL
        .iter()
        .map(|k| {
            let parts = batches.remove(k.name()).unwrap_or_default();
            (k.name().to_string(), concat_batches(&k.schema(), &parts).unwrap())
        })
        .collect()
}

/// The `State` messages of a read as (position, stream, cursor).
fn states(messages: &[Message]) -> Vec<(usize, String, i64)> {
    messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            Message::State { stream, state } => {
                Some((i, stream.clone(), crate::read::parse_state(stream, state).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn i64s(b: &RecordBatch, column: &str) -> Vec<i64> {
    let a = b.column_by_name(column).unwrap().as_primitive::<Int64Type>();
    assert_eq!(a.null_count(), 0, "{column} has nulls");
    a.values().to_vec()
}

fn opt_i64s(b: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    b.column_by_name(column).unwrap().as_primitive::<Int64Type>().iter().collect()
}

fn ts(b: &RecordBatch, column: &str) -> Vec<i64> {
    let a = b.column_by_name(column).unwrap().as_primitive::<TimestampMicrosecondType>();
    assert_eq!(a.null_count(), 0, "{column} has nulls");
    a.values().to_vec()
}

fn opt_ts(b: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    b.column_by_name(column).unwrap().as_primitive::<TimestampMicrosecondType>().iter().collect()
}

fn i32s(b: &RecordBatch, column: &str) -> Vec<i32> {
    b.column_by_name(column).unwrap().as_primitive::<Int32Type>().values().to_vec()
}

fn f64s(b: &RecordBatch, column: &str) -> Vec<f64> {
    b.column_by_name(column).unwrap().as_primitive::<Float64Type>().values().to_vec()
}

fn strs(b: &RecordBatch, column: &str) -> Vec<String> {
    b.column_by_name(column).unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect()
}

/// Every row rendered as text, for whole-row comparisons. Timestamps are rendered as their
/// microseconds: formatting the `UTC` zone name needs arrow's `chrono-tz` feature, which this
/// crate does not enable.
fn rows(b: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default().with_null("∅");
    let columns: Vec<ArrayRef> = b
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Timestamp(..) => cast(c, &DataType::Int64).unwrap(),
            _ => c.clone(),
        })
        .collect();
    let formatters: Vec<ArrayFormatter<'_>> =
        columns.iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
    (0..b.num_rows()).map(|r| formatters.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join("|")).collect()
}

/// The newest row per id of a dedupe stream (ties: the later row), rendered as text.
fn latest_by_id(b: &RecordBatch, cursor: &str) -> BTreeMap<i64, String> {
    let mut latest: BTreeMap<i64, (i64, String)> = BTreeMap::new();
    for ((id, at), row) in i64s(b, "id").into_iter().zip(ts(b, cursor)).zip(rows(b)) {
        match latest.get(&id) {
            Some((seen, _)) if *seen > at => {}
            _ => {
                latest.insert(id, (at, row));
            }
        }
    }
    latest.into_iter().map(|(id, (_, row))| (id, row)).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

// ---------------------------------------------------------------------------------------
// spec, check, discover, errors

#[tokio::test]
async fn spec_check_and_discover() {
    let connector = SampleConnector;
    assert_eq!(connector.name(), "sample");
    let spec = connector.spec();
    assert_eq!(spec.config_schema["additionalProperties"], json!(false));
    spec.validate("sample", &json!({})).unwrap();
    connector.check(&json!({})).await.unwrap();
    connector.check(&small()).await.unwrap();

    let err = connector.check(&json!({"start_date": "2025/01/01"})).await.unwrap_err();
    let ConnectorError::InvalidConfig { issues, .. } = &err else { panic!("{err}") };
    assert_eq!(issues[0].path, "config.start_date");
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");

    let err = connector.check(&json!({"days": "ten"})).await.unwrap_err();
    let ConnectorError::InvalidConfig { issues, .. } = &err else { panic!("{err}") };
    assert_eq!(issues[0].path, "config.days");

    let err = connector.check(&json!({"colour": "red"})).await.unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");

    let catalog = connector.discover(&json!({})).await.unwrap();
    assert_eq!(
        catalog.names(),
        vec![
            "customers",
            "employees",
            "deals",
            "tickets",
            "survey_responses",
            "touchpoint_events",
            "courses",
            "enrollments",
            "touchpoint_targets"
        ]
    );
    assert!(connector.discover(&json!({"customers": 0})).await.is_err());
}

#[tokio::test]
async fn bad_requests_are_rejected_before_anything_runs() {
    let connector = SampleConnector;
    let unknown = request_for(small(), &[("contacts", StreamMode::IncrementalAppend)], StateMap::new());
    match connector.read(unknown).await {
        Err(ConnectorError::UnknownStream { stream, available, .. }) => {
            assert_eq!(stream, "contacts");
            assert_eq!(available.len(), 9);
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("an unknown stream was accepted"),
    }

    let wrong_mode = request_for(small(), &[("courses", StreamMode::IncrementalAppend)], StateMap::new());
    assert!(matches!(connector.read(wrong_mode).await, Err(ConnectorError::UnsupportedMode { .. })));

    for bad in [json!("2025-02-01T00:00:00Z"), json!({"cursor": 5}), json!({"cursor": "yesterday"}), json!({})] {
        let state = StateMap::from([("tickets".to_string(), bad.clone())]);
        let req = request_for(small(), &[("tickets", StreamMode::IncrementalDedupe)], state);
        match connector.read(req).await {
            Err(ConnectorError::InvalidState { stream, .. }) => assert_eq!(stream, "tickets"),
            Err(other) => panic!("{bad}: {other}"),
            Ok(_) => panic!("state {bad} was accepted"),
        }
    }

    // A full-refresh read ignores the state, even a malformed one.
    let state = StateMap::from([("deals".to_string(), json!("garbage"))]);
    let req = request_for(with(small(), "days", json!(5)), &[("deals", StreamMode::FullRefresh)], state);
    assert!(connector.read(req).await.is_ok());

    let bad_config = request(json!({"end_date": "2024-12-31"}), StateMap::new());
    assert!(matches!(connector.read(bad_config).await, Err(ConnectorError::InvalidConfig { .. })));
}

// ---------------------------------------------------------------------------------------
// determinism and the message contract

#[tokio::test]
async fn reads_are_deterministic() {
    let config = with(small(), "batch_size", json!(256));
    let first = read_async(request(config.clone(), StateMap::new())).await;
    let second = read_async(request(config.clone(), StateMap::new())).await;
    assert_eq!(first.len(), second.len());
    let mut batches = 0;
    for (a, b) in first.iter().zip(&second) {
        match (a, b) {
            (Message::Batch { stream: s1, batch: b1 }, Message::Batch { stream: s2, batch: b2 }) => {
                assert_eq!(s1, s2);
                assert_eq!(b1, b2);
                batches += 1;
            }
            (Message::State { stream: s1, state: t1 }, Message::State { stream: s2, state: t2 }) => {
                assert_eq!((s1, t1), (s2, t2));
            }
            (Message::Progress { done: d1, total: t1, .. }, Message::Progress { done: d2, total: t2, .. }) => {
                assert_eq!((d1, t1), (d2, t2));
            }
            (a, b) => panic!("messages differ: {a:?} vs {b:?}"),
        }
    }
    assert!(batches > 20, "{batches}");
    // The blocking API yields the very same records.
    let blocking = read_all(&request(config, StateMap::new()));
    assert_eq!(tables(&blocking), tables(&first));
    // Another seed yields another world.
    let other = tables(&read_all(&request(with(small(), "seed", json!(8)), StateMap::new())));
    assert_ne!(other["customers"], tables(&first)["customers"]);
}

#[test]
fn batches_cursors_and_states_keep_the_contract() {
    let messages = read_all(&request(with(small(), "batch_size", json!(64)), StateMap::new()));
    let end_us = START_US + 120 * DAY_US;

    // Batches follow the schema and the batch size; cursors stay inside the emitted span and
    // never go back to an earlier day within a stream.
    let mut last_day: BTreeMap<String, i64> = BTreeMap::new();
    for m in &messages {
        if let Message::Batch { stream, batch } = m {
            let kind = StreamKind::from_name(stream).unwrap();
            assert_eq!(batch.schema(), kind.schema(), "{stream}");
            assert!(batch.num_rows() >= 1 && batch.num_rows() <= 64, "{stream}: {}", batch.num_rows());
            if let Some(cursor) = kind.cursor_field() {
                for at in ts(batch, cursor) {
                    assert!((START_US..end_us).contains(&at), "{stream}: cursor {at} outside the span");
                    let day = (at - START_US) / DAY_US;
                    let last = last_day.entry(stream.clone()).or_insert(0);
                    assert!(day >= *last, "{stream}: day {day} after day {last}");
                    *last = day;
                }
            }
        }
    }

    // A state promises that every earlier record of its stream has a smaller cursor, and
    // every later one a cursor at least as large.
    let states = states(&messages);
    let checkpoints = states.iter().filter(|(_, _, at)| *at < end_us).count();
    assert!(checkpoints >= 7 * 5, "only {checkpoints} intermediate states");
    for (position, stream, watermark) in &states {
        assert_eq!(watermark % DAY_US, 0, "states sit at midnight");
        let kind = StreamKind::from_name(stream).unwrap();
        let cursor = kind.cursor_field().unwrap();
        for (i, m) in messages.iter().enumerate() {
            if let Message::Batch { stream: s, batch } = m
                && s == stream
            {
                for at in ts(batch, cursor) {
                    assert!(if i < *position { at < *watermark } else { at >= *watermark }, "{stream}");
                }
            }
        }
    }
    // The read ends with one state per incremental stream at end_date midnight.
    let last: BTreeMap<&str, i64> = states.iter().map(|(_, s, at)| (s.as_str(), *at)).collect();
    assert_eq!(last.len(), 7, "{last:?}");
    assert!(last.values().all(|&at| at == end_us));
    assert!(!last.contains_key("courses") && !last.contains_key("touchpoint_targets"));

    // Progress about once a week, ending at the total.
    let progress: Vec<(u64, Option<u64>)> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Progress { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(progress.len(), 120 / 7 + 1);
    assert_eq!(progress.last(), Some(&(120, Some(120))));

    // The fixed streams come first, once.
    let t = tables(&messages);
    assert!(matches!(&messages[0], Message::Batch { stream, .. } if stream == "courses"));
    assert_eq!(t["courses"].num_rows(), 12);
    assert_eq!(t["touchpoint_targets"].num_rows(), 15);
}

// ---------------------------------------------------------------------------------------
// incremental reads

#[test]
fn a_later_end_date_continues_the_same_world() {
    // Read to day 50, then from its final states to day 120: together exactly one read to
    // day 120.
    let a = with(small(), "end_date", json!("2025-02-20"));
    let first = read_all(&request(a, StateMap::new()));
    let saved: StateMap = states(&first)
        .into_iter()
        .map(|(_, stream, _)| stream)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|stream| {
            let state = first
                .iter()
                .rev()
                .find_map(|m| match m {
                    Message::State { stream: s, state } if *s == stream => Some(state.clone()),
                    _ => None,
                })
                .unwrap();
            (stream, state)
        })
        .collect();
    assert_eq!(saved["tickets"], json!({"cursor": "2025-02-20T00:00:00Z"}));

    let b = with(small(), "end_date", json!("2025-05-01"));
    let second = tables(&read_all(&request(b.clone(), saved)));
    let whole = tables(&read_all(&request(b, StateMap::new())));
    let first = tables(&first);

    for kind in StreamKind::ALL {
        let name = kind.name();
        match kind.default_mode() {
            StreamMode::IncrementalAppend => {
                let union = concat_batches(&kind.schema(), [&first[name], &second[name]]).unwrap();
                assert_eq!(union, whole[name], "{name}");
                let ids: BTreeSet<i64> = i64s(&union, "id").into_iter().collect();
                assert_eq!(ids.len(), union.num_rows(), "{name}: ids repeat");
            }
            StreamMode::IncrementalDedupe => {
                let union = concat_batches(&kind.schema(), [&first[name], &second[name]]).unwrap();
                let cursor = kind.cursor_field().unwrap();
                assert_eq!(latest_by_id(&union, cursor), latest_by_id(&whole[name], cursor), "{name}");
                // Even the row sequence is the same.
                assert_eq!(union, whole[name], "{name}");
            }
            StreamMode::FullRefresh => assert_eq!(second[name], whole[name], "{name}"),
        }
        assert!(first[name].num_rows() > 0 && second[name].num_rows() > 0, "{name}");
    }
}

#[test]
fn an_end_date_past_the_horizon_only_adds_records() {
    // The default span is `days` (120); running on to day 200 keeps every earlier record.
    let short = tables(&read_all(&request(small(), StateMap::new())));
    let long = tables(&read_all(&request(with(small(), "end_date", json!("2025-07-20")), StateMap::new())));
    let horizon = START_US + 120 * DAY_US;
    for kind in StreamKind::ALL {
        let name = kind.name();
        let Some(cursor) = kind.cursor_field() else { continue };
        let keep = ts(&long[name], cursor).iter().filter(|&&at| at < horizon).count();
        assert_eq!(long[name].slice(0, keep), short[name], "{name}");
        assert!(long[name].num_rows() > keep, "{name}: nothing happened after the horizon");
    }
    // No lead arrives after the horizon, but customers go on renewing and churning.
    let customers = &long["customers"];
    assert!(ts(customers, "created_at").iter().all(|&at| at < horizon));
    let churned_late = opt_ts(customers, "churned_at").iter().flatten().filter(|&&at| at >= horizon).count();
    assert!(churned_late > 0);
}

#[test]
fn resuming_from_any_checkpoint_yields_exactly_the_rest() {
    let config = with(small(), "batch_size", json!(50));
    let req = request(config.clone(), StateMap::new());
    let full = read_all(&req);
    // Checkpoints are runs of consecutive State messages.
    let all_states = states(&full);
    let mut groups: Vec<(usize, StateMap)> = Vec::new();
    for (position, stream, _) in &all_states {
        let state = match &full[*position] {
            Message::State { state, .. } => state.clone(),
            _ => unreachable!(),
        };
        match groups.last_mut() {
            Some((end, map)) if *end + 1 == *position => {
                map.insert(stream.clone(), state);
                *end = *position;
            }
            _ => groups.push((*position, StateMap::from([(stream.clone(), state)]))),
        }
    }
    assert!(groups.len() > 10, "{} checkpoints", groups.len());
    let step = (groups.len() / 6).max(1);
    for (end, saved) in groups.iter().step_by(step) {
        assert_eq!(saved.len(), 7);
        let rest = tables(&full[end + 1..]);
        let resumed = tables(&read_all(&request(config.clone(), saved.clone())));
        for kind in StreamKind::ALL {
            if kind.cursor_field().is_some() {
                assert_eq!(resumed[kind.name()], rest[kind.name()], "{} after message {end}", kind.name());
            }
        }
    }
}

#[test]
fn the_generator_stops_when_nobody_listens() {
    let mut calls = 0;
    SampleConnector
        .read_blocking(&request(json!({"customers": 100000, "batch_size": 16}), StateMap::new()), |_| {
            calls += 1;
            calls < 3
        })
        .unwrap();
    assert_eq!(calls, 3);
}

#[tokio::test]
async fn dropping_the_stream_ends_the_read() {
    let mut stream =
        SampleConnector.read(request(json!({"customers": 100000, "batch_size": 16}), StateMap::new())).await.unwrap();
    for _ in 0..5 {
        assert!(stream.next().await.unwrap().is_ok());
    }
    drop(stream);
    // The generator thread sees the closed channel at its next send; the runtime shutting
    // down at the end of this test waits for it, so a generator that ran on would keep this
    // test busy for minutes instead of milliseconds.
}

// ---------------------------------------------------------------------------------------
// the generated world: a medium configuration shared by the tests below

/// Leads arrive over 240 days; the world runs on to day 360 so late arrivals have time.
fn medium() -> &'static BTreeMap<String, RecordBatch> {
    static MEDIUM: OnceLock<BTreeMap<String, RecordBatch>> = OnceLock::new();
    MEDIUM.get_or_init(|| {
        let config = json!({
            "customers": 4000, "employees": 120, "days": 240, "seed": 11, "end_date": "2025-12-27"
        });
        tables(&read_all(&request(config, StateMap::new())))
    })
}

/// Latest row per id of a dedupe stream, as row indices.
fn latest_rows(b: &RecordBatch) -> BTreeMap<i64, usize> {
    let mut latest = BTreeMap::new();
    for (row, id) in i64s(b, "id").into_iter().enumerate() {
        latest.insert(id, row); // rows of an id come in cursor order
    }
    latest
}

#[test]
fn volumes_scales_and_references_are_sane() {
    let t = medium();
    let records: usize = t.values().map(RecordBatch::num_rows).sum();
    let per_customer = records as f64 / 4000.0;
    assert!((8.0..30.0).contains(&per_customer), "{per_customer} records per customer");
    for (name, batch) in t {
        assert!(batch.num_rows() > 0, "{name} is empty");
    }

    // Survey scales.
    let s = &t["survey_responses"];
    for (((survey, score), (lo, hi)), kind) in strs(s, "survey")
        .iter()
        .zip(i32s(s, "score"))
        .zip(i32s(s, "scale_min").into_iter().zip(i32s(s, "scale_max")))
        .zip(strs(s, "respondent_kind"))
    {
        let expected = match survey.as_str() {
            "nps" | "enps" => (0, 10),
            "csat" => (1, 5),
            "ces" => (1, 7),
            other => panic!("unknown survey {other}"),
        };
        assert_eq!((lo, hi), expected, "{survey}");
        assert!((lo..=hi).contains(&score), "{survey} score {score}");
        assert_eq!(kind == "employee", survey == "enps");
    }

    // Tickets go to Support staff, deals to Sales staff; ids refer to existing employees.
    let e = &t["employees"];
    let departments: BTreeMap<i64, String> = i64s(e, "id").into_iter().zip(strs(e, "department")).collect();
    for assignee in i64s(&t["tickets"], "assignee_id") {
        assert_eq!(departments[&assignee], "Support");
    }
    for owner in i64s(&t["deals"], "owner_id") {
        assert_eq!(departments[&owner], "Sales");
    }
    // Every employee row's manager exists; only heads have none.
    let roles: BTreeMap<i64, String> = i64s(e, "id").into_iter().zip(strs(e, "role")).collect();
    for (manager, role) in opt_i64s(e, "manager_id").into_iter().zip(strs(e, "role")) {
        match manager {
            Some(m) => assert!(roles.contains_key(&m)),
            None => assert!(role.starts_with("Head of"), "{role} without manager"),
        }
    }
    let support = departments.values().filter(|d| *d == "Support").count() as f64 / departments.len() as f64;
    assert!((0.4..0.6).contains(&support), "support share {support}");

    // Segments drive deal size.
    let d = &t["deals"];
    let customers = &t["customers"];
    let segment: BTreeMap<i64, String> = i64s(customers, "id").into_iter().zip(strs(customers, "segment")).collect();
    let mut amounts: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for ((customer, kind), amount) in i64s(d, "customer_id").into_iter().zip(strs(d, "kind")).zip(f64s(d, "amount")) {
        if kind == "new" {
            amounts.entry(segment[&customer].clone()).or_default().push(amount);
        }
    }
    let (smb, mid, ent) = (mean(&amounts["smb"]), mean(&amounts["mid_market"]), mean(&amounts["enterprise"]));
    assert!(smb * 3.0 < mid && mid * 3.0 < ent, "smb {smb}, mid {mid}, enterprise {ent}");
}

/// Planted effect 1: agents who completed more courses get better CSAT on their tickets.
#[test]
fn trained_agents_get_higher_csat() {
    let t = medium();
    // Completion times per employee.
    let en = &t["enrollments"];
    let mut completions: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (employee, done) in i64s(en, "employee_id").into_iter().zip(opt_ts(en, "completed_at")) {
        if let Some(at) = done {
            completions.entry(employee).or_default().push(at);
        }
    }
    // Who solved each ticket, and when.
    let tk = &t["tickets"];
    let mut solved: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for ((id, assignee), at) in i64s(tk, "id").into_iter().zip(i64s(tk, "assignee_id")).zip(opt_ts(tk, "solved_at")) {
        if let Some(at) = at {
            solved.insert(id, (assignee, at));
        }
    }
    let s = &t["survey_responses"];
    let (mut untrained, mut trained) = (Vec::new(), Vec::new());
    for ((survey, score), ticket) in strs(s, "survey").iter().zip(i32s(s, "score")).zip(opt_i64s(s, "ticket_id")) {
        let (Some(ticket), "csat") = (ticket, survey.as_str()) else { continue };
        let (agent, at) = solved[&ticket];
        let courses = completions.get(&agent).map_or(0, |c| c.iter().filter(|&&done| done < at).count());
        match courses {
            0 => untrained.push(f64::from(score)),
            3.. => trained.push(f64::from(score)),
            _ => {}
        }
    }
    assert!(untrained.len() >= 50 && trained.len() >= 50, "{} vs {}", untrained.len(), trained.len());
    let (low, high) = (mean(&untrained), mean(&trained));
    // Latent CSAT rises by 0.3 per course (capped at 5): ≥ 0.9 points for 3+ courses.
    assert!(high - low > 0.5, "CSAT untrained {low:.2}, trained (3+) {high:.2}");
}

/// Planted effect 2: Support teams with a higher eNPS serve customers with a higher NPS.
#[test]
fn teams_with_higher_enps_have_happier_customers() {
    let t = medium();
    let e = &t["employees"];
    let teams: BTreeMap<i64, String> = i64s(e, "id").into_iter().zip(strs(e, "team")).collect();
    let s = &t["survey_responses"];
    let (surveys, scores, respondents) = (strs(s, "survey"), i32s(s, "score"), i64s(s, "respondent_id"));

    // eNPS per Support team.
    let mut enps: BTreeMap<String, (f64, f64)> = BTreeMap::new(); // (net promoters, answers)
    for i in 0..s.num_rows() {
        if surveys[i] == "enps" {
            let team = &teams[&respondents[i]];
            if team.starts_with("Support") {
                let entry = enps.entry(team.clone()).or_default();
                entry.0 += match scores[i] {
                    9.. => 1.0,
                    7..=8 => 0.0,
                    _ => -1.0,
                };
                entry.1 += 1.0;
            }
        }
    }
    // Customer NPS answers per support team.
    let c = &t["customers"];
    let served_by: BTreeMap<i64, String> = i64s(c, "id").into_iter().zip(strs(c, "support_team")).collect();
    let mut nps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 0..s.num_rows() {
        if surveys[i] == "nps" {
            nps.entry(served_by[&respondents[i]].clone()).or_default().push(f64::from(scores[i]));
        }
    }
    let mut ranked: Vec<(f64, String)> =
        enps.iter().filter(|(_, (_, n))| *n >= 5.0).map(|(team, (net, n))| (100.0 * net / n, team.clone())).collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(ranked.len() >= 6, "{ranked:?}");
    let half = ranked.len() / 2;
    let pooled = |teams: &[(f64, String)]| -> f64 {
        let all: Vec<f64> = teams.iter().flat_map(|(_, team)| nps[team].iter().copied()).collect();
        mean(&all)
    };
    let (bottom, top) = (pooled(&ranked[..half]), pooled(&ranked[ranked.len() - half..]));
    assert!(top - bottom > 0.4, "customer NPS score: bottom-eNPS teams {bottom:.2}, top-eNPS teams {top:.2}");
}

/// Planted effect 3: detractors churn more than promoters, so they bring less revenue.
#[test]
fn detractors_churn_more_and_bring_less_revenue() {
    let t = medium();
    let c = &t["customers"];
    let churned: BTreeSet<i64> = i64s(c, "id")
        .into_iter()
        .zip(strs(c, "lifecycle_stage"))
        .filter(|(_, stage)| stage == "churned")
        .map(|(id, _)| id)
        .collect();
    let s = &t["survey_responses"];
    let mut last: BTreeMap<i64, (i64, i32)> = BTreeMap::new();
    for ((survey, respondent), (score, at)) in strs(s, "survey")
        .iter()
        .zip(i64s(s, "respondent_id"))
        .zip(i32s(s, "score").into_iter().zip(ts(s, "answered_at")))
    {
        if survey == "nps" && last.get(&respondent).is_none_or(|(seen, _)| *seen <= at) {
            last.insert(respondent, (at, score));
        }
    }
    let d = &t["deals"];
    let mut revenue: BTreeMap<i64, f64> = BTreeMap::new();
    for ((customer, stage), amount) in i64s(d, "customer_id").into_iter().zip(strs(d, "stage")).zip(f64s(d, "amount")) {
        if stage == "won" {
            *revenue.entry(customer).or_default() += amount;
        }
    }
    let group = |category: fn(i32) -> bool| -> (f64, f64, usize) {
        let members: Vec<i64> = last.iter().filter(|(_, (_, score))| category(*score)).map(|(id, _)| *id).collect();
        let churn = members.iter().filter(|id| churned.contains(id)).count() as f64 / members.len() as f64;
        let renewals: Vec<f64> = members.iter().map(|id| revenue.get(id).copied().unwrap_or(0.0)).collect();
        (churn, mean(&renewals), members.len())
    };
    let (detractor_churn, detractor_revenue, n_det) = group(|s| s <= 6);
    let (promoter_churn, promoter_revenue, n_pro) = group(|s| s >= 9);
    assert!(n_det >= 100 && n_pro >= 100, "{n_det} detractors, {n_pro} promoters");
    assert!(
        detractor_churn > 2.0 * promoter_churn && detractor_churn - promoter_churn > 0.1,
        "churn: detractors {detractor_churn:.3}, promoters {promoter_churn:.3}"
    );
    assert!(
        detractor_revenue < promoter_revenue,
        "revenue: detractors {detractor_revenue}, promoters {promoter_revenue}"
    );
}

/// Planted effect 4: the journey runs in stage order with drop-offs and delays.
#[test]
fn journeys_run_in_order_with_drop_offs_and_delays() {
    let t = medium();
    let tp = &t["touchpoint_events"];
    let order: BTreeMap<&str, usize> = crate::world::STAGES.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    // First time each customer reached each stage.
    let mut first: BTreeMap<i64, [Option<i64>; 8]> = BTreeMap::new();
    for ((customer, stage), at) in i64s(tp, "customer_id").into_iter().zip(strs(tp, "stage")).zip(ts(tp, "occurred_at"))
    {
        let slot = &mut first.entry(customer).or_default()[order[stage.as_str()]];
        if slot.is_none_or(|seen| at < seen) {
            *slot = Some(at);
        }
    }
    assert_eq!(first.len(), 4000, "every customer has an awareness touchpoint");
    let day = |at: i64| (at - START_US).div_euclid(DAY_US);
    let (mut considered, mut purchased) = (0usize, 0usize);
    for (customer, stages) in &first {
        let aware = stages[0].unwrap_or_else(|| panic!("customer {customer} has no awareness"));
        // The funnel stages are reached in order, each a day or more after the previous one.
        let funnel: Vec<i64> = stages[..5].iter().map_while(|s| *s).collect();
        assert!(stages[..5].iter().skip(funnel.len()).all(Option::is_none), "customer {customer}: gap in {stages:?}");
        assert!(funnel.windows(2).all(|w| w[0] < w[1]), "customer {customer}: {stages:?}");
        // Support, renewal and advocacy only after onboarding.
        for at in stages[5..].iter().flatten() {
            assert!(stages[3].is_some_and(|onboarded| onboarded < *at), "customer {customer}: {stages:?}");
        }
        if let Some(at) = stages[1] {
            considered += 1;
            assert!((1..=14).contains(&(day(at) - day(aware))), "consideration delay");
        }
        if let (Some(c), Some(p)) = (stages[1], stages[2]) {
            purchased += 1;
            assert!((3..=30).contains(&(day(p) - day(c))), "purchase delay");
        }
        if let (Some(p), Some(o)) = (stages[2], stages[3]) {
            assert!((1..=7).contains(&(day(o) - day(p))), "onboarding delay");
        }
    }
    let reach = considered as f64 / 4000.0;
    let convert = purchased as f64 / considered as f64;
    assert!((0.56..0.64).contains(&reach), "{reach:.3} reached consideration");
    assert!((0.45..0.55).contains(&convert), "{convert:.3} of those purchased");

    // Purchases match the customers' lifecycle rows and the won new deals.
    let c = &t["customers"];
    let became: BTreeMap<i64, i64> = i64s(c, "id")
        .into_iter()
        .zip(opt_ts(c, "became_customer_at"))
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .collect();
    assert_eq!(became.len(), purchased);
    let d = &t["deals"];
    let mut lost_new = 0;
    for (((customer, kind), stage), closed) in
        i64s(d, "customer_id").into_iter().zip(strs(d, "kind")).zip(strs(d, "stage")).zip(ts(d, "closed_at"))
    {
        match (kind.as_str(), stage.as_str()) {
            ("new", "won") => assert_eq!(became[&customer], closed),
            ("new", "lost") => lost_new += 1,
            ("renewal", _) => assert!(became[&customer] < closed),
            other => panic!("{other:?}"),
        }
    }
    // 60% of the non-buyers that considered produce a lost deal.
    let expected = 0.6 * (considered - purchased) as f64;
    assert!((f64::from(lost_new) - expected).abs() < 0.1 * expected, "{lost_new} lost deals, expected ~{expected}");
    // Promoters advocate.
    assert!(first.values().filter(|s| s[7].is_some()).count() > 50);

    // Dedupe rows of a customer come in time order, and the latest is the current stage.
    let latest = latest_rows(c);
    let stages = strs(c, "lifecycle_stage");
    let customers = latest.values().filter(|&&row| stages[row] != "lead").count();
    assert_eq!(customers, purchased);
}
