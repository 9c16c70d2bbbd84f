//! The `txlake.toml` configuration: where the lake is, how syncs commit, and the connections.
//!
//! Any string value may contain `${VAR}` (or `${VAR:-default}`), read from the environment
//! after parsing, so secrets live in the environment (a Kubernetes Secret), not the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use txlake_connector::StreamMode;

use crate::error::{Result, SyncError};
use crate::survey_mapping::SurveyMapping;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxlakeConfig {
    /// Where the lake is.
    #[serde(default)]
    pub lake: LakeConfig,
    /// How syncs group records into commits.
    #[serde(default)]
    pub sync: CommitPolicy,
    /// Settings of the metric catalog.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The API service (`txlake serve`).
    #[serde(default)]
    pub server: ServerConfig,
    /// API keys of the service.
    #[serde(default)]
    pub auth: AuthConfig,
    /// A folder of declarative connectors (`<dir>/<name>/manifest.yaml` and
    /// `<dir>/<name>/models/*.sql`) loaded at run time beside the built-in ones; relative to
    /// this file. `--connectors-dir` and `TXLAKE_CONNECTORS_DIR` override it.
    #[serde(default)]
    pub connectors_dir: Option<PathBuf>,
    /// Connections by name. The name is the SQL schema of their raw tables.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    /// The folder the file was read from; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Each connection's `models = "<folder>"` (`[connections.X] models`): the folder whose
    /// `connectors/<folder>/models/*.sql` map its raw tables onto the canonical views, when
    /// it is not the connector's name (an `airbyte-manifest:` connector names the models it
    /// uses this way). Read apart from [`ConnectionConfig`] so code building one is unchanged.
    #[serde(skip)]
    pub connection_models: BTreeMap<String, String>,
}

/// `[lake]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// `file://./lake` (relative to the config file), `s3://bucket/prefix`, or `memory://name`.
    #[serde(default = "default_lake_url")]
    pub url: String,
    /// Object-store options, e.g. `aws_endpoint`, `aws_region`, `aws_allow_http` for S3.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn default_lake_url() -> String {
    "file://./lake".to_string()
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self { url: default_lake_url(), options: BTreeMap::new() }
    }
}

/// `[metrics]`: settings of the metric catalog.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Weight of each touchpoint in the Customer Satisfaction Index (`csi`); unlisted
    /// touchpoints weigh 1.0, so by default every touchpoint counts the same.
    #[serde(default)]
    pub csi_weights: BTreeMap<String, f64>,
}

/// `[server]`: the API service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`). Without API keys only a loopback
    /// address is allowed.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Rows a `POST /api/v1/query` or a table read returns at most (default 100,000).
    #[serde(default = "default_query_row_limit")]
    pub query_row_limit: usize,
    /// Seconds a request may take before it is answered 503 (default 30).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Largest request body in bytes (default 1 MiB).
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS (`["https://app.example.com"]`, or `["*"]`); none by default.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Memory for cached metric results, in bytes (default 256 MiB).
    #[serde(default = "default_cache_bytes")]
    pub cache_bytes: usize,
    /// How often, at most, the server checks the lake for new commits, in milliseconds
    /// (default 1000): a sync's commit reaches cached results within this time.
    #[serde(default = "default_freshness_ms")]
    pub freshness_ms: u64,
    /// Rows per page of the OData feed (`/odata`, default 5,000); a client may ask for fewer
    /// with `Prefer: odata.maxpagesize`, and every further page comes through `@odata.nextLink`.
    #[serde(default = "default_odata_page_size")]
    pub odata_page_size: usize,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}
fn default_query_row_limit() -> usize {
    100_000
}
fn default_request_timeout() -> u64 {
    30
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_cache_bytes() -> usize {
    256 * 1024 * 1024
}
fn default_freshness_ms() -> u64 {
    1000
}
fn default_odata_page_size() -> usize {
    5000
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            query_row_limit: default_query_row_limit(),
            request_timeout_secs: default_request_timeout(),
            body_limit_bytes: default_body_limit(),
            cors_origins: Vec::new(),
            cache_bytes: default_cache_bytes(),
            freshness_ms: default_freshness_ms(),
            odata_page_size: default_odata_page_size(),
        }
    }
}

/// `[auth]`: who may call the API service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `[[auth.keys]]` entries, made by `txlake keys create`. None: local mode.
    #[serde(default)]
    pub keys: Vec<ApiKeyConfig>,
}

/// One API key: only its SHA-256 is stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds the key (shown in logs and errors, never the key).
    pub name: String,
    /// `viewer` (metrics, tables), `analyst` (+ SQL) or `admin` (+ syncs).
    pub role: String,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
}

/// `[sync]`: when a stream's pending records are committed. A commit happens at a connector
/// checkpoint once any threshold is reached, and always at the end of a run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitPolicy {
    /// Records per commit (default 1,000,000).
    #[serde(default = "default_commit_rows")]
    pub commit_rows: u64,
    /// In-memory bytes per commit for streams merged on a key, whose records wait in memory
    /// until their commit (default 64 MiB).
    #[serde(default = "default_commit_bytes")]
    pub commit_bytes: u64,
    /// Seconds between commits of a stream that keeps receiving records (default 60).
    #[serde(default = "default_commit_interval")]
    pub commit_interval_secs: u64,
}

fn default_commit_rows() -> u64 {
    1_000_000
}
fn default_commit_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_commit_interval() -> u64 {
    60
}

impl Default for CommitPolicy {
    fn default() -> Self {
        Self {
            commit_rows: default_commit_rows(),
            commit_bytes: default_commit_bytes(),
            commit_interval_secs: default_commit_interval(),
        }
    }
}

impl CommitPolicy {
    /// The interval as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.commit_interval_secs)
    }
}

/// `[connections.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// The connector (`txlake connectors list`).
    pub connector: String,
    /// The connector's configuration (`txlake connectors spec <name>`).
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Streams to sync; all of the connector's streams when absent.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
    /// Per-stream write mode, overriding the connector's default:
    /// `full_refresh`, `incremental_append` or `incremental_dedupe`.
    #[serde(default)]
    pub modes: BTreeMap<String, StreamMode>,
    /// For survey sources: which questions are NPS, eNPS, CSAT, CES or CSI and which fields
    /// name the respondent, touchpoint, channel and ticket. Written inline, or as the path of
    /// a TOML file (relative to this file) holding the same keys.
    #[serde(default)]
    pub survey_mapping: Option<SurveyMapping>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Takes `models` out of every `[connections.X]` table: a folder name (letters, digits, `_`,
/// `-`), checked here.
fn take_connection_models(json: &mut Value) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut models = BTreeMap::new();
    let Some(connections) = json.get_mut("connections").and_then(Value::as_object_mut) else { return Ok(models) };
    for (name, connection) in connections.iter_mut() {
        let Some(value) = connection.as_object_mut().and_then(|c| c.remove("models")) else { continue };
        match value.as_str() {
            Some(folder)
                if !folder.is_empty() && folder.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                models.insert(name.clone(), folder.to_string());
            }
            _ => {
                return Err(format!(
                    "`connections.{name}.models`: `{value}` is not a connectors folder name (the folder of `connectors/<folder>/models/*.sql`: letters, digits, `_`, `-`)"
                ));
            }
        }
    }
    Ok(models)
}

impl TxlakeConfig {
    /// The connectors folder whose models map connection `name` onto the canonical views:
    /// its `models`, else its connector's name.
    pub fn models_folder(&self, name: &str) -> Option<&str> {
        self.connection_models
            .get(name)
            .map(String::as_str)
            .or_else(|| self.connections.get(name).map(|c| c.connector.as_str()))
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SyncError::ConfigRead { path: path.to_path_buf(), source })?;
        let base_dir = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, path, base_dir, &|name| std::env::var(name).ok())
    }

    /// Parses configuration text; `env` looks up `${VAR}` references.
    pub fn parse(text: &str, path: &Path, base_dir: PathBuf, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let config_error = |message: String| SyncError::Config { path: path.to_path_buf(), message };
        let raw: toml::Value = toml::from_str(text).map_err(|e| config_error(e.to_string()))?;
        let json = serde_json::to_value(raw).map_err(|e| config_error(e.to_string()))?;
        let mut json = interpolate(json, "", env).map_err(config_error)?;
        inline_mapping_files(&mut json, &base_dir, env).map_err(config_error)?;
        let connection_models = take_connection_models(&mut json).map_err(config_error)?;
        let mut config: TxlakeConfig = serde_path_to_error::deserialize(json).map_err(|e| {
            let at = e.path().to_string();
            config_error(if at == "." { e.inner().to_string() } else { format!("`{at}`: {}", e.inner()) })
        })?;
        config.base_dir = base_dir;
        config.connection_models = connection_models;
        config.check_survey_mappings().map_err(|problems| config_error(problems.join("; ")))?;
        for name in config.connections.keys() {
            if RESERVED_SCHEMAS.contains(&name.as_str()) {
                return Err(config_error(format!(
                    "connection name `{name}` is reserved (txlake uses the SQL schemas {}); choose another",
                    RESERVED_SCHEMAS.join(", ")
                )));
            }
            if !is_identifier(name) {
                return Err(config_error(format!(
                    "connection name `{name}` must start with a lower-case letter and use only a-z, 0-9 and _ (it becomes a SQL schema name)"
                )));
            }
        }
        Ok(config)
    }

    /// Checks every connection's survey mapping, and that the connections it refers to exist.
    fn check_survey_mappings(&self) -> std::result::Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (name, connection) in &self.connections {
            let Some(mapping) = &connection.survey_mapping else { continue };
            let at = format!("connections.{name}.survey_mapping");
            if let Err(more) = mapping.check(&at) {
                problems.extend(more);
            }
            let references = [
                ("respondent.connection", mapping.respondent.connection.as_ref()),
                ("ticket.connection", mapping.ticket.as_ref().map(|t| &t.connection)),
            ];
            for (key, reference) in references {
                if let Some(other) = reference
                    && !self.connections.contains_key(other)
                {
                    problems.push(format!(
                        "`{at}.{key}` is `{other}`, which is not a connection of this file; connections: {}",
                        self.connections.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The connection of that name.
    pub fn connection(&self, name: &str) -> Result<&ConnectionConfig> {
        self.connections.get(name).ok_or_else(|| SyncError::UnknownConnection {
            name: name.to_string(),
            available: self.connections.keys().cloned().collect(),
        })
    }

    /// The connectors folder, resolved against the config's folder.
    pub fn connectors_dir(&self) -> Option<PathBuf> {
        self.connectors_dir.as_ref().map(|dir| if dir.is_absolute() { dir.clone() } else { self.base_dir.join(dir) })
    }

    /// The built-in connectors plus those of the connectors folder.
    pub fn registry(&self) -> std::result::Result<txlake_connector::Registry, txlake_connector::ConnectorError> {
        crate::connectors::registry_with(self.connectors_dir().as_deref())
    }

    /// Opens the configured lake.
    pub fn open_lake(&self) -> std::result::Result<txlake_lake::Lake, txlake_lake::LakeError> {
        txlake_lake::Lake::open(&self.lake.url, &self.base_dir, self.lake.options.clone().into_iter().collect())
    }
}

/// SQL schemas the engine uses itself (`tx.*`, `metrics.*`, DataFusion's own).
pub const RESERVED_SCHEMAS: [&str; 4] = ["tx", "metrics", "public", "information_schema"];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Reads `survey_mapping = "file.toml"` of each connection into the connection, so the
/// mapping may live in a file beside txlake.toml (with `${VAR}` references like the config).
fn inline_mapping_files(
    json: &mut Value,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(), String> {
    let Some(connections) = json.get_mut("connections").and_then(Value::as_object_mut) else { return Ok(()) };
    for (name, connection) in connections.iter_mut() {
        let Some(slot) = connection.get_mut("survey_mapping") else { continue };
        let Value::String(file) = slot else { continue };
        let at = format!("connections.{name}.survey_mapping");
        let path = base_dir.join(file.as_str());
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "`{at}` names the file {}, which cannot be read ({e}); write the path relative to this config file",
                path.display()
            )
        })?;
        let raw: toml::Value = toml::from_str(&text)
            .map_err(|e| format!("`{at}`: the mapping file {} is not valid TOML: {e}", path.display()))?;
        let value = serde_json::to_value(raw).map_err(|e| format!("`{at}`: {e}"))?;
        *slot = interpolate(value, &at, env)?;
    }
    Ok(())
}

/// Replaces `${VAR}` and `${VAR:-default}` in every string of `value`.
fn interpolate(value: Value, at: &str, env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(interpolate_str(&text, at, env)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| interpolate(v, &format!("{at}[{i}]"), env))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    interpolate(v, &path, env).map(|v| (k, v))
                })
                .collect::<std::result::Result<_, _>>()?,
        ),
        other => other,
    })
}

fn interpolate_str(text: &str, at: &str, env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("`{at}`: unclosed `${{` in \"{text}\"; write ${{VAR}}"))?;
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expr, None),
        };
        match (env(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "`{at}` refers to environment variable `{name}`, which is not set; set it or write ${{{name}:-default}}"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TxlakeConfig> {
        let env = |name: &str| (name == "TOKEN").then(|| "s3cret".to_string());
        TxlakeConfig::parse(text, Path::new("txlake.toml"), PathBuf::from("/srv"), &env)
    }

    #[test]
    fn full_example_parses_with_defaults() {
        let config = parse(
            r#"
            [lake]
            url = "file://./lake"
            [connections.demo]
            connector = "sample"
            config = { customers = 50, seed = 7 }
            [connections.crm]
            connector = "hubspot"
            config = { access_token = "${TOKEN}", region = "${REGION:-eu}" }
            streams = ["contacts"]
            modes = { contacts = "incremental_append" }
            "#,
        )
        .unwrap();
        assert_eq!(config.sync.commit_rows, 1_000_000);
        assert_eq!(config.connections["demo"].config["customers"], 50);
        let crm = &config.connections["crm"];
        assert_eq!(crm.config["access_token"], "s3cret");
        assert_eq!(crm.config["region"], "eu");
        assert_eq!(crm.modes["contacts"], StreamMode::IncrementalAppend);
        assert_eq!(config.base_dir, PathBuf::from("/srv"));
    }

    #[test]
    fn a_connection_names_its_models_folder() {
        let config = parse(
            r#"
            [connections.forms]
            connector = "airbyte-manifest:vendor/source_typeform/manifest.yaml"
            models = "airbyte-typeform"
            [connections.demo]
            connector = "sample"
            "#,
        )
        .unwrap();
        assert_eq!(config.models_folder("forms"), Some("airbyte-typeform"));
        assert_eq!(config.models_folder("demo"), Some("sample"));
        assert_eq!(config.models_folder("nope"), None);
        let err = parse("[connections.x]\nconnector = \"sample\"\nmodels = \"../up\"\n").unwrap_err().to_string();
        assert!(err.contains("connections.x.models") && err.contains("../up"), "{err}");
    }

    #[test]
    fn missing_env_var_names_the_field_and_variable() {
        let err =
            parse("[connections.crm]\nconnector = \"x\"\nconfig = { token = \"${NOPE}\" }").unwrap_err().to_string();
        assert!(err.contains("connections.crm.config.token") && err.contains("NOPE"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_modes_are_rejected() {
        let err = parse("[lake]\nurll = \"x\"").unwrap_err().to_string();
        assert!(err.contains("urll"), "{err}");
        let err =
            parse("[connections.demo]\nconnector = \"sample\"\nmodes = { a = \"sometimes\" }").unwrap_err().to_string();
        assert!(err.contains("sometimes"), "{err}");
        let err = parse("[lake\nurl=1").unwrap_err().to_string();
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn server_and_auth_sections_parse_with_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8080");
        assert!(config.auth.keys.is_empty());
        let config = parse(
            "[server]\nlisten = \"0.0.0.0:9000\"\nquery_row_limit = 10\n[[auth.keys]]\nname = \"bi\"\nrole = \"viewer\"\nsha256 = \"ab\"",
        )
        .unwrap();
        assert_eq!(config.server.listen, "0.0.0.0:9000");
        assert_eq!(config.server.query_row_limit, 10);
        assert_eq!(config.server.request_timeout_secs, 30);
        assert_eq!(config.auth.keys[0].role, "viewer");
        let err = parse("[server]\nlisen = \"x\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn connection_names_must_be_sql_identifiers() {
        let err = parse("[connections.My-CRM]\nconnector = \"x\"").unwrap_err().to_string();
        assert!(err.contains("My-CRM"), "{err}");
        let err = parse("[connections.tx]\nconnector = \"x\"").unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn survey_mappings_parse_inline_or_from_a_file_and_are_checked() {
        let config = parse(
            r#"
            [connections.crm]
            connector = "hubspot"
            [connections.forms]
            connector = "typeform"
            [connections.forms.survey_mapping]
            respondent = { field = "hidden.email", kind = "customer" }
            ticket = { field = "hidden.ticket", connection = "crm" }
            questions = { nps = { survey = "nps" } }
            "#,
        )
        .unwrap();
        let mapping = config.connections["forms"].survey_mapping.as_ref().unwrap();
        assert_eq!(mapping.respondent.field, "hidden.email");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("enps.toml"),
            "stream = \"answers\"\nanswered_at = \"${COLUMN:-submitted}\"\nrespondent = { field = \"email\", kind = \"employee\" }\n[questions]\nscore = { survey = \"enps\" }\n",
        )
        .unwrap();
        let text = "[connections.hr]\nconnector = \"files\"\nsurvey_mapping = \"enps.toml\"\n";
        let env = |_: &str| None;
        let config = TxlakeConfig::parse(text, Path::new("txlake.toml"), dir.path().to_path_buf(), &env).unwrap();
        let mapping = config.connections["hr"].survey_mapping.as_ref().unwrap();
        assert_eq!(mapping.answered_at.as_deref(), Some("submitted"));

        let err =
            parse("[connections.hr]\nconnector = \"files\"\nsurvey_mapping = \"nope.toml\"").unwrap_err().to_string();
        assert!(err.contains("connections.hr.survey_mapping") && err.contains("nope.toml"), "{err}");
        let err = parse(
            "[connections.f]\nconnector = \"typeform\"\n[connections.f.survey_mapping]\nrespondent = { field = \"id\", kind = \"customer\", connection = \"crm\" }\nquestions = { q = { survey = \"nps\", scale = [1, 10] } }",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("respondent.connection") && err.contains("`crm`"), "{err}");
        assert!(err.contains("questions.q") && err.contains("rescale = true"), "{err}");
        let err = parse("[connections.f]\nconnector = \"typeform\"\n[connections.f.survey_mapping]\nrespondent = { field = \"e\", kind = \"customer\" }\nquestions = { q = { survey = \"nsp\" } }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("connections.f.survey_mapping.questions.q.survey") && err.contains("nsp"), "{err}");
    }

    #[test]
    fn unknown_connection_lists_the_configured_ones() {
        let config = parse("[connections.demo]\nconnector = \"sample\"").unwrap();
        let err = config.connection("crm").unwrap_err().to_string();
        assert!(err.contains("crm") && err.contains("demo"), "{err}");
    }
}
