//! The one issuance path: every certificate ferrica makes (CLI, and later `ca init` and the server) is built here.
//!
//! rcgen's defaults are never used: the subject, validity, serial, CA flag, key usages and key identifiers all come
//! from the request and the profile. `now` is a parameter; this module touches no clock, file or terminal.

use std::net::IpAddr;

use ::time::OffsetDateTime;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    PublicKeyData, SanType, SerialNumber,
};
use x509_parser::prelude::*;

use super::keys::{KeyKind, PrivateKey};
use super::profile::Profile;

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The validity window is empty.
    #[error("notBefore {not_before} is not before notAfter {not_after}")]
    EmptyValidity {
        /// Requested start.
        not_before: String,
        /// Requested (possibly clamped) end.
        not_after: String,
    },
    /// The issuer certificate ends before the new certificate would start.
    #[error(
        "the issuer certificate expired on {not_after} (it ends before the new certificate's notBefore {not_before})"
    )]
    IssuerExpired {
        /// The issuer's notAfter.
        not_after: String,
        /// The requested start.
        not_before: String,
    },
    /// The issuer is not a CA.
    #[error("the issuer certificate is not a CA (no basicConstraints CA:TRUE)")]
    IssuerNotCa,
    /// The issuer may not sign certificates.
    #[error("the issuer certificate's key usage does not include keyCertSign")]
    IssuerNotCertSigner,
    /// The issuer cannot have a sub-CA below it.
    #[error("the issuer has pathlen 0, so it cannot sign an intermediate CA")]
    IssuerPathLenExceeded,
    /// The issuer key is not the key of the issuer certificate.
    #[error("the issuer key does not match the issuer certificate's public key")]
    IssuerKeyMismatch,
    /// The issuer certificate could not be read.
    #[error("the issuer certificate could not be parsed: {0}")]
    IssuerUnreadable(String),
    /// A profile that needs an issuer got none, or the reverse.
    #[error("{0}")]
    Usage(String),
    /// A SAN could not be encoded.
    #[error("bad SAN {value:?}: {reason}")]
    BadSan {
        /// The value as given.
        value: String,
        /// What was wrong.
        reason: String,
    },
    /// A subject attribute is not acceptable.
    #[error("bad subject: {0}")]
    BadSubject(String),
    /// rcgen refused.
    #[error("certificate encoding failed: {0}")]
    Encoding(String),
}

/// A subject alternative name, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// dNSName
    Dns(String),
    /// iPAddress
    Ip(IpAddr),
    /// rfc822Name
    Email(String),
    /// uniformResourceIdentifier
    Uri(String),
}

impl San {
    /// Types a `--san` value as step does: an IP address, an email (has `@`), a URI (has a scheme), else DNS.
    pub fn parse(value: &str) -> San {
        let v = value.trim();
        let unbracketed = v.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            San::Ip(ip)
        } else if v.contains("://") || v.starts_with("spiffe:") || v.starts_with("urn:") {
            San::Uri(v.to_string())
        } else if v.contains('@') {
            San::Email(v.to_string())
        } else {
            San::Dns(v.to_string())
        }
    }

    /// Checks the value's syntax for its type (`pki::names`): a DNS name (wildcards as the whole leftmost label), an
    /// email address or a URI. IP addresses are valid once typed.
    pub fn validate(&self) -> Result<(), IssueError> {
        let (value, r) = match self {
            San::Dns(d) => (d, super::names::check_dns(d, true)),
            San::Email(e) => (e, super::names::check_email(e)),
            San::Uri(u) => (u, super::names::check_uri(u)),
            San::Ip(_) => return Ok(()),
        };
        r.map_err(|reason| IssueError::BadSan {
            value: value.clone(),
            reason,
        })
    }

    fn to_rcgen(&self) -> Result<SanType, IssueError> {
        let bad = |value: &str, e: rcgen::Error| IssueError::BadSan {
            value: value.into(),
            reason: e.to_string(),
        };
        self.validate()?;
        Ok(match self {
            San::Dns(d) => SanType::DnsName(d.as_str().try_into().map_err(|e| bad(d, e))?),
            San::Ip(ip) => SanType::IpAddress(*ip),
            San::Email(e) => SanType::Rfc822Name(e.as_str().try_into().map_err(|er| bad(e, er))?),
            San::Uri(u) => SanType::URI(u.as_str().try_into().map_err(|e| bad(u, e))?),
        })
    }
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The profile that decides the certificate's shape.
    pub profile: Profile,
    /// The subject name, in order (`[(CommonName, "svc")]` for `certificate create`).
    pub subject: Vec<(DnType, String)>,
    /// Subject alternative names.
    pub sans: Vec<San>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// Requested end of validity (clamped to the issuer's).
    pub not_after: OffsetDateTime,
    /// Overrides the profile's path length for CA profiles.
    pub path_len: Option<u8>,
    /// Replaces the profile's CA flag and key usages (templates, `sign --profile csr`).
    pub shape: Option<Shape>,
    /// Name constraints (CA certificates).
    pub name_constraints: crate::pki::ext::NameConstraints,
    /// CRL distribution point URLs.
    pub crl_urls: Vec<String>,
    /// OCSP responder URLs (authorityInfoAccess).
    pub ocsp_urls: Vec<String>,
    /// CA-issuers URLs (authorityInfoAccess).
    pub ca_issuers_urls: Vec<String>,
    /// Further extensions, written as given (from templates).
    pub extra_extensions: Vec<CustomExtension>,
    /// The serial's octets (see [`ordered_serial`]); `None`: 128 random bits.
    pub serial: Option<Vec<u8>>,
}

impl IssueRequest {
    /// A request with a common name and no extras.
    pub fn new(
        profile: Profile,
        common_name: &str,
        sans: Vec<San>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> IssueRequest {
        let subject = if common_name.is_empty() {
            Vec::new()
        } else {
            vec![(DnType::CommonName, common_name.to_string())]
        };
        IssueRequest {
            profile,
            subject,
            sans,
            not_before,
            not_after,
            path_len: None,
            shape: None,
            name_constraints: Default::default(),
            serial: None,
            crl_urls: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuers_urls: Vec::new(),
            extra_extensions: Vec::new(),
        }
    }
}

/// The CA flag and key usages of a certificate, when not the profile's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// `None`: not a CA (no basicConstraints). `Some(path_len)`: a CA (`None` path length = unlimited).
    pub ca: Option<Option<u8>>,
    /// Key usages.
    pub key_usages: Vec<rcgen::KeyUsagePurpose>,
    /// Extended key usages.
    pub ext_key_usages: Vec<rcgen::ExtendedKeyUsagePurpose>,
}

/// The issuer's key: borrowed (one-shot CLI commands) or shared (the server keeps one prepared issuer).
enum IssuerKey<'a> {
    Borrowed(&'a PrivateKey),
    Shared(std::sync::Arc<PrivateKey>),
}

impl IssuerKey<'_> {
    fn key(&self) -> &PrivateKey {
        match self {
            IssuerKey::Borrowed(k) => k,
            IssuerKey::Shared(k) => k,
        }
    }
}

impl PublicKeyData for IssuerKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.key().key_pair().der_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.key().key_pair().algorithm()
    }
}

impl rcgen::SigningKey for IssuerKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key().key_pair().sign(msg)
    }
}

/// A CA certificate and its key, checked and parsed once, able to sign certificates and CRLs.
pub struct CaIssuer<'a> {
    signer: Issuer<'static, IssuerKey<'a>>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    path_len: Option<u32>,
}

impl CaIssuer<'static> {
    /// Like [`CaIssuer::new`], owning a shared key (the server prepares one issuer and signs with it per request).
    pub fn shared(cert_der: &[u8], key: std::sync::Arc<PrivateKey>) -> Result<CaIssuer<'static>, IssueError> {
        Self::prepare(cert_der, IssuerKey::Shared(key))
    }
}

impl<'a> CaIssuer<'a> {
    /// Checks that `cert_der` is a CA certificate allowed to sign, and that `key` is its key.
    pub fn new(cert_der: &[u8], key: &'a PrivateKey) -> Result<CaIssuer<'a>, IssueError> {
        Self::prepare(cert_der, IssuerKey::Borrowed(key))
    }

    fn prepare(cert_der: &[u8], key: IssuerKey<'a>) -> Result<CaIssuer<'a>, IssueError> {
        let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| IssueError::IssuerUnreadable(e.to_string()))?;
        let bc = cert
            .basic_constraints()
            .map_err(|e| IssueError::IssuerUnreadable(e.to_string()))?;
        let Some(bc) = bc.filter(|bc| bc.value.ca) else {
            return Err(IssueError::IssuerNotCa);
        };
        if let Ok(Some(ku)) = cert.key_usage()
            && !ku.value.key_cert_sign()
        {
            return Err(IssueError::IssuerNotCertSigner);
        }
        if cert.public_key().raw != key.key().spki_der().as_slice() {
            return Err(IssueError::IssuerKeyMismatch);
        }
        // rcgen re-encodes the issuer name and supports one attribute per RDN only.
        if cert.subject().iter().any(|rdn| rdn.iter().count() != 1) {
            return Err(IssueError::IssuerUnreadable(
                "multi-valued RDNs in the subject are not supported".into(),
            ));
        }
        let signer =
            Issuer::from_ca_cert_der(&cert_der.into(), key).map_err(|e| IssueError::IssuerUnreadable(e.to_string()))?;
        Ok(CaIssuer {
            signer,
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            path_len: bc.value.path_len_constraint,
        })
    }

    /// The issuer's notBefore.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The issuer's notAfter.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// rcgen's signer (for CRLs).
    pub fn signer(&self) -> &Issuer<'static, impl rcgen::SigningKey + 'a> {
        &self.signer
    }
}

/// An issued certificate, with anything the user should be warned about.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate DER.
    pub der: Vec<u8>,
    /// Set when the requested notAfter was after the issuer's and was clamped to it: (requested, used).
    pub clamped: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// Issues a certificate for `subject_key` (a key pair, or the public key of a CSR).
pub fn issue(
    req: &IssueRequest,
    subject_key: &impl PublicKeyData,
    subject_kind: KeyKind,
    issuer: Option<&CaIssuer<'_>>,
    self_key: Option<&PrivateKey>,
) -> Result<Issued, IssueError> {
    let mut clamped = None;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    for (ty, value) in &req.subject {
        if *ty == DnType::CommonName {
            super::names::check_common_name(value).map_err(IssueError::BadSubject)?;
        }
        params.distinguished_name.push(ty.clone(), value.as_str());
    }
    params.subject_alt_names = req.sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    params.serial_number = Some(match &req.serial {
        Some(octets) => SerialNumber::from_slice(octets),
        None => random_serial().map_err(|e| IssueError::Encoding(e.to_string()))?,
    });
    params.key_identifier_method = KeyIdMethod::Sha256;
    req.profile.apply(&mut params, subject_kind, req.path_len);
    if let Some(shape) = &req.shape {
        params.is_ca = match shape.ca {
            Some(Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
            Some(None) => IsCa::Ca(BasicConstraints::Unconstrained),
            None => IsCa::NoCa,
        };
        params.key_usages = shape.key_usages.clone();
        params.extended_key_usages = shape.ext_key_usages.clone();
    }
    let is_ca = matches!(params.is_ca, IsCa::Ca(_));
    if !req.name_constraints.is_empty() {
        if !is_ca {
            return Err(IssueError::Usage(
                "name constraints apply only to CA certificates".into(),
            ));
        }
        params.custom_extensions.push(req.name_constraints.extension());
    }
    if !req.crl_urls.is_empty() {
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: req.crl_urls.clone(),
        }];
    }
    if !req.ocsp_urls.is_empty() || !req.ca_issuers_urls.is_empty() {
        params.custom_extensions.push(crate::pki::ext::authority_info_access(
            &req.ocsp_urls,
            &req.ca_issuers_urls,
        ));
    }
    params.custom_extensions.extend(req.extra_extensions.iter().cloned());

    let mut not_after = req.not_after;
    if let Some(iss) = issuer {
        if not_after > iss.not_after {
            clamped = Some((not_after, iss.not_after));
            not_after = iss.not_after;
        }
        if is_ca && iss.path_len == Some(0) {
            return Err(IssueError::IssuerPathLenExceeded);
        }
        if iss.not_after <= req.not_before {
            return Err(IssueError::IssuerExpired {
                not_after: fmt_time(iss.not_after),
                not_before: fmt_time(req.not_before),
            });
        }
    }
    if req.not_before >= not_after {
        return Err(IssueError::EmptyValidity {
            not_before: fmt_time(req.not_before),
            not_after: fmt_time(not_after),
        });
    }
    params.not_before = req.not_before;
    params.not_after = not_after;

    // SKI on every certificate. rcgen writes it itself only for CAs; leafs (no basicConstraints) get it here.
    if !is_ca {
        let ski = params.key_identifier(subject_key);
        params
            .custom_extensions
            .push(crate::pki::ext::subject_key_identifier(&ski));
    }
    let enc = |e: rcgen::Error| IssueError::Encoding(e.to_string());
    let der = match (req.profile.is_self_signed(), issuer, self_key) {
        (true, None, Some(key)) => {
            // A self-signed leaf names its own key as the authority's (RFC 5280 §4.2.1.1 asks every certificate that
            // is not a self-signed CA for an AKI; pkilint holds leafs to it); a root carries none, as step's do.
            params.use_authority_key_identifier_extension = !is_ca;
            params.self_signed(key.key_pair()).map_err(enc)?.der().to_vec()
        }
        (false, Some(iss), _) => {
            params.use_authority_key_identifier_extension = true;
            params.signed_by(subject_key, &iss.signer).map_err(enc)?.der().to_vec()
        }
        (true, _, _) => {
            return Err(IssueError::Usage(format!(
                "profile {} is self-signed: it takes no --ca/--ca-key",
                req.profile.name()
            )));
        }
        (false, None, _) => {
            return Err(IssueError::Usage(format!(
                "profile {} needs --ca and --ca-key",
                req.profile.name()
            )));
        }
    };
    Ok(Issued { der, clamped })
}

/// Builds a PKCS#10 CSR for `key` with the subject and SANs (no key usage is requested, as step).
pub fn create_csr(common_name: &str, sans: &[San], key: &PrivateKey) -> Result<Vec<u8>, IssueError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    if !common_name.is_empty() {
        super::names::check_common_name(common_name).map_err(IssueError::BadSubject)?;
        params.distinguished_name.push(DnType::CommonName, common_name);
    }
    params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    let csr = params
        .serialize_request(key.key_pair())
        .map_err(|e| IssueError::Encoding(e.to_string()))?;
    Ok(csr.der().to_vec())
}

/// A serial for a CA that stores what it issues: 16 octets, the issuing time in nanoseconds since 1970 (big-endian)
/// and then 64 random bits (the CA/Browser Forum's minimum of CSPRNG output). Serials issued later are larger, with
/// the same number of decimal digits until the year 2286, so a store keyed by serial appends instead of writing to
/// a random page of its index for every certificate (which slowed the embedded store as it grew).
pub fn ordered_serial(unix_nanos: u64) -> Result<Vec<u8>, super::keys::KeyError> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&unix_nanos.to_be_bytes());
    super::keys::encryption::fill_random(&mut b[8..])?;
    // Positive, and never a leading zero octet (any time after 1972 has a non-zero top octet).
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 0x01;
    }
    Ok(b.to_vec())
}

/// A random positive serial of 128 bits (16 octets, top bit clear, never a leading zero octet).
fn random_serial() -> Result<SerialNumber, super::keys::KeyError> {
    let mut b = [0u8; 16];
    super::keys::encryption::fill_random(&mut b)?;
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 0x01;
    }
    Ok(SerialNumber::from_slice(&b))
}

/// RFC 3339 in UTC, for messages.
pub fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(::time::UtcOffset::UTC)
        .format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_serials_grow_with_time_keep_their_decimal_length_and_carry_64_random_bits() {
        let as_decimal = |b: &[u8]| x509_parser::num_bigint::BigUint::from_bytes_be(b).to_str_radix(10);
        let t = 1_796_000_000_000_000_000u64; // 2026
        let (a, b) = (ordered_serial(t).unwrap(), ordered_serial(t + 1).unwrap());
        let c = ordered_serial(t).unwrap();
        assert_eq!((a.len(), a[0] & 0x80), (16, 0));
        assert!(as_decimal(&a) < as_decimal(&b), "a later serial sorts after");
        assert_eq!(
            as_decimal(&a).len(),
            as_decimal(&ordered_serial(4_000_000_000_000_000_000).unwrap()).len()
        );
        assert_ne!(a[8..], c[8..], "the low 64 bits are random");
    }
    use crate::pki::keys::KeySpec;
    use ::time::macros::datetime;

    fn req(profile: Profile, cn: &str) -> IssueRequest {
        let start = datetime!(2026-01-01 00:00 UTC);
        IssueRequest::new(profile, cn, vec![], start, start + profile.default_lifetime())
    }

    #[test]
    fn san_typing() {
        assert_eq!(San::parse("10.0.0.1"), San::Ip("10.0.0.1".parse().unwrap()));
        assert_eq!(San::parse("::1"), San::Ip("::1".parse().unwrap()));
        assert_eq!(San::parse("a@b.test"), San::Email("a@b.test".into()));
        assert_eq!(San::parse("spiffe://x/y"), San::Uri("spiffe://x/y".into()));
        assert_eq!(San::parse("svc.test"), San::Dns("svc.test".into()));
    }

    #[test]
    fn leaf_is_clamped_to_issuer_and_not_a_ca() {
        let root_key = PrivateKey::generate(KeySpec::P256).unwrap();
        let root = issue(
            &req(Profile::RootCa, "Root"),
            root_key.key_pair(),
            root_key.kind(),
            None,
            Some(&root_key),
        )
        .unwrap();
        let ca = CaIssuer::new(&root.der, &root_key).unwrap();
        let leaf_key = PrivateKey::generate(KeySpec::P256).unwrap();
        let mut r = req(Profile::Leaf, "leaf.test");
        r.not_after = datetime!(2100-01-01 00:00 UTC);
        let leaf = issue(&r, leaf_key.key_pair(), leaf_key.kind(), Some(&ca), None).unwrap();
        assert!(leaf.clamped.is_some());
        let (_, cert) = X509Certificate::from_der(&leaf.der).unwrap();
        assert_eq!(cert.validity().not_after.to_datetime(), ca.not_after());
        assert!(cert.basic_constraints().unwrap().is_none());
        assert!(
            cert.get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
                .unwrap()
                .is_some()
        );
        assert!(
            cert.get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
                .unwrap()
                .is_some()
        );
        assert!(cert.raw_serial()[0] & 0x80 == 0);
    }

    #[test]
    fn wrong_issuer_key_and_non_ca_are_refused() {
        let root_key = PrivateKey::generate(KeySpec::P256).unwrap();
        let other = PrivateKey::generate(KeySpec::P256).unwrap();
        let root = issue(
            &req(Profile::RootCa, "Root"),
            root_key.key_pair(),
            root_key.kind(),
            None,
            Some(&root_key),
        )
        .unwrap();
        assert!(matches!(
            CaIssuer::new(&root.der, &other),
            Err(IssueError::IssuerKeyMismatch)
        ));
        let ss = issue(
            &req(Profile::SelfSigned, "x"),
            other.key_pair(),
            other.kind(),
            None,
            Some(&other),
        )
        .unwrap();
        assert!(matches!(CaIssuer::new(&ss.der, &other), Err(IssueError::IssuerNotCa)));
    }
}
