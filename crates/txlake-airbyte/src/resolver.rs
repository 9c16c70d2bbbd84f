//! [`AirbyteResolver`]: makes `airbyte:<command>` connectors for the registry.

use std::sync::Arc;

use async_trait::async_trait;
use txlake_connector::{Connector, Result, SchemeResolver};

use crate::connector::AirbyteConnector;

/// Resolves `airbyte:<command>` names by starting `<command> spec`; register it with
/// `registry.register_scheme(txlake_airbyte::SCHEME, Arc::new(AirbyteResolver))`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AirbyteResolver;

#[async_trait]
impl SchemeResolver for AirbyteResolver {
    async fn resolve(&self, target: &str) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(AirbyteConnector::new(target).await?))
    }

    fn description(&self) -> &str {
        "any program speaking the Airbyte protocol, e.g. airbyte:source-faker or airbyte:docker run -i --rm -v /tmp:/tmp airbyte/source-faker"
    }
}
