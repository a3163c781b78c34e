//! Syntax of the names a certificate carries: DNS names (RFC 1034 §3.5 as RFC 5280 §4.2.1.6 requires, with a
//! whole-label wildcard on the left), email addresses (RFC 5280's rfc822Name: `local@domain`), URIs (RFC 3986's
//! scheme and no spaces), and the common name's upper bound (RFC 5280's ub-common-name, 64 characters).
//!
//! The same checks guard every way a name enters (flags, CSRs, tokens, policy entries) and `certificate lint`
//! reports them in certificates made elsewhere. Each returns the reason a value is refused.

/// RFC 5280 Appendix A: ub-common-name.
pub const MAX_COMMON_NAME: usize = 64;

/// A DNS name as a SAN: labels of letters, digits and inner hyphens, 1-63 octets, 253 in all, no empty label, no
/// trailing dot. With `wildcard`, `*` may be the whole leftmost label when a domain follows (`*.lab` too: private
/// zones have short names).
pub fn check_dns(name: &str, wildcard: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty DNS name".into());
    }
    if name.len() > 253 {
        return Err(format!("{} octets, at most 253", name.len()));
    }
    if name.ends_with('.') {
        return Err("ends with a dot".into());
    }
    let mut labels = name.split('.').peekable();
    let mut first = true;
    let mut count = 0;
    while let Some(label) = labels.next() {
        count += 1;
        if label == "*" && first {
            if !wildcard {
                return Err("a wildcard is not allowed here".into());
            }
            if labels.peek().is_none() {
                return Err("a wildcard needs a domain after it".into());
            }
            first = false;
            continue;
        }
        first = false;
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} has {} octets, at most 63", label.len()));
        }
        if label.contains('*') {
            return Err("a wildcard must be the whole leftmost label (*.example.com)".into());
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!(
                "{c:?} is not allowed in a DNS name (letters, digits and hyphens; IDNs as xn--)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with a hyphen"));
        }
    }
    if count == 0 {
        return Err("empty DNS name".into());
    }
    Ok(())
}

/// An rfc822Name: a non-empty local part of printable ASCII without spaces, `@`, and a DNS domain.
pub fn check_email(addr: &str) -> Result<(), String> {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err("has no @".into());
    };
    if local.is_empty() {
        return Err("has an empty local part".into());
    }
    if let Some(c) = local.chars().find(|c| !c.is_ascii_graphic() || *c == '@') {
        return Err(format!("{c:?} is not allowed in the local part"));
    }
    check_dns(domain, false).map_err(|e| format!("domain {domain:?}: {e}"))
}

/// A URI: a scheme (a letter, then letters, digits, `+`, `-`, `.`), `:`, something after it, and no whitespace or
/// control characters.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("has no scheme".into());
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(format!("{scheme:?} is not a URI scheme"));
    }
    if rest.is_empty() || rest == "//" {
        return Err("has nothing after the scheme".into());
    }
    if let Some(c) = uri.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{c:?} is not allowed in a URI"));
    }
    Ok(())
}

/// A common name: not over [`MAX_COMMON_NAME`] characters.
pub fn check_common_name(cn: &str) -> Result<(), String> {
    let n = cn.chars().count();
    if n > MAX_COMMON_NAME {
        return Err(format!(
            "the common name has {n} characters; RFC 5280 allows at most {MAX_COMMON_NAME}"
        ));
    }
    Ok(())
}

/// A DNS entry of a name policy or name constraint: `example.com`, `*.example.com` (one label below) or
/// `.example.com` (any depth below).
pub fn check_dns_pattern(pattern: &str) -> Result<(), String> {
    let base = pattern.strip_prefix('.').unwrap_or(pattern);
    check_dns(base, true)
}

/// An email entry of a name policy: an address, or `@domain` / `domain` for a whole domain.
pub fn check_email_pattern(pattern: &str) -> Result<(), String> {
    match pattern.strip_prefix('@') {
        Some(domain) => check_dns(domain.strip_prefix('.').unwrap_or(domain), false),
        None if pattern.contains('@') => check_email(pattern),
        None => check_dns(pattern.strip_prefix('.').unwrap_or(pattern), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_the_preferred_name_syntax() {
        for ok in [
            "svc",
            "svc.lab.test",
            "a-b.test",
            "xn--bcher-kva.example",
            "10-0-0-1.lab",
        ] {
            check_dns(ok, false).unwrap();
        }
        check_dns("*.lab.test", true).unwrap();
        check_dns("*.lab", true).unwrap();
        for bad in [
            "",
            "bad_name..com",
            "bad_name.com",
            "a..b",
            ".a",
            "a.",
            "*.*.x",
            "**",
            "*.",
            "a b",
            "a,b=c+d",
            "-a.test",
            "a-.test",
            "a*.test",
            "*",
        ] {
            assert!(check_dns(bad, true).is_err(), "{bad:?} should be refused");
        }
        assert!(check_dns("*.lab.test", false).is_err());
        assert!(check_dns(&"a".repeat(64), false).is_err());
        assert!(check_dns(&["a"; 128].join("."), false).is_err());
    }

    #[test]
    fn emails_uris_and_common_names() {
        check_email("user@lab.test").unwrap();
        for bad in ["user@", "@lab.test", "user", "a b@lab.test", "user@bad_domain"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        check_uri("spiffe://lab.test/svc").unwrap();
        check_uri("urn:uuid:1234").unwrap();
        for bad in ["nope", "1http://x", "https://", "https://a b", "http:"] {
            assert!(check_uri(bad).is_err(), "{bad:?}");
        }
        check_common_name(&"c".repeat(64)).unwrap();
        assert!(check_common_name(&"c".repeat(65)).is_err());
        check_dns_pattern(".lab.test").unwrap();
        check_dns_pattern("*.lab.test").unwrap();
        assert!(check_dns_pattern("**").is_err());
        check_email_pattern("@lab.test").unwrap();
        assert!(check_email_pattern("@").is_err());
    }
}
