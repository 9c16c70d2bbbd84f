//! The connectors built into txlake.

use std::sync::Arc;

use txlake_connector::Registry;

/// A registry with every built-in connector.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(txlake_connector_sample::SampleConnector));
    registry
}
