//! ferrica's keys in OpenSSH's private key format (`-----BEGIN OPENSSH PRIVATE KEY-----`, what `ssh-keygen` and
//! step write for SSH keys), encrypted with bcrypt-pbkdf and AES-256-CTR when a password is given. The key
//! material comes from the PKCS#8 form; the conversion goes through the OpenSSH wire encoding that `ssh-key` reads.

use ssh_encoding::{Decode as _, Encode};
use ssh_key::private::KeypairData;
use x509_parser::asn1_rs::{Any, FromDer as _};

use super::cert::{SshError, key_data_of_spki};
use crate::pki::ext::tlv;
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

/// Which private key fields to encode: a key file's, or those an agent takes beside a certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fields {
    /// The algorithm name and every field (OpenSSH's private key format).
    Key,
    /// Only what the certificate does not carry (the agent's ADD_IDENTITY for a certificate).
    BesideCertificate,
}

/// `key`'s fields in OpenSSH's wire encoding.
fn wire_fields(key: &PrivateKey, which: Fields) -> Result<Vec<u8>, SshError> {
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
    let full = which == Fields::Key;
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
            if full {
                alg.encode(&mut wire).map_err(e)?;
                name.encode(&mut wire).map_err(e)?;
                point.as_sec1_bytes().to_vec().encode(&mut wire).map_err(e)?;
                // The scalar at its full width (a zero first only when the top bit is set), as `ssh-key` reads
                // it: a minimal mpint of a scalar that starts with zero bytes would be refused as too short.
                let d = if d.first().is_some_and(|b| b & 0x80 != 0) {
                    [&[0u8][..], d].concat()
                } else {
                    d.to_vec()
                };
                d.encode(&mut wire).map_err(e)?;
            } else {
                mpint(d, &mut wire)?;
            }
        }
        KeyKind::Ed25519 => {
            // CurvePrivateKey ::= OCTET STRING (the 32-byte seed), inside the privateKey OCTET STRING.
            let seed = inner(private).ok_or_else(bad)?;
            let ssh_key::public::KeyData::Ed25519(pk) = &public else {
                return Err(bad());
            };
            if full {
                "ssh-ed25519".encode(&mut wire).map_err(e)?;
            }
            pk.0.to_vec().encode(&mut wire).map_err(e)?;
            [seed, &pk.0[..]].concat().encode(&mut wire).map_err(e)?;
        }
        KeyKind::Rsa(_) => {
            // RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dP, dQ, qInv }
            let r = inner(private).and_then(elements).ok_or_else(bad)?;
            if r.len() < 9 {
                return Err(bad());
            }
            let order: &[usize] = if full {
                "ssh-rsa".encode(&mut wire).map_err(e)?;
                &[1, 2, 3, 8, 4, 5]
            } else {
                &[3, 8, 4, 5]
            };
            for &i in order {
                mpint(r[i], &mut wire)?;
            }
        }
    }
    Ok(wire)
}

/// The ssh-agent request (draft-miller-ssh-agent, framed) that adds `key`, or with `cert` the certificate identity,
/// for `lifetime` seconds (SSH_AGENTC_ADD_ID_CONSTRAINED with SSH_AGENT_CONSTRAIN_LIFETIME).
pub fn agent_add_request(
    key: &PrivateKey,
    cert: Option<&ssh_key::Certificate>,
    comment: &str,
    lifetime: u32,
) -> Result<Vec<u8>, SshError> {
    let e = |err: ssh_encoding::Error| SshError::Key(err.to_string());
    let mut body = vec![25u8];
    match cert {
        Some(c) => {
            c.algorithm().to_certificate_type().encode(&mut body).map_err(e)?;
            let mut blob = Vec::new();
            c.encode(&mut blob).map_err(e)?;
            blob.encode(&mut body).map_err(e)?;
            body.extend(wire_fields(key, Fields::BesideCertificate)?);
        }
        None => body.extend(wire_fields(key, Fields::Key)?),
    }
    comment.encode(&mut body).map_err(e)?;
    body.push(1); // SSH_AGENT_CONSTRAIN_LIFETIME
    lifetime.encode(&mut body).map_err(e)?;
    let mut framed = Vec::with_capacity(body.len() + 4);
    (body.len() as u32).encode(&mut framed).map_err(e)?;
    framed.extend(body);
    Ok(framed)
}

/// `key` as OpenSSH's private key format, encrypted with `password` when given.
pub fn openssh_private(key: &PrivateKey, comment: &str, password: Option<&[u8]>) -> Result<String, SshError> {
    let wire = wire_fields(key, Fields::Key)?;
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

/// The most bcrypt rounds an encrypted OpenSSH key may ask for (`ssh-keygen -a`; OpenSSH's default is 16).
pub const MAX_BCRYPT_ROUNDS: u32 = 256;

/// Reads an SSH private key file: OpenSSH's format (decrypted with `password` when encrypted) or PEM/PKCS#8 as
/// ferrica and openssl write it. `password` is asked for only when the file is encrypted.
pub fn read_private(
    data: &[u8],
    password: &mut dyn FnMut() -> Result<Vec<u8>, SshError>,
) -> Result<PrivateKey, SshError> {
    let text = String::from_utf8_lossy(data);
    if !text.contains("BEGIN OPENSSH PRIVATE KEY") {
        let mut pw = || password().map_err(|_| crate::pki::keys::KeyError::PasswordRequired);
        return PrivateKey::parse(data, &mut pw).map_err(|e| SshError::Key(e.to_string()));
    }
    let mut key = ssh_key::PrivateKey::from_openssh(text.as_bytes()).map_err(|e| SshError::Key(e.to_string()))?;
    if key.is_encrypted() {
        // bcrypt_pbkdf's cost grows with the rounds the file names: a key file must not buy minutes of CPU (the
        // fuzzer found one that did). OpenSSH writes 16 unless told otherwise with `ssh-keygen -a`.
        if let ssh_key::Kdf::Bcrypt { rounds, .. } = key.kdf()
            && *rounds > MAX_BCRYPT_ROUNDS
        {
            return Err(SshError::Key(format!(
                "the key's bcrypt KDF asks for {rounds} rounds; at most {MAX_BCRYPT_ROUNDS} are accepted"
            )));
        }
        let pw = password()?;
        key = key
            .decrypt(&pw)
            .map_err(|_| SshError::Key("wrong password for the SSH key".into()))?;
    }
    let pkcs8 = match key.key_data() {
        KeypairData::Ecdsa(ec) => {
            let (curve_oid, d, point): (&[u8], &[u8], &[u8]) = match ec {
                ssh_key::private::EcdsaKeypair::NistP256 { public, private } => (
                    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
                    private.as_slice(),
                    public.as_bytes(),
                ),
                ssh_key::private::EcdsaKeypair::NistP384 { public, private } => {
                    (&[0x2b, 0x81, 0x04, 0x00, 0x22], private.as_slice(), public.as_bytes())
                }
                ssh_key::private::EcdsaKeypair::NistP521 { public, private } => {
                    (&[0x2b, 0x81, 0x04, 0x00, 0x23], private.as_slice(), public.as_bytes())
                }
            };
            // ECPrivateKey { 1, d, [1] publicKey } inside PKCS#8 with the curve in the algorithm.
            let ec_key = tlv(
                0x30,
                &[
                    tlv(0x02, &[1]),
                    tlv(0x04, d),
                    tlv(0xa1, &tlv(0x03, &[&[0u8][..], point].concat())),
                ]
                .concat(),
            );
            let alg = tlv(
                0x30,
                &[
                    tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    tlv(0x06, curve_oid),
                ]
                .concat(),
            );
            tlv(0x30, &[tlv(0x02, &[0]), alg, tlv(0x04, &ec_key)].concat())
        }
        KeypairData::Ed25519(k) => {
            let alg = tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x70]));
            tlv(
                0x30,
                &[tlv(0x02, &[0]), alg, tlv(0x04, &tlv(0x04, k.private.as_ref()))].concat(),
            )
        }
        KeypairData::Rsa(k) => {
            use x509_parser::num_bigint::BigUint;
            let big = |m: &ssh_key::Mpint| BigUint::from_bytes_be(m.as_positive_bytes().unwrap_or_default());
            let (n, e, d, p, q, iqmp) = (
                big(&k.public.n),
                big(&k.public.e),
                big(&k.private.d),
                big(&k.private.p),
                big(&k.private.q),
                big(&k.private.iqmp),
            );
            let one = BigUint::from(1u8);
            let (dp, dq) = (&d % (&p - &one), &d % (&q - &one));
            let int = |v: &BigUint| {
                let b = v.to_bytes_be();
                tlv(
                    0x02,
                    &if b.first().is_some_and(|x| x & 0x80 != 0) {
                        [&[0u8][..], &b].concat()
                    } else {
                        b
                    },
                )
            };
            let rsa = tlv(
                0x30,
                &[
                    tlv(0x02, &[0]),
                    int(&n),
                    int(&e),
                    int(&d),
                    int(&p),
                    int(&q),
                    int(&dp),
                    int(&dq),
                    int(&iqmp),
                ]
                .concat(),
            );
            let alg = tlv(
                0x30,
                &[
                    tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]),
                    vec![0x05, 0x00],
                ]
                .concat(),
            );
            tlv(0x30, &[tlv(0x02, &[0]), alg, tlv(0x04, &rsa)].concat())
        }
        other => {
            return Err(SshError::Key(format!(
                "{} keys are not supported",
                other.algorithm().map(|a| a.to_string()).unwrap_or_default()
            )));
        }
    };
    PrivateKey::from_pkcs8(&pkcs8).map_err(|e| SshError::Key(e.to_string()))
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
            // And back to a key that signs: the same public key.
            let text = openssh_private(&key, "me", Some(b"secret")).unwrap();
            let again = read_private(text.as_bytes(), &mut || Ok(b"secret".to_vec())).unwrap();
            assert_eq!(again.spki_der(), key.spki_der(), "{spec:?}");
        }
    }
}

#[cfg(test)]
mod many {
    use super::*;

    #[test]
    fn ec_scalars_with_leading_zero_bytes_convert_too() {
        // About one P-256 key in 256 has a scalar starting with a zero byte; try enough to meet several.
        for _ in 0..1500 {
            let key = PrivateKey::generate(crate::pki::keys::KeySpec::P256).unwrap();
            let text = openssh_private(&key, "k", None).unwrap();
            let back = read_private(text.as_bytes(), &mut || Ok(Vec::new())).unwrap();
            assert_eq!(back.spki_der(), key.spki_der());
        }
    }
}
