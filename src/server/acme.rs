//! ACME (RFC 8555) under `/acme/{provisioner}/` and `/2.0/acme/{provisioner}/`, step-ca's layout, for every ACME
//! provisioner of ca.json (SIGHUP reloads them).
//!
//! Each POST goes through [`authenticate`] (JWS rules of `acme::jws`, a nonce consumed in the store, the account
//! key), then a thin handler that applies `acme::model`'s rules and writes the store. Challenge validation runs in
//! [`validate`], off the request path, bounded by a semaphore. Certificates come from the same issuance path as
//! `/sign` (`x509::issue_leaf`) with the provisioner's claims and policy.

pub mod validate;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Ca, blocking};
use crate::acme::jws::{self as ajws, Signer};
use crate::acme::model::{self, Account, Authz, Challenge, Identifier, IssuedChain, Order};
use crate::acme::problem::Problem;
use crate::ca::store::{AcmeStore, AcmeTable};

/// How long a nonce may wait for its request.
const NONCE_LIFETIME: i64 = 3600;
/// How long a challenge POST waits for the first validation attempt before answering `processing`.
const FIRST_ATTEMPT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The ACME routes, to be nested under `/acme` and `/2.0/acme`.
pub fn routes() -> Router<Arc<Ca>> {
    Router::new()
        .route("/{p}/directory", get(directory))
        .route("/{p}/new-nonce", get(new_nonce).head(new_nonce))
        .route("/{p}/renewal-info/{id}", get(renewal_info))
        .route("/{p}/new-account", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/new-order", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/revoke-cert", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/key-change", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/account/{id}", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/account/{id}/orders", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/order/{id}", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/order/{id}/finalize", post(dispatch).fallback(method_not_allowed))
        .route("/{p}/authz/{id}", post(dispatch).fallback(method_not_allowed))
        .route(
            "/{p}/challenge/{authz}/{id}",
            post(dispatch).fallback(method_not_allowed),
        )
        .route("/{p}/certificate/{id}", post(dispatch).fallback(method_not_allowed))
}

/// 405 as a problem document (GET on a POST-only resource, and the like).
async fn method_not_allowed(method: Method) -> Response {
    let p = Problem::new(
        "malformed",
        405,
        format!("{method} is not allowed here: ACME resources take POST"),
    );
    let mut res = (
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::to_vec(&p).unwrap_or_default(),
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

fn now() -> i64 {
    ::time::OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(t)
        .map(crate::pki::issue::fmt_time)
        .unwrap_or_default()
}

fn random_id(bytes: usize) -> Result<String, Problem> {
    let raw = crate::jose::random(bytes).map_err(|e| Problem::internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

fn store_err(e: impl std::fmt::Display) -> Problem {
    Problem::internal(format!("store: {e}"))
}

/// The URL prefix of a provisioner as the client addressed it: `https://<host>/acme/<name>` (or `/2.0/acme/...`).
#[derive(Clone)]
struct Base {
    /// `https://host[:port]`.
    origin: String,
    /// `https://host[:port]/[2.0/]acme/<name>`.
    acme: String,
    /// The provisioner name.
    provisioner: String,
}

impl Base {
    fn of(ca: &Ca, headers: &HeaderMap, uri: &Uri, provisioner: &str) -> Base {
        let origin = match &ca.acme.external_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let host = uri
                    .authority()
                    .map(|a| a.as_str().to_string())
                    .or_else(|| {
                        headers
                            .get(header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "localhost".into());
                format!("https://{host}")
            }
        };
        let prefix = if uri.path().starts_with("/2.0/") {
            "/2.0/acme"
        } else {
            "/acme"
        };
        Base {
            acme: format!("{origin}{prefix}/{provisioner}"),
            origin,
            provisioner: provisioner.to_string(),
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/{rest}", self.acme)
    }
}

/// The ACME provisioner named in the path, from the current ca.json.
fn provisioner(ca: &Ca, name: &str) -> Result<Map<String, Value>, Problem> {
    ca.config()
        .provisioner(name)
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("ACME"))
        .cloned()
        .ok_or_else(|| Problem::new("malformed", 404, format!("there is no ACME provisioner {name:?}")))
}

/// An answer: status, JSON (or PEM) body, extra headers; every one gets a fresh Replay-Nonce and Link rel="index".
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    headers: Vec<(header::HeaderName, String)>,
    /// A challenge POST that started validation: wait (without holding a thread) for the first attempt, then
    /// answer with the challenge as it is then (authorization id, challenge id).
    wait: Option<(tokio::sync::oneshot::Receiver<()>, String, String)>,
}

impl Answer {
    fn json(status: StatusCode, v: &Value) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(v).unwrap_or_default(),
            content_type: "application/json",
            headers: Vec::new(),
            wait: None,
        }
    }

    fn with(mut self, name: header::HeaderName, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }

    fn problem(p: &Problem) -> Answer {
        Answer {
            status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            body: serde_json::to_vec(p).unwrap_or_default(),
            content_type: "application/problem+json",
            headers: p
                .retry_after
                .map(|s| vec![(header::RETRY_AFTER, s.to_string())])
                .unwrap_or_default(),
            wait: None,
        }
    }
}

fn finish(ca: &Ca, base: Option<&Base>, a: Answer) -> Response {
    let mut res = (a.status, a.body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(n) = fresh_nonce(ca)
        && let Ok(v) = HeaderValue::from_str(&n)
    {
        h.insert("replay-nonce", v);
    }
    if let Some(b) = base
        && let Ok(v) = HeaderValue::from_str(&format!("<{}>;rel=\"index\"", b.url("directory")))
    {
        h.append(header::LINK, v);
    }
    for (k, v) in a.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(k, v);
        }
    }
    res
}

fn fresh_nonce(ca: &Ca) -> Result<String, Problem> {
    let n = random_id(16)?;
    ca.acme_store
        .acme_new_nonce(&n, now() + NONCE_LIFETIME)
        .map_err(store_err)?;
    Ok(n)
}

async fn directory(
    State(ca): State<Arc<Ca>>,
    Path(p): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let base = Base::of(&ca, &headers, &uri, &p);
    let answer = blocking(move || {
        let prov = provisioner(&ca, &p).map_err(|p| super::ApiError::new(p.status, p.detail))?;
        let mut meta = json!({
            "externalAccountRequired": prov.get("requireEAB").and_then(Value::as_bool).unwrap_or(false),
        });
        if let Some(caa) = ca.config().extra.get("caaIdentities") {
            meta["caaIdentities"] = caa.clone();
        }
        let profiles = model::profiles(&prov);
        if !profiles.is_empty() {
            let described: Map<String, Value> = profiles
                .into_iter()
                .map(|(name, p)| {
                    let d = p
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or(&name)
                        .to_string();
                    (name, Value::String(d))
                })
                .collect();
            meta["profiles"] = Value::Object(described);
        }
        Ok(json!({
            "newNonce": base.url("new-nonce"),
            "newAccount": base.url("new-account"),
            "newOrder": base.url("new-order"),
            "revokeCert": base.url("revoke-cert"),
            "keyChange": base.url("key-change"),
            "renewalInfo": base.url("renewal-info"),
            "meta": meta,
        }))
    })
    .await;
    match answer {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn new_nonce(
    State(ca): State<Arc<Ca>>,
    Path(p): Path<String>,
    method: Method,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let base = Base::of(&ca, &headers, &uri, &p);
    let status = if method == Method::HEAD {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let ca2 = ca.clone();
    let known = blocking(move || Ok(provisioner(&ca2, &p).map(drop))).await;
    let a = match known {
        Ok(Ok(())) => Answer {
            status,
            body: Vec::new(),
            content_type: "application/octet-stream",
            headers: Vec::new(),
            wait: None,
        },
        Ok(Err(p)) => Answer::problem(&p),
        Err(_) => Answer::problem(&Problem::internal("internal error")),
    };
    let ca3 = ca.clone();
    blocking(move || Ok(finish(&ca3, Some(&base), a)))
        .await
        .unwrap_or_else(|e| e.into_response())
}

/// The certificate an ARI identifier names, if this CA issued it: (serial decimal, DER).
fn cert_by_ari_id(ca: &Ca, id: &str) -> Result<(String, Vec<u8>), Problem> {
    use x509_parser::prelude::*;
    let (aki, serial) = model::parse_cert_id(id)?;
    let decimal = x509_parser::num_bigint::BigUint::from_bytes_be(&serial).to_str_radix(10);
    let not_ours = || Problem::new("malformed", 404, format!("this CA issued no certificate {id}"));
    let issued = ca
        .store
        .certificate(&decimal)
        .map_err(store_err)?
        .ok_or_else(not_ours)?;
    let (_, cert) = X509Certificate::from_der(&issued.der).map_err(store_err)?;
    let their_aki = cert.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0.to_vec()),
        _ => None,
    });
    if their_aki.as_deref() != Some(aki.as_slice()) || cert.raw_serial() != serial.as_slice() {
        return Err(not_ours());
    }
    Ok((decimal, issued.der))
}

/// `GET renewal-info/{certID}` (RFC 9773): the suggested renewal window; no authentication.
async fn renewal_info(
    State(ca): State<Arc<Ca>>,
    Path((p, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    use x509_parser::prelude::*;
    let base = Base::of(&ca, &headers, &uri, &p);
    let ca2 = ca.clone();
    let out = blocking(move || {
        let a = (|| -> Result<Answer, Problem> {
            provisioner(&ca2, &p)?;
            let (serial, der) = cert_by_ari_id(&ca2, &id)?;
            let (_, cert) = X509Certificate::from_der(&der).map_err(store_err)?;
            let revoked = ca2.store.revocation(&serial).map_err(store_err)?.map(|r| r.revoked_at);
            let (start, end) = model::suggested_window(
                cert.validity().not_before.timestamp(),
                cert.validity().not_after.timestamp(),
                revoked,
                now(),
            );
            Ok(Answer::json(
                StatusCode::OK,
                &json!({"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}}),
            )
            .with(header::RETRY_AFTER, "21600"))
        })()
        .unwrap_or_else(|p| Answer::problem(&p));
        Ok(finish(&ca2, Some(&base), a))
    })
    .await;
    out.unwrap_or_else(|e| e.into_response())
}

/// How long past its expiry an unfinished order or an authorization is kept (clients may still read it).
pub const RETENTION: i64 = 7 * 24 * 3600;

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Expired nonces.
    pub nonces: usize,
    /// Orders that were never issued, [`RETENTION`] past their expiry.
    pub orders: usize,
    /// Authorizations [`RETENTION`] past their expiry.
    pub authorizations: usize,
}

/// Removes what ACME no longer needs at `now`: expired nonces, and orders and authorizations that expired more than
/// [`RETENTION`] ago (issued orders stay with their certificates). `serve` runs it at start and every 10 minutes,
/// so a client flood cannot grow the database without bound.
pub fn purge(ca: &Ca, now: i64) -> Result<Purged, crate::ca::store::StoreError> {
    let nonces = ca.acme_store.acme_purge_nonces(now)?;
    let orders = ca.acme_store.acme_purge(AcmeTable::Order, &mut |v| {
        serde_json::from_slice::<Order>(v).map_or(true, |o| !o.purgeable(now, RETENTION))
    })?;
    let authorizations = ca.acme_store.acme_purge(AcmeTable::Authz, &mut |v| {
        serde_json::from_slice::<Authz>(v).map_or(true, |a| !a.purgeable(now, RETENTION))
    })?;
    // Entries of accounts that stopped ordering: past the pending lifetime their orders have expired.
    ca.acme_store.acme_purge(AcmeTable::PendingOrder, &mut |v| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|created| created + model::PENDING_LIFETIME > now)
    })?;
    if let Ok(mut l) = ca.acme_limiter.lock() {
        l.prune(now);
    }
    Ok(Purged {
        nonces,
        orders,
        authorizations,
    })
}

/// Every POST: content type, size, then the route's handler on a blocking thread (store and crypto).
async fn dispatch(
    State(ca): State<Arc<Ca>>,
    Path(params): Path<Vec<(String, String)>>,
    peer: Option<axum::Extension<super::PeerAddr>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: axum::body::Body,
) -> Response {
    // An oversized body is refused from its Content-Length, before any of it is read (so no 100 Continue invites
    // the client to send it), else while reading.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The largest JWS accepted (`--max-acme-body`): a CSR with many names fits; a flood does not.
    let most = ca.requests.acme_body;
    let body: Result<Bytes, String> = match declared {
        Some(n) if n > most as u64 => Err(format!("the JWS is {n} bytes, over {most}")),
        _ => axum::body::to_bytes(body, most)
            .await
            .map_err(|_| format!("the JWS is over {most} bytes")),
    };
    let body = match body {
        Ok(b) => b,
        Err(m) => {
            let p = Problem::new("malformed", 413, m);
            return blocking(move || Ok(finish(&ca, None, Answer::problem(&p))))
                .await
                .unwrap_or_else(|e| e.into_response());
        }
    };
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let p = get("p");
    let base = Base::of(&ca, &headers, &uri, &p);
    let ca2 = ca.clone();
    let id = get("id");
    let authz = get("authz");
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let ip = peer.map(|p| p.0.0.ip());
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let ca3 = ca2.clone();
    let base2 = base.clone();
    let answer = blocking(move || {
        let a = if ctype != "application/jose+json" {
            Answer::problem(&Problem::new(
                "malformed",
                415,
                format!("the content type must be application/jose+json, not {ctype:?}"),
            ))
        } else {
            match route(&ca2, &base, &path, query.as_deref(), &id, &authz, &body, ip) {
                Ok(a) => a,
                Err(p) => {
                    if p.status >= 500 {
                        tracing::error!(path = %path, "acme: {p}");
                    }
                    Answer::problem(&p)
                }
            }
        };
        // Most answers are finished here, on the same thread; a challenge that started validation waits first.
        Ok(if a.wait.is_some() {
            Err(a)
        } else {
            Ok(finish(&ca2, Some(&base), a))
        })
    })
    .await;
    let mut a = match answer {
        Ok(Ok(response)) => return response,
        Ok(Err(a)) => a,
        Err(e) => return e.into_response(),
    };
    if let Some((rx, authz_id, chall_id)) = a.wait.take()
        && tokio::time::timeout(FIRST_ATTEMPT_WAIT, rx).await.is_ok()
    {
        let (ca4, base4) = (ca3.clone(), base2.clone());
        let fresh = blocking(move || {
            let z = load::<Authz>(&ca4, AcmeTable::Authz, &authz_id)
                .map_err(|p| super::ApiError::new(p.status, p.detail))?;
            Ok(z.and_then(|z| {
                z.challenges
                    .iter()
                    .find(|c| c.id == chall_id)
                    .map(|c| serde_json::to_vec(&challenge_json(&base4, &z, c)).unwrap_or_default())
            }))
        })
        .await;
        if let Ok(Some(body)) = fresh {
            a.body = body;
        }
    }
    blocking(move || Ok(finish(&ca3, Some(&base2), a)))
        .await
        .unwrap_or_else(|e| e.into_response())
}

#[allow(clippy::too_many_arguments)]
fn route(
    ca: &Arc<Ca>,
    base: &Base,
    path: &str,
    query: Option<&str>,
    id: &str,
    authz: &str,
    body: &[u8],
    ip: Option<std::net::IpAddr>,
) -> Result<Answer, Problem> {
    let prov = provisioner(ca, &base.provisioner)?;
    let limits = crate::acme::limits::Limits::of(&prov);
    if let Some(ip) = ip {
        let t = ::time::OffsetDateTime::now_utc();
        let secs = t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9;
        ca.acme_limiter
            .lock()
            .map_err(|_| Problem::internal("limiter lock"))?
            .request(&base.provisioner, ip, &limits, secs)?;
    }
    let tail = path
        .split_once(&format!("/acme/{}/", base.provisioner))
        .map_or("", |(_, t)| t);
    // The JWS url is the whole request URL, query included (the orders list's cursor).
    let url = match query {
        Some(q) => format!("{}?{q}", base.url(tail)),
        None => base.url(tail),
    };
    let first = tail.split('/').next().unwrap_or("");
    match (first, tail.ends_with("/orders"), tail.ends_with("/finalize")) {
        ("new-account", _, _) => new_account(ca, base, &prov, &url, body, ip, &limits),
        ("key-change", _, _) => key_change(ca, base, &url, body),
        ("revoke-cert", _, _) => revoke_cert(ca, base, &url, body),
        ("new-order", _, _) => new_order(ca, base, &prov, &url, body, &limits),
        ("account", true, _) => account_orders(ca, base, id, &url, query, body),
        ("account", false, _) => account(ca, base, id, &url, body),
        ("order", _, true) => finalize(ca, base, &prov, id, &url, body),
        ("order", _, false) => order(ca, base, id, &url, body),
        ("authz", _, _) => authorization(ca, base, id, &url, body),
        ("challenge", _, _) => challenge(ca, base, authz, id, &url, body),
        ("certificate", _, _) => certificate(ca, base, id, &url, body),
        _ => Err(Problem::new("malformed", 404, "no such resource")),
    }
}

fn load<T: serde::de::DeserializeOwned>(ca: &Ca, t: AcmeTable, id: &str) -> Result<Option<T>, Problem> {
    match ca.acme_store.acme_get(t, id).map_err(store_err)? {
        Some(v) => Ok(Some(serde_json::from_slice(&v).map_err(store_err)?)),
        None => Ok(None),
    }
}

/// How many of the account's orders are pending and unexpired at `now`, counting up to `cap`. Only the pending set
/// is read ([`AcmeTable::PendingOrder`]), not every order of the day, and the orders found finished, expired or
/// gone leave it, so that an account that orders all day (one per certificate) pays for its pending orders only.
fn pending_orders(store: &dyn AcmeStore, account: &str, cap: usize, now: i64) -> Result<usize, Problem> {
    let mut n = 0;
    let mut settled = Vec::new();
    for id in store.acme_pending_of(account).map_err(store_err)? {
        if n >= cap {
            break;
        }
        let still = match store.acme_get(AcmeTable::Order, &id).map_err(store_err)? {
            Some(bytes) => {
                let o: Order = serde_json::from_slice(&bytes).map_err(store_err)?;
                o.status == "pending" && o.expires > now
            }
            None => false,
        };
        if still {
            n += 1;
        } else {
            settled.push(id);
        }
    }
    if !settled.is_empty() {
        store.acme_settle(account, &settled).map_err(store_err)?;
    }
    Ok(n)
}

/// Read-modify-write of a JSON record in one store transaction.
fn update<T: serde::Serialize + serde::de::DeserializeOwned>(
    ca: &Ca,
    t: AcmeTable,
    id: &str,
    mut f: impl FnMut(&mut T) -> Result<(), Problem>,
) -> Result<T, Problem> {
    let mut failure = None;
    let r = ca
        .acme_store
        .acme_update(t, id, &mut |cur| {
            let mut v: T = serde_json::from_slice(cur).map_err(|e| e.to_string())?;
            if let Err(p) = f(&mut v) {
                failure = Some(p);
                return Err("refused".into());
            }
            serde_json::to_vec(&v).map_err(|e| e.to_string())
        })
        .map_err(store_err)?;
    match (r, failure) {
        (_, Some(p)) => Err(p),
        (Ok(bytes), None) => serde_json::from_slice(&bytes).map_err(store_err),
        (Err(e), None) => Err(Problem::new("malformed", 404, e)),
    }
}

/// An authenticated request: the JWS checked, its nonce consumed, its signature verified with the account key
/// (`kid`) or the key it carries (`jwk`, only where `allow_jwk`).
struct Authed {
    req: ajws::Request,
    account: Option<Account>,
    jwk: Option<crate::jose::jwk::Jwk>,
}

fn authenticate(ca: &Ca, base: &Base, url: &str, body: &[u8], allow_jwk: bool) -> Result<Authed, Problem> {
    let req = ajws::parse(body)?;
    let (signer, nonce) = req.check(url)?;
    if !ca.acme_store.acme_use_nonce(&nonce, now()).map_err(store_err)? {
        return Err(Problem::bad_nonce(
            "the nonce is unknown, used or expired: retry with the new one",
        ));
    }
    match signer {
        Signer::Jwk(jwk) => {
            if !allow_jwk {
                return Err(Problem::malformed(
                    "this request must be signed by an account (kid), not a jwk",
                ));
            }
            req.verify(&jwk)?;
            Ok(Authed {
                req,
                account: None,
                jwk: Some(*jwk),
            })
        }
        Signer::Kid(kid) => {
            let id = kid
                .strip_prefix(&base.url("account/"))
                .filter(|i| !i.is_empty() && !i.contains('/'))
                .ok_or_else(|| Problem::account_does_not_exist(format!("kid {kid:?} is not an account of this CA")))?;
            let acct: Account = load(ca, AcmeTable::Account, id)?
                .ok_or_else(|| Problem::account_does_not_exist(format!("no account {id}")))?;
            if acct.provisioner != base.provisioner {
                return Err(Problem::account_does_not_exist(format!(
                    "no account {id} under this provisioner"
                )));
            }
            req.verify(&acct.key)?;
            if acct.status != "valid" {
                return Err(Problem::unauthorized(format!("the account is {}", acct.status)));
            }
            Ok(Authed {
                req,
                account: Some(acct),
                jwk: None,
            })
        }
    }
}

fn account_json(base: &Base, a: &Account) -> Value {
    json!({
        "status": a.status,
        "contact": a.contact,
        "orders": base.url(&format!("account/{}/orders", a.id)),
    })
}

fn contacts(payload: &Map<String, Value>) -> Result<Vec<String>, Problem> {
    let list: Vec<String> = match payload.get("contact") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| c.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| Problem::malformed("contact must be a list of strings"))?,
        Some(_) => return Err(Problem::malformed("contact must be a list")),
    };
    for c in &list {
        let addr = c
            .strip_prefix("mailto:")
            .ok_or_else(|| Problem::new("unsupportedContact", 400, format!("contact {c:?} is not a mailto: URL")))?;
        crate::pki::names::check_email(addr)
            .map_err(|e| Problem::new("invalidContact", 400, format!("contact {c:?}: {e}")))?;
    }
    Ok(list)
}

fn new_account(
    ca: &Ca,
    base: &Base,
    prov: &Map<String, Value>,
    url: &str,
    body: &[u8],
    ip: Option<std::net::IpAddr>,
    limits: &crate::acme::limits::Limits,
) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, true)?;
    let jwk = a.jwk.expect("newAccount is signed by a jwk");
    let payload = a.req.json()?;
    let thumbprint = jwk.thumbprint().map_err(|e| Problem::malformed(e.to_string()))?;
    if let Some(id) = ca.acme_store.acme_account_by_key(&thumbprint).map_err(store_err)? {
        let acct: Account =
            load(ca, AcmeTable::Account, &id)?.ok_or_else(|| Problem::internal("account index without account"))?;
        return Ok(Answer::json(StatusCode::OK, &account_json(base, &acct))
            .with(header::LOCATION, base.url(&format!("account/{id}"))));
    }
    if payload.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
        return Err(Problem::account_does_not_exist("no account has this key"));
    }
    let eab_kid = match payload.get("externalAccountBinding") {
        Some(binding) => {
            let keys = ca.eab_keys().map_err(Problem::internal)?;
            Some(crate::acme::eab::verify_binding(
                binding,
                &keys,
                &base.provisioner,
                url,
                &jwk,
            )?)
        }
        None if prov.get("requireEAB").and_then(Value::as_bool) == Some(true) => {
            return Err(Problem::new(
                "externalAccountRequired",
                401,
                "this provisioner requires an external account binding (ask the CA operator for a key)",
            ));
        }
        None => None,
    };
    if let Some(ip) = ip {
        ca.acme_limiter
            .lock()
            .map_err(|_| Problem::internal("limiter lock"))?
            .new_account(&base.provisioner, ip, limits, now())?;
    }
    let acct = Account {
        id: random_id(12)?,
        provisioner: base.provisioner.clone(),
        status: "valid".into(),
        contact: contacts(&payload)?,
        key: jwk,
        thumbprint: thumbprint.clone(),
        created: now(),
        eab_kid: eab_kid.clone(),
    };
    let bytes = serde_json::to_vec(&acct).map_err(store_err)?;
    use crate::ca::store::AccountConflict;
    match ca
        .acme_store
        .acme_new_account(&thumbprint, &acct.id, &bytes, eab_kid.as_deref())
        .map_err(store_err)?
    {
        Ok(()) => Ok(Answer::json(StatusCode::CREATED, &account_json(base, &acct))
            .with(header::LOCATION, base.url(&format!("account/{}", acct.id)))),
        // Created by a concurrent request with the same key.
        Err(AccountConflict::Key(id)) => Ok(Answer::json(StatusCode::OK, &json!({"status": "valid"}))
            .with(header::LOCATION, base.url(&format!("account/{id}")))),
        Err(AccountConflict::EabUsed(_)) => Err(Problem::unauthorized(
            "externalAccountBinding: this key has already bound an account",
        )),
    }
}

fn own_account(a: &Authed, id: &str) -> Result<Account, Problem> {
    let acct = a.account.clone().expect("kid requests carry an account");
    if acct.id != id {
        return Err(Problem::unauthorized("the request is signed by another account"));
    }
    Ok(acct)
}

fn account(ca: &Ca, base: &Base, id: &str, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = own_account(&a, id)?;
    if a.req.is_post_as_get() {
        return Ok(Answer::json(StatusCode::OK, &account_json(base, &acct)));
    }
    let payload = a.req.json()?;
    let new_contacts = if payload.contains_key("contact") {
        Some(contacts(&payload)?)
    } else {
        None
    };
    let deactivate = match payload.get("status").and_then(Value::as_str) {
        None => false,
        Some("deactivated") => true,
        Some(other) => return Err(Problem::malformed(format!("an account cannot be set to {other:?}"))),
    };
    let acct = update(ca, AcmeTable::Account, id, |acc: &mut Account| {
        if let Some(c) = &new_contacts {
            acc.contact = c.clone();
        }
        if deactivate {
            acc.status = "deactivated".into();
        }
        Ok(())
    })?;
    Ok(Answer::json(StatusCode::OK, &account_json(base, &acct)))
}

fn key_change(ca: &Ca, base: &Base, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    // §7.3.5: the payload is a JWS signed by the new key, with the same url, over {account, oldKey}.
    let inner = ajws::parse(&a.req.payload()?)?;
    let inner_url = inner.header.get("url").and_then(Value::as_str).unwrap_or_default();
    if inner_url != url {
        return Err(Problem::malformed("the inner JWS url differs from the outer one"));
    }
    let new_key: crate::jose::jwk::Jwk = inner
        .header
        .get("jwk")
        .cloned()
        .and_then(|j| serde_json::from_value(j).ok())
        .ok_or_else(|| Problem::malformed("the inner JWS has no jwk"))?;
    if new_key.is_private() || new_key.kty == "oct" {
        return Err(Problem::malformed("the new key must be a public key"));
    }
    inner.verify(&new_key)?;
    let payload = inner.json()?;
    if payload.get("account").and_then(Value::as_str) != Some(base.url(&format!("account/{}", acct.id)).as_str()) {
        return Err(Problem::malformed("the inner payload names another account"));
    }
    let old: crate::jose::jwk::Jwk = payload
        .get("oldKey")
        .cloned()
        .and_then(|j| serde_json::from_value(j).ok())
        .ok_or_else(|| Problem::malformed("the inner payload has no oldKey"))?;
    let old_thumb = old.thumbprint().map_err(|e| Problem::malformed(e.to_string()))?;
    if old_thumb != acct.thumbprint {
        return Err(Problem::unauthorized("oldKey is not the account's key"));
    }
    let new_thumb = new_key.thumbprint().map_err(|e| Problem::malformed(e.to_string()))?;
    let mut updated = acct.clone();
    updated.key = new_key;
    updated.thumbprint = new_thumb.clone();
    let bytes = serde_json::to_vec(&updated).map_err(store_err)?;
    match ca
        .acme_store
        .acme_change_key(&acct.id, &old_thumb, &new_thumb, &bytes)
        .map_err(store_err)?
    {
        Ok(()) => Ok(Answer::json(StatusCode::OK, &account_json(base, &updated))),
        Err(other) => Err(Problem::new(
            "conflict",
            409,
            format!(
                "another account has the new key ({})",
                base.url(&format!("account/{other}"))
            ),
        )),
    }
}

fn order_json(base: &Base, o: &Order) -> Value {
    let mut v = json!({
        "status": o.status,
        "expires": rfc3339(o.expires),
        "identifiers": o.identifiers,
        "authorizations": o.authorizations.iter().map(|a| base.url(&format!("authz/{a}"))).collect::<Vec<_>>(),
        "finalize": base.url(&format!("order/{}/finalize", o.id)),
    });
    if let Some(nb) = o.not_before {
        v["notBefore"] = json!(rfc3339(nb));
    }
    if let Some(na) = o.not_after {
        v["notAfter"] = json!(rfc3339(na));
    }
    if let Some(c) = &o.certificate {
        v["certificate"] = json!(base.url(&format!("certificate/{c}")));
    }
    if let Some(e) = &o.error {
        v["error"] = serde_json::to_value(e).unwrap_or(Value::Null);
    }
    if let Some(r) = &o.replaces_id {
        v["replaces"] = json!(r);
    }
    if let Some(p) = &o.profile {
        v["profile"] = json!(p);
    }
    v
}

fn parse_time(payload: &Map<String, Value>, key: &str) -> Result<Option<::time::OffsetDateTime>, Problem> {
    match payload.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => ::time::OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|e| Problem::malformed(format!("{key} {s:?} is not an RFC 3339 time: {e}"))),
    }
}

/// The provisioner's policy for the order's identifiers, as `/sign` applies it.
fn check_policy(prov: &Map<String, Value>, name: &str, ids: &[Identifier]) -> Result<(), Problem> {
    use crate::pki::issue::San;
    let auth = crate::ca::authorize::Authorized {
        provisioner: name.to_string(),
        sub: String::new(),
        sans: Vec::new(),
        entry: prov.clone(),
        token_id: String::new(),
        token_exp: 0,
        step: None,
        sshpop: None,
    };
    let mut bad = Vec::new();
    for id in ids {
        let san = match id.kind.as_str() {
            "ip" => San::parse(&id.value),
            _ => San::Dns(id.value.clone()),
        };
        if let Err(e) = crate::ca::authorize::check_policy(&auth, &[san]) {
            bad.push(Problem::rejected_identifier(e.to_string()).about(id));
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let mut p = Problem::rejected_identifier(format!(
        "{} identifier(s) are not allowed by provisioner {name:?}",
        bad.len()
    ));
    p.subproblems = bad;
    Err(p)
}

fn window(
    ca: &Ca,
    prov: &Map<String, Value>,
    nb: Option<::time::OffsetDateTime>,
    na: Option<::time::OffsetDateTime>,
) -> Result<(::time::OffsetDateTime, ::time::OffsetDateTime), Problem> {
    let now = ::time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| ::time::OffsetDateTime::now_utc());
    crate::ca::authorize::validity_window(
        Some(prov),
        &ca.config(),
        crate::ca::authorize::WindowRequest {
            not_before: nb,
            not_after: na,
            now,
            issuer: (ca.issuer.not_before(), ca.issuer.not_after()),
        },
    )
    .map_err(|e| match e {
        crate::ca::authorize::AuthError::Internal(m) => Problem::internal(m),
        other => Problem::malformed(other.to_string()),
    })
}

fn new_order(
    ca: &Ca,
    base: &Base,
    prov: &Map<String, Value>,
    url: &str,
    body: &[u8],
    limits: &crate::acme::limits::Limits,
) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let payload = a.req.json()?;
    let ids: Vec<Identifier> = serde_json::from_value(payload.get("identifiers").cloned().unwrap_or(Value::Null))
        .map_err(|e| Problem::malformed(format!("identifiers: {e}")))?;
    let ids = model::check_identifiers(&ids)?;
    check_policy(prov, &base.provisioner, &ids)?;
    let profile = match payload.get("profile") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(Problem::malformed("profile must be a string")),
    };
    let prov = &model::with_profile(prov, profile.as_deref())?;
    let (nb, na) = (parse_time(&payload, "notBefore")?, parse_time(&payload, "notAfter")?);
    if nb.is_some() || na.is_some() {
        window(ca, prov, nb, na)?;
    }
    // ARI: the certificate this order renews must be this account's, and not already replaced.
    let replaces = match payload.get("replaces") {
        None => None,
        Some(v) => {
            let id = v
                .as_str()
                .ok_or_else(|| Problem::malformed("replaces must be a string"))?;
            let (serial, _) = cert_by_ari_id(ca, id)?;
            let chain: IssuedChain = load::<IssuedChain>(ca, AcmeTable::Certificate, &format!("serial/{serial}"))?
                .filter(|c| c.account == acct.id)
                .ok_or_else(|| Problem::unauthorized("replaces names a certificate of another account"))?;
            if chain.replaced_by.is_some() {
                return Err(Problem::new(
                    "alreadyReplaced",
                    409,
                    format!("certificate {id} was already replaced"),
                ));
            }
            Some((serial, id.to_string()))
        }
    };
    let t = now();
    // A cap on pending orders per account (a client loop must not fill the database).
    let pending = pending_orders(ca.acme_store.as_ref(), &acct.id, limits.pending_orders_per_account, t)?;
    if pending >= limits.pending_orders_per_account {
        let mut p = Problem::new(
            "rateLimited",
            429,
            format!("the account has {pending} pending orders; finish or let some expire"),
        );
        p.retry_after = Some(3600);
        return Err(p);
    }
    let enabled: Vec<String> = prov
        .get("challenges")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    // A valid authorization this account holds for an identifier is reused (RFC 8555 §7.1.3 allows it): the
    // newest orders' authorizations, still valid now.
    let mut reusable: Vec<Authz> = Vec::new();
    for order_id in ca
        .acme_store
        .acme_orders_of(&acct.id)
        .map_err(store_err)?
        .iter()
        .rev()
        .take(50)
    {
        let Some(o) = load::<Order>(ca, AcmeTable::Order, order_id)? else {
            continue;
        };
        for a in &o.authorizations {
            if reusable.iter().any(|z| &z.id == a) {
                continue;
            }
            if let Some(z) = load::<Authz>(ca, AcmeTable::Authz, a)?
                && z.account == acct.id
                && z.current_status(t) == "valid"
            {
                reusable.push(z);
            }
        }
    }
    let mut authzs = Vec::new();
    let mut order_authzs: Vec<Authz> = Vec::new();
    for id in &ids {
        let (ident, wildcard) = model::authz_identifier(id);
        if let Some(z) = reusable
            .iter()
            .find(|z| z.identifier == ident && z.wildcard == wildcard)
        {
            order_authzs.push(z.clone());
            continue;
        }
        let types = model::challenge_types(&ident, wildcard, &enabled);
        if types.is_empty() {
            return Err(
                Problem::rejected_identifier(format!("no enabled challenge can validate {}", id.value)).about(id),
            );
        }
        let mut challenges = Vec::new();
        for (i, kind) in types.iter().enumerate() {
            challenges.push(Challenge {
                id: format!("{i}{}", random_id(6)?),
                kind: kind.to_string(),
                status: "pending".into(),
                token: random_id(32)?,
                validated: None,
                error: None,
            });
        }
        let z = Authz {
            id: random_id(12)?,
            account: acct.id.clone(),
            identifier: ident,
            status: "pending".into(),
            expires: t + model::PENDING_LIFETIME,
            wildcard,
            challenges,
        };
        order_authzs.push(z.clone());
        authzs.push(z);
    }
    let mut order = Order {
        id: random_id(12)?,
        account: acct.id.clone(),
        provisioner: base.provisioner.clone(),
        status: "pending".into(),
        expires: t + model::PENDING_LIFETIME,
        identifiers: ids,
        not_before: nb.map(|t| t.unix_timestamp()),
        not_after: na.map(|t| t.unix_timestamp()),
        authorizations: order_authzs.iter().map(|a| a.id.clone()).collect(),
        certificate: None,
        error: None,
        replaces: replaces.as_ref().map(|(s, _)| s.clone()),
        replaces_id: replaces.map(|(_, id)| id),
        profile,
    };
    // All reused and valid: ready at once.
    order.refresh(&order_authzs, t);
    let encoded: Vec<(String, Vec<u8>)> = authzs
        .iter()
        .map(|a| Ok((a.id.clone(), serde_json::to_vec(a).map_err(store_err)?)))
        .collect::<Result<_, Problem>>()?;
    ca.acme_store
        .acme_new_order(
            &acct.id,
            &order.id,
            &serde_json::to_vec(&order).map_err(store_err)?,
            &encoded,
            t,
        )
        .map_err(store_err)?;
    Ok(Answer::json(StatusCode::CREATED, &order_json(base, &order))
        .with(header::LOCATION, base.url(&format!("order/{}", order.id))))
}

/// An order with its status brought up to date from its authorizations (and saved when it changed).
fn current_order(ca: &Ca, id: &str, account: &str) -> Result<Order, Problem> {
    let o: Order = load(ca, AcmeTable::Order, id)?.ok_or_else(|| Problem::new("malformed", 404, "no such order"))?;
    if o.account != account {
        return Err(Problem::unauthorized("the order belongs to another account"));
    }
    let mut authzs = Vec::new();
    for a in &o.authorizations {
        authzs.push(load::<Authz>(ca, AcmeTable::Authz, a)?.ok_or_else(|| Problem::internal("order without authz"))?);
    }
    let mut fresh = o.clone();
    fresh.refresh(&authzs, now());
    if fresh.status != o.status {
        return update(ca, AcmeTable::Order, id, |stored: &mut Order| {
            stored.refresh(&authzs, now());
            Ok(())
        });
    }
    Ok(fresh)
}

fn order(ca: &Ca, base: &Base, id: &str, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let o = current_order(ca, id, &acct.id)?;
    Ok(Answer::json(StatusCode::OK, &order_json(base, &o)))
}

/// Orders per page of the account's orders list.
const ORDERS_PAGE: usize = 100;

/// The account's orders (§7.1.2.1): pending and valid ones, oldest first, [`ORDERS_PAGE`] a page, the next page
/// linked with `Link: <...?cursor=N>;rel="next"`.
fn account_orders(
    ca: &Ca,
    base: &Base,
    id: &str,
    url: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = own_account(&a, id)?;
    let cursor: usize = query
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("cursor=")))
        .map(|c| {
            c.parse()
                .map_err(|_| Problem::malformed(format!("cursor {c:?} is not a number")))
        })
        .transpose()?
        .unwrap_or(0);
    let t = now();
    let mut urls = Vec::new();
    let mut more = false;
    let mut seen = 0usize;
    for oid in ca.acme_store.acme_orders_of(&acct.id).map_err(store_err)? {
        if let Some(o) = load::<Order>(ca, AcmeTable::Order, &oid)?
            && (o.status != "invalid" && (o.status != "pending" || o.expires > t))
        {
            if seen >= cursor {
                if urls.len() == ORDERS_PAGE {
                    more = true;
                    break;
                }
                urls.push(base.url(&format!("order/{oid}")));
            }
            seen += 1;
        }
    }
    let mut answer = Answer::json(StatusCode::OK, &json!({ "orders": urls }));
    if more {
        answer = answer.with(
            header::LINK,
            format!(
                "<{}?cursor={}>;rel=\"next\"",
                base.url(&format!("account/{id}/orders")),
                cursor + ORDERS_PAGE
            ),
        );
    }
    Ok(answer)
}

fn authz_json(base: &Base, a: &Authz, t: i64) -> Value {
    let mut v = json!({
        "identifier": a.identifier,
        "status": a.current_status(t),
        "expires": rfc3339(a.expires),
        "challenges": a.challenges.iter().map(|c| challenge_json(base, a, c)).collect::<Vec<_>>(),
    });
    if a.wildcard {
        v["wildcard"] = json!(true);
    }
    v
}

fn challenge_json(base: &Base, a: &Authz, c: &Challenge) -> Value {
    let mut v = json!({
        "type": c.kind,
        "url": base.url(&format!("challenge/{}/{}", a.id, c.id)),
        "status": c.status,
        "token": c.token,
    });
    if let Some(t) = c.validated {
        v["validated"] = json!(rfc3339(t));
    }
    if let Some(e) = &c.error {
        v["error"] = serde_json::to_value(e).unwrap_or(Value::Null);
    }
    v
}

fn own_authz(ca: &Ca, id: &str, account: &str) -> Result<Authz, Problem> {
    let a: Authz =
        load(ca, AcmeTable::Authz, id)?.ok_or_else(|| Problem::new("malformed", 404, "no such authorization"))?;
    if a.account != account {
        return Err(Problem::unauthorized("the authorization belongs to another account"));
    }
    Ok(a)
}

fn authorization(ca: &Ca, base: &Base, id: &str, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let mut z = own_authz(ca, id, &acct.id)?;
    if !a.req.is_post_as_get() {
        let payload = a.req.json()?;
        match payload.get("status").and_then(Value::as_str) {
            Some("deactivated") => {
                z = update(ca, AcmeTable::Authz, id, |z: &mut Authz| {
                    if matches!(z.status.as_str(), "pending" | "valid") {
                        z.status = "deactivated".into();
                        Ok(())
                    } else {
                        Err(Problem::malformed(format!(
                            "a {} authorization cannot be deactivated",
                            z.status
                        )))
                    }
                })?;
            }
            Some(other) => {
                return Err(Problem::malformed(format!(
                    "an authorization cannot be set to {other:?}"
                )));
            }
            None => {}
        }
    }
    Ok(Answer::json(StatusCode::OK, &authz_json(base, &z, now())))
}

fn challenge(ca: &Arc<Ca>, base: &Base, authz_id: &str, id: &str, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let z = own_authz(ca, authz_id, &acct.id)?;
    let c = z
        .challenges
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| Problem::new("malformed", 404, "no such challenge"))?;
    let up = (
        header::LINK,
        format!("<{}>;rel=\"up\"", base.url(&format!("authz/{authz_id}"))),
    );
    if a.req.is_post_as_get() {
        return Ok(Answer::json(StatusCode::OK, &challenge_json(base, &z, &c)).with(up.0, up.1));
    }
    a.req.json()?;
    // Start validation once: pending -> processing. A repeated POST just reports.
    let mut started = false;
    let z = update(ca, AcmeTable::Authz, authz_id, |z: &mut Authz| {
        let t = now();
        if z.current_status(t) != "pending" {
            return Ok(());
        }
        if let Some(ch) = z.challenges.iter_mut().find(|ch| ch.id == id)
            && ch.status == "pending"
        {
            ch.status = "processing".into();
            started = true;
        }
        Ok(())
    })?;
    let c = z.challenges.iter().find(|c| c.id == id).cloned().unwrap_or(c);
    if started {
        let job = validate::Job {
            authz: z.id.clone(),
            challenge: c.id.clone(),
            kind: c.kind.clone(),
            identifier: z.identifier.clone(),
            key_authorization: model::key_authorization(&c.token, &acct.thumbprint),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        validate::spawn(ca.clone(), job, Some(tx));
        let mut a = Answer::json(StatusCode::OK, &challenge_json(base, &z, &c)).with(up.0, up.1);
        a.wait = Some((rx, authz_id.to_string(), id.to_string()));
        return Ok(a);
    }
    Ok(Answer::json(StatusCode::OK, &challenge_json(base, &z, &c)).with(up.0, up.1))
}

fn finalize(
    ca: &Ca,
    base: &Base,
    prov: &Map<String, Value>,
    id: &str,
    url: &str,
    body: &[u8],
) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let payload = a.req.json()?;
    let o = current_order(ca, id, &acct.id)?;
    if o.status != "ready" {
        return Err(Problem::order_not_ready(format!(
            "the order is {}, not ready",
            o.status
        )));
    }
    let csr_der = payload
        .get("csr")
        .and_then(Value::as_str)
        .and_then(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .ok()
        })
        .ok_or_else(|| Problem::bad_csr("csr is missing or not base64url DER"))?;
    let csr = super::x509::parse_csr_der(&csr_der).map_err(|e| Problem::bad_csr(e.message))?;
    model::check_csr_names(&o.identifiers, csr.cn.as_deref(), &csr.sans)?;
    let to_time = |t: Option<i64>| t.and_then(|t| ::time::OffsetDateTime::from_unix_timestamp(t).ok());
    let prov = &model::with_profile(prov, o.profile.as_deref())?;
    let (nb, na) = window(ca, prov, to_time(o.not_before), to_time(o.not_after))?;
    // ARI: the replaced certificate is marked once; a second order replacing it cannot finalize.
    if let Some(serial) = &o.replaces {
        let key = format!("serial/{serial}");
        let order_id = o.id.clone();
        update(ca, AcmeTable::Certificate, &key, |c: &mut IssuedChain| {
            match &c.replaced_by {
                Some(other) if *other != order_id => Err(Problem::new(
                    "alreadyReplaced",
                    409,
                    "the certificate this order replaces was already replaced",
                )),
                _ => {
                    c.replaced_by = Some(order_id.clone());
                    Ok(())
                }
            }
        })?;
    }
    // ready -> processing exactly once, so that two finalize requests cannot both issue.
    let mut processing = update(ca, AcmeTable::Order, id, |o: &mut Order| {
        if o.status != "ready" {
            return Err(Problem::order_not_ready(format!(
                "the order is {}, not ready",
                o.status
            )));
        }
        o.status = "processing".into();
        Ok(())
    })?;
    let sans = if csr.sans.is_empty() {
        o.identifiers
            .iter()
            .map(|i| crate::pki::issue::San::parse(&i.value))
            .collect()
    } else {
        csr.sans.clone()
    };
    let issued = super::x509::issue_leaf(ca, csr.cn.clone(), sans, &csr.spki, nb, na, &base.provisioner);
    let (record, res) = match issued {
        Ok(r) => r,
        Err(e) => {
            let p = Problem::bad_csr(e.message);
            update(ca, AcmeTable::Order, id, |o: &mut Order| {
                o.status = "invalid".into();
                o.error = Some(p.clone());
                Ok(())
            })?;
            return Err(p);
        }
    };
    ca.store.record_certificate(&record).map_err(store_err)?;
    let chain = IssuedChain {
        id: random_id(12)?,
        account: acct.id.clone(),
        serial: record.serial.clone(),
        pem: format!(
            "{}{}",
            res["crt"].as_str().unwrap_or_default(),
            res["ca"].as_str().unwrap_or_default()
        ),
        replaced_by: None,
    };
    // The chain (by id and by serial) and the valid order, in one durable transaction: this order is ours alone
    // while it is `processing`.
    processing.status = "valid".into();
    processing.certificate = Some(chain.id.clone());
    let o = processing;
    let (chain_bytes, order_bytes) = (
        serde_json::to_vec(&chain).map_err(store_err)?,
        serde_json::to_vec(&o).map_err(store_err)?,
    );
    let by_serial = format!("serial/{}", chain.serial);
    ca.acme_store
        .acme_put_durably(&[
            (AcmeTable::Certificate, &chain.id, &chain_bytes),
            (AcmeTable::Certificate, &by_serial, &chain_bytes),
            (AcmeTable::Order, id, &order_bytes),
        ])
        .map_err(store_err)?;
    tracing::info!(serial = %chain.serial, provisioner = %base.provisioner, replaces = o.replaces.as_deref().unwrap_or("-"), "acme: issued");
    Ok(Answer::json(StatusCode::OK, &order_json(base, &o)).with(header::LOCATION, base.url(&format!("order/{id}"))))
}

fn certificate(ca: &Ca, base: &Base, id: &str, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    let a = authenticate(ca, base, url, body, false)?;
    let acct = a.account.clone().expect("kid request");
    let c: IssuedChain = load(ca, AcmeTable::Certificate, id)?
        .filter(|_| !id.contains('/'))
        .ok_or_else(|| Problem::new("malformed", 404, "no such certificate"))?;
    if c.account != acct.id {
        return Err(Problem::unauthorized("the certificate belongs to another account"));
    }
    Ok(Answer {
        status: StatusCode::OK,
        body: c.pem.into_bytes(),
        content_type: "application/pem-certificate-chain",
        headers: vec![(header::LINK, format!("<{}/intermediates.pem>;rel=\"up\"", base.origin))],
        wait: None,
    })
}

fn revoke_cert(ca: &Ca, base: &Base, url: &str, body: &[u8]) -> Result<Answer, Problem> {
    use x509_parser::prelude::*;
    let a = authenticate(ca, base, url, body, true)?;
    let payload = a.req.json()?;
    let der = payload
        .get("certificate")
        .and_then(Value::as_str)
        .and_then(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .ok()
        })
        .ok_or_else(|| Problem::malformed("certificate is missing or not base64url DER"))?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| Problem::malformed(format!("certificate: {e}")))?;
    let serial = cert.serial.to_str_radix(10);
    let issued = ca
        .store
        .certificate(&serial)
        .map_err(store_err)?
        .filter(|c| c.der == der)
        .ok_or_else(|| Problem::unauthorized("this CA did not issue that certificate"))?;
    match (&a.account, &a.jwk) {
        (Some(acct), _) => {
            let chain: Option<IssuedChain> = load(ca, AcmeTable::Certificate, &format!("serial/{serial}"))?;
            if chain.is_none_or(|c| c.account != acct.id) {
                return Err(Problem::unauthorized("the certificate was not issued to this account"));
            }
        }
        (None, Some(jwk)) => {
            let spki = jwk.to_spki_der().map_err(|e| Problem::malformed(e.to_string()))?;
            if spki != cert.public_key().raw {
                return Err(Problem::unauthorized(
                    "the request is not signed by the certificate's key",
                ));
            }
        }
        (None, None) => return Err(Problem::unauthorized("unsigned")),
    }
    let reason = payload.get("reason").and_then(Value::as_i64).unwrap_or(0);
    if !super::x509::is_revocation_reason(reason) {
        return Err(Problem::new(
            "badRevocationReason",
            400,
            format!("reason {reason} is not 0-6 or 8-10"),
        ));
    }
    if !ca.store.is_persistent() {
        return Err(Problem::new(
            "serverInternal",
            501,
            "revocation needs a database: this CA's ca.json has no \"db\"",
        ));
    }
    ca.store
        .revoke(&crate::ca::store::Revocation {
            serial: issued.serial.clone(),
            reason_code: reason as u8,
            reason: String::new(),
            revoked_at: now(),
        })
        .map_err(|e| match e {
            crate::ca::store::StoreError::AlreadyRevoked(_) => Problem::new("alreadyRevoked", 400, e.to_string()),
            other => store_err(other),
        })?;
    tracing::info!(serial = %serial, reason, "acme: revoked");
    Ok(Answer {
        status: StatusCode::OK,
        body: Vec::new(),
        content_type: "application/octet-stream",
        headers: Vec::new(),
        wait: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, status: &str, expires: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": id, "account": "acct", "provisioner": "acme", "status": status, "expires": expires,
            "identifiers": [], "authorizations": [],
        }))
        .unwrap()
    }

    #[test]
    fn pending_orders_made_in_the_same_second_as_finished_ones_are_all_counted() {
        let store = crate::ca::store::RedbStore::in_memory().unwrap();
        // All in one second: the index orders them by id, so the two pending ones sort before three finished ones.
        for (id, status) in [
            ("a1", "pending"),
            ("a2", "pending"),
            ("z1", "valid"),
            ("z2", "invalid"),
            ("z3", "valid"),
        ] {
            store
                .acme_new_order("acct", id, &order(id, status, 2000), &[], 1000)
                .unwrap();
        }
        store
            .acme_new_order("other", "b1", &order("b1", "pending", 2000), &[], 1000)
            .unwrap();
        assert_eq!(pending_orders(&store, "acct", 2, 1500).unwrap(), 2);
        assert_eq!(pending_orders(&store, "acct", 1, 1500).unwrap(), 1);
        assert_eq!(pending_orders(&store, "acct", 300, 1500).unwrap(), 2);
        // The finished ones left the pending set on the first count, so later counts do not read them again.
        let mut left = store.acme_pending_of("acct").unwrap();
        left.sort();
        assert_eq!(left, ["a1", "a2"]);
        // Expired pending orders do not count, and leave too.
        assert_eq!(pending_orders(&store, "acct", 300, 2500).unwrap(), 0);
        assert!(store.acme_pending_of("acct").unwrap().is_empty());
        assert_eq!(store.acme_pending_of("other").unwrap(), ["b1"]);
    }
}
