//! API keys and roles: who may call the API, and what they may do.
//!
//! Keys are configured in `txlake.toml` as `[[auth.keys]]` entries holding only the SHA-256 of
//! each key, so the config file (and whatever backs it up) never holds a usable secret.
//! `txlake keys create` makes a key with [`generate_key`] and prints the entry to paste with
//! [`config_snippet`]. A request presents its key in one of four ways (see
//! [`ApiKeys::authenticate`]); BI tools each support a different one. With no keys configured
//! the server runs in local mode: no authentication, loopback binds only.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Uri};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use sha2::{Digest, Sha256};

pub use txlake_sync::{ApiKeyConfig, AuthConfig};

use crate::error::ApiError;

/// The query parameter a key may be sent in.
const QUERY_PARAMETER: &str = "api_key";

/// What a key may do. Each role can do everything the roles below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads metrics and tables.
    Viewer,
    /// A viewer that may also run SQL queries.
    Analyst,
    /// An analyst that may also start and stop syncs.
    Admin,
}

impl Role {
    /// True if this role may do what needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    /// The role's name, as written in `txlake.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role `{text}`; roles: viewer, analyst, admin")),
        }
    }
}

/// Whoever a request's key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name.
    pub name: String,
    /// The key's role.
    pub role: Role,
}

#[derive(Debug, Clone)]
struct StoredKey {
    name: String,
    role: Role,
    digest: [u8; 32],
}

/// The configured API keys, checked against requests.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    keys: Vec<StoredKey>,
}

impl ApiKeys {
    /// The keys of `config`. Errors name the offending key: a `sha256` that is not 64 hex
    /// characters, a name used twice, or two keys with the same hash (which role would apply?).
    pub fn new(config: &AuthConfig) -> Result<ApiKeys, String> {
        let mut names = HashSet::new();
        let mut keys: Vec<StoredKey> = Vec::with_capacity(config.keys.len());
        for key in &config.keys {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&key.sha256, &mut digest).map_err(|_| {
                format!(
                    "auth key `{}`: sha256 must be the 64 hex characters of the key's SHA-256; \
                     create a key and its entry with `txlake keys create`",
                    key.name
                )
            })?;
            if !names.insert(key.name.as_str()) {
                return Err(format!("auth key `{}` is configured twice; give each key its own name", key.name));
            }
            if let Some(other) = keys.iter().find(|other| other.digest == digest) {
                return Err(format!(
                    "auth keys `{}` and `{}` have the same sha256; each needs its own key",
                    other.name, key.name
                ));
            }
            let role: Role = key.role.parse().map_err(|e| format!("auth key `{}`: {e}", key.name))?;
            keys.push(StoredKey { name: key.name.clone(), role, digest });
        }
        Ok(ApiKeys { keys })
    }

    /// True if no keys are configured: local mode, where the server only binds to loopback.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Who sent this request, from the key in its headers or in `query` (the raw query string).
    ///
    /// The key may come as `Authorization: Bearer <key>`, `X-API-Key: <key>`, HTTP Basic with
    /// the key as password and any user name (Power BI's Basic credential), or the `api_key`
    /// query parameter (Power BI's Web API credential can only send it that way). If several
    /// are present, `Authorization` wins, then `X-API-Key`, then the query parameter; a
    /// malformed `Authorization` is an error rather than a reason to look elsewhere.
    pub fn authenticate(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Principal, ApiError> {
        let key = presented_key(headers, query)?;
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        // Every stored key is compared, each in constant time, so the response time does not
        // depend on which key (if any) matched or on how much of a hash matched.
        let mut found = None;
        for stored in &self.keys {
            if constant_time_eq(&digest, &stored.digest) && found.is_none() {
                found = Some(stored);
            }
        }
        found
            .map(|stored| Principal { name: stored.name.clone(), role: stored.role })
            .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))
    }
}

/// The key a request presents, by precedence. Never echoes the key in an error.
fn presented_key(headers: &HeaderMap, query: Option<&str>) -> Result<String, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
        let value = value.trim();
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        // Auth schemes are case-insensitive (RFC 9110).
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(credentials.to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(credentials).map_err(|_| {
                ApiError::unauthorized("the Basic credentials in the Authorization header are not base64")
            })?;
            let decoded = String::from_utf8(decoded).map_err(|_| {
                ApiError::unauthorized("the Basic credentials in the Authorization header are not UTF-8")
            })?;
            // The user name is free (any name works); the password is the key.
            let (_, key) = decoded.split_once(':').ok_or_else(|| {
                ApiError::unauthorized(
                    "the Basic credentials in the Authorization header have no `:`; send `user:key`, base64-encoded",
                )
            })?;
            return Ok(key.to_string());
        }
        return Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <key>` or `Basic <base64 of user:key>`",
        ));
    }
    if let Some(value) = headers.get("x-api-key") {
        let value = value.to_str().map_err(|_| ApiError::unauthorized("the X-API-Key header is not valid text"))?;
        return Ok(value.trim().to_string());
    }
    if let Some((_, key)) =
        query.and_then(|query| url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == QUERY_PARAMETER))
    {
        return Ok(key.into_owned());
    }
    Err(ApiError::unauthorized(
        "no API key; send it as `Authorization: Bearer <key>`, as `X-API-Key: <key>`, as the password of HTTP \
         Basic auth (any user name), or as the `api_key` query parameter",
    ))
}

/// Equality of two digests that takes the same time wherever they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimizer from turning the fold into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

/// Allows the request if `principal`'s role is at least `needed`; else 403 saying both roles.
pub fn require(principal: &Principal, needed: Role) -> Result<(), ApiError> {
    if principal.role.allows(needed) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "key `{}` has role {}; this endpoint needs {needed}",
            principal.name, principal.role
        )))
    }
}

/// A new API key and its hash, made by `txlake keys create`.
pub struct GeneratedKey {
    /// The key to hand to the client: `txl_` and 32 random bytes, base64url. Shown once.
    pub key: String,
    /// The lowercase hex SHA-256 of `key`, for `txlake.toml`.
    pub sha256: String,
}

/// A new random API key. The bytes come from `rand::rng()`, a CSPRNG seeded from the OS.
pub fn generate_key() -> GeneratedKey {
    let bytes: [u8; 32] = rand::rng().random();
    let key = format!("txl_{}", URL_SAFE_NO_PAD.encode(bytes));
    let sha256 = hex::encode(Sha256::digest(key.as_bytes()));
    GeneratedKey { key, sha256 }
}

/// The `[[auth.keys]]` entry to paste into `txlake.toml` for a key.
pub fn config_snippet(name: &str, role: Role, sha256: &str) -> String {
    format!(
        "[[auth.keys]]\nname = {}\nrole = {}\nsha256 = {}\n",
        toml_string(name),
        toml_string(role.as_str()),
        toml_string(sha256)
    )
}

/// `text` as a TOML basic string: quoted, with `"`, `\` and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// True if a raw `name=value` query segment is the `api_key` parameter (its name decoded).
fn is_api_key(segment: &str) -> bool {
    url::form_urlencoded::parse(segment.as_bytes()).next().is_some_and(|(name, _)| name == QUERY_PARAMETER)
}

/// The path and query of `uri` for logs, any `api_key` value replaced by `***`.
pub fn redact_uri(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let query = query
        .split('&')
        .map(|segment| {
            if is_api_key(segment) {
                let name = segment.split_once('=').map_or(segment, |(name, _)| name);
                format!("{name}=***")
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{}?{query}", uri.path())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::*;

    const VIEWER_KEY: &str = "txl_viewer-key";
    const ADMIN_KEY: &str = "txl_admin-key";

    fn sha256_hex(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    fn keys() -> ApiKeys {
        ApiKeys::new(&AuthConfig {
            keys: vec![
                ApiKeyConfig { name: "bi".into(), role: "viewer".into(), sha256: sha256_hex(VIEWER_KEY) },
                // Uppercase hex is accepted too.
                ApiKeyConfig { name: "ops".into(), role: "admin".into(), sha256: sha256_hex(ADMIN_KEY).to_uppercase() },
            ],
        })
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn basic(credentials: &str) -> String {
        format!("Basic {}", STANDARD.encode(credentials))
    }

    /// Sends a key one way: the request's headers and query string.
    type Way = fn(&str) -> (HeaderMap, Option<String>);

    fn unauthorized_message(result: Result<Principal, ApiError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.code, "unauthorized");
        error.message
    }

    #[test]
    fn every_way_of_sending_a_key_authenticates_the_right_key_and_rejects_a_wrong_one() {
        let keys = keys();
        let ways: [Way; 5] = [
            |key| (headers(&[("authorization", &format!("Bearer {key}"))]), None),
            |key| (headers(&[("authorization", &format!("bearer  {key} "))]), None),
            |key| (headers(&[("x-api-key", key)]), None),
            |key| (headers(&[("authorization", &basic(&format!("powerbi:{key}")))]), None),
            |key| (HeaderMap::new(), Some(format!("from=2024-01-01&api_key={key}&to=2024-02-01"))),
        ];
        for way in ways {
            let (map, query) = way(ADMIN_KEY);
            let principal = keys.authenticate(&map, query.as_deref()).unwrap();
            assert_eq!(principal, Principal { name: "ops".into(), role: Role::Admin });
            let (map, query) = way(VIEWER_KEY);
            assert_eq!(keys.authenticate(&map, query.as_deref()).unwrap().name, "bi");

            let (map, query) = way("txl_wrong");
            let message = unauthorized_message(keys.authenticate(&map, query.as_deref()));
            assert_eq!(message, "the API key is not valid");
        }
    }

    #[test]
    fn the_query_parameter_is_percent_decoded() {
        let keys = ApiKeys::new(&AuthConfig {
            keys: vec![ApiKeyConfig { name: "odd".into(), role: "viewer".into(), sha256: sha256_hex("a/b=c&d") }],
        })
        .unwrap();
        assert_eq!(keys.authenticate(&HeaderMap::new(), Some("api_key=a%2Fb%3Dc%26d")).unwrap().name, "odd");
    }

    #[test]
    fn basic_auth_takes_any_user_and_keeps_colons_in_the_key() {
        let keys = ApiKeys::new(&AuthConfig {
            keys: vec![ApiKeyConfig { name: "colon".into(), role: "viewer".into(), sha256: sha256_hex("k:e:y") }],
        })
        .unwrap();
        for user in ["", "powerbi", "someone else"] {
            let map = headers(&[("authorization", &basic(&format!("{user}:k:e:y")))]);
            assert_eq!(keys.authenticate(&map, None).unwrap().name, "colon");
        }
    }

    #[test]
    fn a_missing_key_says_how_to_send_one() {
        let message = unauthorized_message(keys().authenticate(&HeaderMap::new(), Some("from=2024-01-01")));
        for way in ["Authorization: Bearer", "X-API-Key", "Basic", "api_key"] {
            assert!(message.contains(way), "{message}");
        }
    }

    #[test]
    fn malformed_authorization_headers_name_the_problem_not_the_key() {
        let keys = keys();
        let cases = [
            (format!("Basic {ADMIN_KEY}!"), "not base64"),
            (format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'k'])), "not UTF-8"),
            (basic(ADMIN_KEY), "no `:`"),
            (format!("Digest {ADMIN_KEY}"), "must be `Bearer <key>` or `Basic"),
            (ADMIN_KEY.to_string(), "must be `Bearer <key>` or `Basic"),
        ];
        for (value, problem) in cases {
            let message = unauthorized_message(keys.authenticate(&headers(&[("authorization", &value)]), None));
            assert!(message.contains(problem), "{value}: {message}");
            assert!(!message.contains(ADMIN_KEY), "{message}");
        }
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, HeaderValue::from_bytes(b"Bearer \xff").unwrap());
        assert!(unauthorized_message(keys.authenticate(&map, None)).contains("not valid text"));
        let mut map = HeaderMap::new();
        map.insert("x-api-key", HeaderValue::from_bytes(b"\xff").unwrap());
        assert!(unauthorized_message(keys.authenticate(&map, None)).contains("X-API-Key header is not valid text"));
    }

    #[test]
    fn authorization_wins_over_x_api_key_which_wins_over_the_query() {
        let keys = keys();
        let query = format!("api_key={VIEWER_KEY}");
        let both = headers(&[("authorization", &format!("Bearer {ADMIN_KEY}")), ("x-api-key", VIEWER_KEY)]);
        assert_eq!(keys.authenticate(&both, Some(&query)).unwrap().name, "ops");
        let header = headers(&[("x-api-key", ADMIN_KEY)]);
        assert_eq!(keys.authenticate(&header, Some(&query)).unwrap().name, "ops");
        // A wrong or malformed Authorization does not fall back to a valid key elsewhere.
        let wrong = headers(&[("authorization", "Bearer txl_wrong"), ("x-api-key", ADMIN_KEY)]);
        assert_eq!(unauthorized_message(keys.authenticate(&wrong, None)), "the API key is not valid");
        let malformed = headers(&[("authorization", "Basic !!!")]);
        assert!(unauthorized_message(keys.authenticate(&malformed, Some(&query))).contains("not base64"));
    }

    #[test]
    fn require_follows_the_role_order() {
        let roles = [Role::Viewer, Role::Analyst, Role::Admin];
        for (held_rank, held) in roles.into_iter().enumerate() {
            let principal = Principal { name: "k".into(), role: held };
            for (needed_rank, needed) in roles.into_iter().enumerate() {
                let result = require(&principal, needed);
                assert_eq!(result.is_ok(), held_rank >= needed_rank, "{held} needs {needed}");
                assert_eq!(held.allows(needed), held_rank >= needed_rank);
                if let Err(error) = result {
                    assert_eq!(error.status, StatusCode::FORBIDDEN);
                    assert_eq!(error.message, format!("key `k` has role {held}; this endpoint needs {needed}"));
                }
            }
        }
    }

    #[test]
    fn roles_parse_and_print_by_name() {
        for role in [Role::Viewer, Role::Analyst, Role::Admin] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert_eq!("owner".parse::<Role>(), Err("unknown role `owner`; roles: viewer, analyst, admin".into()));
    }

    #[test]
    fn bad_configs_are_refused_naming_the_key() {
        let entry =
            |name: &str, sha256: &str| ApiKeyConfig { name: name.into(), role: "viewer".into(), sha256: sha256.into() };
        let good = sha256_hex("x");
        for sha256 in ["", "abc", &"g".repeat(64), &format!("{good}00"), &good[..63]] {
            let error = ApiKeys::new(&AuthConfig { keys: vec![entry("bi", sha256)] }).unwrap_err();
            assert!(error.contains("`bi`") && error.contains("txlake keys create"), "{error}");
        }
        let twice = ApiKeys::new(&AuthConfig { keys: vec![entry("bi", &good), entry("bi", &sha256_hex("y"))] });
        assert!(twice.unwrap_err().contains("`bi` is configured twice"));
        let same = ApiKeys::new(&AuthConfig { keys: vec![entry("a", &good), entry("b", &good)] });
        assert!(same.unwrap_err().contains("`a` and `b` have the same sha256"));
    }

    #[test]
    fn roles_are_checked_when_the_keys_load() {
        let bad = ApiKeyConfig { name: "bi".into(), role: "owner".into(), sha256: sha256_hex("k") };
        let error = ApiKeys::new(&AuthConfig { keys: vec![bad] }).unwrap_err();
        assert!(error.contains("`bi`") && error.contains("viewer, analyst, admin"), "{error}");
        assert!(ApiKeys::new(&AuthConfig::default()).unwrap().is_empty());
        assert!(!keys().is_empty());
    }

    #[test]
    fn generated_keys_are_distinct_and_authenticate_by_their_hash() {
        let first = generate_key();
        let second = generate_key();
        assert_ne!(first.key, second.key);
        for generated in [&first, &second] {
            assert!(generated.key.starts_with("txl_"));
            assert_eq!(URL_SAFE_NO_PAD.decode(&generated.key[4..]).unwrap().len(), 32);
            assert_eq!(generated.sha256, sha256_hex(&generated.key));
            assert_eq!(generated.sha256.len(), 64);
            assert_eq!(generated.sha256, generated.sha256.to_lowercase());
        }
        let keys = ApiKeys::new(&AuthConfig {
            keys: vec![ApiKeyConfig { name: "new".into(), role: "analyst".into(), sha256: first.sha256.clone() }],
        })
        .unwrap();
        let map = headers(&[("x-api-key", &first.key)]);
        assert_eq!(keys.authenticate(&map, None).unwrap(), Principal { name: "new".into(), role: Role::Analyst });
    }

    #[test]
    fn the_config_snippet_has_the_exact_lines_with_the_name_escaped() {
        let generated = generate_key();
        let snippet = config_snippet("power \"bi\" \\ team\n", Role::Viewer, &generated.sha256);
        let expected = format!(
            "[[auth.keys]]\nname = \"power \\\"bi\\\" \\\\ team\\u000A\"\nrole = \"viewer\"\nsha256 = \"{}\"\n",
            generated.sha256
        );
        assert_eq!(snippet, expected);
        assert_eq!(
            config_snippet("bi", Role::Admin, "ab"),
            "[[auth.keys]]\nname = \"bi\"\nrole = \"admin\"\nsha256 = \"ab\"\n"
        );
    }

    #[test]
    fn redact_uri_hides_only_the_key() {
        let uri: Uri = "/api/v1/metrics/nps?from=2024-01-01&api_key=txl_secret&by=month".parse().unwrap();
        assert_eq!(redact_uri(&uri), "/api/v1/metrics/nps?from=2024-01-01&api_key=***&by=month");
        let uri: Uri = "http://host:8080/x?api%5Fkey=txl_secret".parse().unwrap();
        assert_eq!(redact_uri(&uri), "/x?api%5Fkey=***");
        assert_eq!(redact_uri(&"/x?a=1&b".parse().unwrap()), "/x?a=1&b");
        assert_eq!(redact_uri(&"/x".parse().unwrap()), "/x");
    }
}
