//! ferrica's keys in OpenSSH's private key format (`-----BEGIN OPENSSH PRIVATE KEY-----`, what `ssh-keygen` and
//! step write for SSH keys), encrypted with bcrypt-pbkdf and AES-256-CTR when a password is given. The key
//! material comes from the PKCS#8 form; the conversion goes through the OpenSSH wire encoding that `ssh-key` reads.

use ssh_encoding::{Decode as _, Encode};
use ssh_key::private::KeypairData;
use x509_parser::asn1_rs::{Any, FromDer as _};

use super::cert::{SshError, key_data_of_spki};
use crate::pki::keys::{Curve, KeyKind, PrivateKey};

/// aws-lc-rs's random generator for `ssh-key`'s encryption (salt and IV).
struct AwsRng;

impl ssh_key::rand_core::RngCore for AwsRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        aws_lc_rs::rand::fill(dest).expect("the system random generator works");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), ssh_key::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl ssh_key::rand_core::CryptoRng for AwsRng {}

/// The TLV contents at the top of `der`.
fn inner(der: &[u8]) -> Option<&[u8]> {
    Any::from_der(der).ok().map(|(_, a)| a.data)
}

/// The TLV contents of each element of a SEQUENCE's contents.
fn elements(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, item) = Any::from_der(data).ok()?;
        out.push(item.data);
        data = rest;
    }
    Some(out)
}

/// `key` as OpenSSH's private key format, encrypted with `password` when given.
pub fn openssh_private(key: &PrivateKey, comment: &str, password: Option<&[u8]>) -> Result<String, SshError> {
    let bad = || SshError::Key("cannot read the key's PKCS#8 form".into());
    let info_der = key.pkcs8_der();
    // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING, ... }
    let fields = inner(&info_der).and_then(elements).ok_or_else(bad)?;
    let private = *fields.get(2).ok_or_else(bad)?;
    let public = key_data_of_spki(&key.spki_der())?;
    let e = |err: ssh_encoding::Error| SshError::Key(err.to_string());
    let mut wire = Vec::new();
    let mpint = |bytes: &[u8], w: &mut Vec<u8>| -> Result<(), SshError> {
        ssh_key::Mpint::from_positive_bytes(bytes)
            .map_err(|err| SshError::Key(err.to_string()))?
            .encode(w)
            .map_err(|err| SshError::Key(err.to_string()))
    };
    match key.kind() {
        KeyKind::Ec(curve) => {
            // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, ... }
            let ec = inner(private).and_then(elements).ok_or_else(bad)?;
            let d = *ec.get(1).ok_or_else(bad)?;
            let ssh_key::public::KeyData::Ecdsa(point) = &public else {
                return Err(bad());
            };
            let (alg, name) = match curve {
                Curve::P256 => ("ecdsa-sha2-nistp256", "nistp256"),
                Curve::P384 => ("ecdsa-sha2-nistp384", "nistp384"),
                Curve::P521 => ("ecdsa-sha2-nistp521", "nistp521"),
            };
            alg.encode(&mut wire).map_err(e)?;
            name.encode(&mut wire).map_err(e)?;
            point.as_sec1_bytes().to_vec().encode(&mut wire).map_err(e)?;
            mpint(d, &mut wire)?;
        }
        KeyKind::Ed25519 => {
            // CurvePrivateKey ::= OCTET STRING (the 32-byte seed), inside the privateKey OCTET STRING.
            let seed = inner(private).ok_or_else(bad)?;
            let ssh_key::public::KeyData::Ed25519(pk) = &public else {
                return Err(bad());
            };
            "ssh-ed25519".encode(&mut wire).map_err(e)?;
            pk.0.to_vec().encode(&mut wire).map_err(e)?;
            [seed, &pk.0[..]].concat().encode(&mut wire).map_err(e)?;
        }
        KeyKind::Rsa(_) => {
            // RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dP, dQ, qInv }
            let r = inner(private).and_then(elements).ok_or_else(bad)?;
            if r.len() < 9 {
                return Err(bad());
            }
            "ssh-rsa".encode(&mut wire).map_err(e)?;
            for i in [1, 2, 3, 8, 4, 5] {
                mpint(r[i], &mut wire)?;
            }
        }
    }
    let data = KeypairData::decode(&mut wire.as_slice()).map_err(|err| SshError::Key(err.to_string()))?;
    let mut out = ssh_key::PrivateKey::new(data, comment).map_err(|err| SshError::Key(err.to_string()))?;
    if let Some(pw) = password {
        out = out
            .encrypt(&mut AwsRng, pw)
            .map_err(|err| SshError::Key(format!("cannot encrypt the key: {err}")))?;
    }
    out.to_openssh(ssh_key::LineEnding::LF)
        .map(|s| s.to_string())
        .map_err(|err| SshError::Key(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::KeySpec;

    #[test]
    fn every_key_type_converts_and_reads_back_with_its_public_key() {
        for spec in [
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::P521,
            KeySpec::Ed25519,
            KeySpec::Rsa(2048),
        ] {
            let key = PrivateKey::generate(spec).unwrap();
            let text = openssh_private(&key, "me", None).unwrap();
            let back = ssh_key::PrivateKey::from_openssh(&text).unwrap();
            assert_eq!(
                back.public_key().key_data(),
                &key_data_of_spki(&key.spki_der()).unwrap(),
                "{spec:?}"
            );
            let enc = openssh_private(&key, "me", Some(b"secret")).unwrap();
            let enc = ssh_key::PrivateKey::from_openssh(&enc).unwrap();
            assert!(enc.is_encrypted());
            assert_eq!(enc.decrypt(b"secret").unwrap().key_data(), back.key_data());
        }
    }
}
