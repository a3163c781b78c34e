//! What the online CA remembers: issued certificates (with provisioner and serial), revocations, used token IDs
//! and the CRL number, and the SSH and ACME records. One set of traits ([`Store`], [`SshStore`], [`AcmeStore`],
//! together [`Backend`]); [`RedbStore`] is the embedded default, [`postgres::PgStore`] lets several `serve`
//! instances share one PostgreSQL database. [`conformance`] is the behaviour both must have.
//!
//! Uniqueness of serials and token IDs is enforced by the database: the check and the insert happen in one redb
//! write transaction (redb serializes write transactions), never by a lock in our memory.
//!
//! Writes are group-committed: one writer thread takes every write waiting at that moment, applies them in order in
//! one transaction, commits (one fsync) and only then answers each caller. Each write is still durable before its
//! caller hears "ok", and a server under load pays one fsync per batch instead of one per request.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub mod conformance;
pub mod pg_tls;
pub mod postgres;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const CERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("x509_certs");
const REVOKED: TableDefinition<&str, &[u8]> = TableDefinition::new("revoked_x509_certs");
/// Used token IDs under (exp, id): a token's exp is signed, so a replay has the same key, inserts append (exp
/// grows with time) and the purge of expired IDs is a range at the start.
const USED_TOKENS: TableDefinition<(i64, &str), ()> = TableDefinition::new("used_tokens");
/// Before 2026-12 used token IDs were keyed by ID alone, which scattered inserts and made each purge read the
/// whole table; [`RedbStore::open`] moves them to [`USED_TOKENS`].
const USED_OTT: TableDefinition<&str, i64> = TableDefinition::new("used_ott");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const ACME_ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("acme_accounts");
const ACME_ACCOUNT_KEYS: TableDefinition<&str, &str> = TableDefinition::new("acme_account_keys");
const ACME_ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("acme_orders");
const ACME_ACCOUNT_ORDERS: TableDefinition<&str, i64> = TableDefinition::new("acme_account_orders");
const ACME_AUTHZ: TableDefinition<&str, &[u8]> = TableDefinition::new("acme_authz");
const ACME_CERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("acme_certs");
const ACME_PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("acme_pending_orders");
const ACME_EAB_BOUND: TableDefinition<&str, &str> = TableDefinition::new("acme_eab_bound");
const SSH_CERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("ssh_certs");
const SSH_REVOKED: TableDefinition<&str, &[u8]> = TableDefinition::new("revoked_ssh_certs");
const CRL: TableDefinition<&str, &[u8]> = TableDefinition::new("crl");

/// Store failures.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The token ID was used before.
    #[error("token already used")]
    TokenReused,
    /// A certificate with this serial exists.
    #[error("serial {0} already exists")]
    DuplicateSerial(String),
    /// The serial is already revoked.
    #[error("serial {0} is already revoked")]
    AlreadyRevoked(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(String),
    /// The database cannot be reached (retry later: 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// A redb error: an I/O error (a full disk, a failing device) or the poisoned state one leaves behind is
/// [`StoreError::Unavailable`] (503, retry), the rest [`StoreError::Backend`].
fn db_err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    match &e {
        redb::Error::Io(io) => StoreError::Unavailable(format!("the database file cannot be written: {io}")),
        redb::Error::PreviousIo => {
            StoreError::Unavailable("an earlier write to the database file failed; it is being reopened".into())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// An error that is not redb's (encoding a record, starting the writer thread).
fn other_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCert {
    /// Serial, decimal (as step-ca stores it).
    pub serial: String,
    /// The provisioner that authorized it.
    pub provisioner: String,
    /// The certificate DER (base64 in the stored JSON: compact and quick to write).
    #[serde(with = "b64")]
    pub der: Vec<u8>,
    /// notAfter, unix seconds.
    pub not_after: i64,
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Serial, decimal.
    pub serial: String,
    /// RFC 5280 reason code (0..=10).
    pub reason_code: u8,
    /// Free text.
    pub reason: String,
    /// When, unix seconds.
    pub revoked_at: i64,
}

/// The CRL every instance serves, kept in the store: made by whichever instance first finds it out of date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCrl {
    /// Its CRL number.
    pub number: u64,
    /// The signed CRL.
    #[serde(with = "b64")]
    pub der: Vec<u8>,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
    /// The revocation generation it lists (see [`Store::crl_state`]).
    pub generation: u64,
}

impl StoredCrl {
    /// Whether it can still be served at `now` for `generation`: it lists every revocation up to that generation and
    /// is not yet half-way to its nextUpdate.
    pub fn is_current(&self, generation: u64, now: i64) -> bool {
        self.generation >= generation && now < self.this_update + (self.next_update - self.this_update) / 2
    }
}

/// Signs a CRL with the number given (no store calls inside: it runs under the store's lock).
pub type SignCrl<'a> = &'a mut dyn FnMut(u64) -> Result<Vec<u8>, String>;

/// An issued SSH certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshIssued {
    /// Serial, decimal (a u64).
    pub serial: String,
    /// `user` or `host`.
    pub cert_type: String,
    /// The key id.
    pub key_id: String,
    /// The principals.
    pub principals: Vec<String>,
    /// validAfter, unix seconds.
    pub valid_after: u64,
    /// validBefore, unix seconds.
    pub valid_before: u64,
    /// The provisioner that authorized it.
    pub provisioner: String,
    /// The certificate in OpenSSH wire encoding (base64 in the stored JSON).
    #[serde(with = "b64")]
    pub cert: Vec<u8>,
}

/// What the SSH CA remembers: issued certificates (serials unique, each paid for by a token used once) and
/// revocations, from which the KRL is made. One call per atomic operation, as for [`Store`].
pub trait SshStore: Send + Sync {
    /// Marks the token used (when `jti` is given) and records the certificate, atomically.
    fn record_ssh(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Result<(), StoreError>;
    /// [`SshStore::record_ssh`] for async callers (no thread held while the batch commits).
    fn record_ssh_async(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Pending {
        Pending::Ready(self.record_ssh(jti, cert))
    }
    /// An issued SSH certificate by serial.
    fn ssh_certificate(&self, serial: &str) -> Result<Option<SshIssued>, StoreError>;
    /// Every issued SSH certificate (for `/ssh/hosts`).
    fn ssh_certificates(&self) -> Result<Vec<SshIssued>, StoreError>;
    /// Records a revocation; fails if the serial is already revoked.
    fn revoke_ssh(&self, r: &Revocation) -> Result<(), StoreError>;
    /// Every SSH revocation.
    fn ssh_revocations(&self) -> Result<Vec<Revocation>, StoreError>;
    /// The revocation of one SSH certificate, if it was revoked (a renewal checks this).
    fn ssh_revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError>;
}

/// The CA's persistent state.
pub trait Store: Send + Sync {
    /// Records an issued certificate; fails if the serial exists.
    fn record_certificate(&self, cert: &IssuedCert) -> Result<(), StoreError>;
    /// Marks the token used and records the certificate it paid for, atomically: if the token was used before
    /// ([`StoreError::TokenReused`]) or the serial exists, nothing is written and the certificate must not be given
    /// out.
    fn record_issued(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Result<(), StoreError>;
    /// [`Store::record_issued`] for async callers: starts the write and returns a [`Pending`] to await, so that no
    /// thread is held while the write commits. The default runs the blocking call at once.
    fn record_issued_async(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Pending {
        Pending::Ready(self.record_issued(jti, expires, cert))
    }
    /// An issued certificate by serial (decimal).
    fn certificate(&self, serial: &str) -> Result<Option<IssuedCert>, StoreError>;
    /// Marks a token ID used; fails with [`StoreError::TokenReused`] if it was. `expires` (unix) lets old IDs go.
    fn use_token(&self, jti: &str, expires: i64) -> Result<(), StoreError>;
    /// Records a revocation, and counts it in the revocation generation, atomically; fails if the serial is
    /// already revoked.
    fn revoke(&self, r: &Revocation) -> Result<(), StoreError>;
    /// The revocation generation (it grows with every revocation and [`Store::crl_invalidate`]) and the stored CRL.
    fn crl_state(&self) -> Result<(u64, Option<StoredCrl>), StoreError>;
    /// Counts a change that the stored CRL does not reflect (new CRL settings after a reload).
    fn crl_invalidate(&self) -> Result<(), StoreError>;
    /// Under the store's lock: if the stored CRL is current for `generation` at `now`, returns it; else takes the
    /// next CRL number, calls `sign` with it, stores and returns the new CRL (valid `this_update..next_update`).
    fn crl_publish(
        &self,
        generation: u64,
        now: i64,
        validity: (i64, i64),
        sign: SignCrl<'_>,
    ) -> Result<Result<StoredCrl, String>, StoreError>;
    /// The revocation of a serial, if any.
    fn revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError>;
    /// Every revocation.
    fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;
    /// Increments and returns the CRL number.
    fn next_crl_number(&self) -> Result<u64, StoreError>;
    /// Whether what is written outlives the process (`false` for the in-memory store of a ca.json without `db`).
    fn is_persistent(&self) -> bool {
        true
    }
    /// Whether the database answers (`/health`); the embedded store always does.
    fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Forgets used token IDs that expired before `before` (a token past its `exp` is refused anyway); returns how
    /// many went.
    fn purge_tokens(&self, before: i64) -> Result<usize, StoreError>;
    /// Whether this process should run the periodic jobs (purges): always for the embedded store, which one
    /// process owns; for a shared database, the one instance holding the leader lock, taken over when it dies.
    fn lead(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Everything a backend carries: the X.509, SSH and ACME records, and a way to move them to another backend.
pub trait Backend: Store + SshStore + AcmeStore + Portable {}

impl<T: Store + SshStore + AcmeStore + Portable> Backend for T {}

/// Everything a store holds but ACME nonces (which live minutes), for `ca db copy`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dump {
    /// Issued X.509 certificates.
    pub certs: Vec<IssuedCert>,
    /// X.509 revocations.
    pub revocations: Vec<Revocation>,
    /// Used token IDs and when they expire.
    pub tokens: Vec<(String, i64)>,
    /// The last CRL number given out.
    pub crl_number: u64,
    /// Issued SSH certificates.
    pub ssh_certs: Vec<SshIssued>,
    /// SSH revocations.
    pub ssh_revocations: Vec<Revocation>,
    /// ACME accounts, orders, authorizations and chains.
    pub acme: Vec<(AcmeTable, String, Vec<u8>)>,
    /// ACME account key thumbprints -> account ids.
    pub acme_keys: Vec<(String, String)>,
    /// EAB key ids -> the account each bound.
    pub acme_eab: Vec<(String, String)>,
    /// (account, created, order id): each account's orders.
    pub acme_orders: Vec<(String, i64, String)>,
}

impl Dump {
    /// How many records of each kind, by table name.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("x509_certs", self.certs.len() as u64),
            ("x509_revocations", self.revocations.len() as u64),
            ("used_tokens", self.tokens.len() as u64),
            ("ssh_certs", self.ssh_certs.len() as u64),
            ("ssh_revocations", self.ssh_revocations.len() as u64),
            ("acme_records", self.acme.len() as u64),
            ("acme_account_keys", self.acme_keys.len() as u64),
            ("acme_eab_bound", self.acme_eab.len() as u64),
            ("acme_account_orders", self.acme_orders.len() as u64),
        ]
    }
}

/// Moving a store's contents to another backend.
pub trait Portable: Send + Sync {
    /// Everything in the store.
    fn dump(&self) -> Result<Dump, StoreError>;
    /// Writes `dump` into this store, which must be empty, in one transaction.
    fn load(&self, dump: &Dump) -> Result<(), StoreError>;
    /// [`Dump::counts`] of what the store holds.
    fn counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        Ok(self.dump()?.counts())
    }
}

/// The kinds of ACME record, each a JSON document under its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeTable {
    /// Accounts.
    Account,
    /// Orders.
    Order,
    /// Authorizations (with their challenges).
    Authz,
    /// Issued chains.
    Certificate,
    /// The orders not yet seen to leave `pending`, under `account/order id`, each valued its creation time (unix,
    /// decimal): what the cap on pending orders counts, so that a count reads the pending orders and not every
    /// order the account made that day.
    PendingOrder,
}

/// Why an account was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountConflict {
    /// An account (this id) has the key.
    Key(String),
    /// The EAB key bound this account before.
    EabUsed(String),
}

/// A read-modify-write step: the current value in, the new one (or why not) out.
pub type Modify<'a> = &'a mut dyn FnMut(&[u8]) -> Result<Vec<u8>, String>;

/// What the ACME server remembers, in the same database as the certificates. Every operation that must be atomic
/// (an account per key, a nonce used once, a read-modify-write of an order or authorization) is one call, so that a
/// second backend can make it one transaction too.
///
/// Accounts (and their keys and bindings) are durable when the call returns. Nonces may live in memory (the embedded
/// store's do: one process owns its database). Orders, authorizations and chains are written without waiting for
/// the disk (an order takes about ten writes; a fsync for each would bound
/// the CA at a hundred orders a second): they become durable with the next durable write, and finalize writes the
/// chain and the valid order with [`AcmeStore::acme_put_durably`] before answering. A crash can lose in-flight
/// order state at most, which clients recover from by ordering again.
pub trait AcmeStore: Send + Sync {
    /// A record by id.
    fn acme_get(&self, table: AcmeTable, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a record (insert or replace).
    fn acme_put(&self, table: AcmeTable, id: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Read-modify-write in one transaction: `f` gets the current value and returns the new one (or an error that
    /// leaves it unchanged). Returns what was written.
    fn acme_update(&self, table: AcmeTable, id: &str, f: Modify<'_>) -> Result<Result<Vec<u8>, String>, StoreError>;
    /// Creates an account for a key thumbprint, bound to an EAB key id if given, unless an account has the key or
    /// the EAB key bound one before: all in one transaction.
    fn acme_new_account(
        &self,
        thumbprint: &str,
        id: &str,
        value: &[u8],
        eab_kid: Option<&str>,
    ) -> Result<Result<(), AccountConflict>, StoreError>;
    /// The account id of a key thumbprint.
    fn acme_account_by_key(&self, thumbprint: &str) -> Result<Option<String>, StoreError>;
    /// Moves an account to a new key (keyChange), unless another account has it: then `Err(that id)`.
    fn acme_change_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_thumbprint: &str,
        value: &[u8],
    ) -> Result<Result<(), String>, StoreError>;
    /// Records a new order and its new authorizations in one transaction, and indexes it under its account and
    /// among its pending orders ([`AcmeTable::PendingOrder`]).
    fn acme_new_order(
        &self,
        account: &str,
        order_id: &str,
        order: &[u8],
        authzs: &[(String, Vec<u8>)],
        created: i64,
    ) -> Result<(), StoreError>;
    /// The ids of an account's orders, oldest first.
    fn acme_orders_of(&self, account: &str) -> Result<Vec<String>, StoreError>;
    /// The ids of an account's orders in [`AcmeTable::PendingOrder`] (in no particular order).
    fn acme_pending_of(&self, account: &str) -> Result<Vec<String>, StoreError>;
    /// Takes orders out of [`AcmeTable::PendingOrder`] (seen finished, expired or gone).
    fn acme_settle(&self, account: &str, order_ids: &[String]) -> Result<(), StoreError>;
    /// Removes the records of `table` for which `keep` answers false (for orders, with their index entries), in one
    /// transaction; returns how many went.
    fn acme_purge(&self, table: AcmeTable, keep: &mut dyn FnMut(&[u8]) -> bool) -> Result<usize, StoreError>;
    /// Removes nonces that expired before `now`; returns how many.
    fn acme_purge_nonces(&self, now: i64) -> Result<usize, StoreError>;
    /// Writes several records (insert or replace) in one durable transaction, which also makes every earlier write
    /// durable (finalize: the chains and the valid order).
    fn acme_put_durably(&self, records: &[(AcmeTable, &str, &[u8])]) -> Result<(), StoreError>;
    /// Records a fresh nonce valid until `expires`.
    fn acme_new_nonce(&self, nonce: &str, expires: i64) -> Result<(), StoreError>;
    /// Consumes a nonce: true if it existed and had not expired at `now` (it is gone either way).
    fn acme_use_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError>;
}

/// A write in flight (see [`Store::record_issued_async`]).
#[derive(Debug)]
pub enum Pending {
    /// Already done.
    Ready(Result<(), StoreError>),
    /// Answered when the batch holding the write commits.
    Waiting(tokio::sync::oneshot::Receiver<Result<u64, StoreError>>),
}

impl Pending {
    /// Waits, without blocking a thread, until the write is durable or refused.
    pub async fn done(self) -> Result<(), StoreError> {
        match self {
            Pending::Ready(r) => r,
            Pending::Waiting(rx) => rx
                .await
                .map_err(|_| StoreError::Backend("the store writer stopped".into()))?
                .map(drop),
        }
    }
}

/// The embedded store: one redb file.
pub struct RedbStore {
    shared: Arc<Shared>,
    /// To the writer thread; `None` only while dropping (so that the thread sees the channel close and exits).
    writes: Option<Sender<Write>>,
    writer: Option<std::thread::JoinHandle<()>>,
    persistent: bool,
    /// ACME nonces: one process serves this database, and a nonce need not outlive it (a client told `badNonce`
    /// after a restart retries with a fresh one), so the embedded store keeps them in memory rather than paying a
    /// write transaction for each; a shared backend keeps them in its tables.
    nonces: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

/// The open database, reopened after an I/O error. redb refuses every write after one (its "previous I/O error"
/// state) until the file is closed and opened again; a full disk would otherwise leave the CA refusing to issue
/// after space returns, until someone restarted it.
struct Shared {
    /// `None` only while being reopened.
    db: RwLock<Option<Arc<Database>>>,
    /// The file (`None`: in memory, which has no I/O to fail).
    path: Option<PathBuf>,
    /// The last write failure and when the last reopen was tried, while the database is failing.
    failure: Mutex<Option<(String, Instant)>>,
}

impl Shared {
    /// How long after a failed reopen the next is tried.
    const RETRY: Duration = Duration::from_millis(500);

    fn db(&self) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = self.db.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(db);
        }
        // A reopen failed earlier: try again.
        self.reopen()?;
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the database is being reopened after an I/O error".into()))
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db()?.begin_read().map_err(db_err)
    }

    /// A write transaction; after an I/O error, the database is reopened first.
    fn write(&self) -> Result<redb::WriteTransaction, StoreError> {
        match self.db()?.begin_write() {
            Ok(tx) => return Ok(tx),
            Err(redb::TransactionError::Storage(redb::StorageError::PreviousIo)) => {}
            Err(e) => return Err(self.note(db_err(e))),
        }
        self.reopen()?;
        self.db()?.begin_write().map_err(|e| self.note(db_err(e)))
    }

    fn commit(&self, tx: redb::WriteTransaction) -> Result<(), StoreError> {
        tx.commit().map_err(|e| self.note(db_err(e)))?;
        if let Ok(mut f) = self.failure.lock()
            && f.take().is_some()
        {
            tracing::info!("database: writes succeed again");
        }
        Ok(())
    }

    /// Remembers an I/O failure (for `/health` and the log); passes the error on.
    fn note(&self, e: StoreError) -> StoreError {
        if let StoreError::Unavailable(m) = &e {
            let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            if f.is_none() {
                tracing::error!("database: {m}");
                *f = Some((
                    m.clone(),
                    Instant::now().checked_sub(Self::RETRY).unwrap_or_else(Instant::now),
                ));
            }
        }
        e
    }

    /// The failure `/health` reports, if writes are failing.
    fn failing(&self) -> Option<String> {
        self.failure.lock().ok()?.as_ref().map(|(m, _)| m.clone())
    }

    /// Closes and reopens the file (at most every [`Self::RETRY`]).
    fn reopen(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Err(StoreError::Unavailable("the in-memory database failed".into()));
        };
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        let why = match failure.as_ref() {
            Some((m, tried)) if tried.elapsed() < Self::RETRY => return Err(StoreError::Unavailable(m.clone())),
            Some((m, _)) => m.clone(),
            None => "an earlier write failed".to_string(),
        };
        *failure = Some((why.clone(), Instant::now()));
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slot.take() {
            // The file lock goes with the last handle: wait (briefly) for calls still using the old one.
            let start = Instant::now();
            while Arc::strong_count(&old) > 1 && start.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(1));
            }
            match Arc::try_unwrap(old) {
                Ok(old) => drop(old),
                Err(old) => {
                    *slot = Some(old);
                    return Err(StoreError::Unavailable(format!(
                        "{why} (still in use; reopening later)"
                    )));
                }
            }
        }
        match open_file(path) {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                tracing::warn!("database: reopened {} after an I/O error", path.display());
                Ok(())
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "{why}; reopening {}: {e}",
                path.display()
            ))),
        }
    }
}

/// redb's page cache. Its default (a gigabyte) grows with the file: the whole database would end up in the
/// process. The B-tree's upper levels fit in this; the rest is read through the kernel's page cache.
const CACHE_BYTES: usize = 16 << 20;

fn open_file(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(CACHE_BYTES).create(path)
}

/// One write waiting for the writer thread.
struct Write {
    op: WriteOp,
    reply: Reply,
}

/// Where the writer sends a write's result: a thread blocked in a call, or a task awaiting a [`Pending`].
enum Reply {
    Blocking(SyncSender<Result<u64, StoreError>>),
    Async(tokio::sync::oneshot::Sender<Result<u64, StoreError>>),
}

impl Reply {
    fn send(self, r: Result<u64, StoreError>) {
        // The caller may be gone (a dropped request); the write stands either way.
        let _ = match self {
            Reply::Blocking(s) => s.send(r).ok(),
            Reply::Async(s) => s.send(r).ok(),
        };
    }
}

enum WriteOp {
    Certificate(IssuedCert),
    Issued(String, i64, IssuedCert),
    Token(String, i64),
    Revoke(Revocation),
    CrlNumber,
    SshIssued(Option<(String, i64)>, SshIssued),
    SshRevoke(Revocation),
    /// ACME records written durably (finalize's chain and valid order), in the batch like any other write.
    AcmeRecords(Vec<(AcmeTable, String, Vec<u8>)>),
}

/// Most writes in one transaction.
const MAX_BATCH: usize = 1024;

impl RedbStore {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let db = open_file(path).map_err(db_err)?;
        Self::init(db, Some(path.to_path_buf()))
    }

    /// An in-memory database (tests, `--no-db`).
    pub fn in_memory() -> Result<RedbStore, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        Self::init(db, None)
    }

    fn init(db: Database, path: Option<PathBuf>) -> Result<RedbStore, StoreError> {
        let persistent = path.is_some();
        let tx = db.begin_write().map_err(db_err)?;
        {
            tx.open_table(CERTS).map_err(db_err)?;
            tx.open_table(REVOKED).map_err(db_err)?;
            tx.open_table(USED_TOKENS).map_err(db_err)?;
            migrate_used_tokens(&tx)?;
            tx.open_table(META).map_err(db_err)?;
            tx.open_table(ACME_ACCOUNTS).map_err(db_err)?;
            tx.open_table(ACME_ACCOUNT_KEYS).map_err(db_err)?;
            tx.open_table(ACME_ORDERS).map_err(db_err)?;
            tx.open_table(ACME_ACCOUNT_ORDERS).map_err(db_err)?;
            tx.open_table(ACME_AUTHZ).map_err(db_err)?;
            tx.open_table(ACME_CERTS).map_err(db_err)?;
            tx.open_table(ACME_PENDING).map_err(db_err)?;
            tx.open_table(ACME_EAB_BOUND).map_err(db_err)?;
            tx.open_table(SSH_CERTS).map_err(db_err)?;
            tx.open_table(SSH_REVOKED).map_err(db_err)?;
            tx.open_table(CRL).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(Arc::new(db))),
            path,
            failure: Mutex::new(None),
        });
        let (send, recv) = std::sync::mpsc::channel();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("ferrica-store".into())
            .spawn(move || writer_loop(&writer_shared, &recv))
            .map_err(other_err)?;
        Ok(RedbStore {
            shared,
            writes: Some(send),
            writer: Some(writer),
            persistent,
            nonces: Default::default(),
        })
    }

    fn write(&self, op: WriteOp) -> Result<u64, StoreError> {
        let (reply, answer) = sync_channel(1);
        self.submit(Write {
            op,
            reply: Reply::Blocking(reply),
        })?;
        answer
            .recv()
            .map_err(|_| StoreError::Backend("the store writer stopped".into()))?
    }

    fn submit(&self, w: Write) -> Result<(), StoreError> {
        self.writes
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the store is closed".into()))?
            .send(w)
            .map_err(|_| StoreError::Backend("the store writer stopped".into()))
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.writes.take();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

/// The writer thread: one transaction and one commit per batch of waiting writes.
fn writer_loop(db: &Shared, recv: &Receiver<Write>) {
    while let Ok(first) = recv.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match recv.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        match apply(db, &batch) {
            Ok(results) => {
                for (w, r) in batch.into_iter().zip(results) {
                    w.reply.send(r);
                }
            }
            Err(e) => {
                for w in batch {
                    w.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Moves the used token IDs of a store written before 2026-12 (keyed by ID) to [`USED_TOKENS`], once.
fn migrate_used_tokens(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    use redb::TableHandle;
    if !tx.list_tables().map_err(db_err)?.any(|t| t.name() == USED_OTT.name()) {
        return Ok(());
    }
    {
        let old = tx.open_table(USED_OTT).map_err(db_err)?;
        let mut new = tx.open_table(USED_TOKENS).map_err(db_err)?;
        for row in old.iter().map_err(db_err)? {
            let (jti, exp) = row.map_err(db_err)?;
            new.insert((exp.value(), jti.value()), ()).map_err(db_err)?;
        }
    }
    tx.delete_table(USED_OTT).map_err(db_err)?;
    Ok(())
}

/// Applies a batch in order in one transaction; a refused write (duplicate) changes nothing and does not affect
/// the others.
fn apply(db: &Shared, batch: &[Write]) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    let tx = db.write()?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut certs = tx.open_table(CERTS).map_err(db_err)?;
        let mut revoked = tx.open_table(REVOKED).map_err(db_err)?;
        let mut used = tx.open_table(USED_TOKENS).map_err(db_err)?;
        let mut meta = tx.open_table(META).map_err(db_err)?;
        let mut ssh_certs = tx.open_table(SSH_CERTS).map_err(db_err)?;
        let mut ssh_revoked = tx.open_table(SSH_REVOKED).map_err(db_err)?;
        for w in batch {
            let r = match &w.op {
                WriteOp::Certificate(c) => {
                    if certs.get(c.serial.as_str()).map_err(db_err)?.is_some() {
                        Err(StoreError::DuplicateSerial(c.serial.clone()))
                    } else {
                        let value = serde_json::to_vec(c).map_err(other_err)?;
                        certs.insert(c.serial.as_str(), value.as_slice()).map_err(db_err)?;
                        Ok(0)
                    }
                }
                WriteOp::Issued(jti, expires, c) => {
                    if used.get((*expires, jti.as_str())).map_err(db_err)?.is_some() {
                        Err(StoreError::TokenReused)
                    } else if certs.get(c.serial.as_str()).map_err(db_err)?.is_some() {
                        Err(StoreError::DuplicateSerial(c.serial.clone()))
                    } else {
                        let value = serde_json::to_vec(c).map_err(other_err)?;
                        used.insert((*expires, jti.as_str()), ()).map_err(db_err)?;
                        certs.insert(c.serial.as_str(), value.as_slice()).map_err(db_err)?;
                        Ok(0)
                    }
                }
                WriteOp::Token(jti, expires) => {
                    if used.get((*expires, jti.as_str())).map_err(db_err)?.is_some() {
                        Err(StoreError::TokenReused)
                    } else {
                        used.insert((*expires, jti.as_str()), ()).map_err(db_err)?;
                        Ok(0)
                    }
                }
                WriteOp::Revoke(r) => {
                    if revoked.get(r.serial.as_str()).map_err(db_err)?.is_some() {
                        Err(StoreError::AlreadyRevoked(r.serial.clone()))
                    } else {
                        let value = serde_json::to_vec(r).map_err(other_err)?;
                        revoked.insert(r.serial.as_str(), value.as_slice()).map_err(db_err)?;
                        bump(&mut meta, "crl_generation")?;
                        Ok(0)
                    }
                }
                WriteOp::CrlNumber => bump(&mut meta, "crl_number"),
                WriteOp::SshIssued(token, c) => {
                    let reused = match token {
                        Some((jti, expires)) => used.get((*expires, jti.as_str())).map_err(db_err)?.is_some(),
                        None => false,
                    };
                    if reused {
                        Err(StoreError::TokenReused)
                    } else if ssh_certs.get(c.serial.as_str()).map_err(db_err)?.is_some() {
                        Err(StoreError::DuplicateSerial(c.serial.clone()))
                    } else {
                        if let Some((jti, expires)) = token {
                            used.insert((*expires, jti.as_str()), ()).map_err(db_err)?;
                        }
                        let value = serde_json::to_vec(c).map_err(other_err)?;
                        ssh_certs.insert(c.serial.as_str(), value.as_slice()).map_err(db_err)?;
                        Ok(0)
                    }
                }
                WriteOp::SshRevoke(r) => {
                    if ssh_revoked.get(r.serial.as_str()).map_err(db_err)?.is_some() {
                        Err(StoreError::AlreadyRevoked(r.serial.clone()))
                    } else {
                        let value = serde_json::to_vec(r).map_err(other_err)?;
                        ssh_revoked
                            .insert(r.serial.as_str(), value.as_slice())
                            .map_err(db_err)?;
                        Ok(0)
                    }
                }
                WriteOp::AcmeRecords(records) => {
                    for (table, id, value) in records {
                        tx.open_table(acme_def(*table))
                            .map_err(db_err)?
                            .insert(id.as_str(), value.as_slice())
                            .map_err(db_err)?;
                    }
                    Ok(0)
                }
            };
            results.push(r);
        }
    }
    db.commit(tx)?;
    Ok(results)
}

impl Store for RedbStore {
    fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Healthy unless the last write failed on I/O (a full disk) and none has succeeded since; then a small write
    /// (a counter in the meta table) probes whether the file takes writes again, at most every half second.
    fn health(&self) -> Result<(), StoreError> {
        let Some(why) = self.shared.failing() else {
            return Ok(());
        };
        let probe = || -> Result<(), StoreError> {
            let tx = self.shared.write()?;
            {
                let mut meta = tx.open_table(META).map_err(db_err)?;
                bump(&mut meta, "health_probe")?;
            }
            self.shared.commit(tx)
        };
        match probe() {
            Ok(()) => Ok(()),
            Err(StoreError::Unavailable(_)) => Err(StoreError::Unavailable(why)),
            Err(e) => Err(e),
        }
    }

    fn record_certificate(&self, cert: &IssuedCert) -> Result<(), StoreError> {
        self.write(WriteOp::Certificate(cert.clone())).map(drop)
    }

    fn record_issued(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Result<(), StoreError> {
        self.write(WriteOp::Issued(jti.to_string(), expires, cert.clone()))
            .map(drop)
    }

    fn record_issued_async(&self, jti: &str, expires: i64, cert: &IssuedCert) -> Pending {
        let (reply, answer) = tokio::sync::oneshot::channel();
        match self.submit(Write {
            op: WriteOp::Issued(jti.to_string(), expires, cert.clone()),
            reply: Reply::Async(reply),
        }) {
            Ok(()) => Pending::Waiting(answer),
            Err(e) => Pending::Ready(Err(e)),
        }
    }

    fn certificate(&self, serial: &str) -> Result<Option<IssuedCert>, StoreError> {
        let tx = self.shared.read()?;
        json_get(&tx.open_table(CERTS).map_err(db_err)?, serial)
    }

    fn use_token(&self, jti: &str, expires: i64) -> Result<(), StoreError> {
        self.write(WriteOp::Token(jti.to_string(), expires)).map(drop)
    }

    fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
        self.write(WriteOp::Revoke(r.clone())).map(drop)
    }

    fn revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError> {
        let tx = self.shared.read()?;
        json_get(&tx.open_table(REVOKED).map_err(db_err)?, serial)
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        json_rows(&self.shared.read()?, REVOKED)
    }

    fn next_crl_number(&self) -> Result<u64, StoreError> {
        self.write(WriteOp::CrlNumber)
    }

    fn crl_state(&self) -> Result<(u64, Option<StoredCrl>), StoreError> {
        let tx = self.shared.read()?;
        let generation = tx
            .open_table(META)
            .map_err(db_err)?
            .get("crl_generation")
            .map_err(db_err)?
            .map_or(0, |v| v.value());
        let crl = json_get(&tx.open_table(CRL).map_err(db_err)?, "current")?;
        Ok((generation, crl))
    }

    fn crl_invalidate(&self) -> Result<(), StoreError> {
        let tx = self.shared.write()?;
        {
            bump(&mut tx.open_table(META).map_err(db_err)?, "crl_generation")?;
        }
        self.shared.commit(tx)
    }

    fn crl_publish(
        &self,
        generation: u64,
        now: i64,
        validity: (i64, i64),
        sign: SignCrl<'_>,
    ) -> Result<Result<StoredCrl, String>, StoreError> {
        let tx = self.shared.write()?;
        let crl = {
            let mut t = tx.open_table(CRL).map_err(db_err)?;
            let current: Option<StoredCrl> = json_get(&t, "current")?;
            if let Some(c) = current.filter(|c| c.is_current(generation, now)) {
                return Ok(Ok(c));
            }
            // Taken inside the transaction: a failed signature returns before the commit, and the number is unused.
            let number = bump(&mut tx.open_table(META).map_err(db_err)?, "crl_number")?;
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
            t.insert("current", serde_json::to_vec(&crl).map_err(other_err)?.as_slice())
                .map_err(db_err)?;
            crl
        };
        self.shared.commit(tx)?;
        Ok(Ok(crl))
    }

    fn purge_tokens(&self, before: i64) -> Result<usize, StoreError> {
        let tx = self.shared.write()?;
        let n = {
            let mut t = tx.open_table(USED_TOKENS).map_err(db_err)?;
            let old = t.extract_from_if(..(before, ""), |_, _| true).map_err(db_err)?;
            old.count()
        };
        self.shared.commit(tx)?;
        Ok(n)
    }
}

impl SshStore for RedbStore {
    fn record_ssh(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Result<(), StoreError> {
        self.write(WriteOp::SshIssued(jti.map(|(j, e)| (j.to_string(), e)), cert.clone()))
            .map(drop)
    }

    fn record_ssh_async(&self, jti: Option<(&str, i64)>, cert: &SshIssued) -> Pending {
        let (reply, answer) = tokio::sync::oneshot::channel();
        match self.submit(Write {
            op: WriteOp::SshIssued(jti.map(|(j, e)| (j.to_string(), e)), cert.clone()),
            reply: Reply::Async(reply),
        }) {
            Ok(()) => Pending::Waiting(answer),
            Err(e) => Pending::Ready(Err(e)),
        }
    }

    fn ssh_certificate(&self, serial: &str) -> Result<Option<SshIssued>, StoreError> {
        let tx = self.shared.read()?;
        json_get(&tx.open_table(SSH_CERTS).map_err(db_err)?, serial)
    }

    fn ssh_certificates(&self) -> Result<Vec<SshIssued>, StoreError> {
        json_rows(&self.shared.read()?, SSH_CERTS)
    }

    fn revoke_ssh(&self, r: &Revocation) -> Result<(), StoreError> {
        self.write(WriteOp::SshRevoke(r.clone())).map(drop)
    }

    fn ssh_revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        json_rows(&self.shared.read()?, SSH_REVOKED)
    }

    fn ssh_revocation(&self, serial: &str) -> Result<Option<Revocation>, StoreError> {
        let tx = self.shared.read()?;
        json_get(&tx.open_table(SSH_REVOKED).map_err(db_err)?, serial)
    }
}

fn acme_def(t: AcmeTable) -> TableDefinition<'static, &'static str, &'static [u8]> {
    match t {
        AcmeTable::Account => ACME_ACCOUNTS,
        AcmeTable::Order => ACME_ORDERS,
        AcmeTable::Authz => ACME_AUTHZ,
        AcmeTable::Certificate => ACME_CERTS,
        AcmeTable::PendingOrder => ACME_PENDING,
    }
}

impl RedbStore {
    /// A write transaction for an ACME table: durable for accounts, not waiting for the disk for the rest (see
    /// [`AcmeStore`]).
    fn acme_tx(&self, table: AcmeTable) -> Result<redb::WriteTransaction, StoreError> {
        let mut tx = self.shared.write()?;
        if table != AcmeTable::Account {
            tx.set_durability(redb::Durability::None).map_err(db_err)?;
        }
        Ok(tx)
    }
}

impl AcmeStore for RedbStore {
    fn acme_get(&self, table: AcmeTable, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.shared.read()?;
        let t = tx.open_table(acme_def(table)).map_err(db_err)?;
        Ok(t.get(id).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    fn acme_put(&self, table: AcmeTable, id: &str, value: &[u8]) -> Result<(), StoreError> {
        let tx = self.acme_tx(table)?;
        tx.open_table(acme_def(table))
            .map_err(db_err)?
            .insert(id, value)
            .map_err(db_err)?;
        self.shared.commit(tx)
    }

    fn acme_update(&self, table: AcmeTable, id: &str, f: Modify<'_>) -> Result<Result<Vec<u8>, String>, StoreError> {
        let tx = self.acme_tx(table)?;
        let out = {
            let mut t = tx.open_table(acme_def(table)).map_err(db_err)?;
            let current = match t.get(id).map_err(db_err)? {
                Some(v) => v.value().to_vec(),
                None => return Ok(Err(format!("no such record {id}"))),
            };
            match f(&current) {
                Ok(new) => {
                    t.insert(id, new.as_slice()).map_err(db_err)?;
                    Ok(new)
                }
                Err(e) => Err(e),
            }
        };
        if out.is_ok() {
            self.shared.commit(tx)?;
        } else {
            tx.abort().map_err(db_err)?;
        }
        Ok(out)
    }

    fn acme_new_account(
        &self,
        thumbprint: &str,
        id: &str,
        value: &[u8],
        eab_kid: Option<&str>,
    ) -> Result<Result<(), AccountConflict>, StoreError> {
        let tx = self.shared.write()?;
        {
            let mut keys = tx.open_table(ACME_ACCOUNT_KEYS).map_err(db_err)?;
            if let Some(existing) = keys.get(thumbprint).map_err(db_err)? {
                return Ok(Err(AccountConflict::Key(existing.value().to_string())));
            }
            if let Some(kid) = eab_kid {
                let mut bound = tx.open_table(ACME_EAB_BOUND).map_err(db_err)?;
                if let Some(prev) = bound.get(kid).map_err(db_err)? {
                    return Ok(Err(AccountConflict::EabUsed(prev.value().to_string())));
                }
                bound.insert(kid, id).map_err(db_err)?;
            }
            keys.insert(thumbprint, id).map_err(db_err)?;
            tx.open_table(ACME_ACCOUNTS)
                .map_err(db_err)?
                .insert(id, value)
                .map_err(db_err)?;
        }
        self.shared.commit(tx)?;
        Ok(Ok(()))
    }

    fn acme_account_by_key(&self, thumbprint: &str) -> Result<Option<String>, StoreError> {
        let tx = self.shared.read()?;
        let t = tx.open_table(ACME_ACCOUNT_KEYS).map_err(db_err)?;
        Ok(t.get(thumbprint).map_err(db_err)?.map(|v| v.value().to_string()))
    }

    fn acme_change_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_thumbprint: &str,
        value: &[u8],
    ) -> Result<Result<(), String>, StoreError> {
        let tx = self.shared.write()?;
        {
            let mut keys = tx.open_table(ACME_ACCOUNT_KEYS).map_err(db_err)?;
            if let Some(existing) = keys.get(new_thumbprint).map_err(db_err)? {
                return Ok(Err(existing.value().to_string()));
            }
            keys.remove(old_thumbprint).map_err(db_err)?;
            keys.insert(new_thumbprint, id).map_err(db_err)?;
            tx.open_table(ACME_ACCOUNTS)
                .map_err(db_err)?
                .insert(id, value)
                .map_err(db_err)?;
        }
        self.shared.commit(tx)?;
        Ok(Ok(()))
    }

    fn acme_new_order(
        &self,
        account: &str,
        order_id: &str,
        order: &[u8],
        authzs: &[(String, Vec<u8>)],
        created: i64,
    ) -> Result<(), StoreError> {
        let tx = self.acme_tx(AcmeTable::Order)?;
        {
            let mut a = tx.open_table(ACME_AUTHZ).map_err(db_err)?;
            for (id, v) in authzs {
                a.insert(id.as_str(), v.as_slice()).map_err(db_err)?;
            }
            tx.open_table(ACME_ORDERS)
                .map_err(db_err)?
                .insert(order_id, order)
                .map_err(db_err)?;
            tx.open_table(ACME_ACCOUNT_ORDERS)
                .map_err(db_err)?
                .insert(format!("{account}/{created:012}/{order_id}").as_str(), created)
                .map_err(db_err)?;
            tx.open_table(ACME_PENDING)
                .map_err(db_err)?
                .insert(pending_key(account, order_id).as_str(), created.to_string().as_bytes())
                .map_err(db_err)?;
        }
        self.shared.commit(tx)
    }

    fn acme_pending_of(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let tx = self.shared.read()?;
        let t = tx.open_table(ACME_PENDING).map_err(db_err)?;
        let (lo, hi) = (format!("{account}/"), format!("{account}0"));
        let mut out = Vec::new();
        for row in t.range(lo.as_str()..hi.as_str()).map_err(db_err)? {
            let (k, _) = row.map_err(db_err)?;
            out.push(k.value()[lo.len()..].to_string());
        }
        Ok(out)
    }

    fn acme_settle(&self, account: &str, order_ids: &[String]) -> Result<(), StoreError> {
        let tx = self.acme_tx(AcmeTable::PendingOrder)?;
        {
            let mut t = tx.open_table(ACME_PENDING).map_err(db_err)?;
            for id in order_ids {
                t.remove(pending_key(account, id).as_str()).map_err(db_err)?;
            }
        }
        self.shared.commit(tx)
    }

    fn acme_orders_of(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let tx = self.shared.read()?;
        let t = tx.open_table(ACME_ACCOUNT_ORDERS).map_err(db_err)?;
        let (lo, hi) = (format!("{account}/"), format!("{account}0"));
        let mut out = Vec::new();
        for row in t.range(lo.as_str()..hi.as_str()).map_err(db_err)? {
            let (k, _) = row.map_err(db_err)?;
            if let Some(id) = k.value().rsplit('/').next() {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    fn acme_purge(&self, table: AcmeTable, keep: &mut dyn FnMut(&[u8]) -> bool) -> Result<usize, StoreError> {
        let tx = self.acme_tx(table)?;
        let gone = {
            let mut t = tx.open_table(acme_def(table)).map_err(db_err)?;
            let mut gone: Vec<String> = Vec::new();
            for row in t.iter().map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                if !keep(v.value()) {
                    gone.push(k.value().to_string());
                }
            }
            for k in &gone {
                t.remove(k.as_str()).map_err(db_err)?;
            }
            if table == AcmeTable::Order && !gone.is_empty() {
                let mut index = tx.open_table(ACME_ACCOUNT_ORDERS).map_err(db_err)?;
                let mut stale = Vec::new();
                for row in index.iter().map_err(db_err)? {
                    let (k, _) = row.map_err(db_err)?;
                    let key = k.value().to_string();
                    if key.rsplit('/').next().is_some_and(|id| gone.iter().any(|g| g == id)) {
                        stale.push(key);
                    }
                }
                for k in &stale {
                    index.remove(k.as_str()).map_err(db_err)?;
                }
            }
            gone.len()
        };
        self.shared.commit(tx)?;
        Ok(gone)
    }

    /// Through the writer thread, so that concurrent finalizes share a commit with each other and with the
    /// certificates they record.
    fn acme_put_durably(&self, records: &[(AcmeTable, &str, &[u8])]) -> Result<(), StoreError> {
        let records = records
            .iter()
            .map(|(t, id, v)| (*t, id.to_string(), v.to_vec()))
            .collect();
        self.write(WriteOp::AcmeRecords(records)).map(drop)
    }

    fn acme_purge_nonces(&self, now: i64) -> Result<usize, StoreError> {
        let mut n = self
            .nonces
            .lock()
            .map_err(|_| StoreError::Backend("nonce lock".into()))?;
        let before = n.len();
        n.retain(|_, exp| *exp >= now);
        Ok(before - n.len())
    }

    fn acme_new_nonce(&self, nonce: &str, expires: i64) -> Result<(), StoreError> {
        let mut n = self
            .nonces
            .lock()
            .map_err(|_| StoreError::Backend("nonce lock".into()))?;
        // Bounded: past a million live nonces the oldest expiring go first (a flood of HEAD new-nonce).
        if n.len() >= 1_000_000 {
            let now = expires - 3600;
            n.retain(|_, exp| *exp >= now + 600);
        }
        n.insert(nonce.to_string(), expires);
        Ok(())
    }

    fn acme_use_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let mut n = self
            .nonces
            .lock()
            .map_err(|_| StoreError::Backend("nonce lock".into()))?;
        Ok(n.remove(nonce).is_some_and(|exp| exp >= now))
    }
}

const ACME_TABLES: [AcmeTable; 5] = [
    AcmeTable::Account,
    AcmeTable::Order,
    AcmeTable::Authz,
    AcmeTable::Certificate,
    AcmeTable::PendingOrder,
];

/// An order's key in [`AcmeTable::PendingOrder`]. Account ids never hold a `/` (`account/` to `account0` is exactly
/// one account's range).
pub fn pending_key(account: &str, order_id: &str) -> String {
    format!("{account}/{order_id}")
}

/// The JSON record under `key`, parsed.
fn json_get<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match t.get(key).map_err(db_err)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value()).map_err(other_err)?)),
        None => Ok(None),
    }
}

/// Increments the counter `key` of the meta table and returns its new value.
fn bump(meta: &mut redb::Table<&str, u64>, key: &str) -> Result<u64, StoreError> {
    let n = meta.get(key).map_err(db_err)?.map_or(0, |v| v.value()) + 1;
    meta.insert(key, n).map_err(db_err)?;
    Ok(n)
}

/// Every (key, JSON value) of a table, parsed.
fn json_rows<T: serde::de::DeserializeOwned>(
    tx: &redb::ReadTransaction,
    def: TableDefinition<&str, &[u8]>,
) -> Result<Vec<T>, StoreError> {
    let t = tx.open_table(def).map_err(db_err)?;
    let mut out = Vec::new();
    for row in t.iter().map_err(db_err)? {
        let (_, v) = row.map_err(db_err)?;
        out.push(serde_json::from_slice(v.value()).map_err(other_err)?);
    }
    Ok(out)
}

fn str_rows(tx: &redb::ReadTransaction, def: TableDefinition<&str, &str>) -> Result<Vec<(String, String)>, StoreError> {
    let t = tx.open_table(def).map_err(db_err)?;
    let mut out = Vec::new();
    for row in t.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        out.push((k.value().to_string(), v.value().to_string()));
    }
    Ok(out)
}

impl Portable for RedbStore {
    fn dump(&self) -> Result<Dump, StoreError> {
        let tx = self.shared.read()?;
        let mut d = Dump {
            certs: json_rows(&tx, CERTS)?,
            revocations: json_rows(&tx, REVOKED)?,
            ssh_certs: json_rows(&tx, SSH_CERTS)?,
            ssh_revocations: json_rows(&tx, SSH_REVOKED)?,
            acme_keys: str_rows(&tx, ACME_ACCOUNT_KEYS)?,
            acme_eab: str_rows(&tx, ACME_EAB_BOUND)?,
            ..Default::default()
        };
        for row in tx.open_table(USED_TOKENS).map_err(db_err)?.iter().map_err(db_err)? {
            let key = row.map_err(db_err)?.0;
            let (exp, jti) = key.value();
            d.tokens.push((jti.to_string(), exp));
        }
        d.crl_number = tx
            .open_table(META)
            .map_err(db_err)?
            .get("crl_number")
            .map_err(db_err)?
            .map_or(0, |v| v.value());
        for table in ACME_TABLES {
            for row in tx.open_table(acme_def(table)).map_err(db_err)?.iter().map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                d.acme.push((table, k.value().to_string(), v.value().to_vec()));
            }
        }
        for row in tx
            .open_table(ACME_ACCOUNT_ORDERS)
            .map_err(db_err)?
            .iter()
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            let key = k.value();
            let mut parts = key.rsplitn(3, '/');
            let (Some(order), Some(_), Some(account)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(StoreError::Backend(format!(
                    "acme_account_orders: malformed key {key:?}"
                )));
            };
            d.acme_orders.push((account.to_string(), v.value(), order.to_string()));
        }
        Ok(d)
    }

    fn load(&self, d: &Dump) -> Result<(), StoreError> {
        if self.counts()?.iter().any(|(_, n)| *n > 0) {
            return Err(StoreError::Backend("the target store is not empty".into()));
        }
        let tx = self.shared.write()?;
        {
            let json = |v: &dyn erased::Json| v.to_vec();
            let mut t = tx.open_table(CERTS).map_err(db_err)?;
            for c in &d.certs {
                t.insert(c.serial.as_str(), json(c)?.as_slice()).map_err(db_err)?;
            }
            let mut t = tx.open_table(REVOKED).map_err(db_err)?;
            for r in &d.revocations {
                t.insert(r.serial.as_str(), json(r)?.as_slice()).map_err(db_err)?;
            }
            let mut t = tx.open_table(USED_TOKENS).map_err(db_err)?;
            for (j, e) in &d.tokens {
                t.insert((*e, j.as_str()), ()).map_err(db_err)?;
            }
            tx.open_table(META)
                .map_err(db_err)?
                .insert("crl_number", d.crl_number)
                .map_err(db_err)?;
            let mut t = tx.open_table(SSH_CERTS).map_err(db_err)?;
            for c in &d.ssh_certs {
                t.insert(c.serial.as_str(), json(c)?.as_slice()).map_err(db_err)?;
            }
            let mut t = tx.open_table(SSH_REVOKED).map_err(db_err)?;
            for r in &d.ssh_revocations {
                t.insert(r.serial.as_str(), json(r)?.as_slice()).map_err(db_err)?;
            }
            for (table, id, v) in &d.acme {
                tx.open_table(acme_def(*table))
                    .map_err(db_err)?
                    .insert(id.as_str(), v.as_slice())
                    .map_err(db_err)?;
            }
            let mut t = tx.open_table(ACME_ACCOUNT_KEYS).map_err(db_err)?;
            for (k, a) in &d.acme_keys {
                t.insert(k.as_str(), a.as_str()).map_err(db_err)?;
            }
            let mut t = tx.open_table(ACME_EAB_BOUND).map_err(db_err)?;
            for (k, a) in &d.acme_eab {
                t.insert(k.as_str(), a.as_str()).map_err(db_err)?;
            }
            let mut t = tx.open_table(ACME_ACCOUNT_ORDERS).map_err(db_err)?;
            for (account, created, order) in &d.acme_orders {
                t.insert(format!("{account}/{created:012}/{order}").as_str(), *created)
                    .map_err(db_err)?;
            }
        }
        self.shared.commit(tx)
    }
}

/// serde_json for the record types, behind one object-safe trait (the load loop handles several types).
mod erased {
    pub trait Json {
        fn to_vec(&self) -> Result<Vec<u8>, super::StoreError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> Result<Vec<u8>, super::StoreError> {
            serde_json::to_vec(self).map_err(super::other_err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_store_passes_the_conformance_suite() {
        conformance::run(Arc::new(RedbStore::in_memory().unwrap()));
        let dir = tempfile::tempdir().unwrap();
        conformance::run(Arc::new(RedbStore::open(&dir.path().join("c.redb")).unwrap()));
    }

    #[test]
    fn used_token_ids_of_an_older_store_move_to_the_exp_keyed_table_and_stay_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        {
            // The layout before 2026-12: used_ott, ID -> exp.
            let db = open_file(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(USED_OTT).unwrap();
                t.insert("p:live", 100).unwrap();
                t.insert("p:old", 10).unwrap();
            }
            tx.commit().unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        assert!(matches!(s.use_token("p:live", 100), Err(StoreError::TokenReused)));
        assert!(matches!(s.use_token("p:old", 10), Err(StoreError::TokenReused)));
        assert_eq!(s.counts().unwrap()[2], ("used_tokens", 2));
        assert_eq!(s.purge_tokens(50).unwrap(), 1);
        s.use_token("p:old", 10).unwrap();
        drop(s);
        let db = open_file(&path).unwrap();
        let tx = db.begin_read().unwrap();
        assert!(
            tx.list_tables()
                .unwrap()
                .all(|t| redb::TableHandle::name(&t) != "used_ott"),
            "the old table is gone"
        );
        assert_eq!(
            redb::ReadableTableMetadata::len(&tx.open_table(USED_TOKENS).unwrap()).unwrap(),
            2
        );
    }

    #[test]
    fn the_purge_of_used_token_ids_takes_only_expired_ones_at_the_bounds() {
        let s = RedbStore::in_memory().unwrap();
        for (jti, exp) in [
            ("a", i64::MIN),
            ("b", -1),
            ("c", 49),
            ("d", 50),
            ("e", 51),
            ("f", i64::MAX),
        ] {
            s.use_token(jti, exp).unwrap();
        }
        assert_eq!(s.purge_tokens(50).unwrap(), 3);
        let left: Vec<_> = s.dump().unwrap().tokens;
        assert_eq!(left, vec![("d".into(), 50), ("e".into(), 51), ("f".into(), i64::MAX)]);
    }

    #[test]
    fn uniqueness_is_enforced_across_threads_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferrica.redb");
        {
            let store = Arc::new(RedbStore::open(&path).unwrap());
            // Eight threads race to use the same token ID: exactly one wins.
            let wins: usize = (0..8)
                .map(|_| {
                    let s = store.clone();
                    std::thread::spawn(move || s.use_token("jti-1", 100).is_ok())
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum();
            assert_eq!(wins, 1);
            let cert = IssuedCert {
                serial: "42".into(),
                provisioner: "p".into(),
                der: vec![1, 2],
                not_after: 9,
            };
            store.record_certificate(&cert).unwrap();
            assert!(matches!(
                store.record_certificate(&cert),
                Err(StoreError::DuplicateSerial(_))
            ));
            let r = Revocation {
                serial: "42".into(),
                reason_code: 1,
                reason: "key compromise".into(),
                revoked_at: 5,
            };
            store.revoke(&r).unwrap();
            assert!(matches!(store.revoke(&r), Err(StoreError::AlreadyRevoked(_))));
            assert_eq!(store.next_crl_number().unwrap(), 1);
            // A token and its certificate together: a reused token records nothing.
            let c2 = IssuedCert {
                serial: "43".into(),
                ..cert.clone()
            };
            store.record_issued("jti-2", 100, &c2).unwrap();
            let c3 = IssuedCert {
                serial: "44".into(),
                ..cert.clone()
            };
            assert!(matches!(
                store.record_issued("jti-2", 100, &c3),
                Err(StoreError::TokenReused)
            ));
            assert!(store.certificate("44").unwrap().is_none());
            assert_eq!(store.next_crl_number().unwrap(), 2);
        }
        // Everything survives a reopen.
        let store = RedbStore::open(&path).unwrap();
        assert!(matches!(store.use_token("jti-1", 100), Err(StoreError::TokenReused)));
        assert_eq!(store.certificate("42").unwrap().unwrap().provisioner, "p");
        assert_eq!(store.revocations().unwrap().len(), 1);
        assert_eq!(store.next_crl_number().unwrap(), 3);
        assert!(RedbStore::in_memory().unwrap().certificate("42").unwrap().is_none());
    }

    #[test]
    fn async_writes_race_and_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferrica.redb");
        let cert = |serial: &str| IssuedCert {
            serial: serial.into(),
            provisioner: "p".into(),
            der: vec![3],
            not_after: 9,
        };
        {
            let store = RedbStore::open(&path).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            // Sixteen certificates race for the same token, sixteen others each have their own: all are in flight
            // at once, so they land in a handful of batches.
            let results = rt.block_on(async {
                let shared: Vec<_> = (0..16)
                    .map(|i| store.record_issued_async("shared", 100, &cert(&format!("1{i}"))))
                    .collect();
                let own: Vec<_> = (0..16)
                    .map(|i| store.record_issued_async(&format!("own-{i}"), 100, &cert(&format!("2{i}"))))
                    .collect();
                let mut out = Vec::new();
                for p in shared.into_iter().chain(own) {
                    out.push(p.done().await);
                }
                out
            });
            let (shared, own) = results.split_at(16);
            assert_eq!(shared.iter().filter(|r| r.is_ok()).count(), 1);
            assert!(
                shared
                    .iter()
                    .filter(|r| r.is_err())
                    .all(|r| matches!(r, Err(StoreError::TokenReused)))
            );
            assert!(own.iter().all(Result::is_ok));
            // The default implementation (a backend without batching) answers at once.
            struct Sync(RedbStore);
            impl Store for Sync {
                fn record_certificate(&self, c: &IssuedCert) -> Result<(), StoreError> {
                    self.0.record_certificate(c)
                }
                fn record_issued(&self, j: &str, e: i64, c: &IssuedCert) -> Result<(), StoreError> {
                    self.0.record_issued(j, e, c)
                }
                fn certificate(&self, s: &str) -> Result<Option<IssuedCert>, StoreError> {
                    self.0.certificate(s)
                }
                fn use_token(&self, j: &str, e: i64) -> Result<(), StoreError> {
                    self.0.use_token(j, e)
                }
                fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
                    self.0.revoke(r)
                }
                fn revocation(&self, s: &str) -> Result<Option<Revocation>, StoreError> {
                    self.0.revocation(s)
                }
                fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
                    self.0.revocations()
                }
                fn next_crl_number(&self) -> Result<u64, StoreError> {
                    self.0.next_crl_number()
                }
                fn purge_tokens(&self, before: i64) -> Result<usize, StoreError> {
                    self.0.purge_tokens(before)
                }
                fn crl_state(&self) -> Result<(u64, Option<StoredCrl>), StoreError> {
                    self.0.crl_state()
                }
                fn crl_invalidate(&self) -> Result<(), StoreError> {
                    self.0.crl_invalidate()
                }
                fn crl_publish(
                    &self,
                    g: u64,
                    now: i64,
                    v: (i64, i64),
                    sign: SignCrl<'_>,
                ) -> Result<Result<StoredCrl, String>, StoreError> {
                    self.0.crl_publish(g, now, v, sign)
                }
            }
            let s = Sync(store);
            let p = s.record_issued_async("own-0", 100, &cert("30"));
            assert!(matches!(p, Pending::Ready(Err(StoreError::TokenReused))));
        }
        let store = RedbStore::open(&path).unwrap();
        for i in 0..16 {
            assert!(store.certificate(&format!("2{i}")).unwrap().is_some());
        }
        assert!(store.certificate("30").unwrap().is_none());
    }
}
