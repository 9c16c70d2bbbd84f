//! The `sample` connector: a deterministic generator of a believable Total Experience world.
//!
//! It simulates, day by day, a company's customers (leads arriving, considering, buying,
//! onboarding, using the product, raising tickets, answering NPS/CSAT/CES surveys, renewing
//! or churning) and its employees (departments and teams, attrition and replacement hires,
//! training, quarterly eNPS), and emits them as nine streams of Arrow record batches. The
//! quickstart, the tests and the benchmarks run on it.
//!
//! Properties the rest of txlake relies on:
//!
//! - **Deterministic**: the same configuration gives the same records, byte for byte.
//! - **Extendable in time**: the world depends on `seed`, `customers`, `employees`, `days`
//!   and `start_date`; `end_date` only limits what is emitted. A run to a later end date
//!   yields the earlier run's records plus newer ones, and a read resumed from any emitted
//!   state yields exactly the rest.
//! - **Planted effects** that the metrics must recover (training → CSAT, team eNPS →
//!   customer NPS, detractors churn more, a journey funnel with drop-offs); see the README.
//!
//! Module map: [`config`] (configuration and spec), `rng` (SplitMix64), `names`
//! (vocabularies), `world` (fixed shape of the world), `staff` (organisation and employee
//! life), `simulation` (the day loop and customer journeys), [`streams`] (schemas and Arrow
//! builders), `emit` (filtering, batching, checkpoints) and `read` (requests, state, the
//! blocking thread).

pub mod config;
mod emit;
mod names;
mod read;
mod rng;
mod simulation;
mod staff;
pub mod streams;
mod world;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use serde_json::Value;
use txlake_connector::{Catalog, Connector, Message, MessageStream, ReadRequest, Result, Spec};

pub use config::SampleConfig;
pub use streams::{StreamKind, catalog};

/// The name connections use: `connector = "sample"`.
pub const CONNECTOR_NAME: &str = "sample";

/// The `sample` connector. Stateless: everything comes from the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleConnector;

impl SampleConnector {
    /// A new connector.
    pub fn new() -> Self {
        SampleConnector
    }

    /// Runs a read on the current thread, handing every message to `on_message` in order
    /// until it returns `false` (then the generator stops at once and this returns `Ok`).
    ///
    /// The same messages as [`Connector::read`], without a runtime or a channel: for
    /// benchmarks and tools that consume the records synchronously.
    pub fn read_blocking(&self, request: &ReadRequest, mut on_message: impl FnMut(Message) -> bool) -> Result<()> {
        let plan = read::ReadPlan::new(request)?;
        read::run_blocking(&plan, &mut on_message)
    }
}

#[async_trait]
impl Connector for SampleConnector {
    fn name(&self) -> &str {
        CONNECTOR_NAME
    }

    fn description(&self) -> &str {
        "Deterministic generator of a Total Experience world: customers, journeys, deals, tickets, surveys, employees and training."
    }

    fn spec(&self) -> Spec {
        SampleConfig::spec()
    }

    async fn check(&self, config: &Value) -> Result<()> {
        SampleConfig::from_json(config).map(|_| ())
    }

    async fn discover(&self, config: &Value) -> Result<Catalog> {
        SampleConfig::from_json(config)?;
        Ok(catalog())
    }

    async fn read(&self, request: ReadRequest) -> Result<MessageStream> {
        let plan = read::ReadPlan::new(&request)?;
        Ok(read::spawn(plan))
    }
}
