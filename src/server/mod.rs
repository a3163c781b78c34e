//! `ferrica serve`: step-ca's HTTPS API (`step-and-peers.md` §3.1-3.2) over rustls.
//!
//! `app(state)` builds the axum router (routes under `/` and `/1.0/`); handlers are thin and call `ca::authorize`
//! and the one issuance path `pki::issue`. Errors are `{"status","message"}` JSON. Not built yet: `/renew`,
//! `/rekey`, `/revoke`, `/crl`, mTLS, SIGHUP reload, ACME.

pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use x509_parser::prelude::*;

use crate::ca::authorize::{self, AuthError};
use crate::ca::config::CaConfig;
use crate::ca::store::{IssuedCert, Store};
use crate::pki::issue::{CaIssuer, IssueRequest, San, issue};
use crate::pki::keys::{KeyKind, PrivateKey};
use crate::pki::profile::Profile;

/// Request bodies over this get 413.
pub const MAX_BODY: usize = 1 << 20;

/// What every handler shares.
pub struct Ca {
    /// ca.json.
    pub config: CaConfig,
    /// The root certificate (DER) and its SHA-256 (hex).
    pub root_der: Vec<u8>,
    /// SHA-256 of the root, lowercase hex.
    pub root_fingerprint: String,
    /// The intermediate certificate (DER).
    pub intermediate_der: Vec<u8>,
    /// The intermediate key.
    pub intermediate_key: PrivateKey,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Start time, unix seconds (tokens issued before it are refused).
    pub started: i64,
}

/// An API error: `{"status": <code>, "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status.as_u16(), "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(tag, der.to_vec()),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// The router.
pub fn app(ca: Arc<Ca>) -> Router {
    let api = || {
        Router::new()
            .route("/health", get(|| async { axum::Json(json!({"status": "ok"})) }))
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
                get(|State(ca): State<Arc<Ca>>| async move {
                    axum::Json(json!({"crts": [pem("CERTIFICATE", &ca.intermediate_der)]}))
                }),
            )
            .route(
                "/intermediates.pem",
                get(|State(ca): State<Arc<Ca>>| async move { pem_response(pem("CERTIFICATE", &ca.intermediate_der)) }),
            )
            .route("/provisioners", get(provisioners))
            .route("/provisioners/{kid}/encrypted-key", get(encrypted_key))
            .route("/sign", post(sign))
    };
    Router::new()
        .merge(api())
        .nest("/1.0", api())
        .fallback(|| async { ApiError::new(404, "not found") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(ca)
}

fn pem_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], body).into_response()
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
    axum::Json(json!({"provisioners": ca.config.authority.provisioners, "nextCursor": ""}))
}

async fn encrypted_key(State(ca): State<Arc<Ca>>, Path(kid): Path<String>) -> Result<axum::Json<Value>, ApiError> {
    let p = ca
        .config
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRequest {
    csr: String,
    ott: String,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
}

async fn sign(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status().as_u16(), e.body_text()))?;
    let req: SignRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("malformed request body: {e}")))?;
    // Crypto and a durable store write: off the async workers.
    let res = tokio::task::spawn_blocking(move || sign_blocking(&ca, req))
        .await
        .map_err(|_| ApiError::new(500, "internal error"))??;
    Ok((StatusCode::CREATED, axum::Json(res)).into_response())
}

fn sign_blocking(ca: &Ca, req: SignRequest) -> Result<Value, ApiError> {
    let now = ::time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let block =
        ::pem::parse(req.csr.as_bytes()).map_err(|_| ApiError::new(400, "csr is not a PEM certificate request"))?;
    let (_, csr) =
        X509CertificationRequest::from_der(block.contents()).map_err(|e| ApiError::new(400, format!("csr: {e}")))?;
    csr.verify_signature()
        .map_err(|_| ApiError::new(400, "the CSR's signature does not verify"))?;
    let auth = authorize::authorize_token(
        &req.ott,
        &ca.config,
        ca.store.as_ref(),
        "sign",
        now.unix_timestamp(),
        ca.started,
    )?;

    let info = &csr.certification_request_info;
    let cn = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    let mut sans = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(s) = ext {
            for g in &s.general_names {
                match g {
                    GeneralName::DNSName(d) => sans.push(San::Dns(d.to_string())),
                    GeneralName::RFC822Name(e) => sans.push(San::Email(e.to_string())),
                    GeneralName::URI(u) => sans.push(San::Uri(u.to_string())),
                    GeneralName::IPAddress(b) => match <[u8; 4]>::try_from(*b) {
                        Ok(v4) => sans.push(San::Ip(v4.into())),
                        Err(_) => match <[u8; 16]>::try_from(*b) {
                            Ok(v6) => sans.push(San::Ip(v6.into())),
                            Err(_) => return Err(ApiError::new(400, "csr: a bad IP SAN")),
                        },
                    },
                    _ => return Err(ApiError::new(403, "csr: only DNS, IP, email and URI SANs are allowed")),
                }
            }
        }
    }
    authorize::check_csr_names(&auth, cn.as_deref(), &sans)?;
    if sans.is_empty() {
        sans = auth.sans.iter().map(|s| San::parse(s)).collect();
    }
    authorize::check_policy(&auth, &sans)?;

    // Validity: backdated by a minute (step-ca's `backdate`), lifetime within the provisioner's claims.
    let backdate = ::time::Duration::minutes(1);
    let parse = |v: &Option<String>| -> Result<Option<::time::OffsetDateTime>, ApiError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => crate::pki::validity::parse_time_or_duration(s, now)
                .map(Some)
                .map_err(|e| ApiError::new(400, e.to_string())),
        }
    };
    let (nb, na) = (parse(&req.not_before)?, parse(&req.not_after)?);
    let not_before = nb.unwrap_or(now - backdate);
    let requested = na.map(|na| na - not_before.max(now));
    let life = authorize::lifetime(&auth, requested)?;
    let not_after = na.unwrap_or(not_before.max(now) + life);
    if not_after <= now {
        return Err(ApiError::new(400, "notAfter is in the past"));
    }
    let mut ireq = IssueRequest::new(Profile::Leaf, "", sans, not_before, not_after);
    ireq.subject = cn.iter().map(|c| (rcgen::DnType::CommonName, c.clone())).collect();
    let spki = info.subject_pki.raw;
    let kind = KeyKind::from_spki(spki).map_err(|e| ApiError::new(400, format!("csr: {e}")))?;
    let public = rcgen::SubjectPublicKeyInfo::from_der(spki)
        .map_err(|e| ApiError::new(400, format!("csr: unsupported key: {e}")))?;
    let issuer =
        CaIssuer::new(&ca.intermediate_der, &ca.intermediate_key).map_err(|e| ApiError::new(500, e.to_string()))?;
    let issued = issue(&ireq, &public, kind, Some(&issuer), None).map_err(|e| ApiError::new(400, e.to_string()))?;
    let (_, cert) = X509Certificate::from_der(&issued.der).map_err(|e| ApiError::new(500, e.to_string()))?;
    ca.store
        .record_certificate(&IssuedCert {
            serial: cert.serial.to_str_radix(10),
            provisioner: auth.provisioner.clone(),
            der: issued.der.clone(),
            not_after: cert.validity().not_after.timestamp(),
        })
        .map_err(|e| ApiError::new(500, e.to_string()))?;
    let crt = pem("CERTIFICATE", &issued.der);
    let int = pem("CERTIFICATE", &ca.intermediate_der);
    Ok(json!({"crt": crt, "ca": int, "certChain": [crt, int]}))
}
