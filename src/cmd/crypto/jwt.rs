//! `ferrica crypto jwt sign|verify|inspect` and `ferrica crypto jws sign|verify|inspect`

use anyhow::Result;
use base64::Engine;
use serde_json::{Map, Value, json};

use super::Loaded;
use crate::cli::crypto::{InspectTokenArgs, JwsCommand, JwtCommand, SignKeyArgs, VerifyKeyArgs};
use crate::error::UserError;
use crate::io::password::Stdin;
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, Alg, ClaimChecks, SigningKey};
use crate::jose::{JoseError, b64};

/// Runs a `jwt` subcommand.
pub fn run_jwt(cmd: JwtCommand) -> Result<u8> {
    match cmd {
        JwtCommand::Sign(a) => {
            let mut stdin = Stdin::default();
            // Extra claims come from stdin only with an explicit `-`, so that piped stdin can carry the key password.
            let extra = match a.payload.as_deref() {
                Some(p) => super::read_path(p, "the payload", &mut stdin)?,
                None => Vec::new(),
            };
            let mut claims: Map<String, Value> = if extra.iter().all(u8::is_ascii_whitespace) {
                Map::new()
            } else {
                serde_json::from_slice(&extra)
                    .map_err(|e| UserError::input(format!("the payload is not a JSON object: {e}")))?
            };
            let now = super::now_unix();
            let time_flag = |v: &Option<String>, flag: &str| -> Result<Option<i64>> {
                match v {
                    None => Ok(None),
                    Some(s) => Ok(Some(
                        parse_time(s, now).map_err(|e| UserError::usage(format!("{flag}: {e}")))?,
                    )),
                }
            };
            if let Some(iss) = &a.iss {
                claims.insert("iss".into(), json!(iss));
            }
            if let Some(sub) = &a.sub {
                claims.insert("sub".into(), json!(sub));
            }
            match a.aud.len() {
                0 => {}
                1 => _ = claims.insert("aud".into(), json!(a.aud[0])),
                _ => _ = claims.insert("aud".into(), json!(a.aud)),
            }
            if let Some(exp) = time_flag(&a.exp, "--exp")? {
                claims.insert("exp".into(), json!(exp));
            }
            claims.insert("nbf".into(), json!(time_flag(&a.nbf, "--nbf")?.unwrap_or(now)));
            claims.insert("iat".into(), json!(time_flag(&a.iat, "--iat")?.unwrap_or(now)));
            let jti = match &a.jti {
                Some(j) => j.clone(),
                None => hex::encode(crate::jose::random(32)?),
            };
            claims.insert("jti".into(), json!(jti));
            if !a.subtle {
                let missing: Vec<&str> = ["iss", "aud", "sub", "exp"]
                    .into_iter()
                    .filter(|c| !claims.contains_key(*c))
                    .collect();
                if !missing.is_empty() {
                    let flags: Vec<String> = missing.iter().map(|c| format!("--{c}")).collect();
                    return Err(UserError::usage(format!("missing {}", flags.join(", ")))
                        .hint("a JWT needs iss, aud, sub and a future exp; pass --subtle to sign without them")
                        .into());
                }
                if claims["exp"].as_i64().unwrap_or(0) <= now {
                    return Err(UserError::usage("--exp is not in the future")
                        .hint("pass --subtle to allow it")
                        .into());
                }
            }
            let mut header = parse_headers(&a.headers)?;
            header.insert("typ".into(), json!("JWT"));
            let (key, alg, kid) = if let Some(cert) = &a.x5c_cert {
                x5c_key(cert, a.x5c_key.as_deref(), &a.key, &mut header, &mut stdin)?
            } else {
                signing_key(&a.key, &mut stdin)?
            };
            if let (Some(kid), false) = (kid, a.no_kid) {
                header.insert("kid".into(), json!(kid));
            }
            let token = jws::sign_compact(&key, alg, header, &serde_json::to_vec(&claims)?)?;
            crate::cmd::print_stdout(format!("{token}\n").as_bytes())?;
            Ok(0)
        }
        JwtCommand::Verify(a) => {
            if !a.subtle && (a.iss.is_none() || a.aud.is_empty()) {
                return Err(UserError::usage("--iss and --aud are required")
                    .hint("pass --subtle to verify without checking them")
                    .into());
            }
            let mut stdin = Stdin::default();
            let token = read_token(a.token.as_deref(), &mut stdin)?;
            let c = verified(&token, &a.key, &mut stdin)?;
            let claims: Map<String, Value> = serde_json::from_slice(&c.payload)
                .map_err(|_| UserError::negative("invalid token: the payload is not a JSON object"))?;
            let checks = ClaimChecks {
                iss: a.iss.clone(),
                aud: a.aud.clone(),
                no_exp_check: a.no_exp_check,
            };
            jws::check_claims(&claims, &checks, super::now_unix())
                .map_err(|e| UserError::negative(format!("invalid token: {e}")))?;
            // step prints the verified token as `jwt inspect` does: header, payload, signature.
            let out = json!({ "header": c.header, "payload": claims, "signature": b64(&c.signature) });
            crate::cmd::print_stdout((serde_json::to_string_pretty(&out)? + "\n").as_bytes())?;
            Ok(0)
        }
        JwtCommand::Inspect(a) => inspect(a, true),
    }
}

/// Runs a `jws` subcommand.
pub fn run_jws(cmd: JwsCommand) -> Result<u8> {
    match cmd {
        JwsCommand::Sign(a) => {
            let mut stdin = Stdin::default();
            let payload = super::read_data(a.payload.as_deref(), "the payload", &mut stdin)?;
            let mut header = parse_headers(&a.headers)?;
            if let Some(t) = &a.typ {
                header.insert("typ".into(), json!(t));
            }
            let (key, alg, kid) = signing_key(&a.key, &mut stdin)?;
            if let (Some(kid), false) = (kid, a.no_kid) {
                header.insert("kid".into(), json!(kid));
            }
            let token = jws::sign_compact(&key, alg, header, &payload)?;
            crate::cmd::print_stdout(format!("{token}\n").as_bytes())?;
            Ok(0)
        }
        JwsCommand::Verify(a) => {
            let mut stdin = Stdin::default();
            let token = read_token(a.token.as_deref(), &mut stdin)?;
            let c = verified(&token, &a.key, &mut stdin)?;
            crate::cmd::print_stdout(&c.payload)?;
            Ok(0)
        }
        JwsCommand::Inspect(a) => inspect(a, false),
    }
}

fn read_token(path: Option<&str>, stdin: &mut Stdin) -> Result<String> {
    let data = super::read_data(Some(path.unwrap_or("-")), "the token", stdin)?;
    let t = String::from_utf8(data).map_err(|_| UserError::input("the token is not text"))?;
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(UserError::input("no token given")
            .hint("pass the token as a file or on stdin")
            .into());
    }
    Ok(t)
}

/// Verifies a compact token's signature with the key flags; failures are a negative check (exit 1).
fn verified(token: &str, k: &VerifyKeyArgs, stdin: &mut Stdin) -> Result<jws::Compact> {
    let decoded = jws::decode_compact(token).map_err(|e| UserError::input(format!("the token: {e}")))?;
    let jwk = verify_key(k, decoded.header.get("kid").and_then(Value::as_str), stdin)?;
    let pin = match &k.alg {
        Some(a) => Some(Alg::parse(a).map_err(|e| UserError::usage(format!("--alg: {e}")))?),
        None => None,
    };
    jws::verify_compact(token, &jwk, pin).map_err(|e| match e {
        JoseError::Malformed(m) => UserError::input(format!("the token: {m}")).into(),
        other => anyhow::Error::from(UserError::negative(format!("invalid token: {other}"))),
    })
}

fn verify_key(k: &VerifyKeyArgs, token_kid: Option<&str>, stdin: &mut Stdin) -> Result<Jwk> {
    match (&k.key, &k.jwks) {
        (Some(path), None) => {
            let jwk = super::load_key(path, k.password_file.clone(), stdin)?.to_jwk()?;
            Ok(if jwk.kty == "oct" { jwk } else { jwk.public()? })
        }
        (None, Some(path)) => {
            let set = super::load_jwks(path)?;
            let kid = k.kid.as_deref().or(token_kid).ok_or_else(|| {
                UserError::usage("the token has no kid").hint("pass --kid to pick the key from --jwks")
            })?;
            let jwk = super::find_kid(&set, kid, path)?;
            Ok(if jwk.kty == "oct" { jwk.clone() } else { jwk.public()? })
        }
        (Some(_), Some(_)) => Err(UserError::usage("--key and --jwks conflict").into()),
        (None, None) => Err(UserError::usage("no key: pass --key FILE or --jwks FILE").into()),
    }
}

/// The signing key, algorithm and kid from `--key` or `--jwks` + `--kid`.
fn signing_key(k: &SignKeyArgs, stdin: &mut Stdin) -> Result<(SigningKey, Alg, Option<String>)> {
    let key = match (&k.key, &k.jwks) {
        (Some(path), None) => match super::load_key(path, k.password_file.clone(), stdin)? {
            Loaded::Private(pk) => SigningKey::from_private_key(pk)?,
            Loaded::Jwk(j) => SigningKey::from_jwk(j).map_err(|e| UserError::usage(format!("--key {path}: {e}")))?,
        },
        (None, Some(path)) => {
            let set = super::load_jwks(path)?;
            let kid = k.kid.as_deref().ok_or_else(|| UserError::usage("--jwks needs --kid"))?;
            SigningKey::from_jwk(super::find_kid(&set, kid, path)?.clone())
                .map_err(|e| UserError::usage(format!("--jwks {path}: {e}")))?
        }
        (Some(_), Some(_)) => return Err(UserError::usage("--key and --jwks conflict").into()),
        (None, None) => return Err(UserError::usage("no key: pass --key FILE or --jwks FILE with --kid").into()),
    };
    let alg_name = match (&k.alg, &key.jwk.alg) {
        (Some(a), _) => a.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => key.jwk.default_alg()?.to_string(),
    };
    let alg = Alg::parse(&alg_name).map_err(|e| UserError::usage(format!("--alg: {e}")))?;
    alg.check_key(&key.jwk)
        .map_err(|e| UserError::usage(format!("--alg: {e}")))?;
    let kid = k.kid.clone().or_else(|| key.jwk.kid.clone());
    Ok((key, alg, kid))
}

/// `--x5c-cert` + `--x5c-key`: the x5c header holds the chain, and the key must be the leaf's.
fn x5c_key(
    cert: &str,
    key_path: Option<&str>,
    k: &SignKeyArgs,
    header: &mut Map<String, Value>,
    stdin: &mut Stdin,
) -> Result<(SigningKey, Alg, Option<String>)> {
    let key_path = key_path.ok_or_else(|| UserError::usage("--x5c-cert needs --x5c-key"))?;
    if k.key.is_some() || k.jwks.is_some() {
        return Err(UserError::usage("--x5c-cert/--x5c-key conflict with --key/--jwks").into());
    }
    let data = crate::io::input::read_input(cert, "--x5c-cert file")?;
    let chain = crate::pki::der_input::parse_certificates(&data)
        .map_err(|e| UserError::input(format!("--x5c-cert {cert}: {e}")))?;
    let args = SignKeyArgs {
        key: Some(key_path.to_string()),
        jwks: None,
        kid: None,
        ..k.clone()
    };
    let (key, alg, _) = signing_key(&args, stdin)?;
    let leaf_jwk = Jwk::from_spki(&spki_of_cert(&chain[0])?)?;
    if leaf_jwk.thumbprint()? != key.jwk.public()?.thumbprint()? {
        return Err(UserError::input(format!("--x5c-key {key_path} is not the key of --x5c-cert {cert}")).into());
    }
    let x5c: Vec<Value> = chain
        .iter()
        .map(|c| json!(base64::engine::general_purpose::STANDARD.encode(c)))
        .collect();
    header.insert("x5c".into(), Value::Array(x5c));
    Ok((key, alg, None))
}

fn spki_of_cert(der: &[u8]) -> Result<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| UserError::input(format!("certificate: {e}")))?;
    Ok(c.public_key().raw.to_vec())
}

fn parse_headers(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| UserError::usage(format!("--header {p:?} is not name=value")))?;
        if k == "alg" {
            return Err(UserError::usage("--header alg=...: use --alg").into());
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        m.insert(k.to_string(), value);
    }
    Ok(m)
}

/// Accepts unix seconds or a duration from now (`5m`, `-1h`).
fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    crate::pki::validity::parse_duration(s).map(|d| now + d.whole_seconds())
}

fn inspect(a: InspectTokenArgs, jwt: bool) -> Result<u8> {
    if !a.insecure {
        return Err(UserError::usage("inspect does not verify the token; pass --insecure to acknowledge it").into());
    }
    let token = read_token(a.token.as_deref(), &mut Stdin::default())?;
    let c = jws::decode_compact(&token).map_err(|e| UserError::input(format!("the token: {e}")))?;
    let payload = match serde_json::from_slice::<Value>(&c.payload) {
        Ok(v) if jwt || v.is_object() => v,
        _ if jwt => return Err(UserError::input("the token's payload is not JSON").into()),
        _ => match String::from_utf8(c.payload.clone()) {
            Ok(s) => Value::String(s),
            Err(_) => Value::String(b64(&c.payload)),
        },
    };
    let out = json!({ "header": c.header, "payload": payload, "signature": b64(&c.signature) });
    crate::cmd::print_stdout((serde_json::to_string_pretty(&out)? + "\n").as_bytes())?;
    Ok(0)
}
