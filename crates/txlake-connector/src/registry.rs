//! An explicit registry of connectors, keyed by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::connector::Connector;
use crate::error::{ConnectorError, Result};

/// Connectors by name. Built by whoever assembles the application (the CLI, the server,
/// a test), so there is no global state.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connector; a later one with the same name replaces the earlier one.
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> &mut Self {
        self.connectors.insert(connector.name().to_string(), connector);
        self
    }

    /// The connector of that name, or an error listing the ones there are.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Connector>> {
        self.connectors
            .get(name)
            .cloned()
            .ok_or_else(|| ConnectorError::UnknownConnector { name: name.to_string(), available: self.names() })
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    /// Registered connectors, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.connectors.values()
    }

    /// Finds the connector and validates a configuration against its spec.
    pub fn validated(&self, name: &str, config: &Value) -> Result<Arc<dyn Connector>> {
        let connector = self.get(name)?;
        connector.spec().validate(name, config)?;
        Ok(connector)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.connectors.keys()).finish()
    }
}
