//! The PostgreSQL store: several `ferrica serve` instances on one database.
//!
//! Every atomic step of the traits is one statement or one transaction, and every uniqueness rule is a constraint
//! checked by PostgreSQL in that statement (primary keys on serials, token IDs, key thumbprints, EAB key ids,
//! nonces), so instances never coordinate in memory. The CRL number is a sequence. Read-modify-write of ACME
//! records locks the row (`SELECT ... FOR UPDATE`), so concurrent updates of one order queue instead of failing.
//!
//! The store owns a small tokio runtime for its connections: the synchronous trait methods run their statements on
//! it from whatever thread calls them (a blocking pool thread, or the CLI's main thread), and the `_async` writes
//! hand a task to it and return a [`Pending`] at once.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    AccountConflict, AcmeStore, AcmeTable, Dump, IssuedCert, Modify, Pending, Portable, Revocation, SignCrl, SshIssued,
    SshStore, Store, StoreError, StoredCrl,
};

/// Schema migrations, in order; `ferrica_schema.version` counts how many were applied.
const MIGRATIONS: &[&str] = &[
    // 1: everything the embedded store carries.
    "CREATE TABLE x509_certs (
        serial TEXT PRIMARY KEY,
        provisioner TEXT NOT NULL,
        not_after BIGINT NOT NULL,
        der BYTEA NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now());
     CREATE TABLE x509_revocations (
        serial TEXT PRIMARY KEY,
        reason_code SMALLINT NOT NULL,
        reason TEXT NOT NULL,
        revoked_at BIGINT NOT NULL);
     CREATE TABLE used_tokens (jti TEXT PRIMARY KEY, expires BIGINT NOT NULL);
     CREATE SEQUENCE crl_number;
     CREATE TABLE ssh_certs (
        serial TEXT PRIMARY KEY,
        cert_type TEXT NOT NULL,
        key_id TEXT NOT NULL,
        principals TEXT[] NOT NULL,
        valid_after BIGINT NOT NULL,
        valid_before BIGINT NOT NULL,
        provisioner TEXT NOT NULL,
        cert BYTEA NOT NULL);
     CREATE TABLE ssh_revocations (
        serial TEXT PRIMARY KEY,
        reason_code SMALLINT NOT NULL,
        reason TEXT NOT NULL,
        revoked_at BIGINT NOT NULL);
     CREATE TABLE acme_records (kind SMALLINT NOT NULL, id TEXT NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (kind, id));
     CREATE TABLE acme_account_keys (thumbprint TEXT PRIMARY KEY, account TEXT NOT NULL);
     CREATE TABLE acme_eab_bound (kid TEXT PRIMARY KEY, account TEXT NOT NULL);
     CREATE TABLE acme_account_orders (
        account TEXT NOT NULL,
        created BIGINT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (account, created, order_id));
     CREATE INDEX acme_account_orders_by_order ON acme_account_orders (order_id);
     CREATE TABLE acme_nonces (nonce TEXT PRIMARY KEY, expires BIGINT NOT NULL);",
    // 2: one CRL for every instance, and the revocation generation it is checked against.
    "CREATE TABLE crl (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        number BIGINT NOT NULL,
        der BYTEA NOT NULL,
        this_update BIGINT NOT NULL,
        next_update BIGINT NOT NULL,
        generation BIGINT NOT NULL);
     CREATE TABLE crl_generation (id SMALLINT PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
     INSERT INTO crl_generation VALUES (1, 0);",
    // 3: the periodic purges delete by expiry; without these they scanned the whole table (the embedded store's
    // used tokens moved to (exp, id) keys for the same reason).
    "CREATE INDEX used_tokens_by_expires ON used_tokens (expires);
     CREATE INDEX acme_nonces_by_expires ON acme_nonces (expires);",
];

/// The advisory lock key that serializes CRL publication (transaction-scoped).
const CRL_LOCK: i64 = 0x0066_6572_7269_6363;

/// The advisory lock key held, for as long as its session lives, by the instance that runs the periodic jobs.
const LEADER_LOCK: i64 = 0x0066_6572_7269_6362;

/// The advisory lock key that serializes migrations between instances starting at once ("ferrica" in ASCII).
const MIGRATION_LOCK: i64 = 0x0066_6572_7269_6361;

/// Connection settings beyond the URL (ca.json's `db` members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections kept at most.
    pub pool_size: usize,
    /// Longest a statement may run, and longest to wait for a connection.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL backend.
pub struct PgStore {
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// For the leader's own session (outside the pool, so the lock lives exactly as long as it).
    config: tokio_postgres::Config,
    /// TLS as the data source's libpq parameters ask (see [`super::pg_tls`]).
    tls: MakeRustlsConnect,
    /// The session holding [`LEADER_LOCK`], while this instance leads.
    leader: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    /// Where it connects, without the password (for messages).
    shown: String,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // May run inside another runtime (the server's): never block here.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    // No SQLSTATE: the connection failed. Class 08 (connection exception), 53 (insufficient resources) and 57
    // (operator intervention: shutting down, starting up, terminated by an administrator) pass when the server is
    // back; a statement or lock timeout (57014, 55P03) too.
    let transient = match e.code() {
        None => true,
        Some(c) => {
            let code = c.code();
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57") || code == "55P03"
        }
    };
    // tokio-postgres keeps the cause (a TLS verification failure, a refused connection) as the error's source.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    if transient || e.is_closed() {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn kind(t: AcmeTable) -> i16 {
    match t {
        AcmeTable::Account => 1,
        AcmeTable::Order => 2,
        AcmeTable::Authz => 3,
        AcmeTable::Certificate => 4,
        AcmeTable::PendingOrder => 5,
    }
}

impl PgStore {
    /// Connects to `url` (`postgresql://user:pass@host:port/db`, or `?host=/run/postgresql` for a unix socket; or
    /// libpq's `host=... dbname=...`), with `database` replacing the URL's database when given (step-ca's ca.json
    /// keeps it apart), and applies the schema migrations. TLS follows libpq's `sslmode`, `sslrootcert`, `sslcert`
    /// and `sslkey`. A database whose schema is newer than this ferrica knows is refused.
    pub fn connect(url: &str, database: Option<&str>, opts: &PgOptions) -> Result<PgStore, StoreError> {
        let (url, tls_params) = super::pg_tls::split(url)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("dataSource is not a PostgreSQL URL: {e}")))?;
        let (ssl_mode, tls) = tls_params.connector(&config)?;
        config.ssl_mode(ssl_mode);
        if let Some(db) = database.filter(|d| !d.is_empty()) {
            config.dbname(db);
        }
        if config.get_user().is_none() {
            config.user(std::env::var("USER").unwrap_or_else(|_| "postgres".into()));
        }
        let ms = opts.statement_timeout.as_millis();
        config.options(format!("-c statement_timeout={ms} -c lock_timeout={ms}"));
        config.connect_timeout(opts.statement_timeout);
        config.application_name("ferrica");
        let shown = format!(
            "{}@{}/{}",
            config.get_user().unwrap_or_default(),
            config
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(s) => s.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default(),
            config.get_dbname().unwrap_or_default()
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferrica-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("starting the database runtime: {e}")))?;
        // step-ca creates its database when it is missing; so does ferrica.
        {
            let _g = rt.enter();
            futures_executor::block_on(create_database_if_missing(&config, tls.clone()))?;
        }
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _g = rt.enter();
            Pool::builder(manager)
                .max_size(opts.pool_size.max(1))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(opts.statement_timeout))
                .create_timeout(Some(opts.statement_timeout))
                .recycle_timeout(Some(opts.statement_timeout))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?
        };
        let store = PgStore {
            rt: Some(rt),
            pool,
            config,
            tls,
            leader: tokio::sync::Mutex::new(None),
            shown,
        };
        store.run(migrate(store.pool.clone()))?;
        Ok(store)
    }

    /// `user@host/database`, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("the runtime lives until drop")
    }

    /// Runs `f` to completion on the calling thread, with this store's runtime driving the connections.
    fn run<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let _g = self.rt().enter();
        futures_executor::block_on(f)
    }

    /// Hands `f` to the store's runtime and returns at once.
    fn spawn(&self, f: impl Future<Output = Result<(), StoreError>> + Send + 'static) -> Pending {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.rt().spawn(async move {
            let _ = tx.send(f.await.map(|()| 0));
        });
        Pending::Waiting(rx)
    }

    /// Whether the database answers (for `/health`).
    pub fn ping(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        self.run(async move {
            let c = pool.get().await.map_err(pool_err)?;
            c.simple_query("SELECT 1").await.map_err(pg_err)?;
            Ok(())
        })
    }
}

/// Connects once; if the database does not exist, creates it from the `postgres` database.
async fn create_database_if_missing(config: &tokio_postgres::Config, tls: MakeRustlsConnect) -> Result<(), StoreError> {
    let connect = |c: tokio_postgres::Config| {
        let tls = tls.clone();
        async move {
            let (client, conn) = c.connect(tls).await?;
            tokio::spawn(conn);
            Ok::<_, tokio_postgres::Error>(client)
        }
    };
    match connect(config.clone()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let name = config.get_dbname().unwrap_or_default().to_string();
            let mut admin = config.clone();
            admin.dbname("postgres");
            let client = connect(admin).await.map_err(pg_err)?;
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            match client.batch_execute(&format!("CREATE DATABASE {quoted}")).await {
                Ok(()) => {
                    tracing::info!(database = %name, "created the PostgreSQL database");
                    Ok(())
                }
                // Another instance created it at the same moment.
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) || is_unique_violation(&e) => Ok(()),
                Err(e) => Err(pg_err(e)),
            }
        }
        Err(e) => Err(pg_err(e)),
    }
}

async fn migrate(pool: Pool) -> Result<(), StoreError> {
    let mut c = pool.get().await.map_err(pool_err)?;
    let tx = c.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS ferrica_schema (version INTEGER NOT NULL)")
        .await
        .map_err(pg_err)?;
    let row = tx
        .query_opt("SELECT version FROM ferrica_schema", &[])
        .await
        .map_err(pg_err)?;
    let have = row.as_ref().map_or(0, |r| r.get::<_, i32>(0)) as usize;
    if have > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database's schema is version {have}, newer than this ferrica knows ({}): upgrade ferrica",
            MIGRATIONS.len()
        )));
    }
    for m in &MIGRATIONS[have..] {
        tx.batch_execute(m).await.map_err(pg_err)?;
    }
    let version = MIGRATIONS.len() as i32;
    if row.is_none() {
        tx.execute("INSERT INTO ferrica_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(pg_err)?;
    } else if have < MIGRATIONS.len() {
        tx.execute("UPDATE ferrica_schema SET version = $1", &[&version])
            .await
            .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

/// Token (if any) and certificate in one statement: the token insert does nothing if the ID was used, the
/// certificate insert then does nothing either; a duplicate serial fails the whole statement.
async fn insert_issued(pool: Pool, jti: Option<(String, i64)>, cert: IssuedCert) -> Result<(), StoreError> {
    let c = pool.get().await.map_err(pool_err)?;
    let result = match &jti {
        Some((jti, expires)) => {
            let st = c
                .prepare_cached(
                    "WITH t AS (INSERT INTO used_tokens (jti, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
                     INSERT INTO x509_certs (serial, provisioner, not_after, der)
                     SELECT $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM t)",
                )
                .await
                .map_err(pg_err)?;
            c.execute(
                &st,
                &[
                    jti,
                    expires,
                    &cert.serial,
                    &cert.provisioner,
                    &cert.not_after,
                    &cert.der,
                ],
            )
            .await
        }
        None => {
            let st = c
                .prepare_cached("INSERT INTO x509_certs (serial, provisioner, not_after, der) VALUES ($1, $2, $3, $4)")
                .await
                .map_err(pg_err)?;
            c.execute(&st, &[&cert.serial, &cert.provisioner, &cert.not_after, &cert.der])
                .await
        }
    };
    match result {
        Ok(0) => Err(StoreError::TokenReused),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateSerial(cert.serial)),
        Err(e) => Err(pg_err(e)),
    }
}

async fn insert_ssh(pool: Pool, jti: Option<(String, i64)>, cert: SshIssued) -> Result<(), StoreError> {
    let c = pool.get().await.map_err(pool_err)?;
    let (after, before) = (cert.valid_after as i64, cert.valid_before as i64);
    let result = match &jti {
        Some((jti, expires)) => {
            let st = c
                .prepare_cached(
                    "WITH t AS (INSERT INTO used_tokens (jti, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
                     INSERT INTO ssh_certs (serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert)
                     SELECT $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM t)",
                )
                .await
                .map_err(pg_err)?;
            c.execute(
                &st,
                &[
                    jti,
                    expires,
                    &cert.serial,
                    &cert.cert_type,
                    &cert.key_id,
                    &cert.principals,
                    &after,
                    &before,
                    &cert.provisioner,
                    &cert.cert,
                ],
            )
            .await
        }
        None => {
            let st = c
                .prepare_cached(
                    "INSERT INTO ssh_certs (serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .await
                .map_err(pg_err)?;
            c.execute(
                &st,
                &[
                    &cert.serial,
                    &cert.cert_type,
                    &cert.key_id,
                    &cert.principals,
                    &after,
                    &before,
                    &cert.provisioner,
                    &cert.cert,
                ],
            )
            .await
        }
    };
    match result {
        Ok(0) => Err(StoreError::TokenReused),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateSerial(cert.serial)),
        Err(e) => Err(pg_err(e)),
    }
}

fn ssh_of(r: &tokio_postgres::Row) -> SshIssued {
    SshIssued {
        serial: r.get(0),
        cert_type: r.get(1),
        key_id: r.get(2),
        principals: r.get(3),
        valid_after: r.get::<_, i64>(4) as u64,
        valid_before: r.get::<_, i64>(5) as u64,
        provisioner: r.get(6),
        cert: r.get(7),
    }
}

/// The CRL in columns `at..at + 5` of `r` (number, der, this_update, next_update, generation), if there is one.
fn crl_of(r: &tokio_postgres::Row, at: usize) -> Option<StoredCrl> {
    let number: Option<i64> = r.get(at);
    Some(StoredCrl {
        number: number? as u64,
        der: r.get(at + 1),
        this_update: r.get(at + 2),
        next_update: r.get(at + 3),
        generation: r.get::<_, i64>(at + 4) as u64,
    })
}

fn revocation_of(r: &tokio_postgres::Row) -> Revocation {
    Revocation {
        serial: r.get(0),
        reason_code: r.get::<_, i16>(1) as u8,
        reason: r.get(2),
        revoked_at: r.get(3),
    }
}

impl PgStore {
    async fn insert_revocation(pool: Pool, table: &'static str, r: Revocation) -> Result<(), StoreError> {
        let c = pool.get().await.map_err(pool_err)?;
        let st = c
            .prepare_cached(&format!(
                "INSERT INTO {table} (serial, reason_code, reason, revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            ))
            .await
            .map_err(pg_err)?;
        let n = c
            .execute(&st, &[&r.serial, &i16::from(r.reason_code), &r.reason, &r.revoked_at])
            .await
            .map_err(pg_err)?;
        if n == 0 {
            Err(StoreError::AlreadyRevoked(r.serial))
        } else {
            Ok(())
        }
    }

    fn query<T: Send + 'static>(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
        f: fn(&tokio_postgres::Row) -> T,
    ) -> Result<Vec<T>, StoreError> {
        let pool = self.pool.clone();
        self.run(async move {
            let c = pool.get().await.map_err(pool_err)?;
            let st = c.prepare_cached(sql).await.map_err(pg_err)?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| &**p as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            let rows = c.query(&st, &refs).await.map_err(pg_err)?;
            Ok(rows.iter().map(f).collect())
        })
    }
}

impl Store for PgStore {
    fn health(&self) -> Result<(), StoreError> {
        self.ping()
    }

    fn purge_tokens(&self, before: i64) -> Result<usize, StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let n = c
                .execute("DELETE FROM used_tokens WHERE expires < $1", &[&before])
                .await
                .map_err(pg_err)?;
            Ok(n as usize)
        })
    }

    fn lead(&self) -> Result<bool, StoreError> {
        self.run(async {
            let mut slot = self.leader.lock().await;
            if let Some(c) = slot.as_ref() {
                if !c.is_closed() && c.simple_query("SELECT 1").await.is_ok() {
                    return Ok(true);
                }
                // The session died, and the lock with it: try again as anyone would.
                *slot = None;
            }
            let (client, conn) = self.config.connect(self.tls.clone()).await.map_err(pg_err)?;
            tokio::spawn(conn);
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                .await
                .map_err(pg_err)?;
            if row.get::<_, bool>(0) {
                *slot = Some(client);
                Ok(true)
            } else {
                Ok(false)
            }
        })
    }

    fn record_certificate(&self, cert: &IssuedCert) -> Result<(), StoreError> {
        self.run(insert_issued(self.pool.clone(), None, cert.clone()))
    }

    fn record_issued(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Result<(), StoreError> {
        self.run(insert_issued(
            self.pool.clone(),
            Some((jti.to_string(), expires)),
            cert.clone(),
        ))
    }

    fn record_issued_async(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Pending {
        self.spawn(insert_issued(
            self.pool.clone(),
            Some((jti.to_string(), expires)),
            cert.clone(),
        ))
    }

    fn certificate(&self, serial: &str) -> Result<Option<IssuedCert>, StoreError> {
        Ok(self
            .query(
                "SELECT serial, provisioner, not_after, der FROM x509_certs WHERE serial = $1",
                vec![Box::new(serial.to_string())],
                |r| IssuedCert {
                    serial: r.get(0),
                    provisioner: r.get(1),
                    not_after: r.get(2),
                    der: r.get(3),
                },
            )?
            .pop())
    }

    fn use_token(&self, jti: &str, expires: i64) -> Result<(), StoreError> {
        let (pool, jti) = (self.pool.clone(), jti.to_string());
        self.run(async move {
            let c = pool.get().await.map_err(pool_err)?;
            let st = c
                .prepare_cached("INSERT INTO used_tokens (jti, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .await
                .map_err(pg_err)?;
            match c.execute(&st, &[&jti, &expires]).await.map_err(pg_err)? {
                0 => Err(StoreError::TokenReused),
                _ => Ok(()),
            }
        })
    }

    fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
        let (pool, r) = (self.pool.clone(), r.clone());
        self.run(async move {
            let c = pool.get().await.map_err(pool_err)?;
            // The revocation and the generation bump in one statement: a CRL made from an older generation is out
            // of date the moment this commits, whichever instance made it.
            let st = c
                .prepare_cached(
                    "WITH r AS (INSERT INTO x509_revocations (serial, reason_code, reason, revoked_at)
                                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1),
                          g AS (UPDATE crl_generation SET value = value + 1
                                WHERE id = 1 AND EXISTS (SELECT 1 FROM r) RETURNING 1)
                     SELECT count(*) FROM r",
                )
                .await
                .map_err(pg_err)?;
            let row = c
                .query_one(&st, &[&r.serial, &i16::from(r.reason_code), &r.reason, &r.revoked_at])
                .await
                .map_err(pg_err)?;
            if row.get::<_, i64>(0) == 0 {
                Err(StoreError::AlreadyRevoked(r.serial))
            } else {
                Ok(())
            }
        })
    }

    fn crl_state(&self) -> Result<(u64, Option<StoredCrl>), StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let st = c
                .prepare_cached(
                    "SELECT g.value, crl.number, crl.der, crl.this_update, crl.next_update, crl.generation
                     FROM crl_generation g LEFT JOIN crl ON crl.id = 1 WHERE g.id = 1",
                )
                .await
                .map_err(pg_err)?;
            let row = c.query_one(&st, &[]).await.map_err(pg_err)?;
            Ok((row.get::<_, i64>(0) as u64, crl_of(&row, 1)))
        })
    }

    fn crl_invalidate(&self) -> Result<(), StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            c.execute("UPDATE crl_generation SET value = value + 1 WHERE id = 1", &[])
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn crl_publish(
        &self,
        generation: u64,
        now: i64,
        validity: (i64, i64),
        sign: SignCrl<'_>,
    ) -> Result<Result<StoredCrl, String>, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CRL_LOCK])
                .await
                .map_err(pg_err)?;
            let row = tx
                .query_opt(
                    "SELECT number, der, this_update, next_update, generation FROM crl WHERE id = 1",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            if let Some(current) = row
                .as_ref()
                .and_then(|r| crl_of(r, 0))
                .filter(|c| c.is_current(generation, now))
            {
                return Ok(Ok(current));
            }
            let number = tx
                .query_one("SELECT nextval('crl_number')", &[])
                .await
                .map_err(pg_err)?
                .get::<_, i64>(0) as u64;
            let der = match sign(number) {
                Ok(d) => d,
                Err(e) => return Ok(Err(e)),
            };
            let crl = StoredCrl {
                number,
                der,
                this_update: validity.0,
                next_update: validity.1,
                generation,
            };
            tx.execute(
                "INSERT INTO crl (id, number, der, this_update, next_update, generation) VALUES (1, $1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number, der = EXCLUDED.der,
                   this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update,
                   generation = EXCLUDED.generation",
                &[
                    &(crl.number as i64),
                    &crl.der,
                    &crl.this_update,
                    &crl.next_update,
                    &(crl.generation as i64),
                ],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Ok(crl))
        })
    }

    fn revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError> {
        Ok(self
            .query(
                "SELECT serial, reason_code, reason, revoked_at FROM x509_revocations WHERE serial = $1",
                vec![Box::new(serial.to_string())],
                revocation_of,
            )?
            .pop())
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.query(
            "SELECT serial, reason_code, reason, revoked_at FROM x509_revocations ORDER BY serial",
            vec![],
            revocation_of,
        )
    }

    fn next_crl_number(&self) -> Result<u64, StoreError> {
        Ok(self.query("SELECT nextval('crl_number')", vec![], |r| r.get::<_, i64>(0) as u64)?[0])
    }
}

impl SshStore for PgStore {
    fn record_ssh(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Result<(), StoreError> {
        self.run(insert_ssh(
            self.pool.clone(),
            jti.map(|(j, e)| (j.to_string(), e)),
            cert.clone(),
        ))
    }

    fn record_ssh_async(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Pending {
        self.spawn(insert_ssh(
            self.pool.clone(),
            jti.map(|(j, e)| (j.to_string(), e)),
            cert.clone(),
        ))
    }

    fn ssh_certificate(&self, serial: &str) -> Result<Option<SshIssued>, StoreError> {
        Ok(self
            .query(
                "SELECT serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert
                 FROM ssh_certs WHERE serial = $1",
                vec![Box::new(serial.to_string())],
                ssh_of,
            )?
            .pop())
    }

    fn ssh_certificates(&self) -> Result<Vec<SshIssued>, StoreError> {
        self.query(
            "SELECT serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert
             FROM ssh_certs ORDER BY serial",
            vec![],
            ssh_of,
        )
    }

    fn revoke_ssh(&self, r: &Revocation) -> Result<(), StoreError> {
        self.run(Self::insert_revocation(self.pool.clone(), "ssh_revocations", r.clone()))
    }

    fn ssh_revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.query(
            "SELECT serial, reason_code, reason, revoked_at FROM ssh_revocations ORDER BY serial",
            vec![],
            revocation_of,
        )
    }

    fn ssh_revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError> {
        Ok(self
            .query(
                "SELECT serial, reason_code, reason, revoked_at FROM ssh_revocations WHERE serial = $1",
                vec![Box::new(serial.to_string())],
                revocation_of,
            )?
            .pop())
    }
}

async fn upsert(c: &impl GenericClient, table: AcmeTable, id: &str, value: &[u8]) -> Result<(), StoreError> {
    let st = c
        .prepare_cached(
            "INSERT INTO acme_records (kind, id, value) VALUES ($1, $2, $3)
             ON CONFLICT (kind, id) DO UPDATE SET value = EXCLUDED.value",
        )
        .await
        .map_err(pg_err)?;
    c.execute(&st, &[&kind(table), &id, &value]).await.map_err(pg_err)?;
    Ok(())
}

/// Gives the key `thumbprint` to account `id` inside `tx`, unless an account holds it: then `Err(that account)`.
async fn claim_key(
    tx: &deadpool_postgres::Transaction<'_>,
    thumbprint: &str,
    id: &str,
) -> Result<Result<(), String>, StoreError> {
    let n = tx
        .execute(
            "INSERT INTO acme_account_keys (thumbprint, account) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&thumbprint, &id],
        )
        .await
        .map_err(pg_err)?;
    if n > 0 {
        return Ok(Ok(()));
    }
    let row = tx
        .query_one(
            "SELECT account FROM acme_account_keys WHERE thumbprint = $1",
            &[&thumbprint],
        )
        .await
        .map_err(pg_err)?;
    Ok(Err(row.get(0)))
}

impl AcmeStore for PgStore {
    fn acme_get(&self, table: AcmeTable, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .query(
                "SELECT value FROM acme_records WHERE kind = $1 AND id = $2",
                vec![Box::new(kind(table)), Box::new(id.to_string())],
                |r| r.get::<_, Vec<u8>>(0),
            )?
            .pop())
    }

    fn acme_put(&self, table: AcmeTable, id: &str, value: &[u8]) -> Result<(), StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            upsert(&c, table, id, value).await
        })
    }

    fn acme_update(&self, table: AcmeTable, id: &str, f: Modify<'_>) -> Result<Result<Vec<u8>, String>, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            let row = tx
                .query_opt(
                    "SELECT value FROM acme_records WHERE kind = $1 AND id = $2 FOR UPDATE",
                    &[&kind(table), &id],
                )
                .await
                .map_err(pg_err)?;
            let Some(row) = row else {
                return Ok(Err(format!("no such record {id}")));
            };
            let current: Vec<u8> = row.get(0);
            match f(&current) {
                Ok(new) => {
                    tx.execute(
                        "UPDATE acme_records SET value = $3 WHERE kind = $1 AND id = $2",
                        &[&kind(table), &id, &new],
                    )
                    .await
                    .map_err(pg_err)?;
                    tx.commit().await.map_err(pg_err)?;
                    Ok(Ok(new))
                }
                Err(e) => Ok(Err(e)),
            }
        })
    }

    fn acme_new_account(
        &self,
        thumbprint: &str,
        id: &str,
        value: &[u8],
        eab_kid: Option<&str>,
    ) -> Result<Result<(), AccountConflict>, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            if let Err(holder) = claim_key(&tx, thumbprint, id).await? {
                return Ok(Err(AccountConflict::Key(holder)));
            }
            if let Some(kid) = eab_kid {
                let n = tx
                    .execute(
                        "INSERT INTO acme_eab_bound (kid, account) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&kid, &id],
                    )
                    .await
                    .map_err(pg_err)?;
                if n == 0 {
                    let row = tx
                        .query_one("SELECT account FROM acme_eab_bound WHERE kid = $1", &[&kid])
                        .await
                        .map_err(pg_err)?;
                    return Ok(Err(AccountConflict::EabUsed(row.get(0))));
                }
            }
            upsert(&tx, AcmeTable::Account, id, value).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Ok(()))
        })
    }

    fn acme_account_by_key(&self, thumbprint: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .query(
                "SELECT account FROM acme_account_keys WHERE thumbprint = $1",
                vec![Box::new(thumbprint.to_string())],
                |r| r.get::<_, String>(0),
            )?
            .pop())
    }

    fn acme_change_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_thumbprint: &str,
        value: &[u8],
    ) -> Result<Result<(), String>, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            if let Err(holder) = claim_key(&tx, new_thumbprint, id).await? {
                return Ok(Err(holder));
            }
            tx.execute(
                "DELETE FROM acme_account_keys WHERE thumbprint = $1",
                &[&old_thumbprint],
            )
            .await
            .map_err(pg_err)?;
            upsert(&tx, AcmeTable::Account, id, value).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Ok(()))
        })
    }

    fn acme_new_order(
        &self,
        account: &str,
        order_id: &str,
        order: &[u8],
        authzs: &[(String, Vec<u8>)],
        created: i64,
    ) -> Result<(), StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            for (id, v) in authzs {
                upsert(&tx, AcmeTable::Authz, id, v).await?;
            }
            upsert(&tx, AcmeTable::Order, order_id, order).await?;
            tx.execute(
                "INSERT INTO acme_account_orders (account, created, order_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&account, &created, &order_id],
            )
            .await
            .map_err(pg_err)?;
            let pending = super::pending_key(account, order_id);
            upsert(&tx, AcmeTable::PendingOrder, &pending, created.to_string().as_bytes()).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn acme_pending_of(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{account}/");
        let n = prefix.len();
        let keys = self.query(
            "SELECT id FROM acme_records WHERE kind = $1 AND starts_with(id, $2)",
            vec![Box::new(kind(AcmeTable::PendingOrder)), Box::new(prefix)],
            |r| r.get::<_, String>(0),
        )?;
        Ok(keys.into_iter().map(|k| k[n..].to_string()).collect())
    }

    fn acme_settle(&self, account: &str, order_ids: &[String]) -> Result<(), StoreError> {
        let keys: Vec<String> = order_ids.iter().map(|id| super::pending_key(account, id)).collect();
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            c.execute(
                "DELETE FROM acme_records WHERE kind = $1 AND id = ANY($2)",
                &[&kind(AcmeTable::PendingOrder), &keys],
            )
            .await
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn acme_orders_of(&self, account: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT order_id FROM acme_account_orders WHERE account = $1 ORDER BY created, order_id",
            vec![Box::new(account.to_string())],
            |r| r.get::<_, String>(0),
        )
    }

    fn acme_purge(&self, table: AcmeTable, keep: &mut dyn FnMut(&[u8]) -> bool) -> Result<usize, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            let rows = tx
                .query(
                    "SELECT id, value FROM acme_records WHERE kind = $1 FOR UPDATE",
                    &[&kind(table)],
                )
                .await
                .map_err(pg_err)?;
            let gone: Vec<String> = rows
                .iter()
                .filter(|r| !keep(r.get::<_, &[u8]>(1)))
                .map(|r| r.get(0))
                .collect();
            if !gone.is_empty() {
                tx.execute(
                    "DELETE FROM acme_records WHERE kind = $1 AND id = ANY($2)",
                    &[&kind(table), &gone],
                )
                .await
                .map_err(pg_err)?;
                if table == AcmeTable::Order {
                    tx.execute("DELETE FROM acme_account_orders WHERE order_id = ANY($1)", &[&gone])
                        .await
                        .map_err(pg_err)?;
                }
            }
            tx.commit().await.map_err(pg_err)?;
            Ok(gone.len())
        })
    }

    fn acme_purge_nonces(&self, now: i64) -> Result<usize, StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let n = c
                .execute("DELETE FROM acme_nonces WHERE expires < $1", &[&now])
                .await
                .map_err(pg_err)?;
            Ok(n as usize)
        })
    }

    fn acme_put_durably(&self, records: &[(AcmeTable, &str, &[u8])]) -> Result<(), StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            for (table, id, value) in records {
                upsert(&tx, *table, id, value).await?;
            }
            tx.commit().await.map_err(pg_err)
        })
    }

    fn acme_new_nonce(&self, nonce: &str, expires: i64) -> Result<(), StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let st = c
                .prepare_cached("INSERT INTO acme_nonces (nonce, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .await
                .map_err(pg_err)?;
            c.execute(&st, &[&nonce, &expires]).await.map_err(pg_err)?;
            Ok(())
        })
    }

    fn acme_use_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let st = c
                .prepare_cached("DELETE FROM acme_nonces WHERE nonce = $1 RETURNING expires")
                .await
                .map_err(pg_err)?;
            let row = c.query_opt(&st, &[&nonce]).await.map_err(pg_err)?;
            Ok(row.is_some_and(|r| r.get::<_, i64>(0) >= now))
        })
    }
}

fn table_of(k: i16) -> Option<AcmeTable> {
    Some(match k {
        1 => AcmeTable::Account,
        2 => AcmeTable::Order,
        3 => AcmeTable::Authz,
        4 => AcmeTable::Certificate,
        5 => AcmeTable::PendingOrder,
        _ => return None,
    })
}

/// Rows per INSERT ... SELECT FROM UNNEST when loading.
const LOAD_BATCH: usize = 5000;

impl Portable for PgStore {
    fn dump(&self) -> Result<Dump, StoreError> {
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            // One snapshot for every table.
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg_err)?;
            let q = |sql: &'static str| {
                let tx = &tx;
                async move { tx.query(sql, &[]).await.map_err(pg_err) }
            };
            let mut d = Dump::default();
            for r in q("SELECT serial, provisioner, not_after, der FROM x509_certs").await? {
                d.certs.push(IssuedCert {
                    serial: r.get(0),
                    provisioner: r.get(1),
                    not_after: r.get(2),
                    der: r.get(3),
                });
            }
            d.revocations = q("SELECT serial, reason_code, reason, revoked_at FROM x509_revocations")
                .await?
                .iter()
                .map(revocation_of)
                .collect();
            d.tokens = q("SELECT jti, expires FROM used_tokens")
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let seq = q("SELECT last_value, is_called FROM crl_number").await?;
            d.crl_number = seq
                .first()
                .filter(|r| r.get::<_, bool>(1))
                .map_or(0, |r| r.get::<_, i64>(0) as u64);
            d.ssh_certs = q(
                "SELECT serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert FROM ssh_certs",
            )
            .await?
            .iter()
            .map(ssh_of)
            .collect();
            d.ssh_revocations = q("SELECT serial, reason_code, reason, revoked_at FROM ssh_revocations")
                .await?
                .iter()
                .map(revocation_of)
                .collect();
            for r in q("SELECT kind, id, value FROM acme_records").await? {
                let k: i16 = r.get(0);
                let table = table_of(k).ok_or_else(|| StoreError::Backend(format!("acme_records: kind {k}")))?;
                d.acme.push((table, r.get(1), r.get(2)));
            }
            d.acme_keys = q("SELECT thumbprint, account FROM acme_account_keys")
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            d.acme_eab = q("SELECT kid, account FROM acme_eab_bound")
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            d.acme_orders = q("SELECT account, created, order_id FROM acme_account_orders")
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            tx.commit().await.map_err(pg_err)?;
            Ok(d)
        })
    }

    fn load(&self, d: &Dump) -> Result<(), StoreError> {
        if self.counts()?.iter().any(|(_, n)| *n > 0) {
            return Err(StoreError::Backend("the target database is not empty".into()));
        }
        self.run(async {
            let mut c = self.pool.get().await.map_err(pool_err)?;
            let tx = c.transaction().await.map_err(pg_err)?;
            tx.batch_execute("SET LOCAL statement_timeout = 0").await.map_err(pg_err)?;
            for chunk in d.certs.chunks(LOAD_BATCH) {
                let serial: Vec<&str> = chunk.iter().map(|c| c.serial.as_str()).collect();
                let prov: Vec<&str> = chunk.iter().map(|c| c.provisioner.as_str()).collect();
                let na: Vec<i64> = chunk.iter().map(|c| c.not_after).collect();
                let der: Vec<&[u8]> = chunk.iter().map(|c| c.der.as_slice()).collect();
                tx.execute(
                    "INSERT INTO x509_certs (serial, provisioner, not_after, der)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
                    &[&serial, &prov, &na, &der],
                )
                .await
                .map_err(pg_err)?;
            }
            for (table, rows) in [("x509_revocations", &d.revocations), ("ssh_revocations", &d.ssh_revocations)] {
                for chunk in rows.chunks(LOAD_BATCH) {
                    let serial: Vec<&str> = chunk.iter().map(|r| r.serial.as_str()).collect();
                    let code: Vec<i16> = chunk.iter().map(|r| i16::from(r.reason_code)).collect();
                    let reason: Vec<&str> = chunk.iter().map(|r| r.reason.as_str()).collect();
                    let at: Vec<i64> = chunk.iter().map(|r| r.revoked_at).collect();
                    tx.execute(
                        &format!(
                            "INSERT INTO {table} (serial, reason_code, reason, revoked_at)
                             SELECT * FROM UNNEST($1::text[], $2::smallint[], $3::text[], $4::bigint[])"
                        ),
                        &[&serial, &code, &reason, &at],
                    )
                    .await
                    .map_err(pg_err)?;
                }
            }
            for chunk in d.tokens.chunks(LOAD_BATCH) {
                let jti: Vec<&str> = chunk.iter().map(|t| t.0.as_str()).collect();
                let exp: Vec<i64> = chunk.iter().map(|t| t.1).collect();
                tx.execute(
                    "INSERT INTO used_tokens (jti, expires) SELECT * FROM UNNEST($1::text[], $2::bigint[])",
                    &[&jti, &exp],
                )
                .await
                .map_err(pg_err)?;
            }
            if d.crl_number > 0 {
                tx.execute("SELECT setval('crl_number', $1, true)", &[&(d.crl_number as i64)])
                    .await
                    .map_err(pg_err)?;
            }
            for c in &d.ssh_certs {
                tx.execute(
                    "INSERT INTO ssh_certs (serial, cert_type, key_id, principals, valid_after, valid_before, provisioner, cert)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &c.serial,
                        &c.cert_type,
                        &c.key_id,
                        &c.principals,
                        &(c.valid_after as i64),
                        &(c.valid_before as i64),
                        &c.provisioner,
                        &c.cert,
                    ],
                )
                .await
                .map_err(pg_err)?;
            }
            for (table, id, v) in &d.acme {
                upsert(&tx, *table, id, v).await?;
            }
            for (k, a) in &d.acme_keys {
                tx.execute("INSERT INTO acme_account_keys (thumbprint, account) VALUES ($1, $2)", &[k, a])
                    .await
                    .map_err(pg_err)?;
            }
            for (k, a) in &d.acme_eab {
                tx.execute("INSERT INTO acme_eab_bound (kid, account) VALUES ($1, $2)", &[k, a])
                    .await
                    .map_err(pg_err)?;
            }
            for (a, created, o) in &d.acme_orders {
                tx.execute(
                    "INSERT INTO acme_account_orders (account, created, order_id) VALUES ($1, $2, $3)",
                    &[a, created, o],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)
        })
    }

    fn counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        self.run(async {
            let c = self.pool.get().await.map_err(pool_err)?;
            let mut out = Vec::new();
            for t in [
                "x509_certs",
                "x509_revocations",
                "used_tokens",
                "ssh_certs",
                "ssh_revocations",
                "acme_records",
                "acme_account_keys",
                "acme_eab_bound",
                "acme_account_orders",
            ] {
                let row = c
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                    .await
                    .map_err(pg_err)?;
                out.push((t, row.get::<_, i64>(0) as u64));
            }
            Ok(out)
        })
    }
}
