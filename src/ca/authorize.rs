//! One-time-token (OTT) checks for `/sign`, as step-ca does them (`step-and-peers.md` §3.3), and the checks of a
//! CSR against the token and the provisioner (SANs, claims, name policy).

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::config::CaConfig;
use super::store::{Store, StoreError};
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, ClaimChecks};
use crate::pki::issue::San;
use crate::pki::validity::parse_duration;

/// Why a request was refused. `status()` is the HTTP status step-ca answers with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// 401: the token is bad, expired, reused or from no known provisioner.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token is fine but the request is not allowed (SANs, policy, durations).
    #[error("{0}")]
    Forbidden(String),
    /// 400: malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
    /// 501: the CA is not set up for this (no SSH keys, no database).
    #[error("{0}")]
    NotImplemented(String),
    /// 503: the database cannot be reached; the client should retry.
    #[error("{0}")]
    Unavailable(String),
}

impl AuthError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Unauthorized(_) => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::BadRequest(_) => 400,
            AuthError::Internal(_) => 500,
            AuthError::NotImplemented(_) => 501,
            AuthError::Unavailable(_) => 503,
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// The provisioner's name.
    pub provisioner: String,
    /// The token subject.
    pub sub: String,
    /// The SANs the token allows.
    pub sans: Vec<String>,
    /// The provisioner entry (claims, policy).
    pub entry: Map<String, Value>,
    /// The single-use key of the token (`<iss>:<jti>`, or the token's SHA-256 without a jti).
    pub token_id: String,
    /// The token's exp (unix seconds): the used-token record may be dropped after it.
    pub token_exp: i64,
    /// step's `step` claim (`step.ssh` in SSH tokens), if any.
    pub step: Option<Value>,
    /// For an SSHPOP token: the SSH certificate of its `sshpop` header, whose key signed the token (the caller
    /// checks that one of the CA's SSH keys signed the certificate).
    pub sshpop: Option<ssh_key::Certificate>,
}

/// The audiences a `/sign` token may carry: `https://<dns>[:port]/1.0/sign` and `.../sign`, optionally with the
/// fragment `#<type>/<iss>` that step adds for some provisioner types (`#x5c/hosts`).
fn audience_ok(aud: &Value, config: &CaConfig, endpoint: &str) -> bool {
    audience_ok_for(aud, config, endpoint, None)
}

fn audience_ok_for(aud: &Value, config: &CaConfig, endpoint: &str, iss: Option<&str>) -> bool {
    let auds: Vec<&str> = match aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    auds.iter().any(|a| {
        let a = match (a.split_once('#'), iss) {
            (None, _) => *a,
            (Some((base, frag)), Some(iss))
                if frag.strip_prefix("x5c/").or_else(|| frag.strip_prefix("jwk/")) == Some(iss) =>
            {
                base
            }
            (Some(_), _) => return false,
        };
        let Some(rest) = a.strip_prefix("https://") else {
            return false;
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split_once(']').map_or(authority, |(h, _)| h)
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        let path_ok = path == format!("1.0/{endpoint}") || path == endpoint;
        path_ok && config.dns_names.iter().any(|d| d.eq_ignore_ascii_case(host))
    })
}

/// Checks a JWK-provisioner token for `endpoint` (`sign`, `revoke`, ...) at `now` (unix seconds). `started` is the
/// CA's start time: older tokens are refused (step-ca's issued-at check). The caller then marks it used
/// ([`use_token`], or with the certificate in one transaction), which is what makes it single-use.
pub fn authorize_token(
    token: &str,
    config: &CaConfig,
    endpoint: &str,
    now: i64,
    started: i64,
) -> Result<Authorized, AuthError> {
    let unauthorized = |m: &str| AuthError::Unauthorized(m.to_string());
    let decoded = jws::decode_compact(token).map_err(|e| AuthError::Unauthorized(format!("invalid token: {e}")))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&decoded.payload).map_err(|_| unauthorized("invalid token: the payload is not JSON"))?;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    let kid = decoded.header.get("kid").and_then(Value::as_str).unwrap_or_default();
    // 1. The provisioner is <iss>:<kid> (or <iss> and an x5c chain), and only when the audience is ours.
    if !audience_ok_for(claims.get("aud").unwrap_or(&Value::Null), config, endpoint, Some(iss)) {
        return Err(unauthorized("provisioner not found or invalid audience"));
    }
    let mut sshpop = None;
    let (entry, key) = match (decoded.header.get("x5c"), decoded.header.get("sshpop")) {
        // X5C: signed by the key of a certificate whose chain (in the header) leads to the provisioner's roots.
        (Some(x5c), _) => x5c_signer(x5c, iss, config, now)?,
        // SSHPOP: signed by the key of the SSH certificate in the header.
        (None, Some(pop)) => {
            let (entry, key, cert) = sshpop_signer(pop, iss, config)?;
            sshpop = Some(cert);
            (entry, key)
        }
        (None, None) => {
            let entry = config
                .authority
                .provisioners
                .iter()
                .find(|p| {
                    p.get("type").and_then(Value::as_str) == Some("JWK")
                        && p.get("name").and_then(Value::as_str) == Some(iss)
                        && p.get("key").and_then(|k| k.get("kid")).and_then(Value::as_str) == Some(kid)
                })
                .ok_or_else(|| unauthorized("provisioner not found or invalid audience"))?;
            let key: Jwk = serde_json::from_value(entry.get("key").cloned().unwrap_or(Value::Null))
                .map_err(|e| AuthError::Internal(format!("provisioner {iss:?} has a bad key: {e}")))?;
            (entry, key)
        }
    };
    // 2. Signature, issuer and times with one minute of leeway.
    jws::verify_decoded(&decoded, &key, None).map_err(|e| AuthError::Unauthorized(format!("invalid token: {e}")))?;
    let checks = ClaimChecks {
        iss: Some(iss.to_string()),
        aud: vec![],
        no_exp_check: false,
    };
    jws::check_claims(&claims, &checks, now).map_err(|e| AuthError::Unauthorized(format!("invalid token: {e}")))?;
    if !claims.contains_key("exp") {
        return Err(unauthorized("invalid token: no exp"));
    }
    // 4. A subject.
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    if sub.is_empty() {
        return Err(unauthorized("invalid token: empty sub"));
    }
    // 6. Not issued before the CA started, with no leeway in that direction: the store of used tokens may be
    // in memory, so an older token could have been used before a restart.
    let (jti, exp) = replay_key(token, &claims, started).map_err(unauthorized)?;
    let sans = match claims.get("sans") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![sub.to_string()],
    };
    Ok(Authorized {
        provisioner: iss.to_string(),
        sub: sub.to_string(),
        sans,
        entry: entry.clone(),
        token_id: format!("{iss}:{jti}"),
        token_exp: exp,
        step: claims.get("step").cloned(),
        sshpop,
    })
}

/// The SSHPOP provisioner `iss` and the key of the SSH certificate in the `sshpop` header (base64 of its wire
/// encoding, as step sends it), once the certificate's own signature verifies.
fn sshpop_signer<'c>(
    header: &Value,
    iss: &str,
    config: &'c CaConfig,
) -> Result<(&'c Map<String, Value>, Jwk, ssh_key::Certificate), AuthError> {
    use base64::Engine as _;
    let unauthorized = |m: String| AuthError::Unauthorized(m);
    let entry = config
        .authority
        .provisioners
        .iter()
        .find(|p| {
            p.get("type").and_then(Value::as_str) == Some("SSHPOP")
                && p.get("name").and_then(Value::as_str) == Some(iss)
        })
        .ok_or_else(|| unauthorized("provisioner not found or invalid audience".into()))?;
    let text = header
        .as_str()
        .ok_or_else(|| unauthorized("invalid token: the sshpop header is not a string".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| unauthorized("invalid token: the sshpop header is not base64".into()))?;
    let cert = ssh_key::Certificate::from_bytes(&bytes)
        .map_err(|e| unauthorized(format!("invalid token: the sshpop certificate: {e}")))?;
    crate::ssh::cert::verify_signature(&cert).map_err(|e| unauthorized(format!("invalid token: sshpop: {e}")))?;
    let spki = crate::ssh::cert::spki_of(cert.public_key())
        .map_err(|e| unauthorized(format!("invalid token: the sshpop certificate's key: {e}")))?;
    let key = Jwk::from_spki(&spki).map_err(|e| unauthorized(format!("invalid token: the sshpop key: {e}")))?;
    Ok((entry, key, cert))
}

/// The single-use key of a token that passed its signature check, and its exp: the `jti`, or without one the
/// SHA-256 of the signing input (`header.payload`), which a rewritten signature cannot change (an ECDSA (r, s) and
/// (r, n - s) both verify). Refuses a token without `iat`, or issued before `started` (unix seconds).
fn replay_key(token: &str, claims: &Map<String, Value>, started: i64) -> Result<(String, i64), &'static str> {
    let iat = jws::numeric_date(claims, "iat")
        .map_err(|_| "invalid token: iat out of range")?
        .ok_or("invalid token: no iat")?;
    if iat < started {
        return Err("invalid token: issued before the CA started");
    }
    let exp = jws::numeric_date(claims, "exp")
        .map_err(|_| "invalid token: exp out of range")?
        .ok_or("invalid token: no exp")?;
    let jti = match claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()) {
        Some(j) => j.to_string(),
        None => {
            let signing_input = token.rsplit_once('.').map_or(token, |(input, _)| input);
            hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                signing_input.as_bytes(),
            ))
        }
    };
    Ok((jti, exp))
}

/// The certificates of a JWS `x5c`-style header (standard base64 DER, leaf first); `header` names it in errors.
fn decode_chain(certs: &[Value], header: &str) -> Result<Vec<Vec<u8>>, AuthError> {
    use base64::Engine;
    certs
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .ok_or_else(|| {
                    AuthError::Unauthorized(format!("invalid token: {header} holds a non-base64 certificate"))
                })
        })
        .collect()
}

/// The X5C provisioner named `iss` and the key that must have signed the token: the leaf of the `x5c` header
/// (standard base64 DER, leaf first), whose chain must lead to one of the provisioner's roots at `now`, for client
/// or server authentication, with digitalSignature if it has a key usage (step-ca's X5C rules).
fn x5c_signer<'c>(
    x5c: &Value,
    iss: &str,
    config: &'c CaConfig,
    now: i64,
) -> Result<(&'c Map<String, Value>, Jwk), AuthError> {
    use base64::Engine;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let unauthorized = |m: String| AuthError::Unauthorized(m);
    let entry = config
        .authority
        .provisioners
        .iter()
        .find(|p| {
            p.get("type").and_then(Value::as_str) == Some("X5C") && p.get("name").and_then(Value::as_str) == Some(iss)
        })
        .ok_or_else(|| unauthorized("provisioner not found or invalid audience".into()))?;
    let roots_pem = entry
        .get("roots")
        .and_then(Value::as_str)
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
        .ok_or_else(|| AuthError::Internal(format!("X5C provisioner {iss:?} has no readable roots")))?;
    let roots: Vec<Vec<u8>> = ::pem::parse_many(&roots_pem)
        .map_err(|e| AuthError::Internal(format!("X5C provisioner {iss:?} roots: {e}")))?
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| p.contents().to_vec())
        .collect();
    let chain = match x5c {
        Value::Array(a) if !a.is_empty() && a.len() <= 8 => decode_chain(a, "x5c")?,
        _ => return Err(unauthorized("invalid token: x5c must list 1 to 8 certificates".into())),
    };
    let when = u64::try_from(now).unwrap_or(0);
    verify_chain(&chain, &roots, when)
        .or_else(|_| verify_chain_for(&chain, &roots, when, webpki::KeyUsage::server_auth()))
        .map_err(|e| {
            unauthorized(format!(
                "invalid token: the x5c chain does not lead to provisioner {iss:?}'s roots: {e}"
            ))
        })?;
    let (_, leaf) =
        X509Certificate::from_der(&chain[0]).map_err(|e| unauthorized(format!("invalid token: x5c leaf: {e}")))?;
    if let Ok(Some(ku)) = leaf.key_usage()
        && !ku.value.digital_signature()
    {
        return Err(unauthorized(
            "invalid token: the x5c leaf may not sign (no digitalSignature)".into(),
        ));
    }
    let key =
        Jwk::from_spki(leaf.public_key().raw).map_err(|e| unauthorized(format!("invalid token: x5c leaf key: {e}")))?;
    Ok((entry, key))
}

/// Step 5 of the checks: marks the token used; a second use is refused with 401 "token already used".
/// (`/sign` instead records the token together with the certificate, in one transaction:
/// [`Store::record_issued`].)
pub fn use_token(store: &dyn Store, auth: &Authorized) -> Result<(), AuthError> {
    store.use_token(&auth.token_id, auth.token_exp).map_err(store_error)
}

/// A store error as the API reports it.
pub fn store_error(e: StoreError) -> AuthError {
    match e {
        StoreError::TokenReused => AuthError::Unauthorized("token already used".into()),
        StoreError::Unavailable(m) => AuthError::Unavailable(format!("database unavailable: {m}")),
        other => AuthError::Internal(other.to_string()),
    }
}

/// `iss` of the renewal tokens step signs with the certificate's own key.
pub const RENEW_TOKEN_ISSUER: &str = "step-ca-client/1.0";

/// Checks a renewal token (`Authorization: Bearer`): a JWT whose `x5cInsecure` header carries the chain of the
/// certificate being renewed, signed with that certificate's key (step's token flow for expired certificates).
/// The chain must lead to one of `roots` as of the leaf's last valid second (expiry is judged by
/// [`check_renewal`]); `sub` must be the leaf's CN, `aud` a renew audience, `iss` [`RENEW_TOKEN_ISSUER`] or a
/// provisioner name; times with a minute of leeway; single use. Returns the leaf (DER).
pub fn authorize_renew_token(
    token: &str,
    config: &CaConfig,
    store: &dyn Store,
    roots: &[Vec<u8>],
    now: i64,
    started: i64,
) -> Result<Vec<u8>, AuthError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let unauthorized = |m: String| AuthError::Unauthorized(m);
    let decoded = jws::decode_compact(token).map_err(|e| unauthorized(format!("invalid token: {e}")))?;
    let chain = match decoded.header.get("x5cInsecure") {
        Some(Value::Array(a)) if !a.is_empty() => decode_chain(a, "x5cInsecure")?,
        _ => return Err(unauthorized("invalid token: no x5cInsecure header".into())),
    };
    let (_, leaf) = X509Certificate::from_der(&chain[0])
        .map_err(|e| unauthorized(format!("invalid token: x5cInsecure leaf: {e}")))?;
    let when = now.min(leaf.validity().not_after.timestamp() - 1).max(0) as u64;
    verify_chain(&chain, roots, when).map_err(|e| unauthorized(format!("invalid token: x5cInsecure chain: {e}")))?;
    let jwk = Jwk::from_spki(leaf.public_key().raw).map_err(|e| unauthorized(format!("invalid token: {e}")))?;
    jws::verify_compact(token, &jwk, None).map_err(|e| unauthorized(format!("invalid token: {e}")))?;
    let claims: Map<String, Value> = serde_json::from_slice(&decoded.payload)
        .map_err(|_| unauthorized("invalid token: the payload is not JSON".into()))?;
    if !audience_ok(claims.get("aud").unwrap_or(&Value::Null), config, "renew") {
        return Err(unauthorized("invalid token: invalid audience".into()));
    }
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    if iss != RENEW_TOKEN_ISSUER && config.provisioner(iss).is_none() {
        return Err(unauthorized(format!("invalid token: invalid issuer {iss:?}")));
    }
    jws::check_claims(&claims, &ClaimChecks::default(), now)
        .map_err(|e| unauthorized(format!("invalid token: {e}")))?;
    if !claims.contains_key("exp") {
        return Err(unauthorized("invalid token: no exp".into()));
    }
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default();
    if claims.get("sub").and_then(Value::as_str) != Some(cn) {
        return Err(unauthorized(format!(
            "invalid token: sub is not the certificate's CN {cn:?}"
        )));
    }
    let (jti, exp) = replay_key(token, &claims, started).map_err(|m| unauthorized(m.to_string()))?;
    store.use_token(&format!("renew:{jti}"), exp).map_err(|e| match e {
        StoreError::TokenReused => unauthorized("token already used".into()),
        other => AuthError::Internal(other.to_string()),
    })?;
    Ok(chain[0].clone())
}

/// Verifies `chain` (leaf first) up to one of `roots` at `when` (unix seconds): signatures, dates, CA flags,
/// path length, name constraints, and the clientAuth usage if the leaf has EKUs.
pub fn verify_chain(chain: &[Vec<u8>], roots: &[Vec<u8>], when: u64) -> Result<(), String> {
    verify_chain_for(chain, roots, when, webpki::KeyUsage::client_auth())
}

/// [`verify_chain`] for another extended key usage.
pub fn verify_chain_for(
    chain: &[Vec<u8>],
    roots: &[Vec<u8>],
    when: u64,
    usage: webpki::KeyUsage,
) -> Result<(), String> {
    use rustls::pki_types::{CertificateDer, UnixTime};
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|r| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(r.as_slice()))
                .ok()
                .map(|t| t.to_owned())
        })
        .collect();
    let leaf_der = CertificateDer::from(chain[0].as_slice());
    let intermediates: Vec<CertificateDer<'_>> =
        chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let leaf = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| e.to_string())?;
    let algs = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    leaf.verify_for_usage(
        algs,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(when)),
        usage,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("{e:?}"))
}

/// A claim of the provisioner, else of `authority.claims`.
pub fn claim<'c>(entry: Option<&'c Map<String, Value>>, config: &'c CaConfig, key: &str) -> Option<&'c Value> {
    entry
        .and_then(|e| e.get("claims"))
        .and_then(|c| c.get(key))
        .or_else(|| config.authority.claims.as_ref().and_then(|c| c.get(key)))
}

/// step-ca's `DefaultAuthorizeRenew`: refused when the provisioner disables renewal, when the certificate is not
/// yet valid, or when it has expired and the provisioner does not allow renewal after expiry.
pub fn check_renewal(
    entry: Option<&Map<String, Value>>,
    config: &CaConfig,
    not_before: i64,
    not_after: i64,
    now: i64,
) -> Result<(), AuthError> {
    let flag = |k: &str| claim(entry, config, k).and_then(Value::as_bool).unwrap_or(false);
    let name = entry
        .and_then(|e| e.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    if flag("disableRenewal") {
        return Err(AuthError::Unauthorized(format!(
            "renew is disabled for provisioner {name:?}"
        )));
    }
    if now < not_before {
        return Err(AuthError::Unauthorized("the certificate is not yet valid".into()));
    }
    if now > not_after && !flag("allowRenewalAfterExpiry") {
        return Err(AuthError::Unauthorized(format!(
            "the certificate has expired and provisioner {name:?} does not allow renewal after expiry"
        )));
    }
    Ok(())
}

/// Picks the values of one SAN type, normalised.
type SanPick = fn(&San) -> Option<String>;

/// 7. The CSR's SANs must equal the token's, type by type; its CN must be the sub or one of the SANs.
pub fn check_csr_names(auth: &Authorized, cn: Option<&str>, csr_sans: &[San]) -> Result<(), AuthError> {
    let token_sans: Vec<San> = auth.sans.iter().map(|s| San::parse(s)).collect();
    let of = |list: &[San], pick: SanPick| {
        let mut v: Vec<String> = list.iter().filter_map(pick).collect();
        v.sort();
        v.dedup();
        v
    };
    let kinds: [(&str, SanPick); 4] = [
        ("DNS names", |s| {
            if let San::Dns(d) = s {
                Some(d.to_ascii_lowercase())
            } else {
                None
            }
        }),
        ("IP addresses", |s| {
            if let San::Ip(i) = s { Some(i.to_string()) } else { None }
        }),
        ("email addresses", |s| {
            if let San::Email(e) = s { Some(e.clone()) } else { None }
        }),
        ("URIs", |s| if let San::Uri(u) = s { Some(u.clone()) } else { None }),
    ];
    for (what, pick) in kinds {
        let (want, got) = (of(&token_sans, pick), of(csr_sans, pick));
        if !got.is_empty() && want != got {
            return Err(AuthError::Forbidden(format!(
                "certificate request {what} {got:?} do not match the token's {want:?}"
            )));
        }
    }
    if let Some(cn) = cn
        && !cn.is_empty()
        && cn != auth.sub
        && !auth.sans.iter().any(|s| s == cn)
    {
        return Err(AuthError::Forbidden(format!(
            "the common name {cn:?} is neither the token's sub nor one of its sans"
        )));
    }
    Ok(())
}

/// The provisioner's x509 name policy (allow/deny lists with `*.` wildcards and CIDR ranges).
pub fn check_policy(auth: &Authorized, sans: &[San]) -> Result<(), AuthError> {
    let Some(x509) = auth.entry.get("policy").and_then(|p| p.get("x509")) else {
        return Ok(());
    };
    let list = |side: &str, kind: &str| -> Vec<String> {
        x509.get(side)
            .and_then(|s| s.get(kind))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let wildcards = x509.get("allowWildcardNames").and_then(Value::as_bool).unwrap_or(false);
    for san in sans {
        let (kind, value) = match san {
            San::Dns(d) => ("dns", d.to_ascii_lowercase()),
            San::Ip(i) => ("ip", i.to_string()),
            San::Email(e) => ("email", e.to_ascii_lowercase()),
            San::Uri(u) => ("uri", u.clone()),
        };
        if kind == "dns" && value.starts_with("*.") && !wildcards {
            return Err(AuthError::Forbidden(format!(
                "wildcard name {value:?} is not allowed by provisioner {:?}",
                auth.provisioner
            )));
        }
        let matches = |pattern: &str| name_matches(kind, pattern, &value);
        if list("deny", kind).iter().any(|p| matches(p)) {
            return Err(AuthError::Forbidden(format!(
                "{kind} name {value:?} is denied by provisioner {:?}",
                auth.provisioner
            )));
        }
        let allow = list("allow", kind);
        let any_allow = ["dns", "ip", "email", "uri"]
            .iter()
            .any(|k| !list("allow", k).is_empty());
        if any_allow && !allow.iter().any(|p| matches(p)) {
            return Err(AuthError::Forbidden(format!(
                "{kind} name {value:?} is not allowed by provisioner {:?}",
                auth.provisioner
            )));
        }
    }
    Ok(())
}

fn name_matches(kind: &str, pattern: &str, value: &str) -> bool {
    match kind {
        "ip" => match (crate::pki::ext::parse_cidr(pattern), value.parse::<IpAddr>()) {
            (Ok((net, prefix)), Ok(ip)) => in_cidr(ip, net, prefix),
            _ => false,
        },
        "email" => {
            let p = pattern.to_ascii_lowercase();
            if let Some(domain) = p.strip_prefix('@') {
                value.ends_with(&format!("@{domain}"))
            } else {
                p == value
            }
        }
        "uri" => {
            let host = value
                .split_once("://")
                .map_or(value, |(_, r)| r)
                .split(['/', ':', '?'])
                .next()
                .unwrap_or("");
            dns_matches(&pattern.to_ascii_lowercase(), &host.to_ascii_lowercase())
        }
        _ => dns_matches(&pattern.to_ascii_lowercase(), value),
    }
}

/// `*.example.com` matches one label below; `.example.com` any depth below; otherwise an exact match.
fn dns_matches(pattern: &str, name: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        name.strip_suffix(suffix)
            .and_then(|p| p.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
    } else if pattern.starts_with('.') {
        name.ends_with(pattern)
    } else {
        pattern == name
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (a, b): (Vec<u8>, Vec<u8>) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        _ => return false,
    };
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    a[..full] == b[..full] && (rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0)
}

/// step-ca's `authority.backdate`: certificates without a requested notBefore start this much before now.
pub const BACKDATE: time::Duration = time::Duration::minutes(1);

/// The provisioner's TLS lifetime claims (else `authority.claims`, else step-ca's 5m/24h/24h): (min, max, default).
pub fn tls_durations(
    entry: Option<&Map<String, Value>>,
    config: &CaConfig,
) -> Result<(time::Duration, time::Duration, time::Duration), AuthError> {
    let get = |k: &str, dflt: &str| -> Result<time::Duration, AuthError> {
        let v = claim(entry, config, k).and_then(Value::as_str).unwrap_or(dflt);
        parse_duration(v).map_err(|e| AuthError::Internal(format!("provisioner claim {k}: {e}")))
    };
    Ok((
        get("minTLSCertDuration", "5m")?,
        get("maxTLSCertDuration", "24h")?,
        get("defaultTLSCertDuration", "24h")?,
    ))
}

/// What a request asks of a certificate's validity, and what bounds it.
#[derive(Debug, Clone, Copy)]
pub struct WindowRequest {
    /// The requested notBefore (`None`: now, backdated by [`BACKDATE`]).
    pub not_before: Option<time::OffsetDateTime>,
    /// The requested notAfter (`None`: the start plus the provisioner's default lifetime).
    pub not_after: Option<time::OffsetDateTime>,
    /// Now.
    pub now: time::OffsetDateTime,
    /// The issuing certificate's notBefore and notAfter.
    pub issuer: (time::OffsetDateTime, time::OffsetDateTime),
}

/// The validity of a new certificate, for every issuance path of the online CA (`/sign`, `/renew`, `/rekey`, and
/// ACME and SSH later): the whole window, notAfter minus notBefore, must lie within the provisioner's claims (the
/// maximum plus [`BACKDATE`], as step-ca allows), so a backdated notBefore cannot stretch a certificate past its
/// maximum; notBefore may not precede the issuer's (the default backdate is cut to it); notAfter must be in the
/// future and is cut to the issuer's notAfter; an expired issuer signs nothing.
pub fn validity_window(
    entry: Option<&Map<String, Value>>,
    config: &CaConfig,
    w: WindowRequest,
) -> Result<(time::OffsetDateTime, time::OffsetDateTime), AuthError> {
    use crate::pki::issue::fmt_time;
    let (issuer_nb, issuer_na) = w.issuer;
    if issuer_na <= w.now {
        return Err(AuthError::Internal(format!(
            "the issuer certificate expired on {}",
            fmt_time(issuer_na)
        )));
    }
    let (min, max, default) = tls_durations(entry, config)?;
    let not_before = match w.not_before {
        Some(nb) if nb < issuer_nb => {
            return Err(AuthError::Forbidden(format!(
                "notBefore {} is before the issuer certificate's notBefore {}",
                fmt_time(nb),
                fmt_time(issuer_nb)
            )));
        }
        Some(nb) => nb,
        None => (w.now - BACKDATE).max(issuer_nb),
    };
    let not_after = match w.not_after {
        Some(na) => na,
        None => not_before.max(w.now) + default,
    }
    .min(issuer_na);
    if not_after <= w.now {
        return Err(AuthError::BadRequest(format!(
            "notAfter {} is in the past",
            fmt_time(not_after)
        )));
    }
    if not_after <= not_before {
        return Err(AuthError::BadRequest(format!(
            "notAfter {} is not after notBefore {}",
            fmt_time(not_after),
            fmt_time(not_before)
        )));
    }
    let d = not_after - not_before;
    if d < min {
        return Err(AuthError::Forbidden(format!(
            "requested duration of {} s is less than the provisioner's minimum of {} s",
            d.whole_seconds(),
            min.whole_seconds()
        )));
    }
    if d > max + BACKDATE {
        return Err(AuthError::Forbidden(format!(
            "requested duration of {} s (notBefore {} to notAfter {}) is more than the provisioner's maximum of {} s",
            d.whole_seconds(),
            fmt_time(not_before),
            fmt_time(not_after),
            (max + BACKDATE).whole_seconds()
        )));
    }
    Ok((not_before, not_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_patterns() {
        assert!(dns_matches("*.lab.test", "a.lab.test"));
        assert!(!dns_matches("*.lab.test", "a.b.lab.test"));
        assert!(!dns_matches("*.lab.test", "lab.test"));
        assert!(dns_matches(".lab.test", "a.b.lab.test"));
        assert!(dns_matches("lab.test", "lab.test"));
        assert!(in_cidr("10.1.2.3".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(!in_cidr("11.1.2.3".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(in_cidr(
            "10.0.0.129".parse().unwrap(),
            "10.0.0.128".parse().unwrap(),
            25
        ));
    }

    fn authorized(entry: Value) -> Authorized {
        Authorized {
            provisioner: "p".into(),
            sub: "svc.lab.test".into(),
            sans: vec!["svc.lab.test".into(), "10.0.0.5".into()],
            entry: entry.as_object().unwrap().clone(),
            token_id: "p:j".into(),
            token_exp: 0,
            step: None,
            sshpop: None,
        }
    }

    #[test]
    fn csr_names_must_match_the_token() {
        let a = authorized(serde_json::json!({}));
        let ok = [San::parse("svc.lab.test"), San::parse("10.0.0.5")];
        check_csr_names(&a, Some("svc.lab.test"), &ok).unwrap();
        assert!(
            check_csr_names(
                &a,
                Some("svc.lab.test"),
                &[San::parse("evil.test"), San::parse("10.0.0.5")]
            )
            .is_err()
        );
        assert!(check_csr_names(&a, Some("other"), &ok).is_err());
        let p = authorized(
            serde_json::json!({"policy": {"x509": {"allow": {"dns": ["*.lab.test"], "ip": ["10.0.0.0/8"]}}}}),
        );
        check_policy(&p, &ok).unwrap();
        assert!(check_policy(&p, &[San::parse("evil.test")]).is_err());
        assert!(
            check_policy(&p, &[San::parse("*.lab.test")]).is_err(),
            "wildcards need allowWildcardNames"
        );
        let l = authorized(serde_json::json!({"claims": {"maxTLSCertDuration": "48h"}}));
        let cfg = CaConfig::default();
        let now = time::macros::datetime!(2026-06-01 00:00 UTC);
        let issuer = (now - time::Duration::days(30), now + time::Duration::days(365));
        let w = |nb: Option<time::OffsetDateTime>, na: Option<time::OffsetDateTime>| WindowRequest {
            not_before: nb,
            not_after: na,
            now,
            issuer,
        };
        let win =
            |entry: &Authorized, config: &CaConfig, nb, na| validity_window(Some(&entry.entry), config, w(nb, na));
        assert_eq!(
            win(&l, &cfg, None, None).unwrap(),
            (now - BACKDATE, now + time::Duration::hours(24))
        );
        assert!(win(&l, &cfg, None, Some(now + time::Duration::hours(49))).is_err());
        // A global claim applies when the provisioner has none; the provisioner's wins.
        let global = CaConfig {
            authority: crate::ca::config::Authority {
                claims: Some(serde_json::json!({"defaultTLSCertDuration": "1h", "maxTLSCertDuration": "72h"})),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(win(&l, &global, None, None).unwrap().1, now + time::Duration::hours(1));
        assert!(win(&l, &global, None, Some(now + time::Duration::hours(49))).is_err());
        let no_renew = serde_json::json!({"name": "p", "claims": {"disableRenewal": true}});
        assert!(check_renewal(no_renew.as_object(), &cfg, 0, 100, 50).is_err());
        assert!(check_renewal(None, &cfg, 0, 100, 50).is_ok());
        assert!(check_renewal(None, &cfg, 0, 100, 101).is_err(), "expired");
        assert!(check_renewal(None, &cfg, 60, 100, 50).is_err(), "not yet valid");
        let late = serde_json::json!({"name": "p", "claims": {"allowRenewalAfterExpiry": true}});
        assert!(check_renewal(late.as_object(), &cfg, 0, 100, 101).is_ok());
    }

    #[test]
    fn backdating_cannot_stretch_a_certificate_past_the_maximum_lifetime() {
        let cfg = CaConfig::default();
        let entry = serde_json::json!({"claims": {"maxTLSCertDuration": "24h"}});
        let entry = entry.as_object();
        let now = time::macros::datetime!(2026-06-01 00:00 UTC);
        let issuer = (now - time::Duration::days(30), now + time::Duration::days(365));
        let w = |nb, na| WindowRequest {
            not_before: nb,
            not_after: na,
            now,
            issuer,
        };
        // -87000h with the default lifetime ending tomorrow: ten years, refused.
        let err = validity_window(entry, &cfg, w(Some(now - time::Duration::hours(87000)), None)).unwrap_err();
        assert!(matches!(err, AuthError::Forbidden(_)), "{err}");
        // Inside the issuer's life, but the window is 48h: refused.
        let err = validity_window(
            entry,
            &cfg,
            w(
                Some(now - time::Duration::hours(24)),
                Some(now + time::Duration::hours(24)),
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("more than the provisioner's maximum"), "{err}");
        // The maximum plus the backdate is allowed, as step-ca does.
        validity_window(entry, &cfg, w(None, Some(now + time::Duration::hours(24)))).unwrap();
        // Before the issuer's notBefore: refused when asked for, cut when it is the default backdate.
        let err = validity_window(entry, &cfg, w(Some(issuer.0 - time::Duration::seconds(1)), None)).unwrap_err();
        assert!(
            err.to_string().contains("before the issuer certificate's notBefore"),
            "{err}"
        );
        let young = WindowRequest {
            issuer: (now - time::Duration::seconds(10), issuer.1),
            ..w(None, None)
        };
        assert_eq!(
            validity_window(entry, &cfg, young).unwrap().0,
            now - time::Duration::seconds(10)
        );
        // An expired issuer says so.
        let old = WindowRequest {
            issuer: (now - time::Duration::days(9), now - time::Duration::days(1)),
            ..w(None, None)
        };
        let err = validity_window(entry, &cfg, old).unwrap_err();
        assert!(
            err.to_string().contains("the issuer certificate expired on 2026-05-31"),
            "{err}"
        );
    }

    fn p256_setup() -> (CaConfig, jws::SigningKey, Jwk) {
        use crate::pki::keys::{KeySpec, PrivateKey};
        let key = PrivateKey::generate(KeySpec::P256).unwrap();
        let mut jwk = Jwk::from_private_key(&key).unwrap();
        jwk.kid = Some(jwk.thumbprint().unwrap());
        jwk.alg = Some("ES256".into());
        let mut cfg = CaConfig {
            dns_names: vec!["ca.lab.test".into()],
            ..Default::default()
        };
        cfg.authority
            .provisioners
            .push(crate::ca::provisioner::jwk("p", &jwk.public().unwrap(), None));
        (cfg, jws::SigningKey::from_jwk(jwk.clone()).unwrap(), jwk)
    }

    fn mint_claims(signer: &jws::SigningKey, jwk: &Jwk, claims: Value) -> String {
        let mut h = Map::new();
        h.insert("kid".into(), Value::String(jwk.kid.clone().unwrap()));
        jws::sign_compact(signer, jws::Alg::Es256, h, &serde_json::to_vec(&claims).unwrap()).unwrap()
    }

    #[test]
    fn a_rewritten_ecdsa_signature_does_not_make_a_token_without_jti_new() {
        use base64::Engine;
        use x509_parser::num_bigint::BigUint;
        let (cfg, signer, jwk) = p256_setup();
        let now = 1_800_000_000i64;
        let claims = serde_json::json!({"iss": "p", "aud": "https://ca.lab.test/1.0/sign", "sub": "svc", "iat": now, "nbf": now, "exp": now + 300});
        let t = mint_claims(&signer, &jwk, claims);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let raw = b64.decode(sig).unwrap();
        let n = BigUint::parse_bytes(b"FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16).unwrap();
        let s = BigUint::from_bytes_be(&raw[32..]);
        let mut flipped = raw[..32].to_vec();
        let ns = (&n - &s).to_bytes_be();
        flipped.extend(std::iter::repeat_n(0u8, 32 - ns.len()));
        flipped.extend(ns);
        let t2 = format!("{input}.{}", b64.encode(&flipped));
        assert_ne!(t, t2);
        let a = authorize_token(&t, &cfg, "sign", now, now).unwrap();
        let b = authorize_token(&t2, &cfg, "sign", now, now).expect("(r, n - s) verifies too");
        assert_eq!(a.token_id, b.token_id);
        let store = crate::ca::store::RedbStore::in_memory().unwrap();
        use_token(&store, &a).unwrap();
        assert_eq!(
            use_token(&store, &b).unwrap_err(),
            AuthError::Unauthorized("token already used".into())
        );
    }

    #[test]
    fn out_of_range_times_are_reported_not_wrapped() {
        let (cfg, signer, jwk) = p256_setup();
        let now = 1_800_000_000i64;
        for exp in [
            serde_json::json!(1e30),
            serde_json::json!(2f64.powi(70)),
            serde_json::json!(-5),
        ] {
            let claims = serde_json::json!({"iss": "p", "aud": "https://ca.lab.test/1.0/sign", "sub": "svc", "jti": "j", "iat": now, "exp": exp});
            let t = mint_claims(&signer, &jwk, claims);
            let err = authorize_token(&t, &cfg, "sign", now, now).unwrap_err().to_string();
            assert!(err.contains("exp out of range"), "{exp}: {err}");
        }
        let claims = serde_json::json!({"iss": "p", "aud": "https://ca.lab.test/1.0/sign", "sub": "svc", "jti": "j", "iat": 1e300, "exp": now + 60});
        let err = authorize_token(&mint_claims(&signer, &jwk, claims), &cfg, "sign", now, now)
            .unwrap_err()
            .to_string();
        assert!(err.contains("iat out of range"), "{err}");
    }

    #[test]
    fn tokens_are_checked_and_single_use() {
        let (cfg, signer, jwk) = p256_setup();
        let now = 1_800_000_000;
        let mint = |aud: &str, iss: &str| {
            let claims = serde_json::json!({"iss": iss, "aud": aud, "sub": "svc", "jti": "j1", "iat": now, "nbf": now, "exp": now + 300});
            mint_claims(&signer, &jwk, claims)
        };
        let store = crate::ca::store::RedbStore::in_memory().unwrap();
        let t = mint("https://ca.lab.test:9000/1.0/sign", "p");
        let a = authorize_token(&t, &cfg, "sign", now, now - 10).unwrap();
        assert_eq!(a.sans, vec!["svc"]);
        use_token(&store, &a).unwrap();
        let again = authorize_token(&t, &cfg, "sign", now, now - 10).unwrap();
        assert_eq!(
            use_token(&store, &again).unwrap_err(),
            AuthError::Unauthorized("token already used".into())
        );
        let other = mint("https://evil.test/1.0/sign", "p");
        assert!(authorize_token(&other, &cfg, "sign", now, 0).is_err());
        let wrong_iss = mint("https://ca.lab.test/1.0/sign", "q");
        assert!(authorize_token(&wrong_iss, &cfg, "sign", now, 0).is_err());
        // Issued before the start, even by a second: refused (the used-token store may have been in memory).
        let err = authorize_token(&t, &cfg, "sign", now, now + 1).unwrap_err();
        assert!(err.to_string().contains("issued before the CA started"), "{err}");
        let late = mint("https://ca.lab.test/sign", "p");
        assert!(
            matches!(authorize_token(&late, &cfg, "sign", now + 1000, 0), Err(AuthError::Unauthorized(m)) if m.contains("expired"))
        );
    }
}
