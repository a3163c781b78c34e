//! `ferrica crypto change-pass KEY_FILE`

use std::path::Path;

use anyhow::Result;

use crate::cli::crypto::ChangePassArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::jose::jwe;
use crate::pki::keys::{KeyError, PrivateKey};

/// Re-encrypts a PEM/DER key or an encrypted JWK under a new password.
pub fn run(a: ChangePassArgs) -> Result<u8> {
    if a.no_password && !a.insecure {
        return Err(UserError::usage("--no-password requires --insecure").into());
    }
    let out_path = a.out.clone().unwrap_or_else(|| a.key_file.clone());
    let in_place = a.out.is_none() || Path::new(&out_path) == Path::new(&a.key_file);
    if in_place && !a.force {
        return Err(UserError::usage(format!("change-pass would replace {}", a.key_file))
            .hint("pass --force to replace it, or --out FILE")
            .into());
    }
    let mut out = OutputSet::new(in_place || a.force);
    out.check(Path::new(&out_path), "--out")?;
    let data = crate::io::input::read_input(&a.key_file, "key file")?;
    let is_jwe = jwe::looks_like_jwe(&data);
    let encrypted = is_jwe || PrivateKey::is_encrypted(&data);
    let mut needs = Vec::new();
    if encrypted {
        needs.push(PasswordNeed {
            what: format!("the key {}", a.key_file),
            flag: "--password-file",
            env: "FERRICA_PASSWORD_FILE",
            file: a.password_file.clone(),
            purpose: Purpose::Decrypt,
        });
    }
    if !a.no_password {
        needs.push(PasswordNeed {
            what: format!("the new password of {out_path}"),
            flag: "--new-password-file",
            env: "FERRICA_NEW_PASSWORD_FILE",
            file: a.new_password_file.clone(),
            purpose: Purpose::Encrypt,
        });
    }
    let mut pws = password::resolve(&needs, &mut Stdin::default())?.into_iter();
    let old = if encrypted { pws.next() } else { None };
    let new = pws.next();
    let bad = |e: String| UserError::input(format!("{}: {e}", a.key_file));
    let output = if is_jwe || String::from_utf8_lossy(&data).trim_start().starts_with('{') {
        let plain = if is_jwe {
            let parsed = jwe::Jwe::parse(&data).map_err(|e| bad(e.to_string()))?;
            jwe::decrypt(&parsed, old.as_deref().map(|p| &p[..]).unwrap_or_default())
                .map_err(|e| bad(e.to_string()).hint("check --password-file"))?
        } else {
            zeroize::Zeroizing::new(data.clone())
        };
        let jwk = crate::jose::jwk::Jwk::from_json(&plain).map_err(|e| bad(e.to_string()))?;
        match &new {
            Some(pw) => super::jwk::encrypt_jwk(&jwk, pw)?,
            None => jwk.to_json_pretty(),
        }
    } else {
        let mut old = old;
        let mut source = move || old.take().map(|p| p.to_vec()).ok_or(KeyError::PasswordRequired);
        let key = PrivateKey::parse(&data, &mut source).map_err(|e| {
            let u = bad(e.to_string());
            if e == KeyError::WrongPassword {
                u.hint("check --password-file")
            } else {
                u
            }
        })?;
        key.to_pem(new.as_deref().map(|p| &p[..]))?
    };
    out.stage(Path::new(&out_path), output.as_bytes(), KEY_MODE)?;
    out.commit()?;
    eprintln!(
        "Your key has been saved in {out_path}{}.",
        if new.is_none() { " (unencrypted)" } else { "" }
    );
    Ok(0)
}
