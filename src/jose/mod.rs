//! JOSE: JSON Web Keys ([RFC 7517]), signatures and tokens ([RFC 7515], [RFC 7519]) and password-based
//! encryption ([RFC 7516], PBES2 from [RFC 7518 §4.8]).
//!
//! Crypto runs on aws-lc-rs (signatures, HMAC, PBKDF2, AES-GCM) with RustCrypto `aes-kw` for AES key wrap (aws-lc-rs
//! has no AES-192 KW) and `cbc` for the AES-CBC-HMAC content encryptions. Like `pki`, nothing here touches files,
//! the terminal, the network or the clock: callers pass `now`.
//!
//! [RFC 7515]: https://datatracker.ietf.org/doc/html/rfc7515
//! [RFC 7516]: https://datatracker.ietf.org/doc/html/rfc7516
//! [RFC 7517]: https://datatracker.ietf.org/doc/html/rfc7517
//! [RFC 7518 §4.8]: https://datatracker.ietf.org/doc/html/rfc7518#section-4.8
//! [RFC 7519]: https://datatracker.ietf.org/doc/html/rfc7519

pub mod jwe;
pub mod jwk;
pub mod jws;

use base64::Engine;

/// Errors from JOSE operations. Messages are lowercase and never contain key material or passwords.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoseError {
    /// Input that is not what it should be (bad JSON, bad base64, missing member).
    #[error("{0}")]
    Malformed(String),
    /// An algorithm or key type we do not support.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// Decryption failed: wrong password or tampered data.
    #[error("decryption failed (wrong password, or the data was changed)")]
    DecryptFailed,
    /// A signature did not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// A token was refused (claims, algorithm).
    #[error("{0}")]
    Rejected(String),
    /// A parameter is out of the allowed range.
    #[error("{0}")]
    BadParameter(String),
    /// A key problem (from `pki::keys`).
    #[error(transparent)]
    Key(#[from] crate::pki::keys::KeyError),
}

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url (padding tolerated), naming the field on error.
pub fn unb64(s: &str, what: &str) -> Result<Vec<u8>, JoseError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| JoseError::Malformed(format!("{what} is not base64url")))
}

/// Cryptographically random bytes.
pub fn random(n: usize) -> Result<Vec<u8>, JoseError> {
    let mut v = vec![0u8; n];
    crate::pki::keys::encryption::fill_random(&mut v)?;
    Ok(v)
}
