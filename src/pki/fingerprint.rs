//! Fingerprints: a hash of the DER encoding, printed in one of step's formats.

use base64::Engine;

/// How a fingerprint is printed (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FingerprintFormat {
    /// Lowercase hex (the default).
    Hex,
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 with padding.
    Base64Url,
    /// Standard base64 without padding.
    Base64Raw,
    /// URL-safe base64 without padding.
    Base64UrlRaw,
}

/// The hash to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintHash {
    /// SHA-256 (the default).
    Sha256,
    /// SHA-1 (only with `--insecure`).
    Sha1,
}

/// The raw digest of `der`.
pub fn digest(der: &[u8], hash: FingerprintHash) -> Vec<u8> {
    use aws_lc_rs::digest;
    let alg = match hash {
        FingerprintHash::Sha256 => &digest::SHA256,
        FingerprintHash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
    };
    digest::digest(alg, der).as_ref().to_vec()
}

/// Encodes a digest.
pub fn encode(bytes: &[u8], format: FingerprintFormat) -> String {
    use base64::engine::general_purpose as g;
    match format {
        FingerprintFormat::Hex => hex::encode(bytes),
        FingerprintFormat::Base64 => g::STANDARD.encode(bytes),
        FingerprintFormat::Base64Url => g::URL_SAFE.encode(bytes),
        FingerprintFormat::Base64Raw => g::STANDARD_NO_PAD.encode(bytes),
        FingerprintFormat::Base64UrlRaw => g::URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The printed fingerprint of `der`.
pub fn fingerprint(der: &[u8], hash: FingerprintHash, format: FingerprintFormat) -> String {
    encode(&digest(der, hash), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let d = digest(b"abc", FingerprintHash::Sha256);
        assert_eq!(
            encode(&d, FingerprintFormat::Hex),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            encode(&d, FingerprintFormat::Base64Raw),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
        assert_eq!(
            encode(&d, FingerprintFormat::Base64UrlRaw),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(
            encode(&d, FingerprintFormat::Base64Url),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="
        );
    }
}
