//! `certificate inspect --format json` in step's shape. step marshals certificates through zcrypto (smallstep's fork
//! of zmap/zcrypto, `x509/json.go`) and CSRs through Go's default struct encoding of zcrypto's
//! `CertificateRequest`; scripts written against step read `.validity.end`, `.serial_number`,
//! `.extensions.subject_alt_name.dns_names`, `.subject.common_name[0]` and so on. The field names, their order,
//! and their encodings (hex fingerprints, base64 byte strings, decimal serials) follow those encoders; the values
//! come from x509-parser. The schema is written out in `docs/inspect-json.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::value::RawValue;
use x509_parser::asn1_rs::{Any, FromDer as _};
use x509_parser::num_bigint::BigUint;
use x509_parser::prelude::*;

use super::ext::tlv;
use super::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
use super::inspect::InspectError;

/// A certificate as step prints it.
#[derive(Debug, Serialize)]
pub struct StepCertificate {
    version: u32,
    serial_number: String,
    signature_algorithm: SignatureAlgorithm,
    issuer: NameJson,
    #[serde(skip_serializing_if = "String::is_empty")]
    issuer_dn: String,
    validity: ValidityJson,
    subject: NameJson,
    #[serde(skip_serializing_if = "String::is_empty")]
    subject_dn: String,
    subject_key_info: SubjectKeyInfo,
    extensions: Extensions,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unknown_extensions: Vec<RawExtension>,
    signature: SignatureJson,
    fingerprint_md5: String,
    fingerprint_sha1: String,
    fingerprint_sha256: String,
    tbs_noct_fingerprint: String,
    spki_subject_fingerprint: String,
    tbs_fingerprint: String,
    validation_level: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    names: Vec<String>,
    redacted: bool,
}

#[derive(Debug, Clone, Serialize)]
struct SignatureAlgorithm {
    name: String,
    oid: String,
}

/// zcrypto's `pkix.Name`: every attribute type as an array of its values, in the name's order.
#[derive(Debug, Default, Serialize)]
struct NameJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    common_name: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    serial_number: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    country: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locality: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    province: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    street_address: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    organization: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    organizational_unit: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    postal_code: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    domain_component: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_address: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    given_name: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    surname: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jurisdiction_country: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jurisdiction_locality: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jurisdiction_province: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    organization_id: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ValidityJson {
    start: String,
    end: String,
    length: i64,
}

#[derive(Debug, Serialize)]
struct SubjectKeyInfo {
    key_algorithm: KeyAlgorithm,
    #[serde(skip_serializing_if = "Option::is_none")]
    rsa_public_key: Option<RsaKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ecdsa_public_key: Option<EcKey>,
    fingerprint_sha256: String,
}

#[derive(Debug, Serialize)]
struct KeyAlgorithm {
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct RsaKey {
    exponent: u64,
    modulus: String,
    length: usize,
}

/// Go encodes this one from a map, so its keys are in sorted order.
#[derive(Debug, Serialize)]
struct EcKey {
    b: String,
    curve: &'static str,
    gx: String,
    gy: String,
    length: u32,
    n: String,
    p: String,
    x: String,
    y: String,
}

#[derive(Debug, Default, Serialize)]
struct Extensions {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_usage: Option<KeyUsageJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basic_constraints: Option<BasicConstraintsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_alt_name: Option<GeneralNames>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer_alt_name: Option<GeneralNames>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_constraints: Option<NameConstraintsJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    crl_distribution_points: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    authority_key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    subject_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_key_usage: Option<ExtKeyUsageJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_policies: Option<Vec<PolicyJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authority_info_access: Option<AiaJson>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ct_poison: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_provisioner: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize)]
struct KeyUsageJson {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    digital_signature: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    content_commitment: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    key_encipherment: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    data_encipherment: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    key_agreement: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    certificate_sign: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    crl_sign: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    encipher_only: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    decipher_only: bool,
    value: u16,
}

#[derive(Debug, Serialize)]
struct BasicConstraintsJson {
    is_ca: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_path_len: Option<u32>,
}

#[derive(Debug, Default, Serialize)]
struct GeneralNames {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    directory_names: Vec<NameJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ip_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other_names: Vec<OtherNameJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    uniform_resource_identifiers: Vec<String>,
}

#[derive(Debug, Serialize)]
struct OtherNameJson {
    id: String,
    value: String,
}

#[derive(Debug, Default, Serialize)]
struct NameConstraintsJson {
    critical: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permitted_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permitted_email_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permitted_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permitted_ip_addresses: Vec<IpSubtree>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permitted_directory_names: Vec<NameJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_email_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_ip_addresses: Vec<IpSubtree>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_directory_names: Vec<NameJson>,
}

#[derive(Debug, Serialize)]
struct IpSubtree {
    cidr: String,
    begin: String,
    end: String,
    mask: String,
}

/// zcrypto's flags for the extended key usages Go knows, then the others as OIDs.
#[derive(Debug, Default, Serialize)]
struct ExtKeyUsageJson {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    microsoft_server_gated_crypto: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    microsoft_kernel_mode_code_signing: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    server_auth: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    client_auth: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    code_signing: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    email_protection: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ipsec_end_system: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ipsec_tunnel: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ipsec_user: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    time_stamping: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ocsp_signing: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    netscape_server_gated_crypto: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    any: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unknown: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PolicyJson {
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_notice: Vec<UserNoticeJson>,
}

#[derive(Debug, Serialize)]
struct UserNoticeJson {
    explicit_text: String,
}

#[derive(Debug, Default, Serialize)]
struct AiaJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ocsp_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    issuer_urls: Vec<String>,
}

#[derive(Debug, Serialize)]
struct RawExtension {
    id: String,
    critical: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
}

#[derive(Debug, Serialize)]
struct SignatureJson {
    signature_algorithm: SignatureAlgorithm,
    value: String,
    valid: bool,
    self_signed: bool,
}

const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const OID_CT_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";
const OID_STEP_PROVISIONER: &str = "1.3.6.1.4.1.37476.9000.64.1";

/// Describes a certificate as step's `inspect --format json` does.
pub fn certificate(der: &[u8]) -> Result<StepCertificate, InspectError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| InspectError::new("certificate", e))?;
    let tbs = &cert.tbs_certificate;
    let sig = signature_algorithm(&cert.signature_algorithm.algorithm.to_id_string());
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    let (not_before, not_after) = (cert.validity().not_before, cert.validity().not_after);
    let spki_subject = [cert.public_key().raw, cert.subject().as_raw()].concat();
    let (extensions, unknown_extensions) = extensions(cert.extensions());
    Ok(StepCertificate {
        version: cert.version().0 + 1,
        serial_number: cert.serial.to_str_radix(10),
        signature_algorithm: sig.clone(),
        issuer: name_json(cert.issuer()),
        issuer_dn: dn_string(cert.issuer()),
        validity: ValidityJson {
            start: rfc3339(not_before),
            end: rfc3339(not_after),
            length: not_after.timestamp() - not_before.timestamp(),
        },
        subject: name_json(cert.subject()),
        subject_dn: dn_string(cert.subject()),
        subject_key_info: subject_key_info(cert.public_key()),
        names: names(&cert),
        extensions,
        unknown_extensions,
        signature: SignatureJson {
            signature_algorithm: sig,
            value: B64.encode(cert.signature_value.data.as_ref()),
            // zcrypto sets this only while building a chain; a self-signed certificate's signature is checked here.
            valid: self_signed,
            self_signed,
        },
        fingerprint_md5: hex::encode(<md5::Md5 as md5::Digest>::digest(der)),
        fingerprint_sha1: fingerprint(der, FingerprintHash::Sha1, FingerprintFormat::Hex),
        fingerprint_sha256: fingerprint(der, FingerprintHash::Sha256, FingerprintFormat::Hex),
        tbs_noct_fingerprint: sha256_hex(&tbs_without_ct(tbs.as_ref())),
        spki_subject_fingerprint: sha256_hex(&spki_subject),
        tbs_fingerprint: sha256_hex(tbs.as_ref()),
        validation_level: "unknown",
        redacted: false,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    fingerprint(bytes, FingerprintHash::Sha256, FingerprintFormat::Hex)
}

fn rfc3339(t: ASN1Time) -> String {
    // zcrypto clamps to years 1..9999, which is what x509-parser can represent anyway.
    super::issue::fmt_time(t.to_datetime())
}

fn signature_algorithm(oid: &str) -> SignatureAlgorithm {
    // zcrypto names the algorithm and prints the OID of its table entry.
    let name = match oid {
        "1.2.840.113549.1.1.2" => "MD2-RSA",
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "SHA1-RSA",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.113549.1.1.10" => "SHA256-RSAPSS",
        "1.2.840.10040.4.3" => "DSA-SHA1",
        "2.16.840.1.101.3.4.3.2" => "DSA-SHA256",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.3.101.112" => "Ed25519",
        _ => "unknown_algorithm",
    };
    let oid = if oid == "1.3.14.3.2.29" {
        "1.2.840.113549.1.1.5"
    } else {
        oid
    };
    SignatureAlgorithm {
        name: name.into(),
        oid: oid.into(),
    }
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

fn attributes<'a>(n: &'a X509Name<'_>) -> impl Iterator<Item = (String, &'a AttributeTypeAndValue<'a>)> {
    n.iter()
        .flat_map(|rdn| rdn.iter())
        .map(|atv| (atv.attr_type().to_id_string(), atv))
}

/// zcrypto's `Name.String()` for a parsed name: the attributes in the certificate's order, `, `-separated.
fn dn_string(n: &X509Name<'_>) -> String {
    attributes(n)
        .filter_map(|(oid, atv)| {
            let value = atv.as_str().ok()?;
            Some(format!(
                "{}={value}",
                short_name(&oid).map_or(oid.clone(), str::to_string)
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn name_json(n: &X509Name<'_>) -> NameJson {
    let mut j = NameJson::default();
    for (oid, atv) in attributes(n) {
        let Ok(v) = atv.as_str() else { continue };
        let slot = match oid.as_str() {
            "2.5.4.3" => &mut j.common_name,
            "2.5.4.4" => &mut j.surname,
            "2.5.4.5" => &mut j.serial_number,
            "2.5.4.6" => &mut j.country,
            "2.5.4.7" => &mut j.locality,
            "2.5.4.8" => &mut j.province,
            "2.5.4.9" => &mut j.street_address,
            "2.5.4.10" => &mut j.organization,
            "2.5.4.11" => &mut j.organizational_unit,
            "2.5.4.17" => &mut j.postal_code,
            "2.5.4.42" => &mut j.given_name,
            "2.5.4.97" => &mut j.organization_id,
            "0.9.2342.19200300.100.1.25" => &mut j.domain_component,
            "1.2.840.113549.1.9.1" => &mut j.email_address,
            "1.3.6.1.4.1.311.60.2.1.1" => &mut j.jurisdiction_locality,
            "1.3.6.1.4.1.311.60.2.1.2" => &mut j.jurisdiction_province,
            "1.3.6.1.4.1.311.60.2.1.3" => &mut j.jurisdiction_country,
            _ => continue,
        };
        slot.push(v.to_string());
    }
    j
}

/// Minimal big-endian bytes, base64: Go's `big.Int.Bytes()` through `encoding/json`.
fn b64_uint(bytes: &[u8]) -> String {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    B64.encode(&bytes[first..])
}

/// The NIST curves' parameters as Go's `elliptic.CurveParams` hold them: p, n, b, Gx, Gy.
const CURVES: [(&str, &str, u32, [&str; 5]); 3] = [
    (
        "1.2.840.10045.3.1.7",
        "P-256",
        256,
        [
            "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF",
            "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
            "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B",
            "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296",
            "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
        ],
    ),
    (
        "1.3.132.0.34",
        "P-384",
        384,
        [
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF",
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF",
            "AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7",
            "3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F",
        ],
    ),
    (
        "1.3.132.0.35",
        "P-521",
        521,
        [
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            "0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00",
            "00C6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66",
            "011839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650",
        ],
    ),
];

fn key_algorithm(oid: &str) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => "RSA",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10045.2.1" => "ECDSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.110" => "X25519",
        _ => "unknown_algorithm",
    }
}

fn subject_key_info(spki: &SubjectPublicKeyInfo<'_>) -> SubjectKeyInfo {
    let alg = spki.algorithm.algorithm.to_id_string();
    let mut info = SubjectKeyInfo {
        key_algorithm: KeyAlgorithm {
            name: key_algorithm(&alg),
        },
        rsa_public_key: None,
        ecdsa_public_key: None,
        fingerprint_sha256: fingerprint(spki.raw, FingerprintHash::Sha256, FingerprintFormat::Hex),
    };
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let modulus = &rsa.modulus[rsa.modulus.iter().position(|b| *b != 0).unwrap_or(0)..];
            info.rsa_public_key = Some(RsaKey {
                exponent: rsa.try_exponent().unwrap_or(0),
                modulus: B64.encode(modulus),
                length: modulus.len() * 8,
            });
        }
        Ok(x509_parser::public_key::PublicKey::EC(point)) => {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let point = point.data();
            if let Some((_, curve, bits, [p, n, b, gx, gy])) = CURVES.iter().find(|c| Some(c.0) == curve_oid.as_deref())
                && point.first() == Some(&4)
                && point.len() % 2 == 1
            {
                let (x, y) = point[1..].split_at(point.len() / 2);
                let h = |s: &str| b64_uint(&hex::decode(s).expect("a constant"));
                info.ecdsa_public_key = Some(EcKey {
                    b: h(b),
                    curve,
                    gx: h(gx),
                    gy: h(gy),
                    length: *bits,
                    n: h(n),
                    p: h(p),
                    x: b64_uint(x),
                    y: b64_uint(y),
                });
            }
        }
        _ => {}
    }
    info
}

fn ip_text(b: &[u8]) -> String {
    crate::pki::inspect::ip_addr(b).map_or_else(|| format!("?{}", hex::encode(b)), |ip| ip.to_string())
}

fn general_names(names: &[GeneralName<'_>]) -> GeneralNames {
    let mut g = GeneralNames::default();
    for n in names {
        match n {
            GeneralName::DNSName(s) => g.dns_names.push(s.to_string()),
            GeneralName::RFC822Name(s) => g.email_addresses.push(s.to_string()),
            GeneralName::URI(s) => g.uniform_resource_identifiers.push(s.to_string()),
            GeneralName::IPAddress(b) => g.ip_addresses.push(ip_text(b)),
            GeneralName::DirectoryName(d) => g.directory_names.push(name_json(d)),
            GeneralName::RegisteredID(oid) => g.registered_ids.push(oid.to_id_string()),
            GeneralName::OtherName(oid, value) => g.other_names.push(OtherNameJson {
                id: oid.to_id_string(),
                // zcrypto prints the content of the explicit [0] around the value.
                value: B64.encode(Any::from_der(value).map(|(_, a)| a.data).unwrap_or(value)),
            }),
            _ => {}
        }
    }
    g
}

fn ip_subtree(b: &[u8]) -> Option<IpSubtree> {
    let (ip, mask) = b.split_at(b.len() / 2);
    if !matches!(b.len(), 8 | 32) {
        return None;
    }
    let ones: u32 = mask.iter().map(|m| m.count_ones()).sum();
    let begin: Vec<u8> = ip.iter().zip(mask).map(|(i, m)| i & m).collect();
    let end: Vec<u8> = ip.iter().zip(mask).map(|(i, m)| i | !m).collect();
    Some(IpSubtree {
        cidr: format!("{}/{ones}", ip_text(&begin)),
        begin: ip_text(&begin),
        end: ip_text(&end),
        mask: ip_text(mask),
    })
}

fn name_constraints(nc: &x509_parser::extensions::NameConstraints<'_>, critical: bool) -> NameConstraintsJson {
    let mut j = NameConstraintsJson {
        critical,
        ..Default::default()
    };
    let sides = [(&nc.permitted_subtrees, true), (&nc.excluded_subtrees, false)];
    for (subtrees, permitted) in sides {
        for s in subtrees.iter().flatten() {
            match &s.base {
                GeneralName::DNSName(d) if permitted => j.permitted_names.push(d.to_string()),
                GeneralName::DNSName(d) => j.excluded_names.push(d.to_string()),
                GeneralName::RFC822Name(e) if permitted => j.permitted_email_addresses.push(e.to_string()),
                GeneralName::RFC822Name(e) => j.excluded_email_addresses.push(e.to_string()),
                GeneralName::URI(u) if permitted => j.permitted_uris.push(u.to_string()),
                GeneralName::URI(u) => j.excluded_uris.push(u.to_string()),
                GeneralName::IPAddress(b) => {
                    let side = if permitted {
                        &mut j.permitted_ip_addresses
                    } else {
                        &mut j.excluded_ip_addresses
                    };
                    side.extend(ip_subtree(b));
                }
                GeneralName::DirectoryName(d) if permitted => j.permitted_directory_names.push(name_json(d)),
                GeneralName::DirectoryName(d) => j.excluded_directory_names.push(name_json(d)),
                _ => {}
            }
        }
    }
    j
}

fn ext_key_usage(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> ExtKeyUsageJson {
    let mut j = ExtKeyUsageJson {
        server_auth: eku.server_auth,
        client_auth: eku.client_auth,
        code_signing: eku.code_signing,
        email_protection: eku.email_protection,
        time_stamping: eku.time_stamping,
        ocsp_signing: eku.ocsp_signing,
        any: eku.any,
        ..Default::default()
    };
    for oid in &eku.other {
        match oid.to_id_string().as_str() {
            "1.3.6.1.5.5.7.3.5" => j.ipsec_end_system = true,
            "1.3.6.1.5.5.7.3.6" => j.ipsec_tunnel = true,
            "1.3.6.1.5.5.7.3.7" => j.ipsec_user = true,
            "1.3.6.1.4.1.311.10.3.3" => j.microsoft_server_gated_crypto = true,
            "1.3.6.1.4.1.311.61.1.1" => j.microsoft_kernel_mode_code_signing = true,
            "2.16.840.1.113730.4.1" => j.netscape_server_gated_crypto = true,
            other => j.unknown.push(other.to_string()),
        }
    }
    j
}

/// The string inside a DER string value (IA5String, UTF8String, ...).
fn der_string(der: &[u8]) -> Option<String> {
    let (_, any) = Any::from_der(der).ok()?;
    String::from_utf8(any.data.to_vec()).ok()
}

fn policies(p: &x509_parser::extensions::CertificatePolicies<'_>) -> Vec<PolicyJson> {
    p.iter()
        .map(|info| {
            let mut j = PolicyJson {
                id: info.policy_id.to_id_string(),
                cps: Vec::new(),
                user_notice: Vec::new(),
            };
            for q in info.policy_qualifiers.iter().flatten() {
                match q.policy_qualifier_id.to_id_string().as_str() {
                    "1.3.6.1.5.5.7.2.1" => j.cps.extend(der_string(q.qualifier)),
                    "1.3.6.1.5.5.7.2.2" => {
                        // UserNotice ::= SEQUENCE { noticeRef NoticeReference OPTIONAL, explicitText DisplayText OPTIONAL }
                        let texts = Any::from_der(q.qualifier).ok().map(|(_, seq)| {
                            let mut rest = seq.data;
                            let mut out = Vec::new();
                            while let Ok((r, item)) = Any::from_der(rest) {
                                rest = r;
                                if item.tag() != x509_parser::asn1_rs::Tag::Sequence {
                                    out.extend(String::from_utf8(item.data.to_vec()).ok());
                                }
                            }
                            out
                        });
                        j.user_notice.extend(
                            texts
                                .into_iter()
                                .flatten()
                                .map(|explicit_text| UserNoticeJson { explicit_text }),
                        );
                    }
                    _ => {}
                }
            }
            j
        })
        .collect()
}

/// step's provisioner extension: `SEQUENCE { type INTEGER, name OCTET STRING, credentialID OCTET STRING,
/// keyValuePairs SEQUENCE OF UTF8String OPTIONAL }`, printed from a map, so with sorted keys.
fn step_provisioner(value: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let (_, seq) = Any::from_der(value).ok()?;
    let (rest, typ) = Any::from_der(seq.data).ok()?;
    let (rest, name) = Any::from_der(rest).ok()?;
    let (rest, credential) = Any::from_der(rest).ok()?;
    let typ = match typ.data {
        [1] => "JWK".to_string(),
        [2] => "OIDC".into(),
        [3] => "GCP".into(),
        [4] => "AWS".into(),
        [5] => "Azure".into(),
        [6] => "ACME".into(),
        [7] => "X5C".into(),
        [8] => "K8sSA".into(),
        other => format!(
            "Unknown ({:#x})",
            other.iter().fold(0u64, |a, b| a << 8 | u64::from(*b))
        ),
    };
    let mut m = std::collections::BTreeMap::new();
    m.insert("type".to_string(), typ);
    m.insert("name".to_string(), String::from_utf8_lossy(name.data).into_owned());
    if !credential.data.is_empty() {
        m.insert(
            "credentialID".into(),
            String::from_utf8_lossy(credential.data).into_owned(),
        );
    }
    if let Ok((_, kv)) = Any::from_der(rest) {
        let mut items = Vec::new();
        let mut r = kv.data;
        while let Ok((next, s)) = Any::from_der(r) {
            r = next;
            items.push(String::from_utf8_lossy(s.data).into_owned());
        }
        for pair in items.chunks(2) {
            let mut key = pair[0].clone();
            if let Some(c) = key.chars().next().filter(char::is_ascii_uppercase) {
                key.replace_range(..1, &c.to_ascii_lowercase().to_string());
            }
            m.insert(key, pair.get(1).cloned().unwrap_or_else(|| "-".into()));
        }
    }
    Some(m.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect())
}

fn raw_extension(e: &X509Extension<'_>) -> RawExtension {
    RawExtension {
        id: e.oid.to_id_string(),
        critical: e.critical,
        value: B64.encode(e.value),
    }
}

fn extensions(exts: &[X509Extension<'_>]) -> (Extensions, Vec<RawExtension>) {
    let mut j = Extensions::default();
    let mut unknown = Vec::new();
    for e in exts {
        let oid = e.oid.to_id_string();
        match e.parsed_extension() {
            ParsedExtension::KeyUsage(ku) if ku.flags != 0 => {
                j.key_usage = Some(KeyUsageJson {
                    digital_signature: ku.digital_signature(),
                    content_commitment: ku.non_repudiation(),
                    key_encipherment: ku.key_encipherment(),
                    data_encipherment: ku.data_encipherment(),
                    key_agreement: ku.key_agreement(),
                    certificate_sign: ku.key_cert_sign(),
                    crl_sign: ku.crl_sign(),
                    encipher_only: ku.encipher_only(),
                    decipher_only: ku.decipher_only(),
                    value: ku.flags,
                })
            }
            ParsedExtension::KeyUsage(_) => {}
            ParsedExtension::BasicConstraints(bc) => {
                j.basic_constraints = Some(BasicConstraintsJson {
                    is_ca: bc.ca,
                    max_path_len: bc.path_len_constraint,
                })
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                j.subject_alt_name = Some(general_names(&san.general_names))
            }
            ParsedExtension::IssuerAlternativeName(ian) => j.issuer_alt_name = Some(general_names(&ian.general_names)),
            ParsedExtension::NameConstraints(nc) => j.name_constraints = Some(name_constraints(nc, e.critical)),
            ParsedExtension::CRLDistributionPoints(cdp) => {
                for point in cdp.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        j.crl_distribution_points.extend(names.iter().filter_map(|n| match n {
                            GeneralName::URI(u) => Some(u.to_string()),
                            _ => None,
                        }));
                    }
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                j.authority_key_id = a.key_identifier.as_ref().map(|k| hex::encode(k.0)).unwrap_or_default()
            }
            ParsedExtension::SubjectKeyIdentifier(k) => j.subject_key_id = hex::encode(k.0),
            ParsedExtension::ExtendedKeyUsage(eku) => j.extended_key_usage = Some(ext_key_usage(eku)),
            ParsedExtension::CertificatePolicies(p) => j.certificate_policies = Some(policies(p)),
            ParsedExtension::AuthorityInfoAccess(aia) => {
                let mut a = AiaJson::default();
                for d in aia.iter() {
                    let GeneralName::URI(u) = &d.access_location else {
                        continue;
                    };
                    match d.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => a.ocsp_urls.push(u.to_string()),
                        "1.3.6.1.5.5.7.48.2" => a.issuer_urls.push(u.to_string()),
                        _ => {}
                    }
                }
                j.authority_info_access = Some(a);
            }
            _ if oid == OID_CT_POISON => j.ct_poison = true,
            _ if oid == OID_STEP_PROVISIONER && step_provisioner(e.value).is_some() => {
                j.step_provisioner = step_provisioner(e.value)
            }
            // The SCT list and everything else stay raw.
            _ => unknown.push(raw_extension(e)),
        }
    }
    (j, unknown)
}

/// zcrypto's `names`: the subject CN when it looks like a host name, the DNS, URI and IP SANs; no duplicates, sorted.
fn names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let host_like = |s: &str| {
        let s = s.strip_prefix("*.").unwrap_or(s);
        !s.is_empty() && s.contains('.') && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    };
    if let Some(cn) = cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok())
        && host_like(cn)
    {
        out.push(cn.to_string());
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => out.push(d.to_string()),
                GeneralName::URI(u) => out.push(u.to_string()),
                GeneralName::IPAddress(b) => out.push(ip_text(b)),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The TBSCertificate re-encoded without the CT poison and SCT list extensions (zcrypto's `tbs_noct_fingerprint`).
fn tbs_without_ct(tbs: &[u8]) -> Vec<u8> {
    let strip = || -> Option<Vec<u8>> {
        let (_, outer) = Any::from_der(tbs).ok()?;
        let mut fields = Vec::new();
        let mut rest = outer.data;
        while !rest.is_empty() {
            let (r, item) = Any::from_der(rest).ok()?;
            let raw = &rest[..rest.len() - r.len()];
            rest = r;
            // extensions [3] EXPLICIT SEQUENCE OF Extension
            if item.class() == x509_parser::asn1_rs::Class::ContextSpecific && item.tag().0 == 3 {
                let (_, list) = Any::from_der(item.data).ok()?;
                let mut kept = Vec::new();
                let mut exts = list.data;
                while !exts.is_empty() {
                    let (r, ext) = Any::from_der(exts).ok()?;
                    let ext_raw = &exts[..exts.len() - r.len()];
                    exts = r;
                    let (_, oid) = x509_parser::asn1_rs::Oid::from_der(ext.data).ok()?;
                    if !matches!(oid.to_id_string().as_str(), OID_CT_POISON | OID_SCT_LIST) {
                        kept.extend_from_slice(ext_raw);
                    }
                }
                fields.extend(tlv(0xa3, &tlv(0x30, &kept)));
            } else {
                fields.extend_from_slice(raw);
            }
        }
        Some(tlv(0x30, &fields))
    };
    strip().unwrap_or_else(|| tbs.to_vec())
}

/// A CSR as step prints it: Go's default encoding of zcrypto's `CertificateRequest` struct.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepCsr {
    raw: String,
    raw_t_b_s_certificate_request: String,
    raw_subject_public_key_info: String,
    raw_subject: String,
    version: u32,
    signature: String,
    signature_algorithm: SignatureAlgorithm,
    public_key_algorithm: KeyAlgorithm,
    public_key: Box<RawValue>,
    subject: NameJson,
    attributes: Vec<CsrAttribute>,
    extensions: Vec<RawExtension>,
    extra_extensions: Option<()>,
    #[serde(rename = "DNSNames")]
    dns_names: Option<Vec<String>>,
    email_addresses: Option<Vec<String>>,
    #[serde(rename = "IPAddresses")]
    ip_addresses: Option<Vec<String>>,
    /// Not in zcrypto's struct; Go's own `x509.CertificateRequest` has it.
    #[serde(rename = "URIs")]
    uris: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CsrAttribute {
    r#type: Vec<u64>,
    value: Vec<Vec<AttributeJson>>,
}

#[derive(Debug, Serialize)]
struct AttributeJson {
    #[serde(rename = "type")]
    kind: String,
}

fn oid_arcs(oid: &x509_parser::asn1_rs::Oid<'_>) -> Vec<u64> {
    oid.iter().map(|it| it.collect()).unwrap_or_default()
}

/// Describes a CSR as step's `inspect --format json` does.
pub fn csr(der: &[u8]) -> Result<StepCsr, InspectError> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| InspectError::new("certificate request", e))?;
    let cri = &csr.certification_request_info;
    let spki = &cri.subject_pki;
    // Go's ecdsa.PublicKey and rsa.PublicKey encode their big integers as JSON numbers; ed25519 keys as base64.
    // serde_json cannot hold such numbers, so this value is written as text, indented for its place in the output.
    let public_key = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::EC(point)) => {
            let p = point.data();
            let half = p.len().saturating_sub(1) / 2;
            let (x, y) = if p.first() == Some(&4) && p.len() % 2 == 1 {
                (
                    BigUint::from_bytes_be(&p[1..=half]),
                    BigUint::from_bytes_be(&p[1 + half..]),
                )
            } else {
                (BigUint::default(), BigUint::default())
            };
            format!("{{\n    \"Curve\": {{}},\n    \"X\": {x},\n    \"Y\": {y}\n  }}")
        }
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!(
            "{{\n    \"N\": {},\n    \"E\": {}\n  }}",
            BigUint::from_bytes_be(rsa.modulus),
            rsa.try_exponent().unwrap_or(0)
        ),
        _ if key_algorithm(&spki.algorithm.algorithm.to_id_string()) == "Ed25519" => {
            serde_json::to_string(&B64.encode(spki.subject_public_key.data.as_ref())).expect("a string")
        }
        _ => "null".into(),
    };
    let mut extensions = Vec::new();
    let mut attributes = Vec::new();
    let (mut dns, mut email, mut ip, mut uri) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for attr in cri.attributes() {
        let x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(req) = attr.parsed_attribute() else {
            continue;
        };
        // Go reads each requested extension as a (type, value) pair and drops the attribute if one is critical.
        if req.extensions.iter().all(|e| !e.critical) {
            attributes.push(CsrAttribute {
                r#type: oid_arcs(&attr.oid),
                value: vec![
                    req.extensions
                        .iter()
                        .map(|e| AttributeJson {
                            kind: e.oid.to_id_string(),
                        })
                        .collect(),
                ],
            });
        }
        for e in &req.extensions {
            extensions.push(raw_extension(e));
            if let ParsedExtension::SubjectAlternativeName(san) = e.parsed_extension() {
                let g = general_names(&san.general_names);
                dns.extend(g.dns_names);
                email.extend(g.email_addresses);
                ip.extend(g.ip_addresses);
                uri.extend(g.uniform_resource_identifiers);
            }
        }
    }
    let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
    Ok(StepCsr {
        raw: B64.encode(der),
        raw_t_b_s_certificate_request: B64.encode(cri.raw),
        raw_subject_public_key_info: B64.encode(spki.raw),
        raw_subject: B64.encode(cri.subject.as_raw()),
        version: cri.version.0,
        signature: B64.encode(csr.signature_value.data.as_ref()),
        signature_algorithm: signature_algorithm(&csr.signature_algorithm.algorithm.to_id_string()),
        public_key_algorithm: KeyAlgorithm {
            name: key_algorithm(&spki.algorithm.algorithm.to_id_string()),
        },
        public_key: RawValue::from_string(public_key).expect("well-formed JSON"),
        subject: name_json(&cri.subject),
        attributes,
        extensions,
        extra_extensions: None,
        dns_names: some(dns),
        email_addresses: some(email),
        ip_addresses: some(ip),
        uris: some(uri),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_der(key: &rcgen::KeyPair, extra: Vec<rcgen::CustomExtension>) -> Vec<u8> {
        let mut p = rcgen::CertificateParams::new(vec!["ct.lab.test".to_string()]).unwrap();
        p.serial_number = Some(rcgen::SerialNumber::from(7u64));
        p.not_before = rcgen::date_time_ymd(2026, 1, 1);
        p.not_after = rcgen::date_time_ymd(2027, 1, 1);
        p.custom_extensions = extra;
        p.self_signed(key).unwrap().der().to_vec()
    }

    #[test]
    fn the_noct_fingerprint_is_the_tbs_without_the_ct_extensions() {
        let mut poison = rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3], vec![5, 0]);
        poison.set_criticality(true);
        let sct = rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], vec![4, 2, 0, 0]);
        let key = rcgen::KeyPair::generate().unwrap();
        let with = certificate(&cert_der(&key, vec![poison, sct])).unwrap();
        let without = certificate(&cert_der(&key, vec![])).unwrap();
        assert!(with.extensions.ct_poison);
        assert_eq!(with.unknown_extensions.len(), 1, "the SCT list stays raw");
        assert_ne!(with.tbs_fingerprint, without.tbs_fingerprint);
        assert_eq!(with.tbs_noct_fingerprint, without.tbs_fingerprint);
        assert_eq!(without.tbs_noct_fingerprint, without.tbs_fingerprint);
    }

    #[test]
    fn steps_provisioner_extension_is_decoded_as_step_prints_it() {
        // SEQUENCE { INTEGER 1, OCTET STRING "ops", OCTET STRING "kid-1", SEQUENCE { UTF8String "Foo", "bar" } }
        let kv = tlv(0x30, &[tlv(0x0c, b"Foo"), tlv(0x0c, b"bar")].concat());
        let value = tlv(
            0x30,
            &[tlv(0x02, &[1]), tlv(0x04, b"ops"), tlv(0x04, b"kid-1"), kv].concat(),
        );
        let m = step_provisioner(&value).unwrap();
        assert_eq!(
            serde_json::Value::Object(m),
            serde_json::json!({"type": "JWK", "name": "ops", "credentialID": "kid-1", "foo": "bar"})
        );
        assert!(step_provisioner(b"\x30\x00").is_none());
    }

    #[test]
    fn names_follow_zcrypto() {
        let c = certificate(&cert_der(&rcgen::KeyPair::generate().unwrap(), vec![])).unwrap();
        assert_eq!(c.names, vec!["ct.lab.test"]);
        assert!(c.signature.self_signed && c.signature.valid);
        assert_eq!(c.validity.length, 365 * 86400);
    }
}
