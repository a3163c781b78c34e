//! `ferrica ca token SUBJECT`: one-time tokens signed by a JWK provisioner, whose key comes from ca.json or `--key`
//! (`--offline`) or from the CA (`/provisioners/{kid}/encrypted-key`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::ca::config::CaConfig;
use crate::cli::ca::TokenArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet};
use crate::io::password::Stdin;
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, Alg, SigningKey};
use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};

/// A provisioner's signing key, its name (the token's iss) and key id; for an X5C provisioner, the certificate
/// chain (standard base64 DER, leaf first) that goes into the `x5c` header instead of a kid.
pub struct TokenKey {
    key: SigningKey,
    issuer: String,
    kid: String,
    x5c: Option<Vec<String>>,
}

/// The key of `--x5c-cert`/`--x5c-key` for the X5C provisioner `issuer`: the key's password through the usual
/// sources (`password_file`, piped stdin, a terminal).
pub fn x5c_key(
    cert: &str,
    key: &str,
    issuer: &str,
    password_file: Option<String>,
    stdin: &mut Stdin,
) -> Result<TokenKey> {
    use base64::Engine;
    let chain = crate::cmd::certificate::read_certs(cert, "--x5c-cert")?;
    let signing = match crate::cmd::crypto::load_key(key, password_file, stdin)? {
        crate::cmd::crypto::Loaded::Private(k) => SigningKey::from_private_key(k)?,
        crate::cmd::crypto::Loaded::Jwk(j) => {
            SigningKey::from_jwk(j).map_err(|e| UserError::usage(format!("--x5c-key {key}: {e}")))?
        }
    };
    let leaf_spki = {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, c) =
            X509Certificate::from_der(&chain[0]).map_err(|e| UserError::input(format!("--x5c-cert {cert}: {e}")))?;
        c.public_key().raw.to_vec()
    };
    if signing.jwk.to_spki_der()? != leaf_spki {
        return Err(UserError::usage(format!("--x5c-key {key} is not the key of --x5c-cert {cert}")).into());
    }
    Ok(TokenKey {
        kid: String::new(),
        key: signing,
        issuer: issuer.to_string(),
        x5c: Some(
            chain
                .iter()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .collect(),
        ),
    })
}

/// Now, whole seconds.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

/// Decrypts a provisioner's encryptedKey (compact JWE) with the password from `password_file`/stdin/TTY.
pub fn decrypt_provisioner_key(
    name: &str,
    enc: &str,
    password_file: Option<String>,
    stdin: &mut Stdin,
) -> Result<TokenKey> {
    let jwe = crate::jose::jwe::Jwe::parse(enc.as_bytes())
        .map_err(|e| UserError::input(format!("provisioner {name:?}: {e}")))?;
    let pw = crate::cmd::crypto::decrypt_password(&format!("the provisioner key of {name:?}"), password_file, stdin)?;
    let plain = crate::jose::jwe::decrypt(&jwe, &pw).map_err(|e| {
        UserError::input(format!("provisioner {name:?}: {e}")).hint("check the provisioner password (--password-file)")
    })?;
    let jwk = Jwk::from_json(&plain)?;
    let kid = jwk.kid.clone().map_or_else(|| jwk.thumbprint(), Ok)?;
    Ok(TokenKey {
        key: SigningKey::from_jwk(jwk)?,
        issuer: name.to_string(),
        kid,
        x5c: None,
    })
}

/// Signs a token with step's claims: iss, aud, sub, sans (none for revoke tokens), sha, jti (64 random hex),
/// iat = now, nbf, exp; header typ JWT and kid.
pub fn mint(
    key: &TokenKey,
    aud: &str,
    subject: &str,
    sans: Option<Vec<String>>,
    sha: Option<&str>,
    nbf: time::OffsetDateTime,
    exp: time::OffsetDateTime,
) -> Result<String> {
    mint_with(key, aud, subject, sans, sha, (nbf, exp), Map::new())
}

/// [`mint`] with more claims (step's `step.ssh` for SSH tokens).
pub fn mint_with(
    key: &TokenKey,
    aud: &str,
    subject: &str,
    sans: Option<Vec<String>>,
    sha: Option<&str>,
    (nbf, exp): (time::OffsetDateTime, time::OffsetDateTime),
    extra: Map<String, Value>,
) -> Result<String> {
    let alg = Alg::parse(key.key.jwk.alg.as_deref().unwrap_or(key.key.jwk.default_alg()?))?;
    // step-ca wants X5C tokens addressed to `<endpoint>#x5c/<provisioner>`; ferrica takes either.
    let aud = match &key.x5c {
        Some(_) => format!("{aud}#x5c/{}", key.issuer),
        None => aud.to_string(),
    };
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(key.issuer));
    claims.insert("aud".into(), json!(aud));
    claims.insert("sub".into(), json!(subject));
    if let Some(sans) = sans {
        claims.insert("sans".into(), json!(sans));
    }
    if let Some(sha) = sha {
        claims.insert("sha".into(), json!(sha));
    }
    claims.insert("jti".into(), json!(hex::encode(crate::jose::random(32)?)));
    claims.insert("iat".into(), json!(now().unix_timestamp()));
    claims.insert("nbf".into(), json!(nbf.unix_timestamp()));
    claims.insert("exp".into(), json!(exp.unix_timestamp()));
    claims.extend(extra);
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    match &key.x5c {
        Some(chain) => header.insert("x5c".into(), json!(chain)),
        None => header.insert("kid".into(), json!(key.kid)),
    };
    Ok(jws::sign_compact(&key.key, alg, header, &serde_json::to_vec(&claims)?)?)
}

/// Mints a token.
pub fn run(a: TokenArgs) -> Result<u8> {
    check_names(&a)?;
    let out = OutputSet::new(a.force);
    if let Some(f) = &a.output_file {
        out.check(Path::new(f), "--output-file")?;
    }
    let endpoint = match (a.ssh, a.revoke, a.renew, a.rekey) {
        (false, true, _, _) => "revoke",
        (false, _, true, _) => "renew",
        (false, _, _, true) => "rekey",
        (false, ..) => "sign",
        (true, true, _, _) => "ssh/revoke",
        (true, _, true, _) => "ssh/renew",
        (true, _, _, true) => "ssh/rekey",
        (true, ..) => "ssh/sign",
    };
    if a.x5c_cert.is_some() && a.offline {
        return Err(
            UserError::usage("--x5c-cert mints against a running CA: drop --offline")
                .hint("the CA names its X5C provisioners at GET /provisioners")
                .into(),
        );
    }
    if !a.offline && a.key.is_none() {
        return online(a, out, endpoint);
    }
    let base = super::ferrica_path()?;
    let cfg_path = a
        .ca_config
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| base.join("config/ca.json"));
    let config = if a.key.is_some() && a.ca_config.is_none() && !cfg_path.exists() {
        None
    } else {
        let data = crate::io::input::read_input(&cfg_path.to_string_lossy(), "--ca-config")?;
        Some(CaConfig::from_json(&data).map_err(|e| UserError::input(format!("{}: {e}", cfg_path.display())))?)
    };
    let mut stdin = Stdin::default();

    // The signing key and issuer: --key/--kid/--issuer, or the provisioner's encryptedKey.
    let (key, issuer, kid) = match &a.key {
        Some(path) => {
            let issuer = a
                .provisioner
                .clone()
                .ok_or_else(|| UserError::usage("--key needs --issuer (the provisioner name)"))?;
            let key = match crate::cmd::crypto::load_key(path, a.password_file.clone(), &mut stdin)? {
                crate::cmd::crypto::Loaded::Private(k) => SigningKey::from_private_key(k)?,
                crate::cmd::crypto::Loaded::Jwk(j) => {
                    SigningKey::from_jwk(j).map_err(|e| UserError::usage(format!("--key {path}: {e}")))?
                }
            };
            let kid = a
                .kid
                .clone()
                .or_else(|| key.jwk.kid.clone())
                .map_or_else(|| key.jwk.thumbprint(), Ok)?;
            (key, issuer, kid)
        }
        None => {
            let config = config.as_ref().expect("read above");
            let jwks: Vec<&Map<String, Value>> = config
                .authority
                .provisioners
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("JWK"))
                .collect();
            let prov = match &a.provisioner {
                Some(name) => jwks
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
                    .ok_or_else(|| {
                        UserError::input(format!("{} has no JWK provisioner {name:?}", cfg_path.display()))
                    })?,
                None if jwks.len() == 1 => &jwks[0],
                None if jwks.is_empty() => {
                    return Err(UserError::input(format!("{} has no JWK provisioner", cfg_path.display())).into());
                }
                None => {
                    let names: Vec<String> = jwks
                        .iter()
                        .map(|p| p.get("name").and_then(Value::as_str).unwrap_or_default().to_string())
                        .collect();
                    let labels: Vec<String> = jwks
                        .iter()
                        .map(|p| super::client::provisioner_label(&Value::Object((*p).clone())))
                        .collect();
                    &jwks[super::client::choose_provisioner(&names, &labels)?]
                }
            };
            let name = prov.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let enc = prov.get("encryptedKey").and_then(Value::as_str).ok_or_else(|| {
                UserError::input(format!("provisioner {name:?} has no encryptedKey"))
                    .hint("pass --key with its private key")
            })?;
            let k = decrypt_provisioner_key(&name, enc, a.password_file.clone(), &mut stdin)?;
            (k.key, k.issuer, k.kid)
        }
    };
    let key = TokenKey {
        key,
        issuer,
        kid,
        x5c: None,
    };

    // Audience from the CA URL.
    let ca_url = match &a.ca_url {
        Some(u) => u.clone(),
        None => default_ca_url(&base, config.as_ref())?,
    };
    let aud = format!("{}/1.0/{endpoint}", ca_url.trim_end_matches('/'));

    // The root fingerprint (sha).
    let root_path = match (&a.root, config.as_ref().map(|c| &c.root)) {
        (Some(r), _) => Some(r.clone()),
        (None, Some(Value::String(r))) => Some(r.clone()),
        (None, Some(Value::Array(rs))) => rs.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let sha = match root_path {
        Some(r) => {
            let data = crate::io::input::read_input(&r, "root certificate")?;
            let certs =
                crate::pki::der_input::parse_certificates(&data).map_err(|e| UserError::input(format!("{r}: {e}")))?;
            Some(fingerprint(&certs[0], FingerprintHash::Sha256, FingerprintFormat::Hex))
        }
        None => None,
    };

    let validity = token_validity(&a)?;
    let token = mint_with(
        &key,
        &aud,
        &a.subject,
        token_sans(&a),
        sha.as_deref(),
        validity,
        ssh_claims(&a, endpoint),
    )?;
    emit(&a, out, &token)
}

/// step's `step.ssh` claims for an SSH sign token: the certificate type, the key id (the subject) and principals.
fn ssh_claims(a: &TokenArgs, endpoint: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    if endpoint == "ssh/sign" {
        let t = if a.host {
            ssh_key::certificate::CertType::Host
        } else {
            ssh_key::certificate::CertType::User
        };
        // step's defaults: a host's name; a user's name and, for an email, its local part first.
        let principals = if a.principal.is_empty() {
            crate::ca::ssh::default_principals(t, &a.subject)
        } else {
            a.principal.clone()
        };
        extra.insert(
            "step".into(),
            json!({"ssh": crate::cmd::ssh::ssh_claims(t, &a.subject, &principals, None, None)}),
        );
    }
    extra
}

/// The subject must be non-empty, and each --san a valid name (the CA would refuse a certificate for it anyway).
fn check_names(a: &TokenArgs) -> Result<()> {
    if a.subject.trim().is_empty() {
        return Err(UserError::usage("the token SUBJECT is empty")
            .hint("pass the certificate's name (or, with --revoke, its serial)")
            .into());
    }
    if !a.revoke {
        for s in token_sans(a).into_iter().flatten() {
            crate::pki::issue::San::parse(&s).validate().map_err(|e| {
                UserError::usage(format!("{}: {e}", if a.san.is_empty() { "SUBJECT" } else { "--san" }))
            })?;
        }
    }
    Ok(())
}

/// Writes the token to --output-file (checked before any work), else prints it.
fn emit(a: &TokenArgs, mut out: OutputSet, token: &str) -> Result<u8> {
    let line = format!("{token}\n");
    match &a.output_file {
        Some(f) => {
            // A bearer credential until used: 0600, like a key.
            out.stage(Path::new(f), line.as_bytes(), KEY_MODE)?;
            out.commit()?;
        }
        None => crate::cmd::print_stdout(line.as_bytes())?,
    }
    Ok(0)
}

/// defaults.json's ca-url, else https://<first dnsName>[:port of address].
fn default_ca_url(base: &Path, config: Option<&CaConfig>) -> Result<String> {
    if let Ok(data) = std::fs::read(base.join("config/defaults.json"))
        && let Ok(v) = serde_json::from_slice::<Value>(&data)
        && let Some(u) = v.get("ca-url").and_then(Value::as_str)
    {
        return Ok(u.to_string());
    }
    let c = config.ok_or_else(|| UserError::usage("no CA URL").hint("pass --ca-url https://ca.example:9000"))?;
    let host = c
        .dns_names
        .first()
        .ok_or_else(|| UserError::input("ca.json has no dnsNames").hint("pass --ca-url"))?;
    let port = c.address.rsplit_once(':').map(|(_, p)| p).unwrap_or("443");
    Ok(if port == "443" {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    })
}

/// The token's sans: none for revoke tokens, else --san or the subject.
fn token_sans(a: &TokenArgs) -> Option<Vec<String>> {
    if a.ssh {
        return None;
    }
    if a.revoke {
        None
    } else if a.san.is_empty() {
        Some(vec![a.subject.clone()])
    } else {
        Some(a.san.clone())
    }
}

/// Validity: default now..now+5m, 10 s to 1 h long (step's bounds).
fn token_validity(a: &TokenArgs) -> Result<(time::OffsetDateTime, time::OffsetDateTime)> {
    let now = now();
    let parse = |v: &Option<String>, flag: &str, default: time::OffsetDateTime| -> Result<time::OffsetDateTime> {
        match v {
            Some(s) => Ok(crate::pki::validity::parse_time_or_duration(s, now)
                .map_err(|e| UserError::usage(format!("{flag}: {e}")))?),
            None => Ok(default),
        }
    };
    let nbf = parse(&a.not_before, "--not-before", now)?;
    let exp = parse(&a.not_after, "--not-after", nbf + time::Duration::minutes(5))?;
    let life = exp - nbf;
    if life < time::Duration::seconds(10) || life > time::Duration::hours(1) {
        return Err(UserError::usage(format!(
            "the token would be valid for {} s; it must be 10 s to 1 h",
            life.whole_seconds()
        ))
        .into());
    }
    Ok((nbf, exp))
}

/// A token signed with the provisioner key fetched from the CA.
fn online(a: TokenArgs, out: OutputSet, endpoint: &str) -> Result<u8> {
    let args = crate::cli::ca::CaClientArgs {
        ca_url: a.ca_url.clone(),
        root: a.root.clone(),
        offline: false,
    };
    let (client, roots) = super::client::connect(&args, None)?;
    let key = match (&a.x5c_cert, &a.x5c_key) {
        (Some(cert), Some(k)) => {
            let name = super::client::provisioner_named(&client, a.provisioner.as_deref(), "X5C")?;
            x5c_key(cert, k, &name, a.password_file.clone(), &mut Stdin::default())?
        }
        _ => super::client::provisioner_key(
            &client,
            a.provisioner.as_deref(),
            a.password_file.clone(),
            &mut Stdin::default(),
        )?,
    };
    let validity = token_validity(&a)?;
    let sha = fingerprint(&roots[0], FingerprintHash::Sha256, FingerprintFormat::Hex);
    let aud = format!("{}/1.0/{endpoint}", client.url());
    let extra = ssh_claims(&a, endpoint);
    let token = mint_with(&key, &aud, &a.subject, token_sans(&a), Some(&sha), validity, extra)?;
    emit(&a, out, &token)
}
