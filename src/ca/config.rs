//! `ca.json` in step-ca's schema (see `step-and-peers.md` §3.5), so that step-ca's documentation describes it.
//! Members ferrica does not use yet are kept as they are (`extra`), so reading and writing loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The top of `ca.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaConfig {
    /// The root certificate file(s).
    pub root: Value,
    /// The intermediate certificate file.
    pub crt: String,
    /// The intermediate key file.
    pub key: String,
    /// The HTTPS listen address.
    pub address: String,
    /// Plain-HTTP address for /crl (empty: none).
    #[serde(default)]
    pub insecure_address: String,
    /// Names of the CA: its TLS certificate and the token audiences.
    pub dns_names: Vec<String>,
    /// Logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<Value>,
    /// The database (`{"type": "...", "dataSource": "..."}`); absent with `--no-db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<Value>,
    /// TLS options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
    /// The CN of the CA's own TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// CRL settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<Value>,
    /// Provisioners, claims and policy.
    pub authority: Authority,
    /// Members we keep but do not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `authority` member.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authority {
    /// Provisioners, as JSON objects (`type`, `name`, and type-specific members).
    #[serde(default)]
    pub provisioners: Vec<Map<String, Value>>,
    /// Global claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Value>,
    /// Members we keep but do not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The file name of ferrica's embedded store inside a step-ca database directory.
pub const EMBEDDED_STORE_FILE: &str = "ferrica.redb";

/// Where ca.json's `db` puts the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded redb file.
    Embedded(std::path::PathBuf),
    /// A PostgreSQL database: step-ca's `{"type": "postgresql", "dataSource": URL, "database": NAME}`, with
    /// ferrica's `poolSize` and `statementTimeout` beside them.
    Postgres {
        /// The connection URL.
        url: String,
        /// The database, when not in the URL.
        database: Option<String>,
        /// Pool size and timeouts.
        options: crate::ca::store::postgres::PgOptions,
    },
}

/// Reads ca.json's `db` (or a `serve --db` URL, given as `{"type": "postgresql", "dataSource": URL}`).
pub fn store_choice(db: &Value) -> Result<StoreChoice, String> {
    let kind = db.get("type").and_then(Value::as_str).unwrap_or_default();
    if !matches!(kind.to_ascii_lowercase().as_str(), "postgresql" | "postgres") {
        return embedded_store_path(db).map(StoreChoice::Embedded);
    }
    let url = db.get("dataSource").and_then(Value::as_str).unwrap_or_default();
    if url.is_empty() {
        return Err("db type \"postgresql\" has no dataSource (postgresql://user:password@host:5432/)".into());
    }
    // Its TLS parameters (sslmode and friends) are checked now, not at the first connection.
    crate::ca::store::pg_tls::split(url).map_err(|e| match e {
        crate::ca::store::StoreError::Backend(m) => m,
        other => other.to_string(),
    })?;
    let mut options = crate::ca::store::postgres::PgOptions::default();
    if let Some(v) = db.get("poolSize") {
        options.pool_size = v
            .as_u64()
            .filter(|n| (1..=1000).contains(n))
            .ok_or("db.poolSize: must be a number from 1 to 1000")? as usize;
    }
    if let Some(v) = db.get("statementTimeout") {
        let d = v
            .as_str()
            .ok_or_else(|| "db.statementTimeout: must be a duration such as \"5s\"".to_string())
            .and_then(|t| crate::pki::validity::parse_duration(t).map_err(|e| format!("db.statementTimeout: {e}")))?;
        if d.whole_milliseconds() < 100 {
            return Err("db.statementTimeout: at least 100ms".into());
        }
        options.statement_timeout = std::time::Duration::from_millis(d.whole_milliseconds() as u64);
    }
    Ok(StoreChoice::Postgres {
        url: url.to_string(),
        database: db.get("database").and_then(Value::as_str).map(str::to_string),
        options,
    })
}

/// Where ferrica keeps its embedded (redb) store for ca.json's `db`, or why it cannot:
/// - `{"type": "redb", "dataSource": FILE}`: that file (ferrica's own entry);
/// - step-ca's embedded databases (`badgerv2`, `badger`, `badgerv3`, `bbolt`): ferrica does not read their data, and
///   keeps its own store beside it, `ferrica.redb` in the badger directory or in the bbolt file's directory, so a
///   ca.json written for step-ca (or by `ferrica ca init`) serves both unchanged.
pub fn embedded_store_path(db: &Value) -> Result<std::path::PathBuf, String> {
    use std::path::PathBuf;
    let kind = db.get("type").and_then(Value::as_str).unwrap_or_default();
    let source = db.get("dataSource").and_then(Value::as_str).unwrap_or_default();
    if source.is_empty() && !kind.is_empty() {
        return Err(format!("db type {kind:?} has no dataSource"));
    }
    match kind.to_ascii_lowercase().as_str() {
        "redb" => Ok(PathBuf::from(source)),
        "badger" | "badgerv2" | "badgerv3" => Ok(PathBuf::from(source).join(EMBEDDED_STORE_FILE)),
        "bbolt" => Ok(PathBuf::from(source)
            .parent()
            .map_or_else(|| PathBuf::from(EMBEDDED_STORE_FILE), |d| d.join(EMBEDDED_STORE_FILE))),
        "mysql" => Err(format!(
            "db type {kind:?} is not supported (use \"postgresql\" for several instances, or the embedded \"badgerv2\"/\"redb\")"
        )),
        other => Err(format!(
            "db type {other:?} is not supported (use step-ca's \"badgerv2\" with a directory, or \"redb\" with a file)"
        )),
    }
}

impl CaConfig {
    /// Parses `ca.json`.
    pub fn from_json(data: &[u8]) -> Result<CaConfig, String> {
        let config: CaConfig = serde_json::from_slice(data).map_err(|e| format!("not a valid ca.json: {e}"))?;
        for p in &config.authority.provisioners {
            crate::ca::provisioner::check_key_types(p)?;
        }
        Ok(config)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("the config serializes") + "\n"
    }

    /// The provisioner with this name, if any.
    pub fn provisioner(&self, name: &str) -> Option<&Map<String, Value>> {
        self.authority
            .provisioners
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn db_postgresql_is_read_as_step_ca_writes_it_with_pool_settings() {
        use super::{StoreChoice, store_choice};
        let db = serde_json::json!({"type": "postgresql", "dataSource": "postgresql://u:p@db:5432/", "database": "ca",
            "poolSize": 4, "statementTimeout": "2s"});
        let StoreChoice::Postgres { url, database, options } = store_choice(&db).unwrap() else {
            panic!("not postgres")
        };
        assert_eq!(
            (url.as_str(), database.as_deref()),
            ("postgresql://u:p@db:5432/", Some("ca"))
        );
        assert_eq!((options.pool_size, options.statement_timeout.as_secs()), (4, 2));
        for bad in [
            serde_json::json!({"type": "postgresql"}),
            serde_json::json!({"type": "postgresql", "dataSource": "x", "poolSize": 0}),
            serde_json::json!({"type": "postgresql", "dataSource": "x", "statementTimeout": "1ms"}),
            serde_json::json!({"type": "mysql", "dataSource": "x"}),
            serde_json::json!({"type": "postgresql", "dataSource": "postgresql://db/?sslmode=on"}),
        ] {
            assert!(store_choice(&bad).is_err(), "{bad}");
        }
        assert!(matches!(
            store_choice(&serde_json::json!({"type": "badgerv2", "dataSource": "/d"})),
            Ok(StoreChoice::Embedded(_))
        ));
    }
}
