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
}

impl AuthError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Unauthorized(_) => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::BadRequest(_) => 400,
            AuthError::Internal(_) => 500,
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
}

/// The audiences a `/sign` token may carry: `https://<dns>[:port]/1.0/sign` and `.../sign`.
fn audience_ok(aud: &Value, config: &CaConfig, endpoint: &str) -> bool {
    let auds: Vec<&str> = match aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    auds.iter().any(|a| {
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

/// Checks a JWK-provisioner token for `endpoint` (`sign`, `revoke`, ...) at `now` (unix seconds), and marks its
/// ID used. `started` is the CA's start time: older tokens are refused (step-ca's issued-at check).
pub fn authorize_token(
    token: &str,
    config: &CaConfig,
    store: &dyn Store,
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
    // 1. The provisioner is <iss>:<kid>, and only when the audience is ours.
    if !audience_ok(claims.get("aud").unwrap_or(&Value::Null), config, endpoint) {
        return Err(unauthorized("provisioner not found or invalid audience"));
    }
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
    // 2. Signature, issuer and times with one minute of leeway.
    jws::verify_compact(token, &key, None).map_err(|e| AuthError::Unauthorized(format!("invalid token: {e}")))?;
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
    // 6. Not issued before the CA started.
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && iat + jws::LEEWAY < started
    {
        return Err(unauthorized("invalid token: issued before the CA started"));
    }
    // 5. Single use: jti, or the token's SHA-256 when it has none.
    let jti = match claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()) {
        Some(j) => j.to_string(),
        None => hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())),
    };
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    store.use_token(&format!("{iss}:{jti}"), exp).map_err(|e| match e {
        StoreError::TokenReused => unauthorized("token already used"),
        other => AuthError::Internal(other.to_string()),
    })?;
    let sans = match claims.get("sans") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![sub.to_string()],
    };
    Ok(Authorized {
        provisioner: iss.to_string(),
        sub: sub.to_string(),
        sans,
        entry: entry.clone(),
    })
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

/// The certificate lifetime for a request: the requested one, or the provisioner's default, within its min/max.
pub fn lifetime(auth: &Authorized, requested: Option<time::Duration>) -> Result<time::Duration, AuthError> {
    let claim = |k: &str, dflt: &str| -> Result<time::Duration, AuthError> {
        let v = auth
            .entry
            .get("claims")
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .unwrap_or(dflt);
        parse_duration(v).map_err(|e| AuthError::Internal(format!("provisioner claim {k}: {e}")))
    };
    let (min, max, def) = (
        claim("minTLSCertDuration", "5m")?,
        claim("maxTLSCertDuration", "24h")?,
        claim("defaultTLSCertDuration", "24h")?,
    );
    let d = requested.unwrap_or(def);
    if d < min || d > max {
        return Err(AuthError::Forbidden(format!(
            "requested duration of {} s is outside the provisioner's {} s to {} s",
            d.whole_seconds(),
            min.whole_seconds(),
            max.whole_seconds()
        )));
    }
    Ok(d)
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
        assert_eq!(lifetime(&l, None).unwrap(), time::Duration::hours(24));
        assert!(lifetime(&l, Some(time::Duration::hours(49))).is_err());
    }

    #[test]
    fn tokens_are_checked_and_single_use() {
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
        let signer = jws::SigningKey::from_jwk(jwk.clone()).unwrap();
        let now = 1_800_000_000;
        let mint = |aud: &str, iss: &str| {
            let claims = serde_json::json!({"iss": iss, "aud": aud, "sub": "svc", "jti": "j1", "iat": now, "nbf": now, "exp": now + 300});
            let mut h = Map::new();
            h.insert("kid".into(), Value::String(jwk.kid.clone().unwrap()));
            jws::sign_compact(&signer, jws::Alg::Es256, h, &serde_json::to_vec(&claims).unwrap()).unwrap()
        };
        let store = crate::ca::store::RedbStore::in_memory().unwrap();
        let t = mint("https://ca.lab.test:9000/1.0/sign", "p");
        let a = authorize_token(&t, &cfg, &store, "sign", now, now - 10).unwrap();
        assert_eq!(a.sans, vec!["svc"]);
        assert_eq!(
            authorize_token(&t, &cfg, &store, "sign", now, now - 10).unwrap_err(),
            AuthError::Unauthorized("token already used".into())
        );
        let other = mint("https://evil.test/1.0/sign", "p");
        assert!(authorize_token(&other, &cfg, &store, "sign", now, 0).is_err());
        let wrong_iss = mint("https://ca.lab.test/1.0/sign", "q");
        assert!(authorize_token(&wrong_iss, &cfg, &store, "sign", now, 0).is_err());
        let late = mint("https://ca.lab.test/sign", "p");
        assert!(
            matches!(authorize_token(&late, &cfg, &store, "sign", now + 1000, 0), Err(AuthError::Unauthorized(m)) if m.contains("expired"))
        );
    }
}
