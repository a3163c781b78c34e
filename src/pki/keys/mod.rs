//! Private keys: generation, parsing of every form users have, and serialization.
//!
//! Everything is normalised to PKCS#8 inside; the signing key itself is an rcgen [`KeyPair`] on aws-lc-rs.
//! Forms read: PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2), SEC1
//! (`EC PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), the last two also in legacy OpenSSL-encrypted PEM, and the same
//! structures as raw DER. Nothing here touches files or the terminal: a password is asked for through a callback,
//! and only when the key really is encrypted.

pub mod encryption;

use std::fmt;

use der::{Decode, Encode, asn1::ObjectIdentifier};
use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Errors from reading, generating or writing keys. Messages are lowercase and name no file: the caller adds it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The password did not decrypt the key.
    #[error("wrong password (the key did not decrypt)")]
    WrongPassword,
    /// The key is encrypted and no password was given.
    #[error("the key is encrypted and no password was given")]
    PasswordRequired,
    /// The bytes are not a private key in any form we know.
    #[error("not a private key: {0}")]
    NotAKey(String),
    /// A recognised structure with bad content.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// A recognised but unsupported algorithm or encryption.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// A key parameter the user asked for is not allowed.
    #[error("{0}")]
    BadParameter(String),
    /// Encryption failed (should not happen).
    #[error("could not encrypt the key")]
    Encrypt,
    /// The system random generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// What kind of key to generate (`--kty/--crv/--size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// ECDSA on NIST P-256 (the default).
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// ECDSA on NIST P-521.
    P521,
    /// Ed25519 (`--kty OKP`).
    Ed25519,
    /// RSA with the given modulus size in bits.
    Rsa(usize),
}

impl KeySpec {
    /// Builds a spec from step's flags. `kty` is EC, OKP or RSA (case-insensitive); `crv` P-256, P-384, P-521 or
    /// Ed25519; `size` the RSA bits. `insecure` allows RSA under 2048 bits, which aws-lc-rs still cannot make.
    pub fn from_flags(
        kty: Option<&str>,
        crv: Option<&str>,
        size: Option<usize>,
        insecure: bool,
    ) -> Result<KeySpec, KeyError> {
        let kty = kty.map(str::to_ascii_uppercase);
        let crv_norm = crv.map(|c| c.to_ascii_uppercase().replace('_', "-"));
        match kty.as_deref() {
            None | Some("EC") if crv_norm.as_deref() == Some("ED25519") && kty.is_none() => Ok(KeySpec::Ed25519),
            None | Some("EC") => {
                if size.is_some() {
                    return Err(KeyError::BadParameter("--size applies only to --kty RSA".into()));
                }
                match crv_norm.as_deref() {
                    None | Some("P-256") | Some("P256") | Some("PRIME256V1") | Some("SECP256R1") => Ok(KeySpec::P256),
                    Some("P-384") | Some("P384") | Some("SECP384R1") => Ok(KeySpec::P384),
                    Some("P-521") | Some("P521") | Some("SECP521R1") => Ok(KeySpec::P521),
                    Some(_) => Err(KeyError::BadParameter(format!(
                        "--crv {} is not an EC curve (use P-256, P-384 or P-521)",
                        crv.unwrap_or_default()
                    ))),
                }
            }
            Some("OKP") => match crv_norm.as_deref() {
                None | Some("ED25519") => Ok(KeySpec::Ed25519),
                Some(_) => Err(KeyError::BadParameter(format!(
                    "--crv {} is not an OKP curve (use Ed25519)",
                    crv.unwrap_or_default()
                ))),
            },
            Some("RSA") => {
                if crv.is_some() {
                    return Err(KeyError::BadParameter("--crv does not apply to --kty RSA".into()));
                }
                let bits = size.unwrap_or(2048);
                if bits < 2048 && !insecure {
                    return Err(KeyError::BadParameter(format!(
                        "--size {bits} is under 2048 bits; that needs --insecure"
                    )));
                }
                if ![2048, 3072, 4096].contains(&bits) {
                    return Err(KeyError::BadParameter(format!(
                        "--size {bits} is not supported: RSA keys are 2048, 3072 or 4096 bits (aws-lc-rs generates and \
                         signs with no other size)"
                    )));
                }
                Ok(KeySpec::Rsa(bits))
            }
            Some(other) => Err(KeyError::BadParameter(format!("--kty {other} is not EC, OKP or RSA"))),
        }
    }
}

/// A description of a key, for messages and the inspect model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA with a named curve.
    Ec(Curve),
    /// Ed25519.
    Ed25519,
    /// RSA with this many modulus bits.
    Rsa(usize),
}

/// NIST curves we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// secp256r1
    P256,
    /// secp384r1
    P384,
    /// secp521r1
    P521,
}

impl Curve {
    /// The JOSE / step name of the curve.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> Option<Curve> {
        match oid.to_string().as_str() {
            oids::P256 => Some(Curve::P256),
            oids::P384 => Some(Curve::P384),
            oids::P521 => Some(Curve::P521),
            _ => None,
        }
    }
}

impl KeyKind {
    /// The kind of the key in a SubjectPublicKeyInfo (DER).
    pub fn from_spki(spki_der: &[u8]) -> Result<KeyKind, KeyError> {
        use x509_parser::prelude::FromDer;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| KeyError::Malformed(format!("public key: {e}")))?;
        match spki.algorithm.algorithm.to_id_string().as_str() {
            oids::EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                let oid = ObjectIdentifier::new(curve.as_deref().unwrap_or(""))
                    .map_err(|_| KeyError::Malformed("EC public key without a named curve".into()))?;
                Curve::from_oid(&oid)
                    .map(KeyKind::Ec)
                    .ok_or_else(|| KeyError::Unsupported(format!("EC curve {oid}")))
            }
            oids::ED25519 => Ok(KeyKind::Ed25519),
            oids::RSA => Ok(KeyKind::Rsa(spki.parsed().map(|k| k.key_size()).unwrap_or(0))),
            other => Err(KeyError::Unsupported(format!("public key algorithm {other}"))),
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Ec(c) => write!(f, "EC {}", c.name()),
            KeyKind::Ed25519 => write!(f, "OKP Ed25519"),
            KeyKind::Rsa(bits) => write!(f, "RSA {bits}"),
        }
    }
}

/// Object identifiers used for keys.
pub mod oids {
    /// id-ecPublicKey
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    /// rsaEncryption
    pub const RSA: &str = "1.2.840.113549.1.1.1";
    /// id-Ed25519
    pub const ED25519: &str = "1.3.101.112";
    /// secp256r1
    pub const P256: &str = "1.2.840.10045.3.1.7";
    /// secp384r1
    pub const P384: &str = "1.3.132.0.34";
    /// secp521r1
    pub const P521: &str = "1.3.132.0.35";
}

/// A private key ready to sign, with its PKCS#8 form.
pub struct PrivateKey {
    pair: KeyPair,
    kind: KeyKind,
}

/// The key's bytes are wiped when it goes (rcgen keeps its PKCS#8 DER for serializing).
impl Drop for PrivateKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pair);
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a new key.
    pub fn generate(spec: KeySpec) -> Result<PrivateKey, KeyError> {
        let gen_err = |e: rcgen::Error| KeyError::Unsupported(format!("key generation: {e}"));
        let (pair, kind) = match spec {
            KeySpec::P256 => (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
                KeyKind::Ec(Curve::P256),
            ),
            KeySpec::P384 => (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
                KeyKind::Ec(Curve::P384),
            ),
            KeySpec::P521 => (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512),
                KeyKind::Ec(Curve::P521),
            ),
            KeySpec::Ed25519 => (KeyPair::generate_for(&rcgen::PKCS_ED25519), KeyKind::Ed25519),
            KeySpec::Rsa(bits) => {
                let size = match bits {
                    2048 => rcgen::RsaKeySize::_2048,
                    3072 => rcgen::RsaKeySize::_3072,
                    4096 => rcgen::RsaKeySize::_4096,
                    _ => {
                        return Err(KeyError::BadParameter(format!("RSA size {bits} is not supported")));
                    }
                };
                (
                    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size),
                    KeyKind::Rsa(bits),
                )
            }
        };
        Ok(PrivateKey {
            pair: pair.map_err(gen_err)?,
            kind,
        })
    }

    /// Parses a private key from PEM or DER bytes. `password` is called at most once, only if the key is encrypted.
    pub fn parse(data: &[u8], password: &mut dyn FnMut() -> Result<Vec<u8>, KeyError>) -> Result<PrivateKey, KeyError> {
        if let Some(block) = find_pem_block(data)? {
            return Self::from_pem_block(&block, password);
        }
        Self::from_der_any(data, password)
    }

    /// Whether these bytes hold an encrypted private key (so a password will be needed).
    pub fn is_encrypted(data: &[u8]) -> bool {
        match find_pem_block(data) {
            Ok(Some(block)) => block.tag() == "ENCRYPTED PRIVATE KEY" || block.headers().get("DEK-Info").is_some(),
            Ok(None) => pkcs8::EncryptedPrivateKeyInfoRef::from_der(&encryption::normalize_prf_null(data)).is_ok(),
            Err(_) => false,
        }
    }

    fn from_pem_block(
        block: &pem::Pem,
        password: &mut dyn FnMut() -> Result<Vec<u8>, KeyError>,
    ) -> Result<PrivateKey, KeyError> {
        let tag = block.tag();
        let body = block.contents();
        match tag {
            "PRIVATE KEY" => Self::from_pkcs8(body),
            "ENCRYPTED PRIVATE KEY" => {
                let pw = password()?;
                Self::from_pkcs8(&encryption::decrypt_pkcs8(body, &pw)?)
            }
            "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                let decrypted;
                let der = match block.headers().get("DEK-Info") {
                    Some(dek) => {
                        let pw = password()?;
                        decrypted = encryption::decrypt_legacy_pem(dek, body, &pw)?;
                        &decrypted[..]
                    }
                    None => body,
                };
                let parsed = if tag == "EC PRIVATE KEY" {
                    Self::from_sec1(der)
                } else {
                    Self::from_pkcs1(der)
                };
                // Legacy encryption has no integrity check: garbage that passed the padding check is a wrong password.
                match parsed {
                    Err(KeyError::Malformed(_)) if block.headers().get("DEK-Info").is_some() => {
                        Err(KeyError::WrongPassword)
                    }
                    other => other,
                }
            }
            "CERTIFICATE" | "TRUSTED CERTIFICATE" => Err(KeyError::NotAKey(
                "found a certificate (PEM CERTIFICATE), not a private key".into(),
            )),
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Err(KeyError::NotAKey(
                "found a certificate request, not a private key".into(),
            )),
            "PUBLIC KEY" => Err(KeyError::NotAKey("found a public key, not a private key".into())),
            other => Err(KeyError::NotAKey(format!("unexpected PEM block {other:?}"))),
        }
    }

    fn from_der_any(
        data: &[u8],
        password: &mut dyn FnMut() -> Result<Vec<u8>, KeyError>,
    ) -> Result<PrivateKey, KeyError> {
        if pkcs8::PrivateKeyInfoRef::from_der(data).is_ok() {
            return Self::from_pkcs8(data);
        }
        if pkcs8::EncryptedPrivateKeyInfoRef::from_der(&encryption::normalize_prf_null(data)).is_ok() {
            let pw = password()?;
            return Self::from_pkcs8(&encryption::decrypt_pkcs8(data, &pw)?);
        }
        if sec1::EcPrivateKey::from_der(data).is_ok() {
            return Self::from_sec1(data);
        }
        if pkcs1::RsaPrivateKeyRef::from_der(data).is_ok() {
            return Self::from_pkcs1(data);
        }
        Err(KeyError::NotAKey(
            "neither PEM nor a DER private key (PKCS#8, SEC1 or PKCS#1)".into(),
        ))
    }

    /// Loads a plaintext PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| KeyError::Malformed(format!("PKCS#8: {e}")))?;
        let oid = info.algorithm.oid.to_string();
        let (alg, kind) = match oid.as_str() {
            oids::EC_PUBLIC_KEY => {
                let curve_oid: ObjectIdentifier =
                    info.algorithm
                        .parameters
                        .as_ref()
                        .and_then(|p| p.decode_as().ok())
                        .ok_or_else(|| KeyError::Malformed("EC key without a named curve".into()))?;
                let curve = Curve::from_oid(&curve_oid)
                    .ok_or_else(|| KeyError::Unsupported(format!("EC curve {curve_oid}")))?;
                (ec_alg(curve), KeyKind::Ec(curve))
            }
            oids::ED25519 => (&rcgen::PKCS_ED25519, KeyKind::Ed25519),
            oids::RSA => {
                let bits = rsa_bits(info.private_key.as_bytes())?;
                (&rcgen::PKCS_RSA_SHA256, KeyKind::Rsa(bits))
            }
            other => return Err(KeyError::Unsupported(format!("key algorithm {other}"))),
        };
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
        Self::load(&key_der, alg, kind)
    }

    fn from_sec1(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(|e| KeyError::Malformed(format!("SEC1: {e}")))?;
        let curve_oid = key
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or_else(|| KeyError::Malformed("SEC1 key without a named curve".into()))?;
        Curve::from_oid(&curve_oid).ok_or_else(|| KeyError::Unsupported(format!("EC curve {curve_oid}")))?;
        // Re-wrap as PKCS#8 so that serialization is always PKCS#8.
        Self::from_pkcs8(&wrap_pkcs8(oids::EC_PUBLIC_KEY, Some(&curve_oid), der)?)
    }

    fn from_pkcs1(der: &[u8]) -> Result<PrivateKey, KeyError> {
        rsa_bits(der)?;
        Self::from_pkcs8(&wrap_pkcs8(oids::RSA, None, der)?)
    }

    fn load(der: &PrivateKeyDer<'_>, alg: &'static SignatureAlgorithm, kind: KeyKind) -> Result<PrivateKey, KeyError> {
        if let KeyKind::Rsa(bits) = kind
            && bits < 2048
        {
            return Err(KeyError::Unsupported(format!(
                "RSA key of {bits} bits (aws-lc-rs signs only with 2048 bits or more)"
            )));
        }
        let pair = KeyPair::from_der_and_sign_algo(der, alg)
            .map_err(|e| KeyError::Malformed(format!("the key was rejected: {e}")))?;
        Ok(PrivateKey { pair, kind })
    }

    /// The key type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The rcgen key pair, for signing.
    pub fn key_pair(&self) -> &KeyPair {
        &self.pair
    }

    /// The plaintext PKCS#8 v1 DER. aws-lc-rs makes Ed25519 keys as PKCS#8 v2 (RFC 5958, with the public key),
    /// which openssl 3.0 cannot read: the optional public key is dropped.
    pub fn pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let der = zeroize::Zeroizing::new(self.pair.serialize_der());
        match pkcs8::PrivateKeyInfoRef::from_der(&der) {
            Ok(mut info) if info.public_key.is_some() => {
                info.public_key = None;
                match info.to_der() {
                    Ok(v1) => zeroize::Zeroizing::new(v1),
                    Err(_) => der.clone(),
                }
            }
            _ => der,
        }
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// PEM of the key: `ENCRYPTED PRIVATE KEY` (PBES2, PBKDF2-HMAC-SHA256 600,000 rounds, AES-256-CBC) when a
    /// password is given, else `PRIVATE KEY`.
    pub fn to_pem(&self, password: Option<&[u8]>) -> Result<String, KeyError> {
        let block = match password {
            Some(pw) => pem::Pem::new(
                "ENCRYPTED PRIVATE KEY",
                encryption::encrypt_pkcs8(&self.pkcs8_der(), pw)?,
            ),
            None => pem::Pem::new("PRIVATE KEY", self.pkcs8_der().to_vec()),
        };
        let text = pem::encode_config(&block, pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF));
        // The block held the plaintext DER.
        zeroize::Zeroize::zeroize(&mut block.into_contents());
        Ok(text)
    }

    /// PEM of the public key (`PUBLIC KEY`, SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("PUBLIC KEY", self.spki_der()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }
}

fn ec_alg(curve: Curve) -> &'static SignatureAlgorithm {
    match curve {
        Curve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Curve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        Curve::P521 => &rcgen::PKCS_ECDSA_P521_SHA512,
    }
}

fn rsa_bits(pkcs1_der: &[u8]) -> Result<usize, KeyError> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(pkcs1_der).map_err(|e| KeyError::Malformed(format!("PKCS#1: {e}")))?;
    let m = key.modulus.as_bytes();
    let leading = m.iter().take_while(|b| **b == 0).count();
    let m = &m[leading..];
    Ok(m.first()
        .map_or(0, |b| (m.len() - 1) * 8 + (8 - b.leading_zeros() as usize)))
}

/// Wraps a raw private key (SEC1, PKCS#1, or an Ed25519 `CurvePrivateKey`) into a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn wrap_pkcs8(alg_oid: &str, curve: Option<&ObjectIdentifier>, key: &[u8]) -> Result<Vec<u8>, KeyError> {
    let err = |e: der::Error| KeyError::Malformed(format!("re-encoding as PKCS#8: {e}"));
    let oid = ObjectIdentifier::new(alg_oid).map_err(|_| KeyError::Encrypt)?;
    // EC: the named curve; RSA: NULL; Ed25519: absent (RFC 8410).
    let params = match (curve, alg_oid) {
        (Some(c), _) => Some(der::Any::encode_from(c).map_err(err)?),
        (None, oids::ED25519) => None,
        (None, _) => Some(der::Any::null()),
    };
    let info = pkcs8::PrivateKeyInfoOwned::new(
        pkcs8::spki::AlgorithmIdentifier {
            oid,
            parameters: params,
        },
        der::asn1::OctetString::new(key).map_err(err)?,
    );
    info.to_der().map_err(err)
}

/// Finds the first PEM block in `data`. `Ok(None)` if the data is not PEM at all; an error if it looks like PEM but
/// is damaged (a truncated file, typically).
pub fn find_pem_block(data: &[u8]) -> Result<Option<pem::Pem>, KeyError> {
    if !looks_like_pem(data) {
        return Ok(None);
    }
    pem::parse(data)
        .map(Some)
        .map_err(|e| KeyError::NotAKey(pem_error_text(&e)))
}

/// Whether the bytes contain a PEM `-----BEGIN` line.
pub fn looks_like_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

/// A readable description of a PEM parse error.
pub fn pem_error_text(e: &pem::PemError) -> String {
    match e {
        pem::PemError::MissingEndTag | pem::PemError::MissingData | pem::PemError::MalformedFraming => {
            "truncated PEM (no complete -----BEGIN/-----END block)".into()
        }
        pem::PemError::MismatchedTags(a, b) => format!("damaged PEM (BEGIN {a} but END {b})"),
        pem::PemError::InvalidData(_) => "damaged PEM (bad base64 body; truncated?)".into(),
        other => format!("damaged PEM ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_pw() -> impl FnMut() -> Result<Vec<u8>, KeyError> {
        || Err(KeyError::PasswordRequired)
    }

    #[test]
    fn spec_from_flags() {
        assert_eq!(KeySpec::from_flags(None, None, None, false).unwrap(), KeySpec::P256);
        assert_eq!(
            KeySpec::from_flags(Some("OKP"), Some("Ed25519"), None, false).unwrap(),
            KeySpec::Ed25519
        );
        assert_eq!(
            KeySpec::from_flags(Some("rsa"), None, Some(3072), false).unwrap(),
            KeySpec::Rsa(3072)
        );
        assert!(KeySpec::from_flags(Some("RSA"), None, Some(1024), false).is_err());
        assert!(KeySpec::from_flags(Some("EC"), Some("P-999"), None, false).is_err());
    }

    #[test]
    fn generate_and_reparse_every_kind() {
        for spec in [KeySpec::P256, KeySpec::P384, KeySpec::P521, KeySpec::Ed25519] {
            let key = PrivateKey::generate(spec).unwrap();
            let pem = key.to_pem(None).unwrap();
            let again = PrivateKey::parse(pem.as_bytes(), &mut no_pw()).unwrap();
            assert_eq!(again.spki_der(), key.spki_der());
            assert_eq!(again.kind(), key.kind());
        }
    }

    #[test]
    fn truncated_pem_is_reported() {
        let pem = PrivateKey::generate(KeySpec::P256).unwrap().to_pem(None).unwrap();
        let cut = &pem.as_bytes()[..pem.len() / 2];
        let err = PrivateKey::parse(cut, &mut no_pw()).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
