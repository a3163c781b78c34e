//! `ferrica serve`: step-ca's HTTPS API (`step-and-peers.md` §3.1-3.2) over rustls.
//!
//! `app(state)` builds the axum router (routes under `/` and `/1.0/`); handlers are thin and call `ca::authorize`
//! and the one issuance path `pki::issue` (in `x509`). Errors are `{"status","message"}` JSON. The TLS layer
//! (`tls`) puts the client's verified certificate chain, if any, into each request as [`PeerChain`]. ACME is not
//! built yet.

pub mod acme;
pub mod listen;
pub mod ocsp;
pub mod ssh;
pub mod tls;
pub mod x509;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::ca::authorize::AuthError;
use crate::ca::config::CaConfig;
use crate::ca::store::{AcmeStore, SshStore, Store};
use crate::pki::issue::CaIssuer;

/// What one request may carry, route by route (413 or 431 above it); `serve`'s flags under "Limits" set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The body of a REST or SSH request: a token and a CSR or public key take a few KiB, an RSA-8192 one under 10.
    pub body: usize,
    /// The body of an OCSP request (RFC 6960 requests are a few hundred bytes, signed ones a few KiB).
    pub ocsp_body: usize,
    /// An ACME request's JWS (ACME answers 413 with its own problem document).
    pub acme_body: usize,
    /// A request's header fields, names and values together (431 over HTTP/1.1 and HTTP/2 alike, JSON).
    pub header_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            body: 64 << 10,
            ocsp_body: 16 << 10,
            acme_body: 64 << 10,
            header_bytes: 32 << 10,
        }
    }
}

impl RequestLimits {
    /// The body limit [`limit_request_head`] applies to the route at `path`; none for ACME, which bounds its JWS
    /// itself ([`RequestLimits::acme_body`]) and answers with a problem document.
    pub fn body_for(&self, path: &str) -> Option<usize> {
        let p = path.strip_prefix("/1.0").unwrap_or(path);
        if p.starts_with("/acme/") || path.starts_with("/2.0/acme/") {
            None
        } else if p == "/ocsp" || p.starts_with("/ocsp/") {
            Some(self.ocsp_body)
        } else {
            Some(self.body)
        }
    }
}

/// What every handler shares.
pub struct Ca {
    /// ca.json; SIGHUP swaps in a re-read copy.
    config: RwLock<Arc<CaConfig>>,
    /// Where ca.json was read from (for reloads).
    pub config_path: Option<PathBuf>,
    /// The root certificate (DER).
    pub root_der: Vec<u8>,
    /// The roots this CA federates with (ca.json's `federatedRoots`, read at start), as PEM.
    pub federated_pem: Vec<String>,
    /// SHA-256 of the root, lowercase hex.
    pub root_fingerprint: String,
    /// The intermediate certificate (DER).
    pub intermediate_der: Vec<u8>,
    /// The intermediate as PEM (every `/sign` answer carries it).
    pub intermediate_pem: String,
    /// The intermediate, parsed once, with its key.
    pub issuer: CaIssuer<'static>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The ACME records (the same database as `store`).
    pub acme_store: Arc<dyn AcmeStore>,
    /// The SSH records (the same database).
    pub ssh_store: Arc<dyn SshStore>,
    /// Signs SSH user certificates (ca.json's `ssh.userKey`), if the CA has one.
    pub ssh_user: Option<crate::ssh::cert::SshCa>,
    /// Signs SSH host certificates (`ssh.hostKey`).
    pub ssh_host: Option<crate::ssh::cert::SshCa>,
    /// Where ACME validation connects (ports, resolver) and the external URL.
    pub acme: acme::validate::Settings,
    /// Bounds the challenge validations running at once.
    pub acme_validations: Arc<tokio::sync::Semaphore>,
    /// Per-address ACME rate limits.
    pub acme_limiter: Mutex<crate::acme::limits::Limiter>,
    /// Start time, unix seconds (with an in-memory store, tokens issued before it are refused: see
    /// [`Ca::replay_floor`]).
    pub started: i64,
    /// The OCSP responder.
    pub ocsp: ocsp::Responder,
    /// The CRL, OCSP and CA-issuers URLs written into every leaf (empty: none).
    pub revocation_urls: RevocationUrls,
    /// The body and header limits of each route.
    pub requests: RequestLimits,
}

/// Where relying parties find revocation information and the issuer: written into each leaf as a CRL distribution
/// point and an authorityInfoAccess.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationUrls {
    /// CRL distribution point.
    pub crl: Option<String>,
    /// OCSP responder.
    pub ocsp: Option<String>,
    /// The intermediate's certificate (DER).
    pub ca_issuers: Option<String>,
}

impl RevocationUrls {
    /// From the plain-HTTP base URL (`http://host:port`, from `insecureAddress`) and ca.json's
    /// `revocationUrls` (`{"crl", "ocsp", "caIssuers"}`), which win member by member.
    pub fn new(base: Option<&str>, overrides: Option<&Value>) -> Result<RevocationUrls, String> {
        let mut u = RevocationUrls::default();
        if let Some(b) = base {
            let b = b.trim_end_matches('/');
            u.crl = Some(format!("{b}/crl"));
            u.ocsp = Some(format!("{b}/ocsp"));
            u.ca_issuers = Some(format!("{b}/intermediate.crt"));
        }
        if let Some(o) = overrides {
            let obj = o.as_object().ok_or("revocationUrls: must be an object")?;
            for (k, v) in obj {
                let url = v.as_str().ok_or_else(|| format!("revocationUrls.{k}: must be a URL"))?;
                let bad =
                    !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace);
                if bad && !url.is_empty() {
                    return Err(format!("revocationUrls.{k}: {url:?} is not an http:// or https:// URL"));
                }
                let slot = match k.as_str() {
                    "crl" => &mut u.crl,
                    "ocsp" => &mut u.ocsp,
                    "caIssuers" => &mut u.ca_issuers,
                    other => return Err(format!("revocationUrls.{other}: unknown member (crl, ocsp, caIssuers)")),
                };
                *slot = Some(url.to_string()).filter(|s| !s.is_empty());
            }
        }
        Ok(u)
    }
}

impl Ca {
    /// Checks that the intermediate can sign with `intermediate_key` and prepares the issuer.
    pub fn new(
        config: CaConfig,
        config_path: Option<PathBuf>,
        root_der: Vec<u8>,
        intermediate_der: Vec<u8>,
        intermediate_key: Arc<crate::pki::keys::PrivateKey>,
        store: Arc<dyn crate::ca::store::Backend>,
        started: i64,
    ) -> Result<Ca, crate::pki::issue::IssueError> {
        use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
        let issuer = CaIssuer::shared(&intermediate_der, intermediate_key.clone())?;
        let ocsp = ocsp::Responder::new(
            Default::default(),
            &issuer,
            &intermediate_der,
            intermediate_key,
            started,
        )
        .map_err(crate::pki::issue::IssueError::IssuerUnreadable)?;
        Ok(Ca {
            config: RwLock::new(Arc::new(config)),
            config_path,
            root_fingerprint: fingerprint(&root_der, FingerprintHash::Sha256, FingerprintFormat::Hex),
            federated_pem: Vec::new(),
            root_der,
            intermediate_pem: pem("CERTIFICATE", &intermediate_der),
            intermediate_der,
            issuer,
            acme_store: store.clone(),
            ssh_store: store.clone(),
            ssh_user: None,
            ssh_host: None,
            store,
            acme: acme::validate::Settings::standard(),
            acme_validations: Arc::new(tokio::sync::Semaphore::new(acme::validate::MAX_CONCURRENT)),
            acme_limiter: Mutex::new(Default::default()),
            started,
            ocsp,
            revocation_urls: RevocationUrls::default(),
            requests: RequestLimits::default(),
        })
    }

    /// The current ca.json.
    pub fn config(&self) -> Arc<CaConfig> {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Re-reads ca.json (SIGHUP): provisioners, claims, policy and CRL settings take effect for the next request.
    /// The certificates, keys, address and database stay as they were started (a restart changes those).
    pub fn reload(&self) -> Result<(), String> {
        let path = self.config_path.as_ref().ok_or("no ca.json path to reload from")?;
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let new = CaConfig::from_json(&data).map_err(|e| format!("{}: {e}", path.display()))?;
        let old = self.config();
        if new.crt != old.crt
            || new.key != old.key
            || new.root != old.root
            || new.address != old.address
            || new.db != old.db
            || new.insecure_address != old.insecure_address
            || ["ocsp", "revocationUrls"]
                .iter()
                .any(|k| new.extra.get(*k) != old.extra.get(*k))
        {
            tracing::warn!(
                "ca.json changed root, crt, key, address, insecureAddress, db, ocsp or revocationUrls: those take \
                 effect on restart only"
            );
        }
        match self.config.write() {
            Ok(mut c) => *c = Arc::new(new),
            Err(e) => *e.into_inner() = Arc::new(new),
        }
        // Provisioner and CRL settings may have changed.
        self.drop_cached_crl();
        Ok(())
    }

    /// The ACME external account binding keys (the file beside ca.json, read on each use so that keys added by
    /// `ca acme eab add` count at once).
    pub fn eab_keys(&self) -> Result<crate::acme::eab::EabKeys, String> {
        let Some(path) = self
            .config_path
            .as_ref()
            .and_then(|p| p.parent())
            .map(|d| d.join(crate::acme::eab::FILE_NAME))
        else {
            return Ok(Default::default());
        };
        match std::fs::read(&path) {
            Ok(data) => crate::acme::eab::EabKeys::from_json(&data).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Tokens issued before this (unix seconds) are refused. With used tokens kept in memory only, that is the
    /// start: an older token could have been used before a restart. A database remembers used tokens across
    /// restarts, so a token minted just before one (a rolling restart of several instances) still works once.
    pub fn replay_floor(&self) -> i64 {
        if self.store.is_persistent() {
            i64::MIN
        } else {
            self.started
        }
    }

    /// Marks the stored CRL out of date (after a reload that may change its settings), so the next `/crl` is made
    /// afresh. Revocations do this themselves, in the store.
    pub fn drop_cached_crl(&self) {
        if let Err(e) = self.store.crl_invalidate() {
            tracing::warn!("marking the CRL out of date: {e}");
        }
    }
}

/// The client's address (the TCP peer).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// The client's certificate chain (leaf first, DER), verified to the root by the TLS layer; `None` without one.
#[derive(Debug, Clone, Default)]
pub struct PeerChain(pub Option<Arc<Vec<Vec<u8>>>>);

/// An API error: `{"status": <code>, "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        ApiError::new(e.status(), e.to_string())
    }
}

impl From<crate::ca::store::StoreError> for ApiError {
    fn from(e: crate::ca::store::StoreError) -> ApiError {
        ApiError::from(crate::ca::authorize::store_error(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status.as_u16(), "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

pub(crate) fn pem(tag: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(tag, der.to_vec()),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// The router.
pub fn app(ca: Arc<Ca>) -> Router {
    let api = || {
        Router::new()
            .route("/health", get(health))
            .route(
                "/version",
                get(|| async {
                    axum::Json(json!({"version": env!("CARGO_PKG_VERSION"), "requireClientAuthentication": false}))
                }),
            )
            .route("/root/{sha}", get(root))
            .route(
                "/roots",
                get(|State(ca): State<Arc<Ca>>| async move {
                    axum::Json(json!({"crts": [pem("CERTIFICATE", &ca.root_der)]}))
                }),
            )
            .route(
                "/roots.pem",
                get(|State(ca): State<Arc<Ca>>| async move { pem_response(pem("CERTIFICATE", &ca.root_der)) }),
            )
            .route(
                "/intermediates",
                get(|State(ca): State<Arc<Ca>>| async move { axum::Json(json!({"crts": [ca.intermediate_pem]})) }),
            )
            .route(
                "/intermediates.pem",
                get(|State(ca): State<Arc<Ca>>| async move { pem_response(ca.intermediate_pem.clone()) }),
            )
            .route(
                "/federation",
                get(|State(ca): State<Arc<Ca>>| async move {
                    let mut crts = vec![pem("CERTIFICATE", &ca.root_der)];
                    crts.extend(ca.federated_pem.iter().cloned());
                    axum::Json(json!({"crts": crts}))
                }),
            )
            .route("/provisioners", get(provisioners))
            .route("/provisioners/{kid}/encrypted-key", get(encrypted_key))
            .route("/sign", post(x509::sign))
            .route("/renew", post(x509::renew))
            .route("/re-sign", post(x509::renew))
            .route("/rekey", post(x509::rekey))
            .route("/revoke", post(x509::revoke))
            .route("/crl", get(x509::crl))
            .route("/intermediate.crt", get(intermediate_der))
            .route("/ocsp", post(ocsp::post))
            .route("/ocsp/{*request}", get(ocsp::get))
    };
    Router::new()
        .merge(api())
        .nest("/1.0", api())
        .merge(ssh::routes())
        .nest("/1.0", ssh::routes())
        .nest("/acme", acme::routes())
        .nest("/2.0/acme", acme::routes())
        .fallback(|| async { ApiError::new(404, "not found") })
        .layer(DefaultBodyLimit::max(ca.requests.body.max(ca.requests.ocsp_body)))
        .layer(axum::middleware::from_fn_with_state(ca.clone(), limit_request_head))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(ca)
}

/// The routes of the plain-HTTP listener (`insecureAddress`): what relying parties fetch without trusting the CA
/// first, and nothing that issues or revokes.
pub fn insecure_app(ca: Arc<Ca>) -> Router {
    let api = || {
        Router::new()
            .route("/health", get(health))
            .route(
                "/roots.pem",
                get(|State(ca): State<Arc<Ca>>| async move { pem_response(pem("CERTIFICATE", &ca.root_der)) }),
            )
            .route("/intermediate.crt", get(intermediate_der))
            .route("/crl", get(x509::crl))
            .route("/ocsp", post(ocsp::post))
            .route("/ocsp/{*request}", get(ocsp::get))
    };
    Router::new()
        .merge(api())
        .nest("/1.0", api())
        .fallback(|| async {
            ApiError::new(
                404,
                "not found (this plain-HTTP listener serves /crl, /ocsp, /roots.pem, /intermediate.crt and /health)",
            )
        })
        .layer(DefaultBodyLimit::max(ca.requests.body.max(ca.requests.ocsp_body)))
        .layer(axum::middleware::from_fn_with_state(ca.clone(), limit_request_head))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(ca)
}

/// `{"status": "ok"}`, or 503 with why when the database cannot be reached.
async fn health(State(ca): State<Arc<Ca>>) -> Response {
    let store = ca.store.clone();
    match tokio::task::spawn_blocking(move || store.health()).await {
        Ok(Ok(())) => axum::Json(json!({"status": "ok"})).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": e.to_string()})),
        )
            .into_response(),
        Err(_) => ApiError::new(500, "internal error").into_response(),
    }
}

/// The intermediate as DER (`application/pkix-cert`): the leaves' caIssuers URL.
async fn intermediate_der(State(ca): State<Arc<Ca>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pkix-cert")],
        ca.intermediate_der.clone(),
    )
        .into_response()
}

fn pem_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], body).into_response()
}

/// The largest refused body that is read (and dropped) before the 413 goes out, and for how long at most.
const DRAIN_AT_MOST: u64 = 1 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// 431 for oversized header sections, the same on HTTP/1.1 and HTTP/2 (RFC 6585 §5); 413 for a body over the
/// route's limit ([`RequestLimits::body_for`]), declared or sent.
async fn limit_request_head(
    State(ca): State<Arc<Ca>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 32).sum();
    let most = ca.requests.header_bytes;
    if size > most {
        return ApiError::new(
            431,
            format!("the request's header fields are {size} bytes; at most {most}"),
        )
        .into_response();
    }
    // A declared body over the limit is refused before any of it is read, so an `Expect: 100-continue` client gets
    // the 413 instead of a `100 Continue` and a reset mid-upload. ACME answers with its own problem document.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let Some(limit) = ca.requests.body_for(req.uri().path()) else {
        return next.run(req).await;
    };
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        let refused = ApiError::new(413, format!("the request body is {n} bytes; at most {limit}")).into_response();
        // A client that did not ask first is already sending the body. Closing the connection with its bytes
        // unread makes the kernel reset it, and the client may then lose the 413 before reading it (curl reports
        // a send failure). So a body of moderate size is read and dropped first, for a short time at most.
        let expects_continue = req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !expects_continue && n <= DRAIN_AT_MOST {
            let mut body = req.into_body();
            let drain = async { while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {} };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        }
        return refused;
    }
    // A body sent without a length (chunked, or HTTP/2 DATA frames) is cut at the same limit while it is read.
    let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, limit)));
    next.run(req).await
}

/// One log line per request: method, path, status, time. No bodies, no tokens.
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let start = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, %path, status = res.status().as_u16(), micros = start.elapsed().as_micros() as u64, "request");
    res
}

async fn root(State(ca): State<Arc<Ca>>, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let want = sha.replace('-', "").to_ascii_lowercase();
    if want == ca.root_fingerprint {
        Ok(axum::Json(json!({"ca": pem("CERTIFICATE", &ca.root_der)})).into_response())
    } else {
        Err(ApiError::new(404, format!("no root with fingerprint {want}")))
    }
}

async fn provisioners(State(ca): State<Arc<Ca>>) -> axum::Json<Value> {
    axum::Json(json!({"provisioners": ca.config().authority.provisioners, "nextCursor": ""}))
}

async fn encrypted_key(State(ca): State<Arc<Ca>>, Path(kid): Path<String>) -> Result<axum::Json<Value>, ApiError> {
    let config = ca.config();
    let p = config
        .authority
        .provisioners
        .iter()
        .find(|p| p.get("key").and_then(|k| k.get("kid")).and_then(Value::as_str) == Some(kid.as_str()))
        .ok_or_else(|| ApiError::new(404, format!("no provisioner with kid {kid}")))?;
    let key = p
        .get("encryptedKey")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new(404, "the provisioner has no encrypted key"))?;
    Ok(axum::Json(json!({"key": key})))
}

/// Reads a JSON body: 413 over the limit, 400 when malformed.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status().as_u16(), e.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("malformed request body: {e}")))
}

/// Runs crypto and durable store writes off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(500, "internal error"))?
}

#[cfg(test)]
mod tests {
    use super::RevocationUrls;
    use serde_json::json;

    #[test]
    fn revocation_urls_come_from_the_plain_listener_and_ca_json_overrides_them_one_by_one() {
        assert_eq!(RevocationUrls::new(None, None).unwrap(), RevocationUrls::default());
        let u = RevocationUrls::new(Some("http://ca.lab:8080/"), None).unwrap();
        assert_eq!(u.crl.as_deref(), Some("http://ca.lab:8080/crl"));
        assert_eq!(u.ocsp.as_deref(), Some("http://ca.lab:8080/ocsp"));
        assert_eq!(u.ca_issuers.as_deref(), Some("http://ca.lab:8080/intermediate.crt"));
        let o = json!({"ocsp": "http://ocsp.cdn.lab/", "caIssuers": ""});
        let u = RevocationUrls::new(Some("http://ca.lab:8080"), Some(&o)).unwrap();
        assert_eq!(u.ocsp.as_deref(), Some("http://ocsp.cdn.lab/"));
        assert_eq!(u.ca_issuers, None, "an empty URL leaves it out");
        assert_eq!(u.crl.as_deref(), Some("http://ca.lab:8080/crl"));
        let only = RevocationUrls::new(None, Some(&json!({"crl": "https://crl.lab/ca.crl"}))).unwrap();
        assert_eq!(only.crl.as_deref(), Some("https://crl.lab/ca.crl"));
        assert!(only.ocsp.is_none());
        for bad in [
            json!({"crl": "ftp://x"}),
            json!({"ocsp": 5}),
            json!({"aia": "http://x"}),
            json!([]),
        ] {
            assert!(RevocationUrls::new(None, Some(&bad)).is_err(), "{bad}");
        }
    }
}
