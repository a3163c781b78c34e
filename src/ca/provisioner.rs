//! Provisioner entries of `ca.json` (step-ca's shapes): JWK, ACME and X5C, with per-provisioner claims and an
//! x509 name policy.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::pki::validity::parse_duration;

/// Per-provisioner claims (`claims` in step-ca). `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct ClaimsUpdate {
    /// minTLSCertDuration
    pub min: Option<String>,
    /// maxTLSCertDuration
    pub max: Option<String>,
    /// defaultTLSCertDuration
    pub default: Option<String>,
    /// disableRenewal
    pub disable_renewal: Option<bool>,
    /// allowRenewalAfterExpiry
    pub allow_renewal_after_expiry: Option<bool>,
    /// enableSSHCA
    pub enable_ssh_ca: Option<bool>,
    /// The SSH lifetimes: (claim, value), claim one of min/max/default{User,Host}SSHCertDuration.
    pub ssh: Vec<(&'static str, String)>,
}

/// step-ca's SSH lifetime claims and their defaults.
pub const SSH_CLAIMS: [(&str, &str); 6] = [
    ("minUserSSHCertDuration", "5m"),
    ("maxUserSSHCertDuration", "24h"),
    ("defaultUserSSHCertDuration", "16h"),
    ("minHostSSHCertDuration", "5m"),
    ("maxHostSSHCertDuration", "720h"),
    ("defaultHostSSHCertDuration", "720h"),
];

/// An x509 name policy update: allow/deny lists by name type.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    /// (kind, values) with kind one of dns, ip, email, uri.
    pub allow: Vec<(&'static str, Vec<String>)>,
    /// Same for deny.
    pub deny: Vec<(&'static str, Vec<String>)>,
    /// allowWildcardNames
    pub allow_wildcard_names: Option<bool>,
}

/// A JWK provisioner entry.
pub fn jwk(name: &str, public: &crate::jose::jwk::Jwk, encrypted_key: Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("JWK"));
    m.insert("name".into(), json!(name));
    m.insert("key".into(), serde_json::to_value(public).expect("a JWK serializes"));
    if let Some(k) = encrypted_key {
        m.insert("encryptedKey".into(), json!(k));
    }
    m
}

/// An ACME provisioner entry.
pub fn acme(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("ACME"));
    m.insert("name".into(), json!(name));
    m
}

/// An X5C provisioner entry; `roots_pem` is stored base64-encoded, as step does.
pub fn x5c(name: &str, roots_pem: &[u8]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("X5C"));
    m.insert("name".into(), json!(name));
    m.insert(
        "roots".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(roots_pem)),
    );
    m
}

/// Applies claim changes, checking min <= default <= max once merged.
pub fn apply_claims(p: &mut Map<String, Value>, u: &ClaimsUpdate) -> Result<(), String> {
    let mut claims = p.get("claims").and_then(Value::as_object).cloned().unwrap_or_default();
    for (key, v) in [
        ("minTLSCertDuration", &u.min),
        ("maxTLSCertDuration", &u.max),
        ("defaultTLSCertDuration", &u.default),
    ] {
        if let Some(v) = v {
            let d = parse_duration(v).map_err(|e| format!("{key} {v:?}: {e}"))?;
            if d <= time::Duration::ZERO {
                return Err(format!("{key} {v:?} must be positive"));
            }
            claims.insert(key.into(), json!(v));
        }
    }
    if let Some(b) = u.disable_renewal {
        claims.insert("disableRenewal".into(), json!(b));
    }
    if let Some(b) = u.allow_renewal_after_expiry {
        claims.insert("allowRenewalAfterExpiry".into(), json!(b));
    }
    if let Some(b) = u.enable_ssh_ca {
        claims.insert("enableSSHCA".into(), json!(b));
    }
    for (key, v) in &u.ssh {
        let d = parse_duration(v).map_err(|e| format!("{key} {v:?}: {e}"))?;
        if d <= time::Duration::ZERO {
            return Err(format!("{key} {v:?} must be positive"));
        }
        claims.insert((*key).into(), json!(v));
    }
    let ssh = |k: &str| {
        let dflt = SSH_CLAIMS.iter().find(|(n, _)| *n == k).map_or("0s", |(_, d)| d);
        parse_duration(claims.get(k).and_then(Value::as_str).unwrap_or(dflt)).unwrap_or(time::Duration::ZERO)
    };
    for kind in ["User", "Host"] {
        let (min, max, def) = (
            ssh(&format!("min{kind}SSHCertDuration")),
            ssh(&format!("max{kind}SSHCertDuration")),
            ssh(&format!("default{kind}SSHCertDuration")),
        );
        if !(min <= def && def <= max) {
            return Err(format!(
                "the SSH {} durations must satisfy min <= default <= max (now {}s <= {}s <= {}s)",
                kind.to_lowercase(),
                min.whole_seconds(),
                def.whole_seconds(),
                max.whole_seconds()
            ));
        }
    }
    // step-ca's defaults for what is unset: 5m / 24h / 24h.
    let get = |k: &str, dflt: &str| {
        parse_duration(claims.get(k).and_then(Value::as_str).unwrap_or(dflt)).unwrap_or(time::Duration::ZERO)
    };
    let (min, max, def) = (
        get("minTLSCertDuration", "5m"),
        get("maxTLSCertDuration", "24h"),
        get("defaultTLSCertDuration", "24h"),
    );
    if !(min <= def && def <= max) {
        return Err(format!(
            "the durations must satisfy min <= default <= max (now {}s <= {}s <= {}s)",
            min.whole_seconds(),
            def.whole_seconds(),
            max.whole_seconds()
        ));
    }
    if !claims.is_empty() {
        p.insert("claims".into(), Value::Object(claims));
    }
    Ok(())
}

/// Applies policy changes (values are appended, without duplicates).
pub fn apply_policy(p: &mut Map<String, Value>, u: &PolicyUpdate) -> Result<(), String> {
    if u.allow.iter().all(|(_, v)| v.is_empty())
        && u.deny.iter().all(|(_, v)| v.is_empty())
        && u.allow_wildcard_names.is_none()
    {
        return Ok(());
    }
    let policy = p
        .entry("policy")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("policy is not an object")?;
    let x509 = policy
        .entry("x509")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("policy.x509 is not an object")?;
    for (side, lists) in [("allow", &u.allow), ("deny", &u.deny)] {
        for (kind, values) in lists.iter().filter(|(_, v)| !v.is_empty()) {
            for v in values {
                use crate::pki::names;
                let checked = match *kind {
                    "ip" => crate::pki::ext::parse_cidr(v).map(drop),
                    "dns" => names::check_dns_pattern(v),
                    "email" => names::check_email_pattern(v),
                    // A URI entry names the host part (as the policy matches it): a DNS pattern.
                    _ => names::check_dns_pattern(v),
                };
                checked.map_err(|e| format!("{side} {kind} {v:?}: {e}"))?;
            }
            let s = x509
                .entry(side)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or("policy side is not an object")?;
            let list = s
                .entry(*kind)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .ok_or("policy list is not an array")?;
            for v in values {
                if !list.iter().any(|x| x.as_str() == Some(v)) {
                    list.push(json!(v));
                }
            }
        }
    }
    if let Some(b) = u.allow_wildcard_names {
        x509.insert("allowWildcardNames".into(), json!(b));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_checked_and_merged() {
        let mut p = acme("a");
        apply_claims(
            &mut p,
            &ClaimsUpdate {
                max: Some("720h".into()),
                default: Some("168h".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p["claims"]["maxTLSCertDuration"], "720h");
        let err = apply_claims(
            &mut p,
            &ClaimsUpdate {
                min: Some("1000h".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.contains("min <= default <= max"), "{err}");
        assert!(
            apply_claims(
                &mut p,
                &ClaimsUpdate {
                    max: Some("soon".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn policy_appends_without_duplicates() {
        let mut p = acme("a");
        let u = PolicyUpdate {
            allow: vec![("dns", vec!["*.lab.test".into()])],
            ..Default::default()
        };
        apply_policy(&mut p, &u).unwrap();
        apply_policy(&mut p, &u).unwrap();
        assert_eq!(p["policy"]["x509"]["allow"]["dns"], json!(["*.lab.test"]));
        let err = apply_policy(
            &mut p,
            &PolicyUpdate {
                allow: vec![("dns", vec!["**".into()])],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.contains("allow dns \"**\""), "{err}");
        assert!(
            apply_policy(
                &mut p,
                &PolicyUpdate {
                    deny: vec![("ip", vec!["10.0.0.0/99".into()])],
                    ..Default::default()
                }
            )
            .is_err()
        );
    }
}

/// The smallest RSA modulus any provisioner signs for.
pub const MIN_RSA_BITS: usize = 2048;

/// Whether a provisioner signs for a public key of `kind`: never RSA under [`MIN_RSA_BITS`]; and when the entry has
/// ferrica's `keyTypes` member (step-ca ignores it), only the kinds it lists: `"EC P-256"`, `"EC P-384"`,
/// `"EC P-521"`, `"OKP Ed25519"`, `"RSA 2048"`, `"RSA 3072"`, `"RSA 4096"`, or `"EC"` / `"RSA"` for any curve or size.
pub fn allows_key(p: &Map<String, Value>, kind: &crate::pki::keys::KeyKind) -> Result<(), String> {
    use crate::pki::keys::KeyKind;
    if let KeyKind::Rsa(bits) = kind
        && *bits < MIN_RSA_BITS
    {
        return Err(format!(
            "an RSA key of {bits} bits is too small (at least {MIN_RSA_BITS})"
        ));
    }
    let Some(list) = p.get("keyTypes") else {
        return Ok(());
    };
    let names: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let shown = kind.to_string();
    let family = shown.split(' ').next().unwrap_or_default();
    if names.iter().any(|n| *n == shown || *n == family) {
        return Ok(());
    }
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
    Err(format!(
        "provisioner {name:?} does not sign {shown} keys (its keyTypes: {})",
        names.join(", ")
    ))
}

/// What is wrong with a `keyTypes` member, if anything (checked when ca.json is read).
pub fn check_key_types(p: &Map<String, Value>) -> Result<(), String> {
    const KNOWN: &[&str] = &[
        "EC",
        "EC P-256",
        "EC P-384",
        "EC P-521",
        "OKP",
        "OKP Ed25519",
        "RSA",
        "RSA 2048",
        "RSA 3072",
        "RSA 4096",
    ];
    let Some(v) = p.get("keyTypes") else {
        return Ok(());
    };
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
    let list = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("provisioner {name:?}: keyTypes must be a non-empty list"))?;
    for t in list {
        match t.as_str() {
            Some(s) if KNOWN.contains(&s) => {}
            _ => {
                return Err(format!(
                    "provisioner {name:?}: keyTypes member {t} is not one of {}",
                    KNOWN.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod key_type_tests {
    use super::*;
    use crate::pki::keys::{Curve, KeyKind};
    use serde_json::json;

    fn prov(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_types_narrow_what_a_provisioner_signs_and_small_rsa_is_never_signed() {
        let any = prov(json!({"name": "any"}));
        assert!(allows_key(&any, &KeyKind::Rsa(2048)).is_ok());
        assert!(allows_key(&any, &KeyKind::Rsa(1024)).unwrap_err().contains("too small"));
        let ec = prov(json!({"name": "ec", "keyTypes": ["EC P-256", "RSA"]}));
        assert!(allows_key(&ec, &KeyKind::Ec(Curve::P256)).is_ok());
        assert!(allows_key(&ec, &KeyKind::Rsa(3072)).is_ok());
        let e = allows_key(&ec, &KeyKind::Ec(Curve::P384)).unwrap_err();
        assert!(
            e.contains("does not sign EC P-384") && e.contains("EC P-256, RSA"),
            "{e}"
        );
        assert!(allows_key(&ec, &KeyKind::Ed25519).is_err());
        assert!(check_key_types(&ec).is_ok());
        assert!(check_key_types(&prov(json!({"name": "x", "keyTypes": ["DSA"]}))).is_err());
        assert!(check_key_types(&prov(json!({"name": "x", "keyTypes": []}))).is_err());
    }
}
