//! ACME objects (RFC 8555 §7.1) as ferrica stores them, and the rules that move them: identifiers allowed in an
//! order, which challenges an authorization offers, how an order's status follows its authorizations, what a
//! finalize CSR must name, and the key authorization a challenge proves. Times are unix seconds passed in.

use serde::{Deserialize, Serialize};

use super::problem::Problem;
use crate::jose::jwk::Jwk;

/// How long a pending authorization or order lives (RFC 8555 leaves it to the server; step-ca uses 24 h).
pub const PENDING_LIFETIME: i64 = 24 * 3600;
/// How long a valid authorization may be reused for a new order of the same account.
pub const VALID_AUTHZ_LIFETIME: i64 = 24 * 3600;

/// An account (§7.1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Its id (the last segment of its URL).
    pub id: String,
    /// The provisioner it was created under.
    pub provisioner: String,
    /// `valid`, `deactivated` or `revoked`.
    pub status: String,
    /// `mailto:` URLs.
    pub contact: Vec<String>,
    /// The account key (public JWK).
    pub key: Jwk,
    /// RFC 7638 thumbprint of `key`.
    pub thumbprint: String,
    /// When it was created.
    pub created: i64,
    /// The EAB key id that bound it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
}

/// An identifier (§9.7.7): `dns` or `ip` (RFC 8738).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    /// `dns` or `ip`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name or address.
    pub value: String,
}

/// A challenge (§8), kept inside its authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Its id, unique within the authorization.
    pub id: String,
    /// `http-01`, `dns-01` or `tls-alpn-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `processing`, `valid` or `invalid`.
    pub status: String,
    /// The token (base64url of 32 random bytes).
    pub token: String,
    /// When it was validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<i64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// An authorization (§7.1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authz {
    /// Its id.
    pub id: String,
    /// The owning account.
    pub account: String,
    /// The identifier, without the `*.` of a wildcard.
    pub identifier: Identifier,
    /// `pending`, `valid`, `invalid`, `deactivated`, `expired` or `revoked`.
    pub status: String,
    /// Expiry.
    pub expires: i64,
    /// Whether the order asked for `*.` + identifier.
    #[serde(default)]
    pub wildcard: bool,
    /// The challenges offered.
    pub challenges: Vec<Challenge>,
}

/// An order (§7.1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: String,
    /// The owning account.
    pub account: String,
    /// The provisioner.
    pub provisioner: String,
    /// `pending`, `ready`, `processing`, `valid` or `invalid`.
    pub status: String,
    /// Expiry.
    pub expires: i64,
    /// What the certificate will name.
    pub identifiers: Vec<Identifier>,
    /// Requested validity, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// Requested validity, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// The authorization ids, one per identifier.
    pub authorizations: Vec<String>,
    /// The certificate id once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Why it is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// The serial (decimal) of the certificate this order renews (ARI `replaces`, as the client sent it in
    /// `replaces_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// The `replaces` value as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_id: Option<String>,
    /// The certificate profile chosen in newOrder (draft-ietf-acme-profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The provisioner's ACME profiles (`options.profiles` in its ca.json entry): name -> `{"description", "claims"}`.
pub fn profiles(provisioner: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, serde_json::Value)> {
    provisioner
        .get("options")
        .and_then(|o| o.get("profiles"))
        .and_then(serde_json::Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The provisioner entry as a profile sees it: the profile's claims over the provisioner's, so that the one
/// validity rule applies them. `None` (no profile asked): the provisioner as it is.
pub fn with_profile(
    provisioner: &serde_json::Map<String, serde_json::Value>,
    profile: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
    let Some(name) = profile else {
        return Ok(provisioner.clone());
    };
    let all = profiles(provisioner);
    let Some((_, p)) = all.iter().find(|(n, _)| n == name) else {
        let known: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Problem::new(
            "invalidProfile",
            400,
            format!("no profile {name:?} (this provisioner offers {known:?})"),
        ));
    };
    let mut merged = provisioner.clone();
    let mut claims = merged
        .get("claims")
        .and_then(serde_json::Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(pc) = p.get("claims").and_then(serde_json::Value::as_object) {
        for (k, v) in pc {
            claims.insert(k.clone(), v.clone());
        }
    }
    merged.insert("claims".into(), serde_json::Value::Object(claims));
    Ok(merged)
}

/// An issued certificate as the ACME client downloads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedChain {
    /// Its id (the download URL's last segment).
    pub id: String,
    /// The owning account.
    pub account: String,
    /// The serial, decimal.
    pub serial: String,
    /// Leaf and intermediate, PEM.
    pub pem: String,
    /// The order whose certificate replaced this one (ARI), once finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// An ARI certificate identifier (RFC 9773 §4.1): `base64url(keyIdentifier).base64url(serial octets)`.
pub fn parse_cert_id(id: &str) -> Result<(Vec<u8>, Vec<u8>), Problem> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (aki, serial) = id
        .split_once('.')
        .ok_or_else(|| Problem::malformed(format!("{id:?} is not keyIdentifier.serial")))?;
    let dec = |s: &str, what: &str| {
        b64.decode(s.trim_end_matches('='))
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Problem::malformed(format!("the certificate identifier's {what} is not base64url")))
    };
    Ok((dec(aki, "keyIdentifier")?, dec(serial, "serial")?))
}

/// The ARI suggested renewal window (RFC 9773 §4.2) of a certificate valid from `not_before` to `not_after`:
/// the start of its last third to the middle of it, so that clients renew well before expiry; for a revoked
/// certificate, a window that has already begun (renew now).
pub fn suggested_window(not_before: i64, not_after: i64, revoked_at: Option<i64>, now: i64) -> (i64, i64) {
    if revoked_at.is_some() {
        return (now - 60, now);
    }
    let life = (not_after - not_before).max(0);
    (not_before + life * 2 / 3, not_before + life * 5 / 6)
}

/// Checks and normalises the identifiers of a newOrder: `dns` (valid syntax, lowercased, a wildcard only as
/// `*.name`) or `ip` (an address, in its canonical text form); at least one, at most 100, no duplicates.
pub fn check_identifiers(ids: &[Identifier]) -> Result<Vec<Identifier>, Problem> {
    if ids.is_empty() {
        return Err(Problem::malformed("the order has no identifiers"));
    }
    if ids.len() > 100 {
        return Err(Problem::rejected_identifier("at most 100 identifiers per order"));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(ids.len());
    let mut bad = Vec::new();
    for id in ids {
        let norm = match id.kind.as_str() {
            "dns" => {
                let v = id.value.to_ascii_lowercase();
                crate::pki::names::check_dns(&v, true).map(|()| Identifier {
                    kind: "dns".into(),
                    value: v,
                })
            }
            "ip" => id
                .value
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .map(|ip| Identifier {
                    kind: "ip".into(),
                    value: ip.to_string(),
                })
                .map_err(|_| "not an IP address".to_string()),
            other => Err(format!("identifier type {other:?} is not supported (dns, ip)")),
        };
        match norm {
            Ok(n) if !out.contains(&n) => out.push(n),
            Ok(_) => {}
            Err(e) => bad.push(Problem::rejected_identifier(format!("{:?}: {e}", id.value)).about(id)),
        }
    }
    if !bad.is_empty() {
        let mut p = Problem::rejected_identifier(format!("{} identifier(s) refused", bad.len()));
        p.subproblems = bad;
        return Err(p);
    }
    out.sort();
    Ok(out)
}

/// The challenge types offered for an identifier, from the provisioner's `challenges` (empty: all): a wildcard only
/// by dns-01, an IP address not by dns-01.
pub fn challenge_types(id: &Identifier, wildcard: bool, enabled: &[String]) -> Vec<&'static str> {
    let on = |t: &str| enabled.is_empty() || enabled.iter().any(|e| e.eq_ignore_ascii_case(t));
    let mut out = Vec::new();
    if !wildcard && on("http-01") {
        out.push("http-01");
    }
    if id.kind == "dns" && on("dns-01") {
        out.push("dns-01");
    }
    if !wildcard && on("tls-alpn-01") {
        out.push("tls-alpn-01");
    }
    out
}

/// The authorization's identifier for an order identifier: `*.x` is authorized as `x` with `wildcard`.
pub fn authz_identifier(id: &Identifier) -> (Identifier, bool) {
    match id.value.strip_prefix("*.") {
        Some(base) if id.kind == "dns" => (
            Identifier {
                kind: "dns".into(),
                value: base.to_string(),
            },
            true,
        ),
        _ => (id.clone(), false),
    }
}

impl Authz {
    /// The status as of `now`: a pending or valid authorization past its expiry is `expired`.
    pub fn current_status(&self, now: i64) -> &str {
        if matches!(self.status.as_str(), "pending" | "valid") && now > self.expires {
            "expired"
        } else {
            &self.status
        }
    }
}

impl Authz {
    /// Whether a purge at `now` may remove it: expired more than `retention` seconds ago.
    pub fn purgeable(&self, now: i64, retention: i64) -> bool {
        self.expires.saturating_add(retention) < now
    }
}

impl Order {
    /// Whether a purge at `now` may remove it: never issued, and expired more than `retention` seconds ago.
    pub fn purgeable(&self, now: i64, retention: i64) -> bool {
        self.status != "valid" && self.expires.saturating_add(retention) < now
    }

    /// The order's status from its authorizations (§7.1.6): `pending` while any is pending; `invalid` as soon as
    /// one is invalid, deactivated, expired or revoked (fail fast: clients stop polling); `ready` when all are valid.
    /// An order past its expiry that was not yet issued is `invalid`. Later states (`processing`, `valid`) stay.
    pub fn refresh(&mut self, authzs: &[Authz], now: i64) {
        if matches!(self.status.as_str(), "processing" | "valid" | "invalid") {
            return;
        }
        if now > self.expires {
            self.status = "invalid".into();
            self.error = Some(Problem::malformed("the order expired"));
            return;
        }
        if let Some(bad) = authzs
            .iter()
            .find(|a| !matches!(a.current_status(now), "pending" | "valid"))
        {
            self.status = "invalid".into();
            let mut p = bad.challenges.iter().find_map(|c| c.error.clone()).unwrap_or_else(|| {
                Problem::unauthorized(format!(
                    "authorization for {} is {}",
                    bad.identifier.value,
                    bad.current_status(now)
                ))
            });
            p.identifier = Some(Box::new(bad.identifier.clone()));
            self.error = Some(p);
            return;
        }
        if authzs.iter().all(|a| a.current_status(now) == "valid") {
            self.status = "ready".into();
        }
    }
}

/// The key authorization of a challenge token (§8.1): `token.thumbprint`.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// The dns-01 TXT value (§8.4): base64url(SHA-256(key authorization)).
pub fn dns01_txt(key_auth: &str) -> String {
    use base64::Engine;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_auth.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// The finalize CSR must name exactly the order's identifiers: its DNS and IP SANs, plus its CN (which must be
/// one of them), equal the identifiers as a set.
pub fn check_csr_names(order: &[Identifier], cn: Option<&str>, sans: &[crate::pki::issue::San]) -> Result<(), Problem> {
    use crate::pki::issue::San;
    let mut named: Vec<Identifier> = Vec::new();
    for s in sans {
        let id = match s {
            San::Dns(d) => Identifier {
                kind: "dns".into(),
                value: d.to_ascii_lowercase(),
            },
            San::Ip(ip) => Identifier {
                kind: "ip".into(),
                value: ip.to_string(),
            },
            other => {
                return Err(Problem::bad_csr(format!(
                    "the CSR names {other:?}, which the order does not"
                )));
            }
        };
        if !named.contains(&id) {
            named.push(id);
        }
    }
    if let Some(cn) = cn.filter(|c| !c.is_empty()) {
        let id = match cn.parse::<std::net::IpAddr>() {
            Ok(ip) => Identifier {
                kind: "ip".into(),
                value: ip.to_string(),
            },
            Err(_) => Identifier {
                kind: "dns".into(),
                value: cn.to_ascii_lowercase(),
            },
        };
        if !order.contains(&id) {
            return Err(Problem::bad_csr(format!(
                "the CSR's common name {cn:?} is not one of the order's identifiers"
            )));
        }
        if !named.contains(&id) {
            named.push(id);
        }
    }
    named.sort();
    let mut want = order.to_vec();
    want.sort();
    if named != want {
        let show = |v: &[Identifier]| v.iter().map(|i| i.value.as_str()).collect::<Vec<_>>().join(", ");
        return Err(Problem::bad_csr(format!(
            "the CSR names [{}] but the order is for [{}]",
            show(&named),
            show(&want)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::issue::San;

    fn dns(v: &str) -> Identifier {
        Identifier {
            kind: "dns".into(),
            value: v.into(),
        }
    }

    #[test]
    fn identifiers_are_normalised_and_checked() {
        let ok = check_identifiers(&[dns("B.lab.test"), dns("a.lab.test"), dns("b.lab.test")]).unwrap();
        assert_eq!(ok, vec![dns("a.lab.test"), dns("b.lab.test")]);
        let ip = check_identifiers(&[Identifier {
            kind: "ip".into(),
            value: "::0001".into(),
        }])
        .unwrap();
        assert_eq!(ip[0].value, "::1");
        let err = check_identifiers(&[dns("bad_name..com"), dns("ok.test")]).unwrap_err();
        assert!(err.kind.ends_with("rejectedIdentifier"));
        assert_eq!(err.subproblems.len(), 1);
        assert_eq!(err.subproblems[0].identifier.as_ref().unwrap().value, "bad_name..com");
        assert!(check_identifiers(&[]).is_err());
        assert!(
            check_identifiers(&[Identifier {
                kind: "email".into(),
                value: "a@b".into()
            }])
            .is_err()
        );
    }

    #[test]
    fn wildcards_are_dns01_only_and_ips_never_dns01() {
        let (base, wild) = authz_identifier(&dns("*.lab.test"));
        assert_eq!((base.value.as_str(), wild), ("lab.test", true));
        assert_eq!(challenge_types(&base, true, &[]), vec!["dns-01"]);
        assert_eq!(
            challenge_types(&base, false, &[]),
            vec!["http-01", "dns-01", "tls-alpn-01"]
        );
        let ip = Identifier {
            kind: "ip".into(),
            value: "10.0.0.1".into(),
        };
        assert_eq!(
            challenge_types(&ip, false, &["HTTP-01".into(), "dns-01".into()]),
            vec!["http-01"]
        );
    }

    fn authz(status: &str, expires: i64) -> Authz {
        Authz {
            id: "a".into(),
            account: "acct".into(),
            identifier: dns("a.lab.test"),
            status: status.into(),
            expires,
            wildcard: false,
            challenges: vec![],
        }
    }

    #[test]
    fn an_order_follows_its_authorizations_and_fails_fast() {
        let mut o = Order {
            id: "o".into(),
            account: "acct".into(),
            provisioner: "acme".into(),
            status: "pending".into(),
            expires: 100,
            identifiers: vec![dns("a.lab.test")],
            not_before: None,
            not_after: None,
            authorizations: vec!["a".into(), "b".into()],
            certificate: None,
            error: None,
            replaces: None,
            replaces_id: None,
            profile: None,
        };
        o.refresh(&[authz("valid", 100), authz("pending", 100)], 10);
        assert_eq!(o.status, "pending");
        o.refresh(&[authz("valid", 100), authz("valid", 100)], 10);
        assert_eq!(o.status, "ready");
        let mut failed = Order {
            status: "pending".into(),
            ..o.clone()
        };
        failed.refresh(&[authz("invalid", 100), authz("pending", 100)], 10);
        assert_eq!(failed.status, "invalid");
        assert!(failed.error.is_some());
        let mut late = Order {
            status: "pending".into(),
            ..o.clone()
        };
        late.refresh(&[authz("pending", 100)], 101);
        assert_eq!(late.status, "invalid");
        // Purging: unfinished orders and authorizations once past expiry plus retention; issued orders never.
        assert!(!late.purgeable(150, 100) && late.purgeable(201, 100));
        let issued = Order {
            status: "valid".into(),
            ..late.clone()
        };
        assert!(!issued.purgeable(10_000, 100));
        assert!(authz("valid", 100).purgeable(201, 100) && !authz("pending", 100).purgeable(200, 100));
    }

    #[test]
    fn the_csr_must_name_exactly_the_order() {
        let order = vec![dns("a.lab.test"), dns("b.lab.test")];
        let sans = [San::Dns("a.lab.test".into()), San::Dns("B.lab.test".into())];
        check_csr_names(&order, Some("a.lab.test"), &sans).unwrap();
        check_csr_names(&order, None, &sans).unwrap();
        assert!(check_csr_names(&order, None, &sans[..1]).is_err());
        assert!(check_csr_names(&order, Some("evil.test"), &sans).is_err());
        let extra = [sans[0].clone(), sans[1].clone(), San::Dns("c.lab.test".into())];
        assert!(check_csr_names(&order, None, &extra).is_err());
        assert!(check_csr_names(&order, None, &[sans[0].clone(), San::Email("x@lab.test".into())]).is_err());
    }

    #[test]
    fn ari_identifiers_and_windows() {
        // RFC 9773 §4.1's example.
        let (aki, serial) = parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(hex::encode(aki), "69885b6b87464041e1b37b847ba0ae2cde01c8d4");
        assert_eq!(hex::encode(serial), "0087654321");
        assert!(parse_cert_id("nodot").is_err());
        assert!(parse_cert_id("a.!!").is_err());
        assert_eq!(suggested_window(0, 90, None, 10), (60, 75));
        assert_eq!(suggested_window(0, 90, Some(5), 10), (-50, 10));
    }

    #[test]
    fn profiles_overlay_the_provisioners_claims() {
        let prov = serde_json::json!({"claims": {"maxTLSCertDuration": "720h", "minTLSCertDuration": "1h"},
            "options": {"profiles": {"short": {"description": "7 days", "claims": {"maxTLSCertDuration": "168h", "defaultTLSCertDuration": "168h"}}}}});
        let prov = prov.as_object().unwrap();
        assert_eq!(profiles(prov).len(), 1);
        let m = with_profile(prov, Some("short")).unwrap();
        assert_eq!(m["claims"]["maxTLSCertDuration"], "168h");
        assert_eq!(m["claims"]["minTLSCertDuration"], "1h");
        assert_eq!(with_profile(prov, None).unwrap(), *prov);
        let e = with_profile(prov, Some("long")).unwrap_err();
        assert!(e.kind.ends_with("invalidProfile") && e.detail.contains("short"), "{e}");
    }

    #[test]
    fn key_authorizations() {
        // RFC 8555 §8.4's example digest input shape: token.thumbprint, then base64url(SHA-256).
        let ka = key_authorization(
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ",
        );
        assert_eq!(dns01_txt(&ka).len(), 43);
    }
}
