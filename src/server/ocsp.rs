//! The OCSP responder (RFC 6960 in RFC 5019's lightweight profile): `GET /ocsp/{base64 request}` and
//! `POST /ocsp` (`application/ocsp-request`), on the HTTPS port and on the plain-HTTP listener.
//!
//! Every answer reads the serial's status from the store, so a revocation made by any instance on the same database
//! shows at once. Answers without a nonce are signed once per status and reused until half-way to their
//! nextUpdate; with a nonce (RFC 9654) they are signed afresh and echo it. The signer is the intermediate, or, with
//! ca.json's `ocsp.delegated`, a short-lived responder certificate the intermediate issues in-process
//! (id-kp-OCSPSigning, id-pkix-ocsp-nocheck), renewed at two thirds of its life.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use der07::Encode;
use serde_json::Value;
use x509_ocsp::OcspResponseStatus;

use super::{ApiError, Ca, blocking};
use crate::ca::store::Store;
use crate::pki::issue::{CaIssuer, IssueRequest, Shape, issue};
use crate::pki::keys::{KeySpec, PrivateKey};
use crate::pki::ocsp::{IssuerHashes, Request, Signer, Status, serial_decimal};

/// The most signed answers kept; the cache is emptied when it grows past this.
const CACHE_ENTRIES: usize = 50_000;

/// ca.json's `ocsp` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sign with a delegated responder certificate rather than the intermediate.
    pub delegated: bool,
    /// thisUpdate to nextUpdate of each answer.
    pub response_lifetime: i64,
    /// The delegated responder certificate's lifetime.
    pub responder_lifetime: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            delegated: false,
            response_lifetime: 3600,
            responder_lifetime: 24 * 3600,
        }
    }
}

impl Settings {
    /// Reads `{"delegated": bool, "responseLifetime": "1h", "responderLifetime": "24h"}`; absent members keep their
    /// defaults.
    pub fn from_config(v: Option<&Value>) -> Result<Settings, String> {
        let mut s = Settings::default();
        let Some(v) = v else { return Ok(s) };
        let obj = v.as_object().ok_or("ocsp: must be an object")?;
        for (k, val) in obj {
            match k.as_str() {
                "delegated" => s.delegated = val.as_bool().ok_or("ocsp.delegated: must be true or false")?,
                "responseLifetime" | "responderLifetime" => {
                    let text = val
                        .as_str()
                        .ok_or_else(|| format!("ocsp.{k}: must be a duration such as \"1h\""))?;
                    let d = crate::pki::validity::parse_duration(text).map_err(|e| format!("ocsp.{k}: {e}"))?;
                    if d.whole_seconds() < 60 {
                        return Err(format!("ocsp.{k}: {text} is under a minute"));
                    }
                    if k == "responseLifetime" {
                        s.response_lifetime = d.whole_seconds();
                    } else {
                        s.responder_lifetime = d.whole_seconds();
                    }
                }
                other => {
                    return Err(format!(
                        "ocsp.{other}: unknown member (delegated, responseLifetime, responderLifetime)"
                    ));
                }
            }
        }
        if s.delegated && s.responder_lifetime < s.response_lifetime {
            return Err("ocsp.responderLifetime: shorter than responseLifetime".into());
        }
        Ok(s)
    }
}

/// A signed answer kept for reuse.
struct Cached {
    status: Status,
    der: Arc<Vec<u8>>,
    this_update: i64,
    next_update: i64,
}

/// The responder's state: the issuer's hashes, the current signer, and the answers signed so far.
pub struct Responder {
    settings: Settings,
    issuer: IssuerHashes,
    signer: RwLock<(Arc<Signer>, i64)>,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
}

impl Responder {
    /// A responder for `issuer`'s certificates, signing with it or with a delegated certificate issued now.
    pub fn new(
        settings: Settings,
        issuer: &CaIssuer<'static>,
        issuer_der: &[u8],
        issuer_key: Arc<PrivateKey>,
        now: i64,
    ) -> Result<Responder, String> {
        let hashes = IssuerHashes::new(issuer_der).map_err(|e| e.to_string())?;
        let signer = if settings.delegated {
            delegated_signer(&settings, issuer, issuer_der, now)?
        } else {
            let s = Signer::new(issuer_der.to_vec(), issuer_key, false).map_err(|e| e.to_string())?;
            (Arc::new(s), i64::MAX)
        };
        Ok(Responder {
            settings,
            issuer: hashes,
            signer: RwLock::new(signer),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current signer, renewing a delegated responder certificate at two thirds of its life.
    fn signer(&self, issuer: &CaIssuer<'static>, issuer_der: &[u8], now: i64) -> Result<Arc<Signer>, String> {
        {
            let s = self.signer.read().map_err(|_| "OCSP signer lock poisoned")?;
            if now < s.1 {
                return Ok(s.0.clone());
            }
        }
        let mut s = self.signer.write().map_err(|_| "OCSP signer lock poisoned")?;
        if now >= s.1 {
            *s = delegated_signer(&self.settings, issuer, issuer_der, now)?;
            if let Ok(mut c) = self.cache.lock() {
                c.clear();
            }
            tracing::info!("ocsp: renewed the delegated responder certificate");
        }
        Ok(s.0.clone())
    }

    /// The signer's certificate (DER).
    pub fn signer_cert(&self) -> Vec<u8> {
        self.signer.read().map(|s| s.0.cert_der().to_vec()).unwrap_or_default()
    }
}

/// Issues a responder certificate for a fresh P-256 key; returns the signer and when to renew it.
fn delegated_signer(
    settings: &Settings,
    issuer: &CaIssuer<'static>,
    issuer_der: &[u8],
    now: i64,
) -> Result<(Arc<Signer>, i64), String> {
    let key = PrivateKey::generate(KeySpec::P256).map_err(|e| e.to_string())?;
    let start = ::time::OffsetDateTime::from_unix_timestamp(now - 60).map_err(|e| e.to_string())?;
    let end = start + ::time::Duration::seconds(settings.responder_lifetime + 60);
    let cn = x509_parser::parse_x509_certificate(issuer_der)
        .ok()
        .and_then(|(_, c)| {
            c.subject()
                .iter_common_name()
                .next()
                .and_then(|a| a.as_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "ferrica".into());
    let mut req = IssueRequest::new(
        crate::pki::profile::Profile::Leaf,
        &format!("{cn} OCSP Responder"),
        Vec::new(),
        start,
        end,
    );
    req.shape = Some(Shape {
        ca: None,
        key_usages: vec![rcgen::KeyUsagePurpose::DigitalSignature],
        ext_key_usages: vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning],
    });
    req.extra_extensions = vec![rcgen::CustomExtension::from_oid_content(
        crate::pki::ocsp::NOCHECK_ARCS,
        vec![0x05, 0x00],
    )];
    let issued = issue(&req, key.key_pair(), key.kind(), Some(issuer), None).map_err(|e| e.to_string())?;
    let signer = Signer::new(issued.der, Arc::new(key), true).map_err(|e| e.to_string())?;
    Ok((Arc::new(signer), now + settings.responder_lifetime * 2 / 3))
}

/// `GET /ocsp/{base64 DER}` (the request may contain `/`, so the route takes the rest of the path).
pub(crate) async fn get(State(ca): State<Arc<Ca>>, Path(encoded): Path<String>, headers: HeaderMap) -> Response {
    use base64::Engine as _;
    let encoded = encoded.trim_end_matches('=');
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded));
    match der {
        Ok(der) => answer(ca, der, headers).await,
        Err(_) => error(OcspResponseStatus::MalformedRequest),
    }
}

/// `POST /ocsp` with an `application/ocsp-request` body.
pub(crate) async fn post(State(ca): State<Arc<Ca>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.eq_ignore_ascii_case("application/ocsp-request") {
        return ApiError::new(
            415,
            format!("Content-Type {ct:?}: OCSP requests are application/ocsp-request"),
        )
        .into_response();
    }
    answer(ca, body.to_vec(), headers).await
}

fn error(status: OcspResponseStatus) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/ocsp-response"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::pki::ocsp::error_response(status),
    )
        .into_response()
}

async fn answer(ca: Arc<Ca>, der: Vec<u8>, headers: HeaderMap) -> Response {
    let now = ::time::OffsetDateTime::now_utc().unix_timestamp();
    let r = blocking(move || Ok(respond(&ca, &der, now))).await;
    let Ok(r) = r else {
        return error(OcspResponseStatus::InternalError);
    };
    let (der, cache) = match r {
        Ok(a) => a,
        Err(status) => return error(status),
    };
    let mut res = Response::builder().header(header::CONTENT_TYPE, "application/ocsp-response");
    match cache {
        Some((this_update, next_update)) => {
            let etag = format!(
                "\"{}\"",
                hex::encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref()[..16])
            );
            let max_age = (next_update - now).max(0);
            res = res
                .header(
                    header::CACHE_CONTROL,
                    format!("max-age={max_age}, public, no-transform, must-revalidate"),
                )
                .header(header::LAST_MODIFIED, super::x509::httpdate_unix(this_update))
                .header(header::EXPIRES, super::x509::httpdate_unix(next_update))
                .header(header::ETAG, &etag);
            let matched = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            if matched {
                return res
                    .status(StatusCode::NOT_MODIFIED)
                    .body(axum::body::Body::empty())
                    .unwrap_or_default();
            }
        }
        None => res = res.header(header::CACHE_CONTROL, "no-store"),
    }
    res.body(axum::body::Body::from((*der).clone())).unwrap_or_default()
}

/// The answer and, when it may be cached by HTTP caches, its thisUpdate and nextUpdate; or the error status.
#[allow(clippy::type_complexity)]
fn respond(ca: &Ca, der: &[u8], now: i64) -> Result<(Arc<Vec<u8>>, Option<(i64, i64)>), OcspResponseStatus> {
    let req = Request::parse(der).map_err(|e| {
        tracing::debug!("ocsp: {e}");
        OcspResponseStatus::MalformedRequest
    })?;
    let responder = &ca.ocsp;
    if !req.cert_ids.iter().all(|id| responder.issuer.matches(id)) {
        return Err(OcspResponseStatus::Unauthorized);
    }
    let mut answers = Vec::with_capacity(req.cert_ids.len());
    for id in &req.cert_ids {
        let status = status_of(&*ca.store, &serial_decimal(id)).map_err(|e| {
            tracing::error!("ocsp: store: {e}");
            OcspResponseStatus::TryLater
        })?;
        answers.push((id.clone(), status));
    }
    let signer = responder.signer(&ca.issuer, &ca.intermediate_der, now).map_err(|e| {
        tracing::error!("ocsp: {e}");
        OcspResponseStatus::InternalError
    })?;
    let lifetime = responder.settings.response_lifetime;
    let sign = |this_update: i64| {
        signer
            .respond(&answers, req.nonce.as_ref(), now, this_update, this_update + lifetime)
            .map_err(|e| {
                tracing::error!("ocsp: {e}");
                OcspResponseStatus::InternalError
            })
    };
    // Nonce'd and multi-certificate answers are signed for this request only.
    if req.nonce.is_some() || answers.len() != 1 {
        return Ok((Arc::new(sign(now)?), None));
    }
    let key = answers[0].0.to_der().map_err(|_| OcspResponseStatus::InternalError)?;
    let status = answers[0].1;
    if let Ok(cache) = responder.cache.lock()
        && let Some(c) = cache.get(&key)
        && c.status == status
        && now < c.this_update + (c.next_update - c.this_update) / 2
    {
        return Ok((c.der.clone(), Some((c.this_update, c.next_update))));
    }
    let der = Arc::new(sign(now)?);
    if let Ok(mut cache) = responder.cache.lock() {
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(
            key,
            Cached {
                status,
                der: der.clone(),
                this_update: now,
                next_update: now + lifetime,
            },
        );
    }
    Ok((der, Some((now, now + lifetime))))
}

/// Revoked if the store has a revocation for the serial, good if it has the certificate, else unknown.
fn status_of(store: &dyn Store, serial: &str) -> Result<Status, crate::ca::store::StoreError> {
    if let Some(r) = store.revocation(serial)? {
        return Ok(Status::Revoked {
            at: r.revoked_at,
            reason: Some(r.reason_code),
        });
    }
    Ok(match store.certificate(serial)? {
        Some(_) => Status::Good,
        None => Status::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::{Responder, Settings};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn the_delegated_responder_certificate_is_renewed_at_two_thirds_of_its_life() {
        use crate::pki::issue::{CaIssuer, IssueRequest, issue};
        use crate::pki::keys::{KeySpec, PrivateKey};
        use x509_parser::prelude::*;
        let key = Arc::new(PrivateKey::generate(KeySpec::P256).unwrap());
        let start = ::time::OffsetDateTime::now_utc();
        let req = IssueRequest::new(
            crate::pki::profile::Profile::RootCa,
            "Test CA",
            vec![],
            start,
            start + ::time::Duration::days(30),
        );
        let der = issue(&req, key.key_pair(), key.kind(), None, Some(&key)).unwrap().der;
        let issuer = CaIssuer::shared(&der, key.clone()).unwrap();
        let settings = Settings::from_config(Some(&json!({"delegated": true, "responderLifetime": "3h"}))).unwrap();
        let now = start.unix_timestamp();
        let r = Responder::new(settings, &issuer, &der, key, now).unwrap();
        let first = r.signer_cert();
        let (_, cert) = X509Certificate::from_der(&first).unwrap();
        assert_eq!(cert.validity().not_after.timestamp() - now, 3 * 3600);
        let ekus = cert.extended_key_usage().unwrap().unwrap().value.clone();
        assert!(ekus.ocsp_signing && !ekus.server_auth);
        // Before two thirds: the same certificate; after: a new one, for a new key, valid from then.
        assert_eq!(
            r.signer(&issuer, &der, now + 2 * 3600 - 1).unwrap().cert_der(),
            &first[..]
        );
        let renewed = r.signer(&issuer, &der, now + 2 * 3600).unwrap().cert_der().to_vec();
        assert_ne!(renewed, first);
        let (_, cert2) = X509Certificate::from_der(&renewed).unwrap();
        assert_ne!(cert2.public_key().raw, cert.public_key().raw);
        assert_eq!(cert2.validity().not_after.timestamp(), now + 2 * 3600 + 3 * 3600);
        assert_eq!(r.signer_cert(), renewed);
    }

    #[test]
    fn settings_read_from_ca_json_and_refuse_nonsense() {
        assert_eq!(Settings::from_config(None).unwrap(), Settings::default());
        let s = Settings::from_config(Some(&json!({"delegated": true, "responseLifetime": "10m"}))).unwrap();
        assert!(s.delegated);
        assert_eq!(s.response_lifetime, 600);
        for bad in [
            json!({"delegated": "yes"}),
            json!({"responseLifetime": "5s"}),
            json!({"colour": 1}),
            json!({"delegated": true, "responseLifetime": "48h"}),
            json!([]),
        ] {
            assert!(Settings::from_config(Some(&bad)).is_err(), "{bad}");
        }
    }
}
