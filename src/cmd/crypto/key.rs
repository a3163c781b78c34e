//! `ferrica crypto key format|public|fingerprint`

use std::path::Path;

use anyhow::Result;
use der::{Decode, Encode};

use super::Loaded;
use crate::cli::crypto::{KeyCommand, KeyForm};
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::jose::jwk::Jwk;
use crate::pki::fingerprint::{FingerprintHash, fingerprint};
use crate::pki::keys::{KeyKind, PrivateKey};

/// Runs a `key` subcommand.
pub fn run(cmd: KeyCommand) -> Result<u8> {
    let mut stdin = Stdin::default();
    match cmd {
        KeyCommand::Public(a) => {
            let loaded = super::load_key(&a.input.key_file, a.input.password_file, &mut stdin)?;
            let spki = spki_of(&loaded)?;
            crate::cmd::print_stdout(pem_text("PUBLIC KEY", spki).as_bytes())?;
            Ok(0)
        }
        KeyCommand::Fingerprint(a) => {
            let loaded = super::load_key(&a.input.key_file, a.input.password_file, &mut stdin)?;
            let line = if a.thumbprint {
                public_jwk(&loaded)?.thumbprint()?
            } else {
                fingerprint(&spki_of(&loaded)?, FingerprintHash::Sha256, a.format)
            };
            crate::cmd::print_stdout(format!("{line}\n").as_bytes())?;
            Ok(0)
        }
        KeyCommand::Format(a) => {
            let loaded = super::load_key(&a.input.key_file, a.input.password_file.clone(), &mut stdin)?;
            let private = match &loaded {
                Loaded::Private(k) => Some(PrivateKey::from_pkcs8(&k.pkcs8_der())?),
                Loaded::Jwk(j) if j.kty != "oct" && j.is_private() => Some(j.to_private_key()?),
                Loaded::Jwk(j) if j.kty == "oct" => {
                    return Err(UserError::usage("an oct JWK has no PEM, DER or SSH form").into());
                }
                Loaded::Jwk(_) => None,
            };
            let write_private = private.is_some() && !a.public && a.to != KeyForm::Ssh;
            let mut new_pw = None;
            if write_private {
                if a.no_password {
                    if !a.insecure {
                        return Err(UserError::usage("--no-password requires --insecure").into());
                    }
                } else {
                    let need = PasswordNeed {
                        what: "the converted private key".into(),
                        flag: "--new-password-file",
                        env: "FERRICA_NEW_PASSWORD_FILE",
                        file: a.new_password_file.clone(),
                        purpose: Purpose::Encrypt,
                    };
                    new_pw = Some(password::resolve(&[need], &mut stdin)?.remove(0));
                }
            }
            let spki = spki_of(&loaded)?;
            let (bytes, is_key): (Vec<u8>, bool) = match (a.to, write_private.then_some(private).flatten()) {
                (KeyForm::Ssh, _) => (format!("{}\n", openssh_public(&spki)?).into_bytes(), false),
                (KeyForm::Jwk, Some(k)) => {
                    let jwk = Jwk::from_private_key(&k)?;
                    let text = match &new_pw {
                        Some(pw) => super::jwk::encrypt_jwk(&jwk, pw)?,
                        None => jwk.to_json_pretty(),
                    };
                    (text.into_bytes(), true)
                }
                (KeyForm::Jwk, None) => (public_jwk(&loaded)?.to_json_pretty().into_bytes(), false),
                (form, Some(k)) => {
                    let (tag, der) = match &new_pw {
                        Some(pw) => (
                            "ENCRYPTED PRIVATE KEY",
                            crate::pki::keys::encryption::encrypt_pkcs8(&k.pkcs8_der(), pw)?,
                        ),
                        None if a.pkcs8 || k.kind() == KeyKind::Ed25519 => ("PRIVATE KEY", k.pkcs8_der().to_vec()),
                        None => traditional(&k)?,
                    };
                    (
                        if form == KeyForm::Der {
                            der
                        } else {
                            pem_text(tag, der).into_bytes()
                        },
                        true,
                    )
                }
                (KeyForm::Der, None) => (spki, false),
                (_, None) => (pem_text("PUBLIC KEY", spki).into_bytes(), false),
            };
            match &a.out {
                Some(path) => {
                    let mut out = OutputSet::new(a.force);
                    out.check(Path::new(path), "--out")?;
                    out.stage(Path::new(path), &bytes, if is_key { KEY_MODE } else { PUBLIC_MODE })?;
                    out.commit()?;
                }
                None => crate::cmd::print_stdout(&bytes)?,
            }
            Ok(0)
        }
    }
}

/// SEC1 (`EC PRIVATE KEY`, with the curve) or PKCS#1 (`RSA PRIVATE KEY`) of a key.
fn traditional(k: &PrivateKey) -> Result<(&'static str, Vec<u8>)> {
    let pkcs8 = k.pkcs8_der();
    let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8).map_err(|e| anyhow::anyhow!("PKCS#8: {e}"))?;
    let inner = info.private_key.as_bytes();
    match k.kind() {
        KeyKind::Rsa(_) => Ok(("RSA PRIVATE KEY", inner.to_vec())),
        KeyKind::Ec(_) => {
            let mut sec = sec1::EcPrivateKey::from_der(inner).map_err(|e| anyhow::anyhow!("SEC1: {e}"))?;
            if sec.parameters.is_none() {
                let curve = info
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                    .ok_or_else(|| anyhow::anyhow!("EC key without a curve"))?;
                sec.parameters = Some(sec1::EcParameters::NamedCurve(curve));
            }
            Ok((
                "EC PRIVATE KEY",
                sec.to_der().map_err(|e| anyhow::anyhow!("SEC1: {e}"))?,
            ))
        }
        KeyKind::Ed25519 => Ok(("PRIVATE KEY", pkcs8.to_vec())),
    }
}

/// The public JWK of loaded key material.
pub fn public_jwk(l: &Loaded) -> Result<Jwk> {
    let jwk = l.to_jwk()?;
    if jwk.kty == "oct" {
        return Err(UserError::usage("an oct (symmetric) JWK has no public key").into());
    }
    Ok(jwk.public()?)
}

/// The SubjectPublicKeyInfo of loaded key material.
pub fn spki_of(l: &Loaded) -> Result<Vec<u8>> {
    match l {
        Loaded::Private(k) => Ok(k.spki_der()),
        Loaded::Jwk(_) => Ok(public_jwk(l)?.to_spki_der()?),
    }
}

fn pem_text(tag: &str, der: Vec<u8>) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(tag, der),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// The OpenSSH public key line (no comment) of a SubjectPublicKeyInfo, encoded by the ssh-key crate.
pub(crate) fn openssh_public(spki: &[u8]) -> Result<String> {
    let key = crate::ssh::cert::spki_key_data(spki).map_err(|e| UserError::usage(format!("no OpenSSH form: {e}")))?;
    Ok(crate::ssh::cert::public_line(&key, ""))
}
