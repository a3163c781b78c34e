//! The X.509 endpoints: `/sign`, `/renew`, `/rekey`, `/revoke` and `/crl` (`step-and-peers.md` §3.2).
//!
//! Each handler parses the request, runs the blocking part (signature checks, store writes, signing) off the async
//! workers, and answers step-ca's JSON. Authorization is `ca::authorize`; certificates come from `pki::issue`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use x509_parser::prelude::*;

use super::{ApiError, Ca, PeerChain, blocking, json_body, pem};
use crate::ca::authorize::{self, AuthError};
use crate::ca::store::{IssuedCert, Revocation, StoreError};
use crate::pki::issue::{IssueRequest, San, issue};
use crate::pki::keys::KeyKind;
use crate::pki::profile::Profile;

fn now() -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(500, e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignRequest {
    csr: String,
    ott: String,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
}

/// `POST /sign`: `{csr, ott, notBefore, notAfter}` -> 201 `{crt, ca, certChain}`.
pub(crate) async fn sign(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: SignRequest = json_body(body)?;
    let store = ca.store.clone();
    // The crypto (about 0.2 ms, no I/O) runs on this worker: a hand-off to a blocking thread and back cost more
    // than it spared (bench-ssh.sh, 64 clients: 5,755 -> 6,240 req/s for /ssh/sign, which works the same way).
    // The write is then awaited without holding a thread (group commit).
    let (issued, res) = sign_blocking(&ca, req)?;
    store
        .record_issued_async(&issued.token_id, issued.token_exp, &issued.record)
        .done()
        .await
        .map_err(|e| ApiError::from(authorize::store_error(e)))?;
    Ok((StatusCode::CREATED, axum::Json(res)).into_response())
}

/// A parsed, signature-checked CSR: CN, SANs and public key.
pub(crate) struct Csr {
    pub(crate) cn: Option<String>,
    pub(crate) sans: Vec<San>,
    pub(crate) spki: Vec<u8>,
}

fn parse_csr(pem_text: &str) -> Result<Csr, ApiError> {
    let block =
        ::pem::parse(pem_text.as_bytes()).map_err(|_| ApiError::new(400, "csr is not a PEM certificate request"))?;
    parse_csr_der(block.contents())
}

/// [`parse_csr`] for DER (ACME's finalize).
pub(crate) fn parse_csr_der(der: &[u8]) -> Result<Csr, ApiError> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| ApiError::new(400, format!("csr: {e}")))?;
    csr.verify_signature()
        .map_err(|_| ApiError::new(400, "the CSR's signature does not verify"))?;
    let info = &csr.certification_request_info;
    let mut sans = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(s) = ext {
            sans.extend(sans_of(&s.general_names).map_err(|e| ApiError::new(403, format!("csr: {e}")))?);
        }
    }
    Ok(Csr {
        cn: common_name(&info.subject),
        sans,
        spki: info.subject_pki.raw.to_vec(),
    })
}

fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

/// DNS, IP, email and URI names; anything else is refused (the provisioner cannot vouch for it).
fn sans_of(names: &[GeneralName<'_>]) -> Result<Vec<San>, String> {
    let mut out = Vec::new();
    for g in names {
        match g {
            GeneralName::DNSName(d) => out.push(San::Dns(d.to_string())),
            GeneralName::RFC822Name(e) => out.push(San::Email(e.to_string())),
            GeneralName::URI(u) => out.push(San::Uri(u.to_string())),
            GeneralName::IPAddress(b) => match <[u8; 4]>::try_from(*b) {
                Ok(v4) => out.push(San::Ip(v4.into())),
                Err(_) => match <[u8; 16]>::try_from(*b) {
                    Ok(v6) => out.push(San::Ip(v6.into())),
                    Err(_) => return Err("a bad IP SAN".into()),
                },
            },
            _ => return Err("only DNS, IP, email and URI SANs are allowed".into()),
        }
    }
    Ok(out)
}

/// A signed certificate not yet recorded, with the token that paid for it.
struct Signed {
    record: IssuedCert,
    token_id: String,
    token_exp: i64,
}

fn sign_blocking(ca: &Ca, req: SignRequest) -> Result<(Signed, Value), ApiError> {
    let now = now();
    let config = ca.config();
    let csr = parse_csr(&req.csr)?;
    let auth = authorize::authorize_token(&req.ott, &config, "sign", now.unix_timestamp(), ca.replay_floor())?;
    authorize::check_csr_names(&auth, csr.cn.as_deref(), &csr.sans)?;
    let mut sans = csr.sans;
    if sans.is_empty() {
        sans = auth.sans.iter().map(|s| San::parse(s)).collect();
    }
    authorize::check_policy(&auth, &sans)?;

    // Validity: the whole window within the provisioner's claims (ca::authorize::validity_window).
    let parse = |v: &Option<String>, field: &str| -> Result<Option<::time::OffsetDateTime>, ApiError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => crate::pki::validity::parse_time_or_duration(s, now)
                .map(Some)
                .map_err(|e| ApiError::new(400, format!("{field}: {e}"))),
        }
    };
    let (not_before, not_after) = authorize::validity_window(
        Some(&auth.entry),
        &config,
        authorize::WindowRequest {
            not_before: parse(&req.not_before, "notBefore")?,
            not_after: parse(&req.not_after, "notAfter")?,
            now,
            issuer: (ca.issuer.not_before(), ca.issuer.not_after()),
        },
    )?;
    let (record, res) = issue_leaf(ca, csr.cn, sans, &csr.spki, not_before, not_after, &auth.provisioner)?;
    let signed = Signed {
        record,
        token_id: auth.token_id,
        token_exp: auth.token_exp,
    };
    Ok((signed, res))
}

/// Signs a leaf for `spki` with the intermediate (the leaf profile decides CA flag and usages: nothing the CSR asked
/// for is copied) and builds step-ca's `{crt, ca, certChain}`. The caller records it before answering: `/sign` with
/// the token that paid for it, in one transaction, so that a token used twice at once yields one certificate.
pub(crate) fn issue_leaf(
    ca: &Ca,
    cn: Option<String>,
    sans: Vec<San>,
    spki: &[u8],
    not_before: ::time::OffsetDateTime,
    not_after: ::time::OffsetDateTime,
    provisioner: &str,
) -> Result<(IssuedCert, Value), ApiError> {
    let mut ireq = IssueRequest::new(Profile::Leaf, "", sans, not_before, not_after);
    let nanos = ::time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .clamp(0, u64::MAX as i128) as u64;
    ireq.serial = Some(crate::pki::issue::ordered_serial(nanos).map_err(internal)?);
    ireq.crl_urls = ca.revocation_urls.crl.iter().cloned().collect();
    ireq.ocsp_urls = ca.revocation_urls.ocsp.iter().cloned().collect();
    ireq.ca_issuers_urls = ca.revocation_urls.ca_issuers.iter().cloned().collect();
    ireq.subject = cn.into_iter().map(|c| (rcgen::DnType::CommonName, c)).collect();
    let kind = KeyKind::from_spki(spki).map_err(|e| ApiError::new(400, format!("csr: {e}")))?;
    let config = ca.config();
    if let Some(p) = config.provisioner(provisioner) {
        crate::ca::provisioner::allows_key(p, &kind).map_err(|e| ApiError::new(400, format!("csr: {e}")))?;
    }
    let public = rcgen::SubjectPublicKeyInfo::from_der(spki)
        .map_err(|e| ApiError::new(400, format!("csr: unsupported key: {e}")))?;
    let issued = issue(&ireq, &public, kind, Some(&ca.issuer), None).map_err(|e| ApiError::new(400, e.to_string()))?;
    let (_, cert) = X509Certificate::from_der(&issued.der).map_err(internal)?;
    let crt = pem("CERTIFICATE", &issued.der);
    let record = IssuedCert {
        serial: cert.serial.to_str_radix(10),
        provisioner: provisioner.to_string(),
        not_after: cert.validity().not_after.timestamp(),
        der: issued.der,
    };
    let int = &ca.intermediate_pem;
    Ok((record, json!({"crt": crt, "ca": int, "certChain": [crt, int]})))
}

/// [`issue_leaf`], then records the certificate (renew, rekey: no token).
#[allow(clippy::too_many_arguments)]
fn issue_and_record(
    ca: &Ca,
    cn: Option<String>,
    sans: Vec<San>,
    spki: &[u8],
    not_before: ::time::OffsetDateTime,
    not_after: ::time::OffsetDateTime,
    provisioner: &str,
) -> Result<Value, ApiError> {
    let (record, res) = issue_leaf(ca, cn, sans, spki, not_before, not_after, provisioner)?;
    ca.store
        .record_certificate(&record)
        .map_err(|e| ApiError::from(authorize::store_error(e)))?;
    Ok(res)
}

/// The certificate a renew/rekey/revoke request is about: the mTLS client certificate, else (renew only) the leaf
/// of an `Authorization: Bearer` x5cInsecure token.
fn presented_leaf(ca: &Ca, peer: &PeerChain, headers: &HeaderMap, allow_token: bool) -> Result<Vec<u8>, ApiError> {
    if let Some(chain) = &peer.0 {
        return Ok(chain[0].clone());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    match bearer {
        Some(token) if allow_token => {
            let config = ca.config();
            Ok(authorize::authorize_renew_token(
                token.trim(),
                &config,
                ca.store.as_ref(),
                std::slice::from_ref(&ca.root_der),
                now().unix_timestamp(),
                ca.replay_floor(),
            )?)
        }
        _ => Err(ApiError::new(
            401,
            if allow_token {
                "missing client certificate or renew token"
            } else {
                "missing client certificate"
            },
        )),
    }
}

/// The checks shared by renew and rekey: not revoked, and the provisioner's renewal claims. Returns the old
/// certificate's CN, SANs, lifetime and provisioner.
struct Renewable {
    cn: Option<String>,
    sans: Vec<San>,
    spki: Vec<u8>,
    /// The new certificate's validity: the old lifetime from now (backdated), cut to the provisioner's maximum.
    window: (::time::OffsetDateTime, ::time::OffsetDateTime),
    provisioner: String,
}

fn check_renewable(ca: &Ca, leaf_der: &[u8]) -> Result<Renewable, ApiError> {
    let (_, cert) = X509Certificate::from_der(leaf_der).map_err(|e| ApiError::new(400, format!("certificate: {e}")))?;
    let serial = cert.serial.to_str_radix(10);
    if ca.store.revocation(&serial).map_err(ApiError::from)?.is_some() {
        return Err(ApiError::new(401, format!("certificate {serial} has been revoked")));
    }
    let config = ca.config();
    let provisioner = ca
        .store
        .certificate(&serial)
        .map_err(internal)?
        .map(|c| c.provisioner)
        .unwrap_or_default();
    let entry = config.provisioner(&provisioner);
    let (nb, na) = (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    );
    let now = now();
    authorize::check_renewal(entry, &config, nb, na, now.unix_timestamp())?;
    // The same lifetime as before, but never more than the provisioner allows today (a certificate issued under a
    // laxer configuration does not keep its lifetime forever), and by the same window rule as /sign.
    let (_, max, _) = authorize::tls_durations(entry, &config)?;
    let life = ::time::Duration::seconds(na - nb).min(max + authorize::BACKDATE);
    let start = now - authorize::BACKDATE;
    let window = authorize::validity_window(
        entry,
        &config,
        authorize::WindowRequest {
            not_before: None,
            not_after: Some(start + life),
            now,
            issuer: (ca.issuer.not_before(), ca.issuer.not_after()),
        },
    )?;
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => sans_of(&ext.value.general_names).map_err(|e| ApiError::new(403, e))?,
        _ => Vec::new(),
    };
    Ok(Renewable {
        cn: common_name(cert.subject()),
        sans,
        spki: cert.public_key().raw.to_vec(),
        window,
        provisioner,
    })
}

/// `POST /renew` (and `/re-sign`): no body; the same names and key, the same lifetime, backdated a minute.
pub(crate) async fn renew(
    State(ca): State<Arc<Ca>>,
    Extension(peer): Extension<PeerChain>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let res = blocking(move || {
        let leaf = presented_leaf(&ca, &peer, &headers, true)?;
        let r = check_renewable(&ca, &leaf)?;
        let (nb, na) = r.window;
        issue_and_record(&ca, r.cn, r.sans, &r.spki, nb, na, &r.provisioner)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(res)).into_response())
}

#[derive(Deserialize)]
struct RekeyRequest {
    csr: String,
}

/// `POST /rekey` (mTLS only): `{csr}`; the old certificate's names with the CSR's key.
pub(crate) async fn rekey(
    State(ca): State<Arc<Ca>>,
    Extension(peer): Extension<PeerChain>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: RekeyRequest = json_body(body)?;
    let res = blocking(move || {
        let leaf = presented_leaf(&ca, &peer, &headers, false)?;
        let r = check_renewable(&ca, &leaf)?;
        let csr = parse_csr(&req.csr)?;
        let (nb, na) = r.window;
        issue_and_record(&ca, r.cn, r.sans, &csr.spki, nb, na, &r.provisioner)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(res)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    serial: String,
    #[serde(default)]
    ott: String,
    #[serde(default)]
    reason_code: i64,
    #[serde(default)]
    reason: String,
    /// step-ca answers 501 to `passive: false`; ferrica treats both alike: the serial cannot renew and is on the CRL.
    #[serde(default)]
    #[allow(dead_code)]
    passive: Option<bool>,
}

/// RFC 5280's CRLReason codes that a revocation may carry: 0-6 and 8-10 (7 is unused).
pub(crate) fn is_revocation_reason(code: i64) -> bool {
    (0..=10).contains(&code) && code != 7
}

/// A serial as decimal: `0x`-prefixed hex or decimal in, decimal out.
pub fn normalize_serial(s: &str) -> Option<String> {
    use x509_parser::num_bigint::BigUint;
    let s = s.trim();
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => BigUint::parse_bytes(hex.replace(':', "").as_bytes(), 16)?,
        None => BigUint::parse_bytes(s.as_bytes(), 10)?,
    };
    Some(n.to_str_radix(10))
}

/// `POST /revoke`: `{serial, ott, reasonCode, reason, passive}` -> `{"status":"ok"}`. Authorized by a revoke token
/// whose sub is the serial, or over mTLS by the certificate being revoked.
pub(crate) async fn revoke(
    State(ca): State<Arc<Ca>>,
    Extension(peer): Extension<PeerChain>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: RevokeRequest = json_body(body)?;
    blocking(move || {
        let serial =
            normalize_serial(&req.serial).ok_or_else(|| ApiError::new(400, format!("bad serial {:?}", req.serial)))?;
        if !is_revocation_reason(req.reason_code) {
            return Err(ApiError::new(
                400,
                format!("reasonCode {} is not 0-6 or 8-10", req.reason_code),
            ));
        }
        if !ca.store.is_persistent() {
            // A revocation kept in memory would be forgotten at the next restart, and the certificate would renew
            // again: refuse instead of pretending (step-ca answers "not implemented" without a database).
            return Err(ApiError::new(
                501,
                "revocation needs a database: this CA's ca.json has no \"db\", so a revocation would not survive a restart",
            ));
        }
        let now = now().unix_timestamp();
        if !req.ott.is_empty() {
            let config = ca.config();
            let auth = authorize::authorize_token(&req.ott, &config, "revoke", now, ca.replay_floor())?;
            authorize::use_token(ca.store.as_ref(), &auth)?;
            if normalize_serial(&auth.sub).as_deref() != Some(serial.as_str()) {
                return Err(
                    AuthError::Unauthorized(format!("the token's sub {:?} is not serial {serial}", auth.sub)).into(),
                );
            }
        } else {
            let Some(chain) = &peer.0 else {
                return Err(ApiError::new(401, "missing ott or client certificate"));
            };
            let (_, cert) = X509Certificate::from_der(&chain[0]).map_err(internal)?;
            if cert.serial.to_str_radix(10) != serial {
                return Err(ApiError::new(
                    401,
                    "the client certificate is not the one being revoked",
                ));
            }
        }
        ca.store
            .revoke(&Revocation {
                serial: serial.clone(),
                reason_code: req.reason_code as u8,
                reason: req.reason.clone(),
                revoked_at: now,
            })
            .map_err(|e| match e {
                StoreError::AlreadyRevoked(_) => ApiError::new(400, format!("certificate {serial} is already revoked")),
                other => internal(other),
            })?;
        tracing::info!(%serial, reason_code = req.reason_code, "revoked");
        Ok(())
    })
    .await?;
    Ok(axum::Json(json!({"status": "ok"})).into_response())
}

/// `GET /crl`: DER (`application/pkix-crl`), PEM with `?pem`; `Expires` = nextUpdate.
pub(crate) async fn crl(State(ca): State<Arc<Ca>>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (der, next_update) = blocking(move || current_crl(&ca)).await?;
    let expires = httpdate(next_update);
    let want_pem = q.is_some_and(|q| q.split('&').any(|kv| kv == "pem" || kv.starts_with("pem=")));
    Ok(if want_pem {
        (
            [
                (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
                (header::EXPIRES, expires),
            ],
            pem("X509 CRL", &der),
        )
            .into_response()
    } else {
        (
            [
                (header::CONTENT_TYPE, "application/pkix-crl".to_string()),
                (header::EXPIRES, expires),
            ],
            der,
        )
            .into_response()
    })
}

/// [`httpdate`] of unix seconds.
pub(crate) fn httpdate_unix(t: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(t)
        .map(httpdate)
        .unwrap_or_default()
}

fn httpdate(t: ::time::OffsetDateTime) -> String {
    let f = ::time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap_or_default()
}

/// The CRL: every revoked serial whose certificate has not been expired for more than an hour, signed by the
/// intermediate, valid for `crl.cacheDuration` (24h). It lives in the store, so every instance on one database
/// serves the same CRL with one number; whichever first finds it out of date (a revocation since, or half-way to its
/// nextUpdate) makes the next one, under the store's lock.
fn current_crl(ca: &Ca) -> Result<(Vec<u8>, ::time::OffsetDateTime), ApiError> {
    let now = now();
    let unix = now.unix_timestamp();
    let at = |t: i64| ::time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(now);
    let (generation, stored) = ca.store.crl_state().map_err(ApiError::from)?;
    if let Some(c) = stored.filter(|c| c.is_current(generation, unix)) {
        return Ok((c.der, at(c.next_update)));
    }
    let config = ca.config();
    let cache = config
        .crl
        .as_ref()
        .and_then(|c| c.get("cacheDuration"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(crate::pki::validity::parse_duration)
        .transpose()
        .map_err(|e| internal(format!("ca.json crl.cacheDuration: {e}")))?
        .unwrap_or(::time::Duration::hours(24));
    // Read after the generation: a revocation that lands meanwhile makes this CRL out of date at once.
    let mut revoked = Vec::new();
    for r in ca.store.revocations().map_err(ApiError::from)? {
        if let Some(c) = ca.store.certificate(&r.serial).map_err(ApiError::from)?
            && c.not_after + 3600 < unix
        {
            continue;
        }
        let Some(n) = x509_parser::num_bigint::BigUint::parse_bytes(r.serial.as_bytes(), 10) else {
            continue;
        };
        revoked.push(rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from_slice(&n.to_bytes_be()),
            revocation_time: at(r.revoked_at),
            reason_code: reason(r.reason_code),
            invalidity_date: None,
        });
    }
    // The AKI must be the intermediate's SKI, however that was derived (step uses SHA-1).
    let key_id = X509Certificate::from_der(&ca.intermediate_der)
        .ok()
        .and_then(|(_, c)| {
            c.extensions().iter().find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
        })
        .map_or(rcgen::KeyIdMethod::Sha256, rcgen::KeyIdMethod::PreSpecified);
    let next_update = now + cache;
    let mut sign = |number: u64| {
        let params = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update,
            crl_number: rcgen::SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked.clone(),
            key_identifier_method: key_id.clone(),
        };
        params
            .signed_by(ca.issuer.signer())
            .map(|c| c.der().to_vec())
            .map_err(|e| e.to_string())
    };
    let crl = ca
        .store
        .crl_publish(generation, unix, (unix, next_update.unix_timestamp()), &mut sign)
        .map_err(ApiError::from)?
        .map_err(internal)?;
    Ok((crl.der, at(crl.next_update)))
}

fn reason(code: u8) -> Option<rcgen::RevocationReason> {
    use rcgen::RevocationReason as R;
    Some(match code {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCrl,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn serials_normalize_to_decimal() {
        assert_eq!(super::normalize_serial("0x1f").as_deref(), Some("31"));
        assert_eq!(super::normalize_serial("31").as_deref(), Some("31"));
        assert_eq!(super::normalize_serial("0x01:00").as_deref(), Some("256"));
        assert!(super::normalize_serial("nope").is_none());
    }
}
