//! An explicit registry of connectors, keyed by name, plus resolvers for prefixed names
//! (`airbyte:<command>`) whose connectors are made on demand.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::connector::Connector;
use crate::error::{ConnectorError, Result};

/// Makes the connector for a prefixed name `<scheme>:<target>` (`airbyte:source-faker`),
/// when making it is async (it may start a process to ask for its spec).
#[async_trait]
pub trait SchemeResolver: Send + Sync {
    /// The connector for `target`, the part of the name after `<scheme>:`.
    async fn resolve(&self, target: &str) -> Result<Arc<dyn Connector>>;

    /// One line on what the scheme's connectors are, for listings.
    fn description(&self) -> &str {
        ""
    }
}

/// Connectors by name, and scheme resolvers by prefix. Built by whoever assembles the
/// application (the CLI, the server, a test), so there is no global state.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
    schemes: BTreeMap<String, Arc<dyn SchemeResolver>>,
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

    /// Resolves names `<scheme>:<target>` with `resolver`; a later one for the same scheme
    /// replaces the earlier one.
    pub fn register_scheme(&mut self, scheme: &str, resolver: Arc<dyn SchemeResolver>) -> &mut Self {
        self.schemes.insert(scheme.to_string(), resolver);
        self
    }

    /// The registered connector of that plain name, or an error listing the ones there are.
    /// Connection configs name connectors that may be prefixed: use [`Registry::resolve`].
    pub fn get(&self, name: &str) -> Result<Arc<dyn Connector>> {
        self.connectors.get(name).cloned().ok_or_else(|| self.unknown(name))
    }

    /// The connector of that name: a registered one, else `<scheme>:<target>` made by the
    /// scheme's resolver.
    pub async fn resolve(&self, name: &str) -> Result<Arc<dyn Connector>> {
        if let Some(connector) = self.connectors.get(name) {
            return Ok(connector.clone());
        }
        match name.split_once(':').and_then(|(scheme, target)| Some((self.schemes.get(scheme)?, target))) {
            Some((resolver, target)) => resolver.resolve(target).await,
            None => Err(self.unknown(name)),
        }
    }

    /// Resolves the connector and validates a configuration against its spec.
    pub async fn resolve_validated(&self, name: &str, config: &Value) -> Result<Arc<dyn Connector>> {
        let connector = self.resolve(name).await?;
        connector.spec().validate(name, config)?;
        Ok(connector)
    }

    /// Registered schemes with their resolvers, sorted by scheme.
    pub fn schemes(&self) -> impl Iterator<Item = (&str, &Arc<dyn SchemeResolver>)> {
        self.schemes.iter().map(|(scheme, resolver)| (scheme.as_str(), resolver))
    }

    fn unknown(&self, name: &str) -> ConnectorError {
        let mut available = self.names();
        available.extend(self.schemes.keys().map(|scheme| format!("{scheme}:…")));
        ConnectorError::UnknownConnector { name: name.to_string(), available }
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    /// Registered connectors, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.connectors.values()
    }

    /// Finds the registered connector of that plain name and validates a configuration
    /// against its spec.
    pub fn validated(&self, name: &str, config: &Value) -> Result<Arc<dyn Connector>> {
        let connector = self.get(name)?;
        connector.spec().validate(name, config)?;
        Ok(connector)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.connectors.keys()).entries(self.schemes.keys().map(|s| format!("{s}:…"))).finish()
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::{Catalog, MessageStream, ReadRequest, Spec};

    struct Named(String);

    #[async_trait]
    impl Connector for Named {
        fn name(&self) -> &str {
            &self.0
        }
        fn description(&self) -> &str {
            "a test connector"
        }
        fn spec(&self) -> Spec {
            Spec { config_schema: serde_json::json!({"type": "object", "required": ["x"]}), documentation: None }
        }
        async fn check(&self, _: &Value) -> Result<()> {
            Ok(())
        }
        async fn discover(&self, _: &Value) -> Result<Catalog> {
            Ok(Catalog::default())
        }
        async fn read(&self, _: ReadRequest) -> Result<MessageStream> {
            Ok(Box::pin(futures::stream::empty()))
        }
    }

    struct Echo;

    #[async_trait]
    impl SchemeResolver for Echo {
        async fn resolve(&self, target: &str) -> Result<Arc<dyn Connector>> {
            if target.is_empty() {
                return Err(ConnectorError::Source("empty target".into()));
            }
            Ok(Arc::new(Named(format!("echo:{target}"))))
        }
    }

    fn registry() -> Registry {
        let mut registry = Registry::new();
        registry.register(Arc::new(Named("plain".into()))).register_scheme("echo", Arc::new(Echo));
        registry
    }

    #[test]
    fn resolve_finds_plain_names_then_schemes() {
        let registry = registry();
        assert_eq!(block_on(registry.resolve("plain")).unwrap().name(), "plain");
        assert_eq!(block_on(registry.resolve("echo:a b:c")).unwrap().name(), "echo:a b:c");
        let err = block_on(registry.resolve("echo:")).err().unwrap().to_string();
        assert!(err.contains("empty target"), "the resolver's own error: {err}");
        assert!(registry.get("echo:x").is_err(), "get knows plain names only");
        assert_eq!(registry.schemes().map(|(s, _)| s).collect::<Vec<_>>(), ["echo"]);
    }

    #[test]
    fn unknown_names_list_plain_names_and_schemes() {
        let registry = registry();
        for name in ["nope", "other:x"] {
            let err = block_on(registry.resolve(name)).err().unwrap().to_string();
            assert!(err.contains(name) && err.contains("available connectors: plain, echo:…"), "{err}");
        }
    }

    #[test]
    fn resolve_validated_checks_the_spec() {
        let err = block_on(registry().resolve_validated("echo:x", &serde_json::json!({}))).err().unwrap().to_string();
        assert!(err.contains("echo:x") && err.contains("x"), "{err}");
        block_on(registry().resolve_validated("echo:x", &serde_json::json!({"x": 1}))).unwrap();
    }
}
