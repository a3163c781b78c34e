//! `ferrica crypto ...` and the key loading shared by its subcommands.

pub mod change_pass;
pub mod hash;
pub mod jwe;
pub mod jwk;
pub mod jwt;
pub mod key;
pub mod keypair;
pub mod rand;

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result};

use crate::cli::crypto::CryptoCommand;
use crate::error::UserError;
use crate::io::password::{self, PasswordNeed, Purpose, Secret, Stdin};
use crate::jose::jwk::{Jwk, JwkSet};
use crate::pki::keys::{KeyError, PrivateKey};

/// Dispatches a `crypto` subcommand.
pub fn run(cmd: CryptoCommand) -> Result<u8> {
    match cmd {
        CryptoCommand::Keypair(a) => keypair::run(a),
        CryptoCommand::ChangePass(a) => change_pass::run(a),
        CryptoCommand::Key(c) => key::run(c),
        CryptoCommand::Jwk(c) => jwk::run(c),
        CryptoCommand::Jwt(c) => jwt::run_jwt(c),
        CryptoCommand::Jws(c) => jwt::run_jws(c),
        CryptoCommand::Jwe(c) => jwe::run(c),
        CryptoCommand::Hash(c) => hash::run(c),
        CryptoCommand::Rand(a) => rand::run(a),
    }
}

/// Key material as read from a file.
// One short-lived value per command: the size difference of the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    /// A private key (PEM/DER).
    Private(PrivateKey),
    /// A JWK (private, public or oct), decrypted if it was encrypted.
    Jwk(Jwk),
}

impl Loaded {
    /// The key as a JWK (private members included when present).
    pub fn to_jwk(&self) -> Result<Jwk> {
        match self {
            Loaded::Private(k) => Ok(Jwk::from_private_key(k)?),
            Loaded::Jwk(j) => Ok(j.clone()),
        }
    }
}

/// The password for decrypting `what`, from `--password-file`, piped stdin or a prompt.
pub fn decrypt_password(what: &str, password_file: Option<String>, stdin: &mut Stdin) -> Result<Secret> {
    let need = PasswordNeed {
        what: what.to_string(),
        flag: "--password-file",
        env: "FERRICA_PASSWORD_FILE",
        file: password_file,
        purpose: Purpose::Decrypt,
    };
    Ok(password::resolve(&[need], stdin)?.remove(0))
}

/// The password for a new key (None with `--no-password --insecure`).
pub fn new_password(
    what: &str,
    args: &crate::cli::crypto::NewKeyPasswordArgs,
    stdin: &mut Stdin,
) -> Result<Option<Secret>> {
    if args.no_password {
        if !args.insecure {
            return Err(UserError::usage("--no-password requires --insecure")
                .hint("add --insecure to write the key unencrypted, or give --password-file FILE")
                .into());
        }
        if args.password_file.is_some() {
            return Err(UserError::usage("--no-password conflicts with --password-file").into());
        }
        return Ok(None);
    }
    let need = PasswordNeed {
        what: what.to_string(),
        flag: "--password-file",
        env: "FERRICA_PASSWORD_FILE",
        file: args.password_file.clone(),
        purpose: Purpose::Encrypt,
    };
    Ok(Some(password::resolve(&[need], stdin)?.remove(0)))
}

/// Reads a file, or stdin for `-` (claiming it).
pub fn read_path(path: &str, what: &str, stdin: &mut Stdin) -> Result<Vec<u8>> {
    if path == "-" {
        stdin.claim(what)?;
    }
    crate::io::input::read_input(path, what)
}

/// Reads data from a file, `-`, or (when `path` is None) stdin if it is not a terminal.
pub fn read_data(path: Option<&str>, what: &str, stdin: &mut Stdin) -> Result<Vec<u8>> {
    match path {
        Some(p) => read_path(p, what, stdin),
        None if std::io::stdin().is_terminal() => Ok(Vec::new()),
        None => {
            stdin.claim(what)?;
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
            Ok(buf)
        }
    }
}

/// Loads a key in any form: PEM/DER private key, public key or certificate, JWK, encrypted JWK.
pub fn load_key(path: &str, password_file: Option<String>, stdin: &mut Stdin) -> Result<Loaded> {
    let data = read_path(path, "key file", stdin)?;
    load_key_bytes(&data, path, password_file, stdin)
}

/// [`load_key`] on bytes already read from `path`.
pub fn load_key_bytes(data: &[u8], path: &str, password_file: Option<String>, stdin: &mut Stdin) -> Result<Loaded> {
    let input_err = |e: String| -> anyhow::Error {
        UserError::input(format!("{path}: {e}"))
            .hint("pass a PEM/DER key, a certificate, a JWK or an encrypted JWK")
            .into()
    };
    if crate::jose::jwe::looks_like_jwe(data) {
        let jwe = crate::jose::jwe::Jwe::parse(data).map_err(|e| input_err(e.to_string()))?;
        let pw = decrypt_password(&format!("the key {path}"), password_file, stdin)?;
        let plain = crate::jose::jwe::decrypt(&jwe, &pw).map_err(|e| {
            UserError::input(format!("{path}: {e}")).hint("check the password given with --password-file")
        })?;
        return Ok(Loaded::Jwk(
            Jwk::from_json(&plain).map_err(|e| input_err(e.to_string()))?,
        ));
    }
    let trimmed = String::from_utf8_lossy(data);
    if trimmed.trim_start().starts_with('{') {
        if trimmed.contains("\"keys\"") {
            return Err(UserError::usage(format!("{path} is a JWK Set"))
                .hint("pass it with --jwks and --kid")
                .into());
        }
        return Ok(Loaded::Jwk(Jwk::from_json(data).map_err(|e| input_err(e.to_string()))?));
    }
    // PEM/DER: a public key or certificate first, then a private key.
    if let Some(spki) = public_spki(data) {
        return Ok(Loaded::Jwk(
            Jwk::from_spki(&spki).map_err(|e| input_err(e.to_string()))?,
        ));
    }
    let mut pw: Option<Secret> = None;
    if PrivateKey::is_encrypted(data) {
        pw = Some(decrypt_password(&format!("the key {path}"), password_file, stdin)?);
    }
    let mut source = move || pw.take().map(|p| p.to_vec()).ok_or(KeyError::PasswordRequired);
    let key = PrivateKey::parse(data, &mut source).map_err(|e| {
        let u = UserError::input(format!("{path}: {e}"));
        if e == KeyError::WrongPassword {
            u.hint("check the password given with --password-file")
        } else {
            u
        }
    })?;
    Ok(Loaded::Private(key))
}

/// The SubjectPublicKeyInfo of a PEM/DER public key or certificate, if that is what `data` holds.
pub fn public_spki(data: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    if crate::pki::keys::looks_like_pem(data) {
        let block = ::pem::parse(data).ok()?;
        return match block.tag() {
            "PUBLIC KEY" => Some(block.contents().to_vec()),
            "CERTIFICATE" => {
                let (_, c) = x509_parser::certificate::X509Certificate::from_der(block.contents()).ok()?;
                Some(c.public_key().raw.to_vec())
            }
            _ => None,
        };
    }
    if let Ok(([], _)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(data) {
        return Some(data.to_vec());
    }
    if let Ok(([], c)) = x509_parser::certificate::X509Certificate::from_der(data) {
        return Some(c.public_key().raw.to_vec());
    }
    None
}

/// Reads a JWK Set.
pub fn load_jwks(path: &str) -> Result<JwkSet> {
    let data = crate::io::input::read_input(path, "--jwks file")?;
    serde_json::from_slice(&data).map_err(|e| UserError::input(format!("{path}: not a JWK Set: {e}")).into())
}

/// Finds a key by kid in a set.
pub fn find_kid<'a>(set: &'a JwkSet, kid: &str, path: &str) -> Result<&'a Jwk> {
    set.keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
        .ok_or_else(|| UserError::input(format!("{path} has no key with kid {kid:?}")).into())
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
