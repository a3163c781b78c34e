//! OpenSSH certificates (PROTOCOL.certkeys): the to-be-signed encoding, signed by a CA key through aws-lc-rs, and
//! parsed back with the `ssh-key` crate. `ssh-key`'s own builder checks its signature with RustCrypto backends in
//! debug builds, which ferrica does not link, so the encoding below is written out field by field with
//! `ssh-encoding`, the crate `ssh-key` encodes with.

use std::collections::BTreeMap;
use std::sync::Arc;

use ssh_encoding::Encode;
use ssh_key::certificate::{CertType, OptionsMap};
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{Algorithm, Certificate, EcdsaCurve, HashAlg, Mpint, Signature};

use crate::pki::keys::{Curve, KeyKind, PrivateKey};

/// Why an SSH certificate or key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// A key of a kind SSH certificates cannot carry or that ferrica refuses.
    #[error("{0}")]
    Key(String),
    /// The certificate request itself is wrong (no principals, an empty window, ...).
    #[error("{0}")]
    Request(String),
    /// Encoding or signing failed.
    #[error("cannot sign the SSH certificate: {0}")]
    Sign(String),
}

/// The extensions step-ca (and `ssh-keygen`) give user certificates; host certificates carry none.
pub const USER_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// What goes into a certificate apart from its key and the CA's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// User or host.
    pub cert_type: CertType,
    /// The key id (step: the token's subject).
    pub key_id: String,
    /// Users or host names the certificate is valid for; never empty (an empty list means "anyone" to sshd).
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
    /// Non-zero.
    pub serial: u64,
    /// Critical options (`force-command`, `source-address`).
    pub critical_options: BTreeMap<String, String>,
    /// Extensions (the permit-* flags for users).
    pub extensions: BTreeMap<String, String>,
}

impl CertSpec {
    /// A spec with the default extensions for `cert_type`.
    pub fn new(cert_type: CertType, key_id: &str, principals: Vec<String>, window: (u64, u64), serial: u64) -> Self {
        let extensions = match cert_type {
            CertType::User => USER_EXTENSIONS.iter().map(|e| (e.to_string(), String::new())).collect(),
            CertType::Host => BTreeMap::new(),
        };
        CertSpec {
            cert_type,
            key_id: key_id.to_string(),
            principals,
            valid_after: window.0,
            valid_before: window.1,
            serial,
            critical_options: BTreeMap::new(),
            extensions,
        }
    }
}

/// A CA key that signs SSH certificates: one of ferrica's private keys (aws-lc-rs underneath).
#[derive(Clone)]
pub struct SshCa {
    key: Arc<PrivateKey>,
    public: KeyData,
}

impl std::fmt::Debug for SshCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCa")
            .field("kind", &self.key.kind())
            .finish_non_exhaustive()
    }
}

impl SshCa {
    /// Wraps `key`; RSA keys must have at least 2048 bits.
    pub fn new(key: Arc<PrivateKey>) -> Result<SshCa, SshError> {
        let public = key_data_of_spki(&key.spki_der())?;
        Ok(SshCa { key, public })
    }

    /// The CA's public key.
    pub fn public(&self) -> &KeyData {
        &self.public
    }

    /// `ecdsa-sha2-nistp256 AAAA...` (authorized_keys, `@cert-authority` lines, TrustedUserCAKeys).
    pub fn public_line(&self, comment: &str) -> String {
        public_line(&self.public, comment)
    }

    /// Signs `data` as SSH does for this key: ECDSA with the curve's hash and (r, s) as mpints, Ed25519 plainly,
    /// RSA as `rsa-sha2-256` (never SHA-1 `ssh-rsa`).
    fn sign(&self, data: &[u8]) -> Result<Signature, SshError> {
        use rcgen::SigningKey as _;
        let raw = self
            .key
            .key_pair()
            .sign(data)
            .map_err(|e| SshError::Sign(e.to_string()))?;
        let fail = |e: ssh_key::Error| SshError::Sign(e.to_string());
        match self.key.kind() {
            KeyKind::Ed25519 => Signature::new(Algorithm::Ed25519, raw).map_err(fail),
            KeyKind::Rsa(_) => Signature::new(
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                },
                raw,
            )
            .map_err(fail),
            KeyKind::Ec(curve) => {
                let (r, s) =
                    der_ecdsa_parts(&raw).ok_or_else(|| SshError::Sign("a malformed ECDSA signature".into()))?;
                let mut blob = Vec::new();
                for part in [r, s] {
                    let m = Mpint::from_positive_bytes(part).map_err(|e| SshError::Sign(e.to_string()))?;
                    m.encode(&mut blob).map_err(|e| SshError::Sign(e.to_string()))?;
                }
                Signature::new(
                    Algorithm::Ecdsa {
                        curve: ecdsa_curve(curve),
                    },
                    blob,
                )
                .map_err(fail)
            }
        }
    }
}

fn ecdsa_curve(c: Curve) -> EcdsaCurve {
    match c {
        Curve::P256 => EcdsaCurve::NistP256,
        Curve::P384 => EcdsaCurve::NistP384,
        Curve::P521 => EcdsaCurve::NistP521,
    }
}

/// `r` and `s` of a DER `SEQUENCE { INTEGER, INTEGER }`.
fn der_ecdsa_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use x509_parser::asn1_rs::{Any, FromDer as _};
    let (_, seq) = Any::from_der(der).ok()?;
    let (rest, r) = Any::from_der(seq.data).ok()?;
    let (_, s) = Any::from_der(rest).ok()?;
    Some((r.data, s.data))
}

/// The SSH public key of a SubjectPublicKeyInfo (EC P-256/384/521, Ed25519, RSA >= 2048).
pub fn key_data_of_spki(spki: &[u8]) -> Result<KeyData, SshError> {
    let key = spki_key_data(spki)?;
    check_key(&key)?;
    Ok(key)
}

/// The SSH form of a SubjectPublicKeyInfo (EC P-256/384/521, Ed25519, RSA of any size), as `crypto key format
/// --to ssh` writes it; [`key_data_of_spki`] adds the checks of what a CA certifies.
pub fn spki_key_data(spki: &[u8]) -> Result<KeyData, SshError> {
    use x509_parser::prelude::FromDer as _;
    use x509_parser::public_key::PublicKey;
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
        .map_err(|e| SshError::Key(format!("cannot read the public key: {e}")))?;
    let bad = |e: ssh_key::Error| SshError::Key(e.to_string());
    match info.parsed() {
        Ok(PublicKey::EC(point)) => Ok(KeyData::Ecdsa(
            EcdsaPublicKey::from_sec1_bytes(point.data()).map_err(bad)?,
        )),
        Ok(PublicKey::RSA(rsa)) => {
            let n = Mpint::from_positive_bytes(rsa.modulus).map_err(|e| SshError::Key(e.to_string()))?;
            let e = Mpint::from_positive_bytes(rsa.exponent).map_err(|e| SshError::Key(e.to_string()))?;
            Ok(KeyData::Rsa(RsaPublicKey { e, n }))
        }
        _ if info.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
            let bytes: [u8; 32] = info
                .subject_public_key
                .data
                .as_ref()
                .try_into()
                .map_err(|_| SshError::Key("an Ed25519 key is 32 bytes".into()))?;
            Ok(KeyData::Ed25519(Ed25519PublicKey(bytes)))
        }
        _ => Err(SshError::Key(
            "SSH certificates take EC P-256/P-384/P-521, Ed25519 or RSA keys".into(),
        )),
    }
}

/// The SubjectPublicKeyInfo DER of an SSH public key (EC, Ed25519, RSA), to verify with it through ferrica's JOSE
/// and X.509 code.
pub fn spki_of(key: &KeyData) -> Result<Vec<u8>, SshError> {
    use crate::pki::ext::tlv;
    let oid = |arcs: &[u8]| tlv(0x06, arcs);
    let bits = |b: &[u8]| tlv(0x03, &[&[0u8][..], b].concat());
    let (alg, public) = match key {
        KeyData::Ecdsa(k) => {
            let curve: &[u8] = match k.curve() {
                EcdsaCurve::NistP256 => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
                EcdsaCurve::NistP384 => &[0x2b, 0x81, 0x04, 0x00, 0x22],
                EcdsaCurve::NistP521 => &[0x2b, 0x81, 0x04, 0x00, 0x23],
            };
            let ec = oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
            (tlv(0x30, &[ec, oid(curve)].concat()), k.as_sec1_bytes().to_vec())
        }
        KeyData::Ed25519(k) => (tlv(0x30, &oid(&[0x2b, 0x65, 0x70])), k.0.to_vec()),
        KeyData::Rsa(k) => {
            let int = |m: &Mpint| {
                let p = m.as_positive_bytes().unwrap_or_default();
                let body = if p.first().is_some_and(|b| b & 0x80 != 0) {
                    [&[0u8][..], p].concat()
                } else {
                    p.to_vec()
                };
                tlv(0x02, &body)
            };
            let rsa = oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
            (
                tlv(0x30, &[rsa, vec![0x05, 0x00]].concat()),
                tlv(0x30, &[int(&k.n), int(&k.e)].concat()),
            )
        }
        other => {
            return Err(SshError::Key(format!(
                "{} keys are not supported here",
                other.algorithm()
            )));
        }
    };
    Ok(tlv(0x30, &[alg, bits(&public)].concat()))
}

/// Refuses what an SSH CA must not certify: DSA, RSA under 2048 bits, security keys and unknown types.
pub fn check_key(key: &KeyData) -> Result<(), SshError> {
    match key {
        KeyData::Ecdsa(_) | KeyData::Ed25519(_) => Ok(()),
        KeyData::Rsa(rsa) => {
            // A zero or negative modulus has no bytes here: 0 bits (the fuzzer's find: `len * 8 - 8` underflowed,
            // and in a release build wrapped around to a huge size that passed).
            let n = rsa.n.as_positive_bytes().unwrap_or_default();
            let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            if bits < 2048 {
                Err(SshError::Key(format!(
                    "the RSA key has {bits} bits; at least 2048 are needed"
                )))
            } else {
                Ok(())
            }
        }
        KeyData::Dsa(_) => Err(SshError::Key("DSA keys are refused (OpenSSH dropped them)".into())),
        other => Err(SshError::Key(format!("{} keys are not certified", other.algorithm()))),
    }
}

/// Reads an authorized_keys-style public key line (`ssh-ed25519 AAAA... comment`).
pub fn parse_public_key(text: &str) -> Result<KeyData, SshError> {
    let key = ssh_key::PublicKey::from_openssh(text.trim())
        .map_err(|e| SshError::Key(format!("not an OpenSSH public key: {e}")))?;
    check_key(key.key_data())?;
    Ok(key.key_data().clone())
}

/// `<algorithm> <base64> <comment>`.
pub fn public_line(key: &KeyData, comment: &str) -> String {
    let line = ssh_key::PublicKey::new(key.clone(), comment)
        .to_openssh()
        .unwrap_or_default();
    line.trim_end().to_string()
}

/// Signs a certificate for `subject` with `ca`. `nonce` is random (32 bytes).
pub fn sign(spec: &CertSpec, subject: &KeyData, nonce: &[u8], ca: &SshCa) -> Result<Certificate, SshError> {
    check_key(subject)?;
    if spec.principals.is_empty() || spec.principals.iter().any(String::is_empty) {
        return Err(SshError::Request(
            "a certificate needs at least one principal, none empty".into(),
        ));
    }
    if spec.valid_before <= spec.valid_after {
        return Err(SshError::Request("validBefore must be after validAfter".into()));
    }
    if spec.serial == 0 {
        return Err(SshError::Request("the serial must not be zero".into()));
    }
    let enc = |e: ssh_encoding::Error| SshError::Sign(e.to_string());
    let cert_alg = subject.algorithm().to_certificate_type().to_string();
    // The subject's key fields: its public key blob without the leading algorithm name.
    let mut blob = Vec::new();
    subject.encode(&mut blob).map_err(enc)?;
    let name_len = 4 + u32::from_be_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    let key_fields = &blob[name_len..];
    let options = |m: &BTreeMap<String, String>| -> Result<OptionsMap, SshError> {
        let mut o = OptionsMap::new();
        for (k, v) in m {
            // An option's data is itself an SSH string (PROTOCOL.certkeys); empty data stays empty.
            let data = if v.is_empty() { String::new() } else { v.clone() };
            o.insert(k.clone(), data);
        }
        Ok(o)
    };
    let mut tbs = Vec::new();
    cert_alg.encode(&mut tbs).map_err(enc)?;
    nonce.to_vec().encode(&mut tbs).map_err(enc)?;
    tbs.extend_from_slice(key_fields);
    spec.serial.encode(&mut tbs).map_err(enc)?;
    (spec.cert_type as u32).encode(&mut tbs).map_err(enc)?;
    spec.key_id.encode(&mut tbs).map_err(enc)?;
    spec.principals.encode(&mut tbs).map_err(enc)?;
    spec.valid_after.encode(&mut tbs).map_err(enc)?;
    spec.valid_before.encode(&mut tbs).map_err(enc)?;
    options(&spec.critical_options)?.encode(&mut tbs).map_err(enc)?;
    options(&spec.extensions)?.encode(&mut tbs).map_err(enc)?;
    Vec::<u8>::new().encode(&mut tbs).map_err(enc)?;
    ca.public.encode_prefixed(&mut tbs).map_err(enc)?;
    let signature = ca.sign(&tbs)?;
    let mut full = tbs;
    signature.encode_prefixed(&mut full).map_err(enc)?;
    Certificate::from_bytes(&full).map_err(|e| SshError::Sign(e.to_string()))
}

/// `<cert-algorithm> <base64> <comment>`, as `-cert.pub` files hold it.
pub fn certificate_line(cert: &Certificate) -> String {
    cert.to_openssh().unwrap_or_default().trim_end().to_string()
}

/// Reads a `-cert.pub` line.
pub fn parse_certificate(text: &str) -> Result<Certificate, SshError> {
    Certificate::from_openssh(text.trim()).map_err(|e| SshError::Key(format!("not an OpenSSH certificate: {e}")))
}

/// Verifies `cert`'s signature with aws-lc-rs against its own signature key (the caller decides whether that key
/// is a trusted CA).
pub fn verify_signature(cert: &Certificate) -> Result<(), SshError> {
    use aws_lc_rs::signature as sig;
    let mut full = Vec::new();
    cert.encode(&mut full).map_err(|e| SshError::Sign(e.to_string()))?;
    // The signed part is everything before the trailing signature string.
    let mut sig_blob = Vec::new();
    cert.signature()
        .encode_prefixed(&mut sig_blob)
        .map_err(|e| SshError::Sign(e.to_string()))?;
    let tbs = &full[..full.len() - sig_blob.len()];
    let bad = || SshError::Key("the certificate's signature does not verify".into());
    let signature = cert.signature();
    match cert.signature_key() {
        KeyData::Ed25519(k) => sig::UnparsedPublicKey::new(&sig::ED25519, &k.0)
            .verify(tbs, signature.as_bytes())
            .map_err(|_| bad()),
        KeyData::Ecdsa(k) => {
            let alg: &dyn sig::VerificationAlgorithm = match k.curve() {
                EcdsaCurve::NistP256 => &sig::ECDSA_P256_SHA256_FIXED,
                EcdsaCurve::NistP384 => &sig::ECDSA_P384_SHA384_FIXED,
                EcdsaCurve::NistP521 => &sig::ECDSA_P521_SHA512_FIXED,
            };
            let size = match k.curve() {
                EcdsaCurve::NistP256 => 32,
                EcdsaCurve::NistP384 => 48,
                EcdsaCurve::NistP521 => 66,
            };
            let mut reader = signature.as_bytes();
            let mut fixed = Vec::with_capacity(size * 2);
            for _ in 0..2 {
                let m = <Mpint as ssh_encoding::Decode>::decode(&mut reader).map_err(|_| bad())?;
                let p = m.as_positive_bytes().ok_or_else(bad)?;
                if p.len() > size {
                    return Err(bad());
                }
                fixed.extend(std::iter::repeat_n(0u8, size - p.len()));
                fixed.extend_from_slice(p);
            }
            sig::UnparsedPublicKey::new(alg, k.as_sec1_bytes())
                .verify(tbs, &fixed)
                .map_err(|_| bad())
        }
        KeyData::Rsa(k) => {
            let alg: &sig::RsaParameters = match signature.algorithm() {
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                } => &sig::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                } => &sig::RSA_PKCS1_2048_8192_SHA512,
                _ => return Err(SshError::Key("SHA-1 (ssh-rsa) signatures are refused".into())),
            };
            let n = k.n.as_positive_bytes().ok_or_else(bad)?;
            let e = k.e.as_positive_bytes().ok_or_else(bad)?;
            sig::RsaPublicKeyComponents { n, e }
                .verify(alg, tbs, signature.as_bytes())
                .map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::KeySpec;

    fn ca(spec: KeySpec) -> SshCa {
        SshCa::new(Arc::new(PrivateKey::generate(spec).unwrap())).unwrap()
    }

    #[test]
    fn an_rsa_key_with_an_empty_modulus_is_refused_as_zero_bits() {
        // Found by the `ssh` fuzz target; in a release build the size wrapped around and the key passed.
        let line = include_str!("../../fuzz/regressions/ssh/rsa-zero-modulus-underflow");
        let err = parse_public_key(line).unwrap_err().to_string();
        assert!(err.contains("has 0 bits"), "{err}");
        let zero = KeyData::Rsa(ssh_key::public::RsaPublicKey {
            e: ssh_key::Mpint::from_positive_bytes(&[1, 0, 1]).unwrap(),
            n: ssh_key::Mpint::from_positive_bytes(&[0]).unwrap(),
        });
        assert!(check_key(&zero).unwrap_err().to_string().contains("has 0 bits"));
    }

    #[test]
    fn a_certificate_signed_by_each_key_type_verifies_and_reads_back() {
        let subject = key_data_of_spki(&PrivateKey::generate(KeySpec::Ed25519).unwrap().spki_der()).unwrap();
        for spec in [
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::P521,
            KeySpec::Ed25519,
            KeySpec::Rsa(2048),
        ] {
            let ca = ca(spec);
            let s = CertSpec::new(CertType::User, "alice@lab.test", vec!["alice".into()], (100, 200), 42);
            let cert = sign(&s, &subject, &[7; 32], &ca).unwrap();
            verify_signature(&cert).unwrap();
            assert_eq!(cert.key_id(), "alice@lab.test");
            assert_eq!(cert.valid_principals(), ["alice"]);
            assert_eq!(cert.serial(), 42);
            assert_eq!(cert.extensions().len(), 5);
            assert_eq!(cert.signature_key(), ca.public());
            let line = certificate_line(&cert);
            assert_eq!(parse_certificate(&line).unwrap(), cert);
            if let KeySpec::Rsa(_) = spec {
                assert_eq!(cert.signature().algorithm().as_str(), "rsa-sha2-256");
            }
        }
    }

    #[test]
    fn a_tampered_certificate_does_not_verify_and_bad_requests_are_refused() {
        let ca = ca(KeySpec::P256);
        let subject = ca.public().clone();
        let s = CertSpec::new(CertType::Host, "web", vec!["web.lab.test".into()], (100, 200), 9);
        let cert = sign(&s, &subject, &[1; 32], &ca).unwrap();
        assert!(cert.extensions().is_empty());
        let other = sign(
            &CertSpec {
                serial: 10,
                ..s.clone()
            },
            &subject,
            &[1; 32],
            &ca,
        )
        .unwrap();
        // The signature of one certificate on the body of another.
        let mut forged = Vec::new();
        other.encode(&mut forged).unwrap();
        let mut sig_a = Vec::new();
        cert.signature().encode_prefixed(&mut sig_a).unwrap();
        let mut sig_b = Vec::new();
        other.signature().encode_prefixed(&mut sig_b).unwrap();
        forged.truncate(forged.len() - sig_b.len());
        forged.extend(sig_a);
        let forged = Certificate::from_bytes(&forged).unwrap();
        assert!(verify_signature(&forged).is_err());
        assert!(
            sign(
                &CertSpec {
                    principals: vec![],
                    ..s.clone()
                },
                &subject,
                &[1; 32],
                &ca
            )
            .is_err()
        );
        assert!(sign(&CertSpec { serial: 0, ..s.clone() }, &subject, &[1; 32], &ca).is_err());
        assert!(sign(&CertSpec { valid_before: 100, ..s }, &subject, &[1; 32], &ca).is_err());
    }

    #[test]
    fn spki_round_trips_for_every_key_type() {
        for spec in [
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::P521,
            KeySpec::Ed25519,
            KeySpec::Rsa(2048),
        ] {
            let key = PrivateKey::generate(spec).unwrap();
            let data = key_data_of_spki(&key.spki_der()).unwrap();
            assert_eq!(spki_of(&data).unwrap(), key.spki_der(), "{spec:?}");
        }
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        assert!(parse_public_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
        assert!(parse_public_key("not a key").is_err());
        let line = ca(KeySpec::Ed25519).public_line("x");
        assert!(parse_public_key(&line).is_ok());
    }
}
