//! The inspect model: one description of a certificate or CSR, rendered as a full text dump or a short summary.
//! `--format json` is step's shape instead, built in [`super::step_json`].

use std::fmt::Write as _;

use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use super::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
use super::issue::fmt_time;

/// Why a certificate could not be described.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("cannot parse {what}: {reason}")]
pub struct InspectError {
    what: &'static str,
    reason: String,
}

impl InspectError {
    pub(crate) fn new(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self {
            what,
            reason: reason.to_string(),
        }
    }
}

/// A certificate, as `inspect` describes it in text.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// X.509 version (3 for v3).
    pub version: u32,
    /// Serial number.
    pub serial: Serial,
    /// Signature algorithm name (`ECDSA-SHA256`, `SHA256-RSA`, `Ed25519`, ...).
    pub signature_algorithm: String,
    /// Issuer name.
    pub issuer: Name,
    /// Subject name.
    pub subject: Name,
    /// Validity window.
    pub validity: Validity,
    /// Subject public key.
    pub public_key: KeyInfo,
    /// Subject alternative names, by type.
    pub sans: Sans,
    /// basicConstraints, if present.
    pub basic_constraints: Option<BasicConstraintsInfo>,
    /// Key usage names (`digitalSignature`, `keyCertSign`, ...); empty if absent.
    pub key_usage: Vec<String>,
    /// Extended key usage names (`serverAuth`, ...) or OIDs; empty if absent.
    pub extended_key_usage: Vec<String>,
    /// Subject key identifier, lowercase hex.
    pub subject_key_id: Option<String>,
    /// Authority key identifier, lowercase hex.
    pub authority_key_id: Option<String>,
    /// Every extension, in certificate order.
    pub extensions: Vec<ExtensionInfo>,
    /// Fingerprints of the DER.
    pub fingerprints: Fingerprints,
    /// The signature, lowercase hex.
    pub signature: String,
}

/// A CSR, as `inspect` describes it in text.
#[derive(Debug, Clone)]
pub struct CsrInfo {
    /// PKCS#10 version (1).
    pub version: u32,
    /// Signature algorithm name.
    pub signature_algorithm: String,
    /// Whether the CSR's self-signature verifies.
    pub signature_valid: bool,
    /// Subject name.
    pub subject: Name,
    /// Subject public key.
    pub public_key: KeyInfo,
    /// Requested subject alternative names.
    pub sans: Sans,
    /// Requested extensions.
    pub extensions: Vec<ExtensionInfo>,
    /// Fingerprints of the DER.
    pub fingerprints: Fingerprints,
}

/// A serial number.
#[derive(Debug, Clone)]
pub struct Serial {
    /// Decimal.
    pub decimal: String,
    /// Lowercase hex, no separators.
    pub hex: String,
}

/// A distinguished name.
#[derive(Debug, Clone)]
pub struct Name {
    /// RFC 4514-style string (`CN=..., O=...`).
    pub dn: String,
    /// The first common name, if any.
    pub common_name: Option<String>,
}

/// A validity window.
#[derive(Debug, Clone)]
pub struct Validity {
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// notAfter - notBefore, in seconds.
    pub lifetime_seconds: i64,
}

/// A public key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// `EC`, `RSA`, `Ed25519`, `Ed448` or an OID.
    pub algorithm: String,
    /// Size in bits.
    pub size: usize,
    /// Curve name for EC keys (`P-256`, ...).
    pub curve: Option<String>,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex.
    pub spki_sha256: String,
}

/// Subject alternative names by type.
#[derive(Debug, Clone, Default)]
pub struct Sans {
    /// dNSName values.
    pub dns: Vec<String>,
    /// iPAddress values.
    pub ip: Vec<String>,
    /// rfc822Name values.
    pub email: Vec<String>,
    /// URI values.
    pub uri: Vec<String>,
    /// Anything else, described.
    pub other: Vec<String>,
}

impl Sans {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.dns
            .iter()
            .chain(&self.ip)
            .chain(&self.email)
            .chain(&self.uri)
            .chain(&self.other)
    }
}

/// basicConstraints.
#[derive(Debug, Clone)]
pub struct BasicConstraintsInfo {
    /// The cA flag.
    pub ca: bool,
    /// pathLenConstraint, if any.
    pub path_len: Option<u32>,
}

/// One extension.
#[derive(Debug, Clone)]
pub struct ExtensionInfo {
    /// Dotted OID.
    pub oid: String,
    /// Short name (`keyUsage`, ...) or `unknown`.
    pub name: String,
    /// Criticality.
    pub critical: bool,
    /// Human-readable value lines.
    pub value: Vec<String>,
}

/// Fingerprints.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    /// SHA-256 of the DER, lowercase hex (what `certificate fingerprint` prints).
    pub sha256: String,
    /// SHA-1 of the DER, lowercase hex (for matching old tools only).
    pub sha1: String,
}

fn fingerprints(der: &[u8]) -> Fingerprints {
    Fingerprints {
        sha256: fingerprint(der, FingerprintHash::Sha256, FingerprintFormat::Hex),
        sha1: fingerprint(der, FingerprintHash::Sha1, FingerprintFormat::Hex),
    }
}

/// Describes a certificate.
pub fn describe_certificate(der: &[u8]) -> Result<CertificateInfo, InspectError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| InspectError {
        what: "certificate",
        reason: e.to_string(),
    })?;
    let mut info = CertificateInfo {
        version: cert.version().0 + 1,
        serial: Serial {
            decimal: cert.serial.to_str_radix(10),
            hex: hex::encode(cert.raw_serial()),
        },
        signature_algorithm: sig_alg_name(&cert.signature_algorithm.algorithm.to_id_string()),
        issuer: name(cert.issuer()),
        subject: name(cert.subject()),
        validity: Validity {
            not_before: fmt_time(cert.validity().not_before.to_datetime()),
            not_after: fmt_time(cert.validity().not_after.to_datetime()),
            lifetime_seconds: (cert.validity().not_after.to_datetime() - cert.validity().not_before.to_datetime())
                .whole_seconds(),
        },
        public_key: key_info(cert.public_key()),
        sans: Sans::default(),
        basic_constraints: None,
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        subject_key_id: None,
        authority_key_id: None,
        extensions: Vec::new(),
        fingerprints: fingerprints(der),
        signature: hex::encode(cert.signature_value.data.as_ref()),
    };
    for ext in cert.extensions() {
        info.extensions.push(describe_extension(ext, &mut info.sans));
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                info.basic_constraints = Some(BasicConstraintsInfo {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                })
            }
            ParsedExtension::KeyUsage(ku) => info.key_usage = key_usage_names(ku),
            ParsedExtension::ExtendedKeyUsage(eku) => info.extended_key_usage = eku_names(eku),
            ParsedExtension::SubjectKeyIdentifier(k) => info.subject_key_id = Some(hex::encode(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                info.authority_key_id = a.key_identifier.as_ref().map(|k| hex::encode(k.0))
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Describes a CSR.
pub fn describe_csr(der: &[u8]) -> Result<CsrInfo, InspectError> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| InspectError {
        what: "certificate request",
        reason: e.to_string(),
    })?;
    let cri = &csr.certification_request_info;
    let mut info = CsrInfo {
        version: cri.version.0 + 1,
        signature_algorithm: sig_alg_name(&csr.signature_algorithm.algorithm.to_id_string()),
        signature_valid: csr.verify_signature().is_ok(),
        subject: name(&cri.subject),
        public_key: key_info(&cri.subject_pki),
        sans: Sans::default(),
        extensions: Vec::new(),
        fingerprints: fingerprints(der),
    };
    for attr in cri.iter_attributes() {
        if let x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(req) = attr.parsed_attribute() {
            for ext in &req.extensions {
                info.extensions.push(describe_extension(ext, &mut info.sans));
            }
        }
    }
    Ok(info)
}

fn name(n: &X509Name<'_>) -> Name {
    Name {
        dn: n.to_string(),
        common_name: n
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string),
    }
}

fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let oid = spki.algorithm.algorithm.to_id_string();
    let spki_sha256 = fingerprint(spki.raw, FingerprintHash::Sha256, FingerprintFormat::Hex);
    let parsed = spki.parsed().ok();
    let (algorithm, size, curve) = match oid.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| curve_name(&o.to_id_string()));
            let size = match curve.as_deref() {
                Some("P-256") => 256,
                Some("P-384") => 384,
                Some("P-521") => 521,
                _ => parsed.as_ref().map_or(0, PublicKey::key_size),
            };
            ("EC".to_string(), size, curve)
        }
        "1.2.840.113549.1.1.1" => ("RSA".to_string(), parsed.as_ref().map_or(0, PublicKey::key_size), None),
        "1.3.101.112" => ("Ed25519".to_string(), 256, None),
        "1.3.101.113" => ("Ed448".to_string(), 456, None),
        other => (other.to_string(), parsed.as_ref().map_or(0, PublicKey::key_size), None),
    };
    KeyInfo {
        algorithm,
        size,
        curve,
        spki_sha256,
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        other => other.into(),
    }
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.113549.1.1.5" => "SHA1-RSA",
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return other.to_string(),
    }
    .to_string()
}

fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<String> {
    let names = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "contentCommitment"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    names.iter().filter(|(on, _)| *on).map(|(_, n)| n.to_string()).collect()
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut v = Vec::new();
    for (on, n) in [
        (eku.any, "any"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if on {
            v.push(n.to_string());
        }
    }
    v.extend(eku.other.iter().map(|o| o.to_id_string()));
    v
}

fn general_name(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::IPAddress(b) => format!("IP:{}", ip_string(b)),
        GeneralName::DirectoryName(n) => format!("DirName:{n}"),
        GeneralName::OtherName(oid, _) => format!("othername:{}", oid.to_id_string()),
        GeneralName::RegisteredID(oid) => format!("RID:{}", oid.to_id_string()),
        other => format!("{other:?}"),
    }
}

/// An iPAddress general name's octets as an address (4 or 16 of them).
pub(crate) fn ip_addr(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?).into()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?).into()),
        _ => None,
    }
}

fn ip_string(b: &[u8]) -> String {
    match (ip_addr(b), b.len()) {
        (Some(ip), _) => ip.to_string(),
        // Name constraints carry address + mask.
        (None, 8) => format!("{}/{}", ip_string(&b[..4]), ip_string(&b[4..])),
        (None, 32) => format!("{}/{}", ip_string(&b[..16]), ip_string(&b[16..])),
        _ => hex::encode(b),
    }
}

fn colon_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn describe_extension(ext: &X509Extension<'_>, sans: &mut Sans) -> ExtensionInfo {
    let oid = ext.oid.to_id_string();
    let (name, value): (&str, Vec<String>) = match ext.parsed_extension() {
        ParsedExtension::BasicConstraints(bc) => (
            "basicConstraints",
            vec![match bc.path_len_constraint {
                Some(n) if bc.ca => format!("CA:TRUE, pathlen:{n}"),
                _ if bc.ca => "CA:TRUE".into(),
                _ => "CA:FALSE".into(),
            }],
        ),
        ParsedExtension::KeyUsage(ku) => ("keyUsage", vec![key_usage_names(ku).join(", ")]),
        ParsedExtension::ExtendedKeyUsage(eku) => ("extendedKeyUsage", vec![eku_names(eku).join(", ")]),
        ParsedExtension::SubjectKeyIdentifier(k) => ("subjectKeyIdentifier", vec![colon_hex(k.0)]),
        ParsedExtension::AuthorityKeyIdentifier(a) => (
            "authorityKeyIdentifier",
            vec![
                a.key_identifier
                    .as_ref()
                    .map_or_else(|| "(no keyid)".into(), |k| format!("keyid:{}", colon_hex(k.0))),
            ],
        ),
        ParsedExtension::SubjectAlternativeName(san) => {
            for g in &san.general_names {
                match g {
                    GeneralName::DNSName(s) => sans.dns.push(s.to_string()),
                    GeneralName::RFC822Name(s) => sans.email.push(s.to_string()),
                    GeneralName::URI(s) => sans.uri.push(s.to_string()),
                    GeneralName::IPAddress(b) => sans.ip.push(ip_string(b)),
                    other => sans.other.push(general_name(other)),
                }
            }
            (
                "subjectAltName",
                vec![
                    san.general_names
                        .iter()
                        .map(general_name)
                        .collect::<Vec<_>>()
                        .join(", "),
                ],
            )
        }
        ParsedExtension::NameConstraints(nc) => {
            let mut v = Vec::new();
            for (label, trees) in [
                ("Permitted", &nc.permitted_subtrees),
                ("Excluded", &nc.excluded_subtrees),
            ] {
                if let Some(trees) = trees {
                    for t in trees {
                        v.push(format!("{label}: {}", general_name(&t.base)));
                    }
                }
            }
            ("nameConstraints", v)
        }
        ParsedExtension::CRLDistributionPoints(dps) => {
            let mut v = Vec::new();
            for dp in dps.iter() {
                if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) = &dp.distribution_point {
                    v.extend(names.iter().map(general_name));
                }
            }
            ("cRLDistributionPoints", v)
        }
        ParsedExtension::AuthorityInfoAccess(aia) => (
            "authorityInfoAccess",
            aia.accessdescs
                .iter()
                .map(|d| {
                    let m = match d.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => "OCSP".to_string(),
                        "1.3.6.1.5.5.7.48.2" => "CA Issuers".to_string(),
                        o => o.to_string(),
                    };
                    format!("{m} - {}", general_name(&d.access_location))
                })
                .collect(),
        ),
        ParsedExtension::CertificatePolicies(p) => (
            "certificatePolicies",
            p.iter()
                .map(|p| format!("Policy: {}", p.policy_id.to_id_string()))
                .collect(),
        ),
        _ => (
            match oid.as_str() {
                "1.3.6.1.4.1.37476.9000.64.1" => "stepProvisioner",
                "1.3.6.1.4.1.11129.2.4.2" => "ctPrecertificateSCTs",
                _ => "unknown",
            },
            vec![colon_hex(ext.value)],
        ),
    };
    ExtensionInfo {
        oid,
        name: name.to_string(),
        critical: ext.critical,
        value,
    }
}

fn display_ext_name(e: &ExtensionInfo) -> String {
    let pretty = match e.name.as_str() {
        "basicConstraints" => "X509v3 Basic Constraints",
        "keyUsage" => "X509v3 Key Usage",
        "extendedKeyUsage" => "X509v3 Extended Key Usage",
        "subjectKeyIdentifier" => "X509v3 Subject Key Identifier",
        "authorityKeyIdentifier" => "X509v3 Authority Key Identifier",
        "subjectAltName" => "X509v3 Subject Alternative Name",
        "nameConstraints" => "X509v3 Name Constraints",
        "cRLDistributionPoints" => "X509v3 CRL Distribution Points",
        "authorityInfoAccess" => "Authority Information Access",
        "certificatePolicies" => "X509v3 Certificate Policies",
        "stepProvisioner" => "X509v3 Step Provisioner",
        _ => return e.oid.clone(),
    };
    pretty.to_string()
}

fn write_key(out: &mut String, k: &KeyInfo) {
    let _ = writeln!(out, "        Subject Public Key Info:");
    let _ = writeln!(out, "            Public Key Algorithm: {}", k.algorithm);
    let _ = writeln!(out, "                Public-Key: ({} bit)", k.size);
    if let Some(c) = &k.curve {
        let _ = writeln!(out, "                Curve: {c}");
    }
}

fn write_extensions(out: &mut String, exts: &[ExtensionInfo], heading: &str) {
    if exts.is_empty() {
        return;
    }
    let _ = writeln!(out, "        {heading}:");
    for e in exts {
        let crit = if e.critical { " critical" } else { "" };
        let _ = writeln!(out, "            {}:{crit}", display_ext_name(e));
        for line in &e.value {
            let _ = writeln!(out, "                {line}");
        }
    }
}

fn time_human(rfc3339: &str) -> String {
    rfc3339.to_string()
}

fn wrap_hex(out: &mut String, hex_str: &str, indent: &str) {
    let bytes: Vec<&str> = (0..hex_str.len())
        .step_by(2)
        .map(|i| &hex_str[i..(i + 2).min(hex_str.len())])
        .collect();
    for chunk in bytes.chunks(18) {
        let _ = writeln!(out, "{indent}{}", chunk.join(":"));
    }
}

/// The full text dump of a certificate (in the spirit of `step certificate inspect` / `openssl x509 -text`).
pub fn certificate_text(c: &CertificateInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Certificate:");
    let _ = writeln!(out, "    Data:");
    let _ = writeln!(out, "        Version: {} (0x{:x})", c.version, c.version - 1);
    let _ = writeln!(out, "        Serial Number: {} (0x{})", c.serial.decimal, c.serial.hex);
    let _ = writeln!(out, "    Signature Algorithm: {}", c.signature_algorithm);
    let _ = writeln!(out, "        Issuer: {}", c.issuer.dn);
    let _ = writeln!(out, "        Validity");
    let _ = writeln!(out, "            Not Before: {}", time_human(&c.validity.not_before));
    let _ = writeln!(out, "            Not After : {}", time_human(&c.validity.not_after));
    let _ = writeln!(out, "        Subject: {}", c.subject.dn);
    write_key(&mut out, &c.public_key);
    write_extensions(&mut out, &c.extensions, "X509v3 extensions");
    let _ = writeln!(out, "    Signature Algorithm: {}", c.signature_algorithm);
    wrap_hex(&mut out, &c.signature, "         ");
    let _ = writeln!(out, "    Fingerprint (SHA-256): {}", c.fingerprints.sha256);
    out
}

/// The full text dump of a CSR.
pub fn csr_text(c: &CsrInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Certificate Request:");
    let _ = writeln!(out, "    Data:");
    let _ = writeln!(out, "        Version: {} (0x{:x})", c.version, c.version - 1);
    let _ = writeln!(out, "        Subject: {}", c.subject.dn);
    write_key(&mut out, &c.public_key);
    write_extensions(&mut out, &c.extensions, "Requested Extensions");
    let valid = if c.signature_valid { "valid" } else { "INVALID" };
    let _ = writeln!(out, "    Signature Algorithm: {} ({valid})", c.signature_algorithm);
    let _ = writeln!(out, "    Fingerprint (SHA-256): {}", c.fingerprints.sha256);
    out
}

fn key_label(k: &KeyInfo) -> String {
    match (&k.algorithm[..], &k.curve) {
        ("EC", Some(c)) => format!("ECDSA {c}"),
        ("RSA", _) => format!("RSA {}", k.size),
        (a, _) => a.to_string(),
    }
}

fn short_serial(hex_or_dec: &str) -> String {
    if hex_or_dec.len() > 8 {
        format!("{}...{}", &hex_or_dec[..4], &hex_or_dec[hex_or_dec.len() - 4..])
    } else {
        hex_or_dec.to_string()
    }
}

/// The one-block summary (`--short`).
pub fn certificate_short(c: &CertificateInfo) -> String {
    let kind = match &c.basic_constraints {
        Some(bc) if bc.ca && c.subject.dn == c.issuer.dn => "Root CA Certificate",
        Some(bc) if bc.ca => "Intermediate CA Certificate",
        _ if c
            .extended_key_usage
            .iter()
            .any(|e| e == "serverAuth" || e == "clientAuth") =>
        {
            "TLS Certificate"
        }
        _ => "Certificate",
    };
    let mut out = format!(
        "X.509v{} {kind} ({}) [Serial: {}]\n",
        c.version,
        key_label(&c.public_key),
        short_serial(&c.serial.decimal)
    );
    let mut subjects: Vec<String> = c.sans.all().cloned().collect();
    if subjects.is_empty() {
        subjects.push(c.subject.common_name.clone().unwrap_or_else(|| c.subject.dn.clone()));
    }
    for (i, s) in subjects.iter().enumerate() {
        let label = if i == 0 { "  Subject:     " } else { "               " };
        let _ = writeln!(out, "{label}{s}");
    }
    let issuer = c.issuer.common_name.clone().unwrap_or_else(|| c.issuer.dn.clone());
    let _ = writeln!(out, "  Issuer:      {issuer}");
    let _ = writeln!(out, "  Valid from:  {}", c.validity.not_before);
    let _ = writeln!(out, "          to:  {}", c.validity.not_after);
    out
}

/// The one-block summary of a CSR (`--short`).
pub fn csr_short(c: &CsrInfo) -> String {
    let mut out = format!("X.509v3 Certificate Signing Request ({})\n", key_label(&c.public_key));
    let mut subjects: Vec<String> = c.sans.all().cloned().collect();
    if subjects.is_empty() {
        subjects.push(c.subject.common_name.clone().unwrap_or_else(|| c.subject.dn.clone()));
    }
    for (i, s) in subjects.iter().enumerate() {
        let label = if i == 0 { "  Subject:     " } else { "               " };
        let _ = writeln!(out, "{label}{s}");
    }
    let _ = writeln!(
        out,
        "  Signature:   {}",
        if c.signature_valid { "valid" } else { "INVALID" }
    );
    out
}
