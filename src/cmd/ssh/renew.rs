//! `ferrica ssh renew|rekey CRT_FILE KEY_FILE`: an SSHPOP token (step's: the certificate in the `sshpop` header,
//! signed by its key) for `/ssh/renew` or `/ssh/rekey`.

use std::path::Path;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::cli::ssh::SshRenewArgs;
use crate::cmd::ca::client;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::jose::jws::{self, Alg, SigningKey};
use crate::pki::keys::PrivateKey;
use crate::ssh::cert;

/// Renews (or with `rekey`, rekeys) a host certificate.
pub fn run(a: SshRenewArgs, rekey: bool) -> Result<u8> {
    let text = crate::io::input::read_input(&a.crt_file, "CRT_FILE")?;
    let old = cert::parse_certificate(&String::from_utf8_lossy(&text))
        .map_err(|e| UserError::input(format!("CRT_FILE {}: {e}", a.crt_file)))?;
    // Outputs first. In place (no --out) replaces the files this command reads, so only with --force.
    let mut out = OutputSet::new(a.force);
    let in_place = a.out.is_none();
    let (key_out, crt_out) = match (&a.out, rekey) {
        (Some(o), true) => (Some(o.clone()), format!("{o}-cert.pub")),
        (None, true) => (Some(a.key_file.clone()), a.crt_file.clone()),
        (Some(o), false) => (None, o.clone()),
        (None, false) => (None, a.crt_file.clone()),
    };
    if in_place && !a.force {
        return Err(UserError::input(format!("refusing to overwrite {crt_out}"))
            .hint("pass --force to replace it, or --out to write elsewhere")
            .into());
    }
    if !in_place {
        out.input(Some(&a.key_file), "KEY_FILE");
        out.input(Some(&a.crt_file), "CRT_FILE");
        out.check(Path::new(&crt_out), "--out")?;
        if let Some(k) = &key_out {
            out.check(Path::new(k), "--out")?;
            out.check(Path::new(&format!("{k}.pub")), "--out")?;
        }
    }

    // The key that proves possession.
    let key_data = crate::io::input::read_input(&a.key_file, "KEY_FILE")?;
    let mut stdin = Stdin::default();
    let mut typed: Option<zeroize::Zeroizing<Vec<u8>>> = None;
    let key = crate::ssh::keys::read_private(&key_data, &mut || {
        let pw = password::resolve(
            &[PasswordNeed {
                what: format!("the key {}", a.key_file),
                flag: "--password-file",
                env: "FERRICA_PASSWORD_FILE",
                file: a.password_file.clone(),
                purpose: Purpose::Decrypt,
            }],
            &mut stdin,
        )
        .map_err(|e| crate::ssh::cert::SshError::Key(e.to_string()))?
        .remove(0);
        typed = Some(pw.clone());
        Ok(pw.to_vec())
    })
    .map_err(|e| UserError::input(format!("KEY_FILE {}: {e}", a.key_file)))?;
    if cert::key_data_of_spki(&key.spki_der()).ok().as_ref() != Some(old.public_key()) {
        return Err(UserError::usage(format!("KEY_FILE {} is not the key of {}", a.key_file, a.crt_file)).into());
    }

    let (ca, roots) = super::connect(&a.ca)?;
    let name = client::provisioner_named(&ca, a.provisioner.as_deref(), "SSHPOP")?;
    let endpoint = if rekey { "ssh/rekey" } else { "ssh/renew" };
    let token = sshpop_token(&key, &old, &name, &format!("{}/1.0/{endpoint}", ca.url()), &roots[0])?;

    let mut body = json!({"ott": token});
    let new_key = if rekey {
        let spec = crate::pki::keys::KeySpec::from_flags(None, None, None, false).expect("the default key type");
        let k = PrivateKey::generate(spec)?;
        let public = cert::key_data_of_spki(&k.spki_der()).map_err(|e| UserError::input(e.to_string()))?;
        let mut blob = Vec::new();
        ssh_encoding::Encode::encode(&public, &mut blob).map_err(|e| UserError::input(e.to_string()))?;
        body["publicKey"] = json!(B64.encode(blob));
        Some((k, public))
    } else {
        None
    };
    let answer = ca
        .post(&format!("/1.0/{endpoint}"), &body, None)?
        .json(&format!("POST /{endpoint}"))?;
    let crt = answer
        .get("crt")
        .and_then(Value::as_str)
        .and_then(|c| B64.decode(c).ok())
        .ok_or_else(|| UserError::input(format!("the CA's /{endpoint} answer has no crt")))?;
    let new_cert =
        ssh_key::Certificate::from_bytes(&crt).map_err(|e| UserError::input(format!("the CA's certificate: {e}")))?;
    if let (Some((k, public)), Some(path)) = (&new_key, &key_out) {
        let password = if a.no_password {
            None
        } else {
            typed.as_deref().map(|p| &p[..])
        };
        if password.is_none() && !a.no_password {
            return Err(UserError::usage(
                "KEY_FILE was not encrypted: pass --no-password --insecure for the new key too",
            )
            .into());
        }
        let private = crate::ssh::keys::openssh_private(k, old.key_id(), password)
            .map_err(|e| UserError::input(e.to_string()))?;
        out.stage(Path::new(path), private.as_bytes(), KEY_MODE)?;
        let line = format!("{}\n", cert::public_line(public, old.key_id()));
        out.stage(Path::new(&format!("{path}.pub")), line.as_bytes(), PUBLIC_MODE)?;
    }
    out.stage(
        Path::new(&crt_out),
        format!("{}\n", cert::certificate_line(&new_cert)).as_bytes(),
        PUBLIC_MODE,
    )?;
    out.commit()?;
    if let Some(k) = &key_out {
        eprintln!("✔ Private Key: {k}");
    }
    eprintln!("✔ Certificate: {crt_out}");
    Ok(0)
}

/// A token for `aud` from the SSHPOP provisioner `iss`, signed by `key`, with `cert` in its `sshpop` header.
fn sshpop_token(key: &PrivateKey, c: &ssh_key::Certificate, iss: &str, aud: &str, root: &[u8]) -> Result<String> {
    use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
    let der = key.pkcs8_der();
    let signing = SigningKey::from_private_key(PrivateKey::from_pkcs8(&der)?)?;
    let alg = Alg::parse(signing.jwk.alg.as_deref().unwrap_or(signing.jwk.default_alg()?))?;
    let mut blob = Vec::new();
    ssh_encoding::Encode::encode(c, &mut blob).map_err(|e| UserError::input(e.to_string()))?;
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("sshpop".into(), json!(B64.encode(blob)));
    let now = crate::cmd::ca::token::now().unix_timestamp();
    let claims = json!({
        "iss": iss, "aud": aud, "sub": c.key_id(), "jti": hex::encode(crate::jose::random(32)?),
        "iat": now, "nbf": now, "exp": now + 300,
        "sha": fingerprint(root, FingerprintHash::Sha256, FingerprintFormat::Hex),
    });
    Ok(jws::sign_compact(&signing, alg, header, &serde_json::to_vec(&claims)?)?)
}
