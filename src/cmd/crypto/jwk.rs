//! `ferrica crypto jwk create|public|thumbprint|keyset`

use std::path::Path;

use anyhow::Result;

use crate::cli::crypto::{JwkCommand, JwkCreateArgs, KeysetCommand};
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::jose::jwe::{self, EncryptOptions};
use crate::jose::jwk::{Jwk, JwkSet};
use crate::jose::{b64, random};
use crate::pki::keys::{KeySpec, PrivateKey};

/// Runs a `jwk` subcommand.
pub fn run(cmd: JwkCommand) -> Result<u8> {
    match cmd {
        JwkCommand::Create(a) => create(*a),
        JwkCommand::Public(a) => {
            let jwk = read_stdin_jwk(a.password_file)?;
            crate::cmd::print_stdout(
                super::key::public_jwk(&super::Loaded::Jwk(jwk))?
                    .to_json_pretty()
                    .as_bytes(),
            )?;
            Ok(0)
        }
        JwkCommand::Thumbprint(a) => {
            let jwk = read_stdin_jwk(a.password_file)?;
            crate::cmd::print_stdout(format!("{}\n", jwk.thumbprint()?).as_bytes())?;
            Ok(0)
        }
        JwkCommand::Keyset(k) => keyset(k),
    }
}

/// Encrypts a private JWK as step does: JWE JSON, PBES2-HS256+A128KW, A256GCM, cty jwk+json, p2c 600000.
pub fn encrypt_jwk(jwk: &Jwk, password: &[u8]) -> Result<String> {
    let opts = EncryptOptions {
        cty: Some("jwk+json".into()),
        ..EncryptOptions::default()
    };
    let plain = serde_json::to_vec(jwk)?;
    Ok(jwe::encrypt(&plain, password, &opts)?.json_pretty())
}

fn read_stdin_jwk(password_file: Option<String>) -> Result<Jwk> {
    let mut stdin = Stdin::default();
    let data = super::read_path("-", "the JWK on stdin", &mut stdin)?;
    if jwe::looks_like_jwe(&data) {
        let parsed = jwe::Jwe::parse(&data).map_err(|e| UserError::input(format!("stdin: {e}")))?;
        let pw = super::decrypt_password("the JWK on stdin", password_file, &mut stdin)?;
        let plain = jwe::decrypt(&parsed, &pw).map_err(|e| UserError::input(format!("stdin: {e}")))?;
        return Ok(Jwk::from_json(&plain).map_err(|e| UserError::input(format!("stdin: {e}")))?);
    }
    Ok(Jwk::from_json(&data).map_err(|e| UserError::input(format!("stdin: {e}")))?)
}

fn create(a: JwkCreateArgs) -> Result<u8> {
    let mut out = OutputSet::new(a.pw.force);
    out.check(Path::new(&a.pub_file), "PUB_FILE")?;
    out.check(Path::new(&a.priv_file), "PRIV_FILE")?;
    let mut stdin = Stdin::default();
    let is_oct = a.kty.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("oct"));
    let mut jwk = if let Some(pem) = &a.from_pem {
        if a.kty.is_some() || a.crv.is_some() || a.size.is_some() {
            return Err(UserError::usage("--kty/--crv/--size conflict with --from-pem").into());
        }
        match super::load_key(pem, a.from_pem_password_file.clone(), &mut stdin)? {
            super::Loaded::Private(k) => Jwk::from_private_key(&k)?,
            super::Loaded::Jwk(_) => {
                return Err(UserError::usage(format!("--from-pem {pem} must be a PEM/DER private key")).into());
            }
        }
    } else if is_oct {
        let bits = a.size.unwrap_or(256);
        if bits < 256 && !a.pw.insecure || !bits.is_multiple_of(8) || bits > 4096 {
            return Err(UserError::usage(format!(
                "--size {bits}: oct keys are a multiple of 8 bits, 256 to 4096 (smaller needs --insecure)"
            ))
            .into());
        }
        Jwk {
            kty: "oct".into(),
            k: Some(b64(&random(bits / 8)?)),
            ..Jwk::default()
        }
    } else {
        let spec = KeySpec::from_flags(a.kty.as_deref(), a.crv.as_deref(), a.size, a.pw.insecure)
            .map_err(|e| UserError::usage(e.to_string()))?;
        Jwk::from_private_key(&PrivateKey::generate(spec)?)?
    };
    let alg = match &a.alg {
        Some(alg) => {
            crate::jose::jws::Alg::parse(alg)
                .and_then(|al| {
                    al.check_key(&Jwk {
                        alg: None,
                        ..jwk.clone()
                    })
                })
                .map_err(|e| UserError::usage(format!("--alg: {e}")))?;
            alg.clone()
        }
        None => jwk.default_alg()?.to_string(),
    };
    if a.use_ != "sig" && a.use_ != "enc" {
        return Err(UserError::usage(format!("--use {} is not sig or enc", a.use_)).into());
    }
    jwk.use_ = Some(a.use_.clone());
    jwk.alg = Some(alg);
    jwk.kid = Some(match &a.kid {
        Some(k) => k.clone(),
        None => jwk.thumbprint()?,
    });
    let pw = super::new_password(&format!("the new JWK {}", a.priv_file), &a.pw, &mut stdin)?;
    let public = if is_oct { None } else { Some(jwk.public()?) };
    let private_text = match &pw {
        Some(p) => encrypt_jwk(&jwk, p)?,
        None => jwk.to_json_pretty(),
    };
    match &public {
        Some(p) => out.stage(Path::new(&a.pub_file), p.to_json_pretty().as_bytes(), PUBLIC_MODE)?,
        // An oct key has no public part: PUB_FILE gets the same (secret) key, so it is written 0600 too.
        None => out.stage(Path::new(&a.pub_file), jwk.to_json_pretty().as_bytes(), KEY_MODE)?,
    }
    out.stage(Path::new(&a.priv_file), private_text.as_bytes(), KEY_MODE)?;
    out.commit()?;
    eprintln!("Your public key has been saved in {}.", a.pub_file);
    eprintln!(
        "Your private key has been saved in {}{}.",
        a.priv_file,
        if pw.is_none() { " (unencrypted)" } else { "" }
    );
    Ok(0)
}

fn keyset(cmd: KeysetCommand) -> Result<u8> {
    let load = |path: &str, create: bool| -> Result<JwkSet> {
        if create && !Path::new(path).exists() {
            return Ok(JwkSet::default());
        }
        super::load_jwks(path)
    };
    let save = |path: &str, set: &JwkSet| -> Result<()> {
        let mut out = OutputSet::new(true);
        out.check(Path::new(path), "JWKS_FILE")?;
        let mode = if set.keys.iter().any(Jwk::is_private) {
            KEY_MODE
        } else {
            PUBLIC_MODE
        };
        out.stage(
            Path::new(path),
            (serde_json::to_string_pretty(set)? + "\n").as_bytes(),
            mode,
        )?;
        out.commit()
    };
    match cmd {
        KeysetCommand::Add(a) => {
            let jwk = read_stdin_jwk(None)?;
            let mut set = load(&a.jwks_file, true)?;
            let kid = jwk
                .kid
                .clone()
                .ok_or_else(|| UserError::input("the JWK on stdin has no kid"))?;
            if set.keys.iter().any(|k| k.kid.as_deref() == Some(&kid)) {
                return Err(UserError::input(format!("{} already has a key with kid {kid:?}", a.jwks_file)).into());
            }
            set.keys.push(jwk);
            save(&a.jwks_file, &set)?;
        }
        KeysetCommand::Remove(a) => {
            let mut set = load(&a.jwks_file, false)?;
            let before = set.keys.len();
            set.keys.retain(|k| k.kid.as_deref() != Some(&a.kid));
            if set.keys.len() == before {
                return Err(UserError::input(format!("{} has no key with kid {:?}", a.jwks_file, a.kid)).into());
            }
            save(&a.jwks_file, &set)?;
        }
        KeysetCommand::List(a) => {
            let set = load(&a.jwks_file, false)?;
            let lines: String = set
                .keys
                .iter()
                .map(|k| format!("{}\n", k.kid.as_deref().unwrap_or("")))
                .collect();
            crate::cmd::print_stdout(lines.as_bytes())?;
        }
        KeysetCommand::Find(a) => {
            let set = load(&a.jwks_file, false)?;
            let k = super::find_kid(&set, &a.kid, &a.jwks_file)?;
            crate::cmd::print_stdout(k.to_json_pretty().as_bytes())?;
        }
    }
    Ok(0)
}
