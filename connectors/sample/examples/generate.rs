//! Generates a sample world and prints the record count per stream and the generator's
//! speed; a quick benchmark of the generator alone (no lake, no Parquet).
//!
//! ```text
//! cargo run --release -p txlake-connector-sample --example generate -- '{"customers": 1000000}'
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use txlake_connector::{ConfiguredCatalog, ConfiguredStream, Message, ReadRequest, StateMap};
use txlake_connector_sample::{SampleConnector, catalog};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config: serde_json::Value = match std::env::args().nth(1) {
        Some(text) => serde_json::from_str(&text)?,
        None => serde_json::json!({}),
    };
    let streams = catalog()
        .streams
        .into_iter()
        .map(|stream| {
            let mode = stream.default_mode;
            ConfiguredStream { stream, mode }
        })
        .collect();
    let request = ReadRequest { config, catalog: ConfiguredCatalog { streams }, state: StateMap::new() };

    let mut rows: BTreeMap<String, usize> = BTreeMap::new();
    let (mut batches, mut states) = (0usize, 0usize);
    let started = Instant::now();
    SampleConnector.read_blocking(&request, |message| {
        match message {
            Message::Batch { stream, batch } => {
                *rows.entry(stream).or_default() += batch.num_rows();
                batches += 1;
            }
            Message::State { .. } => states += 1,
            _ => {}
        }
        true
    })?;
    let seconds = started.elapsed().as_secs_f64();

    let total: usize = rows.values().sum();
    for (stream, n) in &rows {
        println!("{stream:<20} {n:>12}");
    }
    println!("{:<20} {total:>12}", "total");
    println!("{batches} batches, {states} states in {seconds:.2} s: {:.0} records/s", total as f64 / seconds);
    Ok(())
}
