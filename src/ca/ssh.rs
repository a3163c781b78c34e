//! The SSH rules of the authority, shared by `/ssh/sign` and `ssh certificate --offline`: whether a provisioner may
//! sign SSH certificates (`enableSSHCA`), step-ca's SSH lifetime claims (user 5m/24h/16h, host 5m/720h/720h), and
//! the provisioner's SSH name policy (`policy.ssh.user` principals and emails, `policy.ssh.host` DNS names and
//! principals). No clock, files or network: the caller passes `now`.

use serde_json::{Map, Value};
use ssh_key::certificate::CertType;

use super::authorize::{AuthError, BACKDATE, claim};
use super::config::CaConfig;
use crate::pki::validity::parse_duration;

/// `user` or `host`, as step's JSON names them.
pub fn cert_type_name(t: CertType) -> &'static str {
    match t {
        CertType::User => "user",
        CertType::Host => "host",
    }
}

/// Reads step's `certType` (`user`, `host`; any case).
pub fn parse_cert_type(s: &str) -> Result<CertType, AuthError> {
    match s.to_ascii_lowercase().as_str() {
        "user" => Ok(CertType::User),
        "host" => Ok(CertType::Host),
        other => Err(AuthError::BadRequest(format!(
            "certType {other:?} is neither \"user\" nor \"host\""
        ))),
    }
}

/// Refused unless the provisioner (or `authority.claims`) has `enableSSHCA`, and the CA has the key for `t`.
pub fn check_enabled(entry: &Map<String, Value>, config: &CaConfig, t: CertType) -> Result<(), AuthError> {
    let name = entry.get("name").and_then(Value::as_str).unwrap_or_default();
    if !claim(Some(entry), config, "enableSSHCA")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Err(AuthError::Unauthorized(format!(
            "provisioner {name:?} does not sign SSH certificates (its claims lack enableSSHCA)"
        )));
    }
    let key = match t {
        CertType::User => "userKey",
        CertType::Host => "hostKey",
    };
    if config.extra.get("ssh").and_then(|s| s.get(key)).is_none() {
        return Err(AuthError::NotImplemented(format!(
            "the CA has no SSH {} key (ca.json's ssh.{key}; `ferrica ca init --ssh` makes one)",
            cert_type_name(t)
        )));
    }
    Ok(())
}

/// The provisioner's SSH lifetime claims for `t`: (min, max, default).
pub fn durations(
    entry: Option<&Map<String, Value>>,
    config: &CaConfig,
    t: CertType,
) -> Result<(time::Duration, time::Duration, time::Duration), AuthError> {
    let (kind, default_default, default_max) = match t {
        CertType::User => ("User", "16h", "24h"),
        CertType::Host => ("Host", "720h", "720h"),
    };
    let get = |k: String, dflt: &str| -> Result<time::Duration, AuthError> {
        let v = claim(entry, config, &k).and_then(Value::as_str).unwrap_or(dflt);
        parse_duration(v).map_err(|e| AuthError::Internal(format!("provisioner claim {k}: {e}")))
    };
    Ok((
        get(format!("min{kind}SSHCertDuration"), "5m")?,
        get(format!("max{kind}SSHCertDuration"), default_max)?,
        get(format!("default{kind}SSHCertDuration"), default_default)?,
    ))
}

/// The certificate's validity in unix seconds: the request's window (or now minus the backdate, plus the default
/// lifetime), whole within the claims as for X.509 (`authorize::validity_window`): the maximum plus the backdate,
/// not in the past, not empty.
pub fn window(
    entry: Option<&Map<String, Value>>,
    config: &CaConfig,
    t: CertType,
    valid_after: Option<i64>,
    valid_before: Option<i64>,
    now: i64,
) -> Result<(u64, u64), AuthError> {
    let (min, max, default) = durations(entry, config, t)?;
    let backdate = BACKDATE.whole_seconds();
    let after = valid_after.unwrap_or(now - backdate);
    let before = valid_before.unwrap_or(after.max(now) + default.whole_seconds());
    if before <= now {
        return Err(AuthError::BadRequest("validBefore is in the past".into()));
    }
    if before <= after {
        return Err(AuthError::BadRequest("validBefore is not after validAfter".into()));
    }
    if after < 0 {
        return Err(AuthError::BadRequest("validAfter is before 1970".into()));
    }
    let d = before - after;
    if d < min.whole_seconds() {
        return Err(AuthError::Forbidden(format!(
            "requested SSH certificate duration of {d} s is less than the provisioner's minimum of {} s",
            min.whole_seconds()
        )));
    }
    if d > max.whole_seconds() + backdate {
        return Err(AuthError::Forbidden(format!(
            "requested SSH certificate duration of {d} s is more than the provisioner's maximum of {} s",
            max.whole_seconds() + backdate
        )));
    }
    Ok((after as u64, before as u64))
}

/// The provisioner's SSH name policy: for user certificates the principals (and, for those that are email
/// addresses, the email lists), for host certificates the DNS names and principals. Deny wins; with any allow
/// list of the certificate's type, each principal must match one.
pub fn check_policy(entry: &Map<String, Value>, t: CertType, principals: &[String]) -> Result<(), AuthError> {
    let Some(policy) = entry
        .get("policy")
        .and_then(|p| p.get("ssh"))
        .and_then(|s| s.get(cert_type_name(t)))
    else {
        return Ok(());
    };
    let name = entry.get("name").and_then(Value::as_str).unwrap_or_default();
    let list = |side: &str, kind: &str| -> Vec<String> {
        policy
            .get(side)
            .and_then(|s| s.get(kind))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    };
    let kinds: &[&str] = match t {
        CertType::User => &["principal", "email"],
        CertType::Host => &["dns", "principal"],
    };
    let applies = |kind: &str, p: &str| match kind {
        "email" => p.contains('@'),
        "dns" => p.contains('.'),
        _ => true,
    };
    let matches = |kind: &str, pattern: &str, p: &str| match kind {
        "email" => pattern
            .strip_prefix('@')
            .map_or(pattern == p, |domain| p.ends_with(&format!("@{domain}"))),
        "dns" => {
            if let Some(suffix) = pattern.strip_prefix("*.") {
                p.strip_suffix(suffix)
                    .and_then(|l| l.strip_suffix('.'))
                    .is_some_and(|l| !l.contains('.'))
            } else if pattern.starts_with('.') {
                p.ends_with(pattern)
            } else {
                pattern == p
            }
        }
        _ => pattern == "*" || pattern == p,
    };
    let any_allow = kinds.iter().any(|k| !list("allow", k).is_empty());
    for principal in principals {
        let p = principal.to_ascii_lowercase();
        let relevant: Vec<&&str> = kinds.iter().filter(|k| applies(k, &p)).collect();
        if relevant
            .iter()
            .any(|k| list("deny", k).iter().any(|pat| matches(k, pat, &p)))
        {
            return Err(AuthError::Forbidden(format!(
                "principal {principal:?} is denied by provisioner {name:?}"
            )));
        }
        if any_allow
            && !relevant
                .iter()
                .any(|k| list("allow", k).iter().any(|pat| matches(k, pat, &p)))
        {
            return Err(AuthError::Forbidden(format!(
                "principal {principal:?} is not allowed by provisioner {name:?}"
            )));
        }
    }
    Ok(())
}

/// step's default principals for a JWK token without any: the subject, and for a user whose subject is an email
/// also its local part (first).
pub fn default_principals(t: CertType, subject: &str) -> Vec<String> {
    match (t, subject.split_once('@')) {
        (CertType::User, Some((local, _))) if !local.is_empty() => vec![local.to_string(), subject.to_string()],
        _ => vec![subject.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> CaConfig {
        CaConfig::from_json(
            br#"{"root":"r","crt":"c","key":"k","address":":1","dnsNames":["x"],
            "ssh":{"userKey":"u","hostKey":"h"},"authority":{"provisioners":[]}}"#,
        )
        .unwrap()
    }

    fn entry(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ssh_needs_enable_ssh_ca_and_a_key() {
        let c = config();
        assert!(check_enabled(&entry(json!({"name": "p"})), &c, CertType::User).is_err());
        let on = entry(json!({"name": "p", "claims": {"enableSSHCA": true}}));
        assert!(check_enabled(&on, &c, CertType::Host).is_ok());
        let no_keys = CaConfig::from_json(
            br#"{"root":"r","crt":"c","key":"k","address":":1","dnsNames":["x"],
            "authority":{"provisioners":[]}}"#,
        )
        .unwrap();
        assert_eq!(check_enabled(&on, &no_keys, CertType::User).unwrap_err().status(), 501);
    }

    #[test]
    fn windows_follow_steps_defaults_and_claims() {
        let c = config();
        let now = 1_000_000;
        // Backdated by a minute; the default lifetime counts from now, as for X.509.
        assert_eq!(
            window(None, &c, CertType::User, None, None, now).unwrap(),
            (now as u64 - 60, now as u64 + 16 * 3600)
        );
        assert_eq!(
            window(None, &c, CertType::Host, None, None, now).unwrap().1,
            now as u64 + 720 * 3600
        );
        // A backdated start cannot stretch the certificate past the maximum.
        assert!(window(None, &c, CertType::User, Some(now - 48 * 3600), Some(now + 3600), now).is_err());
        assert!(window(None, &c, CertType::User, None, Some(now + 25 * 3600), now).is_err());
        assert!(
            window(None, &c, CertType::User, None, Some(now + 60), now).is_err(),
            "under the 5 minute minimum"
        );
        assert!(window(None, &c, CertType::User, None, Some(now - 1), now).is_err());
        let long = entry(json!({"claims": {"maxUserSSHCertDuration": "48h"}}));
        assert!(window(Some(&long), &c, CertType::User, None, Some(now + 40 * 3600), now).is_ok());
    }

    #[test]
    fn the_ssh_name_policy_allows_and_denies_by_type() {
        let e = entry(json!({"name": "p", "policy": {"ssh": {
            "user": {"allow": {"principal": ["alice", "bob"], "email": ["@lab.test"]}, "deny": {"principal": ["root"]}},
            "host": {"allow": {"dns": ["*.lab.test"]}}
        }}}));
        assert!(check_policy(&e, CertType::User, &["alice".into(), "alice@lab.test".into()]).is_ok());
        assert!(check_policy(&e, CertType::User, &["root".into()]).is_err());
        assert!(check_policy(&e, CertType::User, &["carol".into()]).is_err());
        assert!(check_policy(&e, CertType::User, &["carol@other.test".into()]).is_err());
        assert!(check_policy(&e, CertType::Host, &["web.lab.test".into()]).is_ok());
        assert!(check_policy(&e, CertType::Host, &["web.other.test".into()]).is_err());
        assert!(check_policy(&entry(json!({})), CertType::Host, &["anything".into()]).is_ok());
    }

    #[test]
    fn default_principals_are_steps() {
        assert_eq!(
            default_principals(CertType::User, "alice@lab.test"),
            ["alice", "alice@lab.test"]
        );
        assert_eq!(default_principals(CertType::Host, "web.lab.test"), ["web.lab.test"]);
    }
}
