//! Password-based JWE ([RFC 7516]) with PBES2 key wrapping ([RFC 7518 §4.8]): `PBES2-HS256+A128KW`,
//! `PBES2-HS384+A192KW`, `PBES2-HS512+A256KW`, and content encryption `A128GCM`/`A192GCM`/`A256GCM` or
//! `A128CBC-HS256`/`A192CBC-HS384`/`A256CBC-HS512` ([RFC 7518 §5.2]). Compact and JSON (flattened, or general with
//! one recipient) serializations.
//!
//! The iteration count `p2c` is bounded on both sides: below 1,000 is too weak to accept, above 1,000,000 lets an
//! attacker-supplied token make us spin.
//!
//! [RFC 7516]: https://datatracker.ietf.org/doc/html/rfc7516
//! [RFC 7518 §4.8]: https://datatracker.ietf.org/doc/html/rfc7518#section-4.8
//! [RFC 7518 §5.2]: https://datatracker.ietf.org/doc/html/rfc7518#section-5.2

use std::num::NonZeroU32;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit, block_padding::Pkcs7};
use aws_lc_rs::{aead, hmac, pbkdf2};
use serde_json::{Map, Value, json};

use super::{JoseError, b64, random, unb64};

/// The smallest `p2c` we accept.
pub const MIN_P2C: u32 = 1_000;
/// The largest `p2c` we accept.
pub const MAX_P2C: u32 = 1_000_000;
/// The `p2c` we write (step's value).
pub const DEFAULT_P2C: u32 = 600_000;

/// PBES2 key-management algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// PBES2-HS256+A128KW
    Pbes2Hs256A128Kw,
    /// PBES2-HS384+A192KW
    Pbes2Hs384A192Kw,
    /// PBES2-HS512+A256KW
    Pbes2Hs512A256Kw,
}

impl KeyAlg {
    /// Parses an `alg` value.
    pub fn parse(s: &str) -> Result<KeyAlg, JoseError> {
        match s {
            "PBES2-HS256+A128KW" => Ok(KeyAlg::Pbes2Hs256A128Kw),
            "PBES2-HS384+A192KW" => Ok(KeyAlg::Pbes2Hs384A192Kw),
            "PBES2-HS512+A256KW" => Ok(KeyAlg::Pbes2Hs512A256Kw),
            other => Err(JoseError::Unsupported(format!(
                "JWE alg {other:?} (only PBES2 password-based JWE)"
            ))),
        }
    }

    /// The `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Pbes2Hs256A128Kw => "PBES2-HS256+A128KW",
            KeyAlg::Pbes2Hs384A192Kw => "PBES2-HS384+A192KW",
            KeyAlg::Pbes2Hs512A256Kw => "PBES2-HS512+A256KW",
        }
    }

    fn kek(self, password: &[u8], p2s: &[u8], p2c: u32) -> Result<Vec<u8>, JoseError> {
        if !(MIN_P2C..=MAX_P2C).contains(&p2c) {
            return Err(JoseError::BadParameter(format!(
                "PBES2 iteration count p2c {p2c} is outside {MIN_P2C}..={MAX_P2C}"
            )));
        }
        if p2s.len() < 8 {
            return Err(JoseError::BadParameter("PBES2 salt p2s is shorter than 8 bytes".into()));
        }
        let (prf, len) = match self {
            KeyAlg::Pbes2Hs256A128Kw => (pbkdf2::PBKDF2_HMAC_SHA256, 16),
            KeyAlg::Pbes2Hs384A192Kw => (pbkdf2::PBKDF2_HMAC_SHA384, 24),
            KeyAlg::Pbes2Hs512A256Kw => (pbkdf2::PBKDF2_HMAC_SHA512, 32),
        };
        // Salt = UTF8(alg) || 0x00 || Salt Input (RFC 7518 §4.8.1.1).
        let mut salt = self.name().as_bytes().to_vec();
        salt.push(0);
        salt.extend_from_slice(p2s);
        let mut kek = vec![0u8; len];
        pbkdf2::derive(
            prf,
            NonZeroU32::new(p2c).expect("checked above"),
            &salt,
            password,
            &mut kek,
        );
        Ok(kek)
    }

    fn wrap(self, kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut out = vec![0u8; cek.len() + 8];
        let bad = |_| JoseError::Malformed("AES key wrap failed".into());
        let n = match self {
            KeyAlg::Pbes2Hs256A128Kw => aes_kw::KwAes128::new_from_slice(kek)
                .map_err(|_| JoseError::Malformed("kek".into()))?
                .wrap_key(cek, &mut out)
                .map_err(bad)?
                .len(),
            KeyAlg::Pbes2Hs384A192Kw => aes_kw::KwAes192::new_from_slice(kek)
                .map_err(|_| JoseError::Malformed("kek".into()))?
                .wrap_key(cek, &mut out)
                .map_err(bad)?
                .len(),
            KeyAlg::Pbes2Hs512A256Kw => aes_kw::KwAes256::new_from_slice(kek)
                .map_err(|_| JoseError::Malformed("kek".into()))?
                .wrap_key(cek, &mut out)
                .map_err(bad)?
                .len(),
        };
        out.truncate(n);
        Ok(out)
    }

    fn unwrap(self, kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, JoseError> {
        if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
            return Err(JoseError::Malformed("encrypted_key has a bad length".into()));
        }
        let mut out = vec![0u8; wrapped.len() - 8];
        // An integrity-check failure here is what a wrong password looks like.
        let n = match self {
            KeyAlg::Pbes2Hs256A128Kw => aes_kw::KwAes128::new_from_slice(kek)
                .map_err(|_| JoseError::DecryptFailed)?
                .unwrap_key(wrapped, &mut out)
                .map_err(|_| JoseError::DecryptFailed)?
                .len(),
            KeyAlg::Pbes2Hs384A192Kw => aes_kw::KwAes192::new_from_slice(kek)
                .map_err(|_| JoseError::DecryptFailed)?
                .unwrap_key(wrapped, &mut out)
                .map_err(|_| JoseError::DecryptFailed)?
                .len(),
            KeyAlg::Pbes2Hs512A256Kw => aes_kw::KwAes256::new_from_slice(kek)
                .map_err(|_| JoseError::DecryptFailed)?
                .unwrap_key(wrapped, &mut out)
                .map_err(|_| JoseError::DecryptFailed)?
                .len(),
        };
        out.truncate(n);
        Ok(out)
    }
}

/// Content-encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    /// AES-128-GCM
    A128Gcm,
    /// AES-192-GCM
    A192Gcm,
    /// AES-256-GCM (the default)
    A256Gcm,
    /// AES-128-CBC + HMAC-SHA-256
    A128CbcHs256,
    /// AES-192-CBC + HMAC-SHA-384
    A192CbcHs384,
    /// AES-256-CBC + HMAC-SHA-512
    A256CbcHs512,
}

impl Enc {
    /// Parses an `enc` value.
    pub fn parse(s: &str) -> Result<Enc, JoseError> {
        Ok(match s {
            "A128GCM" => Enc::A128Gcm,
            "A192GCM" => Enc::A192Gcm,
            "A256GCM" => Enc::A256Gcm,
            "A128CBC-HS256" => Enc::A128CbcHs256,
            "A192CBC-HS384" => Enc::A192CbcHs384,
            "A256CBC-HS512" => Enc::A256CbcHs512,
            other => return Err(JoseError::Unsupported(format!("JWE enc {other:?}"))),
        })
    }

    /// The `enc` name.
    pub fn name(self) -> &'static str {
        match self {
            Enc::A128Gcm => "A128GCM",
            Enc::A192Gcm => "A192GCM",
            Enc::A256Gcm => "A256GCM",
            Enc::A128CbcHs256 => "A128CBC-HS256",
            Enc::A192CbcHs384 => "A192CBC-HS384",
            Enc::A256CbcHs512 => "A256CBC-HS512",
        }
    }

    fn cek_len(self) -> usize {
        match self {
            Enc::A128Gcm => 16,
            Enc::A192Gcm => 24,
            Enc::A256Gcm | Enc::A128CbcHs256 => 32,
            Enc::A192CbcHs384 => 48,
            Enc::A256CbcHs512 => 64,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            Enc::A128Gcm | Enc::A192Gcm | Enc::A256Gcm => 12,
            _ => 16,
        }
    }

    fn gcm(self) -> Option<&'static aead::Algorithm> {
        match self {
            Enc::A128Gcm => Some(&aead::AES_128_GCM),
            Enc::A192Gcm => Some(&aead::AES_192_GCM),
            Enc::A256Gcm => Some(&aead::AES_256_GCM),
            _ => None,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Enc::A192CbcHs384 => hmac::HMAC_SHA384,
            Enc::A256CbcHs512 => hmac::HMAC_SHA512,
            _ => hmac::HMAC_SHA256,
        }
    }

    /// Encrypts; returns (ciphertext, tag).
    fn seal(self, cek: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
        let fail = |_| JoseError::Malformed("encryption failed".into());
        if let Some(alg) = self.gcm() {
            let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, cek).map_err(fail)?);
            let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(fail)?;
            let mut buf = plaintext.to_vec();
            let tag = key
                .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut buf)
                .map_err(fail)?;
            return Ok((buf, tag.as_ref().to_vec()));
        }
        let half = cek.len() / 2;
        let (mac_key, enc_key) = cek.split_at(half);
        let ct = match self {
            Enc::A128CbcHs256 => cbc::Encryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Malformed("cek".into()))?
                .encrypt_padded_vec::<Pkcs7>(plaintext),
            Enc::A192CbcHs384 => cbc::Encryptor::<aes::Aes192>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Malformed("cek".into()))?
                .encrypt_padded_vec::<Pkcs7>(plaintext),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Malformed("cek".into()))?
                .encrypt_padded_vec::<Pkcs7>(plaintext),
        };
        let tag = self.cbc_tag(mac_key, aad, iv, &ct);
        Ok((ct, tag))
    }

    fn open(self, cek: &[u8], iv: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Result<Vec<u8>, JoseError> {
        if cek.len() != self.cek_len() {
            return Err(JoseError::DecryptFailed);
        }
        if iv.len() != self.iv_len() {
            return Err(JoseError::Malformed(format!(
                "iv must be {} bytes for {}",
                self.iv_len(),
                self.name()
            )));
        }
        if let Some(alg) = self.gcm() {
            let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, cek).map_err(|_| JoseError::DecryptFailed)?);
            let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| JoseError::DecryptFailed)?;
            let mut buf = ct.to_vec();
            buf.extend_from_slice(tag);
            let pt = key
                .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
                .map_err(|_| JoseError::DecryptFailed)?;
            return Ok(pt.to_vec());
        }
        let half = cek.len() / 2;
        let (mac_key, enc_key) = cek.split_at(half);
        let want = self.cbc_tag(mac_key, aad, iv, ct);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&want, tag).is_err() {
            return Err(JoseError::DecryptFailed);
        }
        let r = match self {
            Enc::A128CbcHs256 => cbc::Decryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::DecryptFailed)?
                .decrypt_padded_vec::<Pkcs7>(ct),
            Enc::A192CbcHs384 => cbc::Decryptor::<aes::Aes192>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::DecryptFailed)?
                .decrypt_padded_vec::<Pkcs7>(ct),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::DecryptFailed)?
                .decrypt_padded_vec::<Pkcs7>(ct),
        };
        r.map_err(|_| JoseError::DecryptFailed)
    }

    /// RFC 7518 §5.2.2.1: T = first half of HMAC(MAC_KEY, A || IV || E || AL).
    fn cbc_tag(self, mac_key: &[u8], aad: &[u8], iv: &[u8], ct: &[u8]) -> Vec<u8> {
        let key = hmac::Key::new(self.hmac(), mac_key);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(aad);
        ctx.update(iv);
        ctx.update(ct);
        ctx.update(&((aad.len() as u64) * 8).to_be_bytes());
        let m = ctx.sign();
        m.as_ref()[..mac_key.len()].to_vec()
    }
}

/// A JWE, in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwe {
    /// base64url of the protected header, exactly as received (it is part of the AAD).
    pub protected_b64: String,
    /// The decoded protected header.
    pub header: Map<String, Value>,
    /// The wrapped CEK.
    pub encrypted_key: Vec<u8>,
    /// The IV.
    pub iv: Vec<u8>,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
    /// The authentication tag.
    pub tag: Vec<u8>,
    /// The JSON `aad` member (base64url), if any.
    pub aad_b64: Option<String>,
}

/// Options for [`encrypt`].
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// Key management algorithm.
    pub alg: KeyAlg,
    /// Content encryption.
    pub enc: Enc,
    /// PBKDF2 iterations.
    pub p2c: u32,
    /// `cty` header.
    pub cty: Option<String>,
    /// `typ` header.
    pub typ: Option<String>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            alg: KeyAlg::Pbes2Hs256A128Kw,
            enc: Enc::A256Gcm,
            p2c: DEFAULT_P2C,
            cty: None,
            typ: None,
        }
    }
}

/// Encrypts `plaintext` with a password.
pub fn encrypt(plaintext: &[u8], password: &[u8], opts: &EncryptOptions) -> Result<Jwe, JoseError> {
    let p2s = random(16)?;
    let cek = random(opts.enc.cek_len())?;
    let iv = random(opts.enc.iv_len())?;
    encrypt_with(plaintext, password, opts, &p2s, &cek, &iv)
}

fn encrypt_with(
    plaintext: &[u8],
    password: &[u8],
    opts: &EncryptOptions,
    p2s: &[u8],
    cek: &[u8],
    iv: &[u8],
) -> Result<Jwe, JoseError> {
    let mut header = Map::new();
    header.insert("alg".into(), json!(opts.alg.name()));
    if let Some(cty) = &opts.cty {
        header.insert("cty".into(), json!(cty));
    }
    header.insert("enc".into(), json!(opts.enc.name()));
    header.insert("p2c".into(), json!(opts.p2c));
    header.insert("p2s".into(), json!(b64(p2s)));
    if let Some(typ) = &opts.typ {
        header.insert("typ".into(), json!(typ));
    }
    let protected_b64 = b64(&serde_json::to_vec(&header).expect("a map serializes"));
    let kek = opts.alg.kek(password, p2s, opts.p2c)?;
    let encrypted_key = opts.alg.wrap(&kek, cek)?;
    let (ciphertext, tag) = opts.enc.seal(cek, iv, protected_b64.as_bytes(), plaintext)?;
    Ok(Jwe {
        protected_b64,
        header,
        encrypted_key,
        iv: iv.to_vec(),
        ciphertext,
        tag,
        aad_b64: None,
    })
}

/// Decrypts with a password; returns the plaintext (wiped when dropped, with the keys derived on the way).
pub fn decrypt(jwe: &Jwe, password: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, JoseError> {
    let get = |k: &str| {
        jwe.header
            .get(k)
            .ok_or_else(|| JoseError::Malformed(format!("the JWE header has no {k:?}")))
    };
    let alg = KeyAlg::parse(get("alg")?.as_str().unwrap_or_default())?;
    let enc = Enc::parse(get("enc")?.as_str().unwrap_or_default())?;
    let p2c = get("p2c")?
        .as_u64()
        .ok_or_else(|| JoseError::Malformed("p2c is not a positive integer".into()))?;
    let p2c = u32::try_from(p2c).unwrap_or(u32::MAX);
    let p2s = unb64(get("p2s")?.as_str().unwrap_or_default(), "p2s")?;
    if let Some(zip) = jwe.header.get("zip") {
        return Err(JoseError::Unsupported(format!("JWE compression zip={zip}")));
    }
    let kek = zeroize::Zeroizing::new(alg.kek(password, &p2s, p2c)?);
    let cek = zeroize::Zeroizing::new(alg.unwrap(&kek, &jwe.encrypted_key)?);
    let aad = match &jwe.aad_b64 {
        Some(a) => format!("{}.{a}", jwe.protected_b64),
        None => jwe.protected_b64.clone(),
    };
    enc.open(&cek, &jwe.iv, aad.as_bytes(), &jwe.ciphertext, &jwe.tag)
        .map(zeroize::Zeroizing::new)
}

impl Jwe {
    /// Parses the compact form or the JSON form (flattened, or general with exactly one recipient).
    pub fn parse(input: &[u8]) -> Result<Jwe, JoseError> {
        let text = std::str::from_utf8(input)
            .map_err(|_| JoseError::Malformed("a JWE is text".into()))?
            .trim();
        if text.starts_with('{') {
            let v: Map<String, Value> =
                serde_json::from_str(text).map_err(|e| JoseError::Malformed(format!("JWE JSON: {e}")))?;
            let s = |m: &Map<String, Value>, k: &str| -> Result<String, JoseError> {
                m.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| JoseError::Malformed(format!("the JWE JSON has no {k:?}")))
            };
            let encrypted_key = match v.get("recipients").and_then(Value::as_array) {
                Some(r) if r.len() == 1 => {
                    let r = r[0]
                        .as_object()
                        .ok_or_else(|| JoseError::Malformed("bad recipient".into()))?;
                    s(r, "encrypted_key")?
                }
                Some(r) => return Err(JoseError::Unsupported(format!("a JWE with {} recipients", r.len()))),
                None => s(&v, "encrypted_key")?,
            };
            if v.contains_key("unprotected") || v.contains_key("header") {
                return Err(JoseError::Unsupported("unprotected JWE header members".into()));
            }
            let protected_b64 = s(&v, "protected")?;
            return Ok(Jwe {
                header: decode_header(&protected_b64)?,
                protected_b64,
                encrypted_key: unb64(&encrypted_key, "encrypted_key")?,
                iv: unb64(&s(&v, "iv")?, "iv")?,
                ciphertext: unb64(&s(&v, "ciphertext")?, "ciphertext")?,
                tag: unb64(&s(&v, "tag")?, "tag")?,
                aad_b64: v.get("aad").and_then(Value::as_str).map(str::to_string),
            });
        }
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 5 {
            return Err(JoseError::Malformed(format!(
                "a compact JWE has 5 dot-separated parts, this has {} (truncated?)",
                parts.len()
            )));
        }
        Ok(Jwe {
            header: decode_header(parts[0])?,
            protected_b64: parts[0].to_string(),
            encrypted_key: unb64(parts[1], "encrypted_key")?,
            iv: unb64(parts[2], "iv")?,
            ciphertext: unb64(parts[3], "ciphertext")?,
            tag: unb64(parts[4], "tag")?,
            aad_b64: None,
        })
    }

    /// The compact serialization.
    pub fn compact(&self) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.protected_b64,
            b64(&self.encrypted_key),
            b64(&self.iv),
            b64(&self.ciphertext),
            b64(&self.tag)
        )
    }

    /// The flattened JSON serialization, pretty-printed (what step writes for encrypted JWKs).
    pub fn json_pretty(&self) -> String {
        let mut m = Map::new();
        m.insert("protected".into(), json!(self.protected_b64));
        m.insert("encrypted_key".into(), json!(b64(&self.encrypted_key)));
        m.insert("iv".into(), json!(b64(&self.iv)));
        m.insert("ciphertext".into(), json!(b64(&self.ciphertext)));
        m.insert("tag".into(), json!(b64(&self.tag)));
        if let Some(a) = &self.aad_b64 {
            m.insert("aad".into(), json!(a));
        }
        serde_json::to_string_pretty(&m).expect("a map serializes") + "\n"
    }
}

fn decode_header(b: &str) -> Result<Map<String, Value>, JoseError> {
    serde_json::from_slice(&unb64(b, "the protected header")?)
        .map_err(|_| JoseError::Malformed("the JWE protected header is not a JSON object".into()))
}

/// Whether bytes look like a JWE (compact with 5 parts, or JSON with `protected` and `ciphertext`).
pub fn looks_like_jwe(data: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(data) else { return false };
    let t = t.trim();
    if t.starts_with('{') {
        return t.contains("\"ciphertext\"") && t.contains("\"protected\"");
    }
    t.split('.').count() == 5 && !t.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_PASSWORD: &[u8] = b"Thus from my lips, by yours, my sin is purged.";

    #[test]
    fn rfc7517_appendix_c_key_wrap() {
        // C.3/C.4: p2s, p2c 4096 and the CEK of C.2 give this encrypted key.
        let p2s = unb64("2WCTcJZ1Rvd_CJuJripQ1w", "p2s").unwrap();
        let cek = unb64("bxsZNEIdFE5csDjwQdBScKGDJDfK7LmsgReZwsMw_bY", "cek").unwrap();
        let kek = KeyAlg::Pbes2Hs256A128Kw.kek(RFC_PASSWORD, &p2s, 4096).unwrap();
        let wrapped = KeyAlg::Pbes2Hs256A128Kw.wrap(&kek, &cek).unwrap();
        assert_eq!(b64(&wrapped), "TrqXOwuNUfDV9VPTNbyGvEJ9JMjefAVn-TR1uIxR9p6hsRQh9Tk7BA");
    }

    #[test]
    fn rfc7517_appendix_c_full_decrypt() {
        let compact = include_str!("../../tests/data/rfc/rfc7517-appendix-c.jwe");
        let jwe = Jwe::parse(compact.as_bytes()).unwrap();
        let pt = decrypt(&jwe, RFC_PASSWORD).unwrap();
        let v: Value = serde_json::from_slice(&pt).unwrap();
        assert_eq!(v["kid"], "juliet@capulet.lit");
        assert_eq!(v["kty"], "RSA");
        assert!(matches!(decrypt(&jwe, b"wrong"), Err(JoseError::DecryptFailed)));
    }

    #[test]
    fn round_trips_every_alg_and_enc() {
        for alg in [
            KeyAlg::Pbes2Hs256A128Kw,
            KeyAlg::Pbes2Hs384A192Kw,
            KeyAlg::Pbes2Hs512A256Kw,
        ] {
            for enc in [
                Enc::A128Gcm,
                Enc::A192Gcm,
                Enc::A256Gcm,
                Enc::A128CbcHs256,
                Enc::A192CbcHs384,
                Enc::A256CbcHs512,
            ] {
                let opts = EncryptOptions {
                    alg,
                    enc,
                    p2c: 1000,
                    cty: None,
                    typ: None,
                };
                let jwe = encrypt(b"hello", b"pw", &opts).unwrap();
                for form in [jwe.compact(), jwe.json_pretty()] {
                    let parsed = Jwe::parse(form.as_bytes()).unwrap();
                    assert_eq!(decrypt(&parsed, b"pw").unwrap().as_slice(), b"hello", "{alg:?} {enc:?}");
                }
            }
        }
    }

    #[test]
    fn p2c_bounds() {
        let opts = EncryptOptions {
            p2c: 10_000_000,
            ..Default::default()
        };
        assert!(matches!(encrypt(b"x", b"pw", &opts), Err(JoseError::BadParameter(_))));
        let opts = EncryptOptions {
            p2c: 999,
            ..Default::default()
        };
        assert!(matches!(encrypt(b"x", b"pw", &opts), Err(JoseError::BadParameter(_))));
    }
}
