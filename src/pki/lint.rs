//! `certificate lint`: our own checks of RFC 5280 and CA/Browser Forum Baseline Requirements basics.
//!
//! Each finding has a severity, a stable code and a message. Everything ferrica issues must lint with no error and
//! no warning (a test asserts it for every profile).

use serde::Serialize;
use x509_parser::prelude::*;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Notice,
    /// Likely a problem for some clients or policies.
    Warning,
    /// Violates RFC 5280 or a baseline requirement.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// A stable code, e.g. `e_serial_not_positive`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Lints a certificate (DER).
pub fn lint(der: &[u8]) -> Result<Vec<Finding>, String> {
    let (rest, c) = X509Certificate::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    let mut f = Vec::new();
    let mut add = |severity, code, message: String| {
        f.push(Finding {
            severity,
            code,
            message,
        })
    };
    use Severity::*;
    if !rest.is_empty() {
        add(Error, "e_trailing_data", "bytes follow the certificate".into());
    }

    // Serial number (RFC 5280 §4.1.2.2, BR 7.1).
    let serial = c.raw_serial();
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        add(Error, "e_serial_not_positive", "the serial number is negative".into());
    }
    if serial.iter().all(|b| *b == 0) {
        add(Error, "e_serial_zero", "the serial number is zero".into());
    }
    if serial.len() > 20 {
        add(
            Error,
            "e_serial_too_long",
            format!("the serial number has {} octets (at most 20)", serial.len()),
        );
    }
    let significant = serial.iter().skip_while(|b| **b == 0).count();
    if significant < 8 {
        add(
            Warning,
            "w_serial_low_entropy",
            format!("the serial number has {significant} octets; use at least 64 random bits"),
        );
    }

    // Version and validity.
    if c.version() != X509Version::V3 {
        add(
            Error,
            "e_not_v3",
            format!("version {} (extensions need v3)", c.version().0 + 1),
        );
    }
    let nb = c.validity().not_before.to_datetime();
    let na = c.validity().not_after.to_datetime();
    if nb >= na {
        add(Error, "e_validity_order", "notBefore is not before notAfter".into());
    }

    // Signature algorithm.
    match c.signature_algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.4" | "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => {
            add(Error, "e_weak_signature_hash", "signed with MD5 or SHA-1".into())
        }
        _ => {}
    }

    // Key size.
    match c.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) if k.key_size() < 2048 => add(
            Error,
            "e_rsa_key_too_small",
            format!("RSA key of {} bits (at least 2048)", k.key_size()),
        ),
        Ok(x509_parser::public_key::PublicKey::RSA(k)) if k.key_size() % 8 != 0 => add(
            Warning,
            "w_rsa_odd_size",
            format!("RSA modulus of {} bits is not a multiple of 8", k.key_size()),
        ),
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            let curve = c
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if !matches!(
                curve.as_deref(),
                Some("1.2.840.10045.3.1.7" | "1.3.132.0.34" | "1.3.132.0.35")
            ) {
                add(
                    Error,
                    "e_ec_curve_not_allowed",
                    format!("EC curve {curve:?} is not P-256, P-384 or P-521"),
                );
            }
        }
        _ => {}
    }

    let bc = c.basic_constraints().ok().flatten();
    let ku = c.key_usage().ok().flatten();
    let eku = c.extended_key_usage().ok().flatten();
    let san = c.subject_alternative_name().ok().flatten();
    let is_ca = bc.as_ref().is_some_and(|b| b.value.ca);
    let self_issued = c.subject().as_raw() == c.issuer().as_raw();
    let ski = c
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .ok()
        .flatten();
    let aki = c
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
        .ok()
        .flatten();

    for ext in c.extensions() {
        if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
            add(
                Error,
                "e_ext_malformed",
                format!("extension {} does not parse: {error}", ext.oid.to_id_string()),
            );
        }
        if ext.critical && ext.parsed_extension().unsupported() {
            add(
                Warning,
                "w_unknown_critical_ext",
                format!(
                    "critical extension {} is unknown to most clients",
                    ext.oid.to_id_string()
                ),
            );
        }
    }
    if c.extensions().len() != c.extensions_map().map(|m| m.len()).unwrap_or(0) {
        add(
            Error,
            "e_duplicate_extension",
            "an extension appears more than once".into(),
        );
    }

    if is_ca {
        let b = bc.as_ref().expect("is_ca");
        if !b.critical {
            add(
                Error,
                "e_ca_basic_constraints_not_critical",
                "a CA's basicConstraints must be critical".into(),
            );
        }
        match &ku {
            None => add(
                Error,
                "e_ca_key_usage_missing",
                "a CA certificate has no keyUsage".into(),
            ),
            Some(k) => {
                if !k.value.key_cert_sign() {
                    add(
                        Error,
                        "e_ca_key_cert_sign_missing",
                        "a CA's keyUsage lacks keyCertSign".into(),
                    );
                }
                if !k.critical {
                    add(
                        Error,
                        "e_ca_key_usage_not_critical",
                        "a CA's keyUsage must be critical".into(),
                    );
                }
            }
        }
        if ski.is_none() {
            add(
                Error,
                "e_ca_ski_missing",
                "a CA certificate has no subjectKeyIdentifier".into(),
            );
        }
        if c.subject().iter().next().is_none() {
            add(
                Error,
                "e_ca_subject_empty",
                "a CA certificate has an empty subject".into(),
            );
        }
    } else {
        if let Some(b) = &bc
            && b.value.path_len_constraint.is_some()
        {
            add(Error, "e_path_len_without_ca", "pathLenConstraint without cA".into());
        }
        if ku.as_ref().is_some_and(|k| k.value.key_cert_sign()) {
            add(
                Error,
                "e_leaf_key_cert_sign",
                "a non-CA certificate has keyCertSign".into(),
            );
        }
        let tls = eku
            .as_ref()
            .is_none_or(|e| e.value.server_auth || e.value.client_auth || e.value.any);
        if tls && san.is_none() {
            add(
                Error,
                "e_tls_san_missing",
                "a TLS certificate has no subjectAltName".into(),
            );
        }
        if let (Some(s), Some(cn)) = (
            &san,
            c.subject().iter_common_name().next().and_then(|a| a.as_str().ok()),
        ) {
            let listed = s.value.general_names.iter().any(|g| match g {
                GeneralName::DNSName(d) => d.eq_ignore_ascii_case(cn),
                GeneralName::IPAddress(b) => cn.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                    std::net::IpAddr::V4(v) => b == &v.octets(),
                    std::net::IpAddr::V6(v) => b == &v.octets(),
                }),
                GeneralName::RFC822Name(e) | GeneralName::URI(e) => *e == cn,
                _ => false,
            });
            if !listed && tls {
                add(
                    Warning,
                    "w_cn_not_in_san",
                    format!("the common name {cn:?} is not among the SANs"),
                );
            }
        }
        if ski.is_none() {
            add(Notice, "n_ski_missing", "no subjectKeyIdentifier".into());
        }
        let days = (na - nb).whole_days();
        if eku.as_ref().is_some_and(|e| e.value.server_auth) && days > 398 {
            add(
                Notice,
                "n_tls_validity_over_398_days",
                format!("valid for {days} days (public TLS allows 398)"),
            );
        }
    }
    if c.subject().iter().next().is_none() {
        match &san {
            None => add(
                Error,
                "e_subject_empty_without_san",
                "an empty subject needs a subjectAltName".into(),
            ),
            Some(s) if !s.critical => add(
                Error,
                "e_san_not_critical_with_empty_subject",
                "with an empty subject the SAN must be critical".into(),
            ),
            _ => {}
        }
    }
    // Names (RFC 5280 §4.2.1.6 and ub-common-name), with the checks every name entering ferrica passes.
    for cn in c.subject().iter_common_name() {
        match cn.as_str() {
            Ok(v) => {
                if let Err(e) = super::names::check_common_name(v) {
                    add(Error, "e_cn_too_long", e);
                }
            }
            Err(_) => add(
                Warning,
                "w_cn_not_a_string",
                "the common name is not a readable string".into(),
            ),
        }
    }
    if let Some(s) = &san {
        for g in &s.value.general_names {
            let (code, value, r) = match g {
                GeneralName::DNSName(d) => ("e_san_dns_invalid", *d, super::names::check_dns(d, true)),
                GeneralName::RFC822Name(e) => ("e_san_email_invalid", *e, super::names::check_email(e)),
                GeneralName::URI(u) => ("e_san_uri_invalid", *u, super::names::check_uri(u)),
                GeneralName::IPAddress(b) if b.len() != 4 && b.len() != 16 => {
                    add(
                        Error,
                        "e_san_ip_invalid",
                        format!("an IP address SAN of {} octets (4 or 16)", b.len()),
                    );
                    continue;
                }
                _ => continue,
            };
            if let Err(e) = r {
                add(Error, code, format!("SAN {value:?}: {e}"));
            }
        }
    }
    if !self_issued && aki.is_none() {
        add(
            Error,
            "e_aki_missing",
            "a certificate not self-issued has no authorityKeyIdentifier".into(),
        );
    }
    f.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(b.code)));
    Ok(f)
}
