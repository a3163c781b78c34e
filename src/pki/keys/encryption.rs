//! Password-based private-key encryption.
//!
//! Two formats:
//! - PKCS#8 `ENCRYPTED PRIVATE KEY` with PBES2 ([RFC 8018 §6.2]): what ferrica writes (PBKDF2-HMAC-SHA256,
//!   600,000 iterations, 16-byte salt, AES-256-CBC) and reads (PBKDF2 with SHA-1/224/256/384/512, AES-128/192/256-CBC
//!   or DES-EDE3-CBC).
//! - Legacy OpenSSL PEM encryption ([RFC 1421]/[RFC 1423]): `Proc-Type: 4,ENCRYPTED` plus
//!   `DEK-Info: <cipher>,<hex IV>`, keyed by `EVP_BytesToKey(MD5, salt = IV[..8], 1 round)`. Read only: it is
//!   what `step` and older openssl write, and it is too weak to write.
//!
//! The ASN.1 structures come from the `pkcs5`/`pkcs8` crates, PBKDF2 from aws-lc-rs and the block ciphers from the
//! RustCrypto `cbc`, `aes` and `des` crates.
//!
//! [RFC 8018 §6.2]: https://datatracker.ietf.org/doc/html/rfc8018#section-6.2
//! [RFC 1421]: https://datatracker.ietf.org/doc/html/rfc1421
//! [RFC 1423]: https://datatracker.ietf.org/doc/html/rfc1423

use std::num::NonZeroU32;
use zeroize::Zeroizing;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use der::{Decode, Encode};
use md5::Digest;
use pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf};
use pkcs8::EncryptedPrivateKeyInfoRef;

use super::KeyError;

/// PBKDF2 iterations used when ferrica encrypts a key (step's value since 2023, OWASP's recommendation).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Above this we refuse to derive: an attacker-supplied file must not make us spin for minutes.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Encrypts a PKCS#8 `PrivateKeyInfo` (DER) into an `EncryptedPrivateKeyInfo` (DER).
pub fn encrypt_pkcs8(pkcs8_der: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    encrypt_pkcs8_with_iterations(pkcs8_der, password, PBKDF2_ITERATIONS)
}

pub(crate) fn encrypt_pkcs8_with_iterations(
    pkcs8_der: &[u8],
    password: &[u8],
    iterations: u32,
) -> Result<Vec<u8>, KeyError> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    fill_random(&mut salt)?;
    fill_random(&mut iv)?;
    let kdf = Pbkdf2Params::hmac_sha256(iterations, &salt).map_err(|_| KeyError::Encrypt)?;
    let params = pbes2::Parameters {
        kdf: Kdf::Pbkdf2(kdf),
        encryption: pbes2::EncryptionScheme::Aes256Cbc { iv },
    };
    let mut key = [0u8; 32];
    pbkdf2(Pbkdf2Prf::HmacWithSha256, iterations, &salt, password, &mut key)?;
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
        .map_err(|_| KeyError::Encrypt)?
        .encrypt_padded_vec::<Pkcs7>(pkcs8_der);
    let octets = der::asn1::OctetString::new(ciphertext).map_err(|_| KeyError::Encrypt)?;
    let info = pkcs8::EncryptedPrivateKeyInfoOwned {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: octets,
    };
    info.to_der().map_err(|_| KeyError::Encrypt)
}

/// Decrypts an `EncryptedPrivateKeyInfo` (DER) into the PKCS#8 `PrivateKeyInfo` DER.
pub fn decrypt_pkcs8(der: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let der = normalize_prf_null(der);
    let info = EncryptedPrivateKeyInfoRef::from_der(&der)
        .map_err(|e| KeyError::Malformed(format!("encrypted PKCS#8: {e}")))?;
    let params = match &info.encryption_algorithm {
        pkcs5::EncryptionScheme::Pbes2(p) => p,
        _ => {
            return Err(KeyError::Unsupported(
                "PBES1 key encryption (re-encrypt the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)".into(),
            ));
        }
    };
    let Kdf::Pbkdf2(kdf) = &params.kdf else {
        return Err(KeyError::Unsupported("scrypt key derivation in PKCS#8".into()));
    };
    if kdf.iteration_count > MAX_ITERATIONS {
        return Err(KeyError::Malformed(format!(
            "PBKDF2 iteration count {} is above the limit of {MAX_ITERATIONS}",
            kdf.iteration_count
        )));
    }
    let ciphertext = info.encrypted_data.as_bytes();
    let key_len = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { .. } => 16,
        pbes2::EncryptionScheme::Aes192Cbc { .. } => 24,
        pbes2::EncryptionScheme::Aes256Cbc { .. } => 32,
        pbes2::EncryptionScheme::DesEde3Cbc { .. } => 24,
        _ => {
            return Err(KeyError::Unsupported(format!(
                "PKCS#8 cipher {}",
                params.encryption.oid()
            )));
        }
    };
    if let Some(len) = kdf.key_length
        && usize::from(len) != key_len
    {
        return Err(KeyError::Malformed(
            "PBKDF2 key length does not match the cipher".into(),
        ));
    }
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    pbkdf2(
        kdf.prf,
        kdf.iteration_count,
        kdf.salt.as_bytes(),
        password,
        &mut key[..],
    )?;
    let plain = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => cbc_decrypt::<aes::Aes128>(&key, &iv, ciphertext),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => cbc_decrypt::<aes::Aes192>(&key, &iv, ciphertext),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => cbc_decrypt::<aes::Aes256>(&key, &iv, ciphertext),
        pbes2::EncryptionScheme::DesEde3Cbc { iv } => cbc_decrypt::<des::TdesEde3>(&key, &iv, ciphertext),
        _ => {
            return Err(KeyError::Unsupported(format!(
                "PKCS#8 cipher {}",
                params.encryption.oid()
            )));
        }
    }?;
    // A wrong password can pass the padding check by chance (about 1 in 256): make sure what came out is a key.
    if pkcs8::PrivateKeyInfoRef::from_der(&plain).is_err() {
        return Err(KeyError::WrongPassword);
    }
    Ok(plain)
}

/// step (Go's `encoding/asn1`) writes the PBKDF2 PRF `AlgorithmIdentifier` parameters as `00 00` instead of a
/// DER NULL (`05 00`). Neither openssl 3.0 ("unexpected eoc") nor the strict `pkcs5` parser accepts it. Rewrite that pattern
/// (`OID hmacWithSHA1/224/256/384/512` followed by `00 00`) to a NULL; the length is unchanged.
pub fn normalize_prf_null(der: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const HMAC_PREFIX: [u8; 9] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02];
    let Some(pos) = der
        .windows(12)
        .position(|w| w[..9] == HMAC_PREFIX && matches!(w[9], 7..=11) && w[10] == 0x00 && w[11] == 0x00)
    else {
        return std::borrow::Cow::Borrowed(der);
    };
    let mut fixed = der.to_vec();
    fixed[pos + 10] = 0x05;
    std::borrow::Cow::Owned(fixed)
}

/// Decrypts the body of a legacy encrypted PEM block, given its `DEK-Info` header value.
pub fn decrypt_legacy_pem(dek_info: &str, body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| KeyError::Malformed(format!("DEK-Info header {dek_info:?}")))?;
    let iv =
        hex::decode(iv_hex.trim()).map_err(|_| KeyError::Malformed(format!("DEK-Info IV {iv_hex:?} is not hex")))?;
    let (key_len, block) = match cipher.trim().to_ascii_uppercase().as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        other => return Err(KeyError::Unsupported(format!("legacy PEM cipher {other}"))),
    };
    if iv.len() != block {
        return Err(KeyError::Malformed(format!(
            "DEK-Info IV has {} bytes, want {block}",
            iv.len()
        )));
    }
    let key = evp_bytes_to_key(password, &iv[..8], key_len);
    match cipher.trim().to_ascii_uppercase().as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, body),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, body),
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, body),
        _ => cbc_decrypt::<des::TdesEde3>(&key, &iv, body),
    }
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration: D_i = MD5(D_{i-1} || password || salt).
fn evp_bytes_to_key(password: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev = Zeroizing::new(Vec::new());
    while key.len() < key_len {
        let mut h = md5::Md5::new();
        h.update(&prev);
        h.update(password);
        h.update(salt);
        prev = Zeroizing::new(h.finalize().to_vec());
        key.extend_from_slice(&prev);
    }
    key.truncate(key_len);
    key
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| KeyError::WrongPassword)?;
    // Bad padding after decryption means the key (so the password) was wrong.
    dec.decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassword)
}

fn pbkdf2(prf: Pbkdf2Prf, iterations: u32, salt: &[u8], password: &[u8], out: &mut [u8]) -> Result<(), KeyError> {
    use aws_lc_rs::pbkdf2 as p;
    let alg = match prf {
        Pbkdf2Prf::HmacWithSha1 => p::PBKDF2_HMAC_SHA1,
        Pbkdf2Prf::HmacWithSha256 => p::PBKDF2_HMAC_SHA256,
        Pbkdf2Prf::HmacWithSha384 => p::PBKDF2_HMAC_SHA384,
        Pbkdf2Prf::HmacWithSha512 => p::PBKDF2_HMAC_SHA512,
        other => return Err(KeyError::Unsupported(format!("PBKDF2 PRF {}", other.oid()))),
    };
    let iterations =
        NonZeroU32::new(iterations).ok_or_else(|| KeyError::Malformed("PBKDF2 iteration count is 0".into()))?;
    p::derive(alg, iterations, salt, password, out);
    Ok(())
}

pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), KeyError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| KeyError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:password`
        let key = evp_bytes_to_key(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode_upper(key),
            "E7B0971E52CA5CC8D0539FB3412F6316F7BA2E6EE293D9F3457B99436B51CE02"
        );
    }

    #[test]
    fn pkcs8_round_trip_and_wrong_password() {
        let plain = rcgen::KeyPair::generate().unwrap().serialize_der();
        let enc = encrypt_pkcs8_with_iterations(&plain, b"secret", 1000).unwrap();
        assert_eq!(*decrypt_pkcs8(&enc, b"secret").unwrap(), plain);
        assert!(matches!(decrypt_pkcs8(&enc, b"wrong"), Err(KeyError::WrongPassword)));
    }
}
