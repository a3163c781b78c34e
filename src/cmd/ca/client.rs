//! What the `ca` client commands share: finding the CA (flags, env, `config/defaults.json`), connecting to it
//! pinned to its root, minting a token with a provisioner key fetched from it, and writing certificate chains.

use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::ca::{CaClientArgs, MintArgs};
use crate::error::UserError;
use crate::io::http::{CaClient, Identity, Trust};
use crate::io::password::Stdin;
use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
use crate::pki::keys::PrivateKey;

/// `config/defaults.json` under `$FERRICA_PATH`, if present.
pub fn defaults() -> Result<Option<Value>> {
    let path = super::ferrica_path()?.join("config/defaults.json");
    match std::fs::read(&path) {
        Ok(data) => Ok(Some(serde_json::from_slice(&data).map_err(|e| {
            UserError::input(format!("{}: {e}", path.display())).hint("run `ferrica ca bootstrap` again")
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::input(format!("{}: {e}", path.display())).into()),
    }
}

fn default_str(key: &str) -> Result<Option<String>> {
    Ok(defaults()?.and_then(|d| d.get(key).and_then(Value::as_str).map(str::to_string)))
}

/// The CA URL: the flag (or FERRICA_CA_URL), else defaults.json's ca-url.
pub fn ca_url(flag: Option<&str>) -> Result<String> {
    match flag {
        Some(u) => Ok(u.to_string()),
        None => default_str("ca-url")?.ok_or_else(|| {
            UserError::usage("no CA URL")
                .hint("pass --ca-url https://ca.example:9000 (or set FERRICA_CA_URL, or run `ferrica ca bootstrap`)")
                .into()
        }),
    }
}

/// The roots (DER) of `--root`, else of defaults.json's root.
pub fn roots(flag: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let path = match flag {
        Some(r) => r.to_string(),
        None => default_str("root")?.ok_or_else(|| {
            UserError::usage("no root certificate to trust the CA with")
                .hint("pass --root root_ca.crt (or set FERRICA_ROOT, or run `ferrica ca bootstrap`)")
        })?,
    };
    crate::cmd::certificate::read_certs(&path, "--root")
}

/// step's `--offline` on the client commands runs a CA in-process; ferrica's need `ferrica serve`.
pub fn refuse_offline() -> Result<()> {
    Err(UserError::usage(
        "--offline is step's in-process CA, and ferrica's client commands need a running `ferrica serve`",
    )
    .hint("`ferrica ca token --offline` mints a token without the CA; `ferrica certificate create --ca` signs locally")
    .into())
}

/// A client for the CA named by the flags, trusting its root.
pub fn connect(args: &CaClientArgs, identity: Option<Identity>) -> Result<(CaClient, Vec<Vec<u8>>)> {
    if args.offline {
        refuse_offline()?;
    }
    let url = ca_url(args.ca_url.as_deref())?;
    let roots = roots(args.root.as_deref())?;
    Ok((CaClient::new(&url, Trust::Roots(roots.clone()), identity)?, roots))
}

/// Reads a private key, asking for its password only if it is encrypted.
pub fn read_key(path: &str, password_file: Option<String>, flag: &str) -> Result<PrivateKey> {
    let data = crate::io::input::read_input(path, "key file")?;
    let pw = if PrivateKey::is_encrypted(&data) {
        Some(crate::cmd::crypto::decrypt_password(
            &format!("the key {path}"),
            password_file,
            &mut Stdin::default(),
        )?)
    } else {
        None
    };
    crate::cmd::certificate::parse_key(&data, pw, path, flag)
}

/// A certificate chain and its key as a TLS client identity.
pub fn identity(crt_path: &str, key: &PrivateKey) -> Result<Identity> {
    let chain = crate::cmd::certificate::read_certs(crt_path, "certificate")?;
    Ok(Identity {
        chain,
        key_pkcs8: key.pkcs8_der().to_vec(),
    })
}

/// The name of the CA's provisioner of `kind` (`X5C`, ...): `name` if it has one so named, else its only one.
pub fn provisioner_named(client: &CaClient, name: Option<&str>, kind: &str) -> Result<String> {
    let list = client.get("/1.0/provisioners")?.json("GET /provisioners")?;
    let names: Vec<String> = list
        .get("provisioners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some(kind))
        .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    match name {
        Some(n) if names.iter().any(|x| x == n) => Ok(n.to_string()),
        Some(n) => Err(UserError::input(format!("the CA has no {kind} provisioner {n:?}"))
            .hint(format!("it has: {}", names.join(", ")))
            .into()),
        None if names.len() == 1 => Ok(names[0].clone()),
        None if names.is_empty() => Err(UserError::input(format!("the CA has no {kind} provisioner")).into()),
        None => {
            let labels: Vec<String> = names.iter().map(|n| format!("{n} ({kind})")).collect();
            Ok(names[choose_provisioner(&names, &labels)?].clone())
        }
    }
}

/// Which of several provisioners to use when `--provisioner` is absent: asked on a terminal as step asks (`labels`
/// are what the list shows), else a usage error naming them.
pub fn choose_provisioner(names: &[String], labels: &[String]) -> Result<usize> {
    let question = "What provisioner key do you want to use?";
    match crate::io::prompt::choose(question, "Provisioner", labels)? {
        Some(i) => Ok(i),
        None => Err(UserError::usage(format!("choose a provisioner with --provisioner: {}", names.join(", "))).into()),
    }
}

/// step's label for a provisioner in the list: `name (JWK) [kid: ...]`.
pub fn provisioner_label(p: &Value) -> String {
    let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let kid = p.get("key").and_then(|k| k.get("kid")).and_then(Value::as_str);
    match kid {
        Some(kid) => format!("{} ({}) [kid: {kid}]", field("name"), field("type")),
        None => format!("{} ({})", field("name"), field("type")),
    }
}

/// The provisioner key, fetched from the CA and decrypted: GET /provisioners to find the JWK provisioner (by
/// name, or the only one), then GET /provisioners/{kid}/encrypted-key.
pub fn provisioner_key(
    client: &CaClient,
    name: Option<&str>,
    password_file: Option<String>,
    stdin: &mut Stdin,
) -> Result<super::token::TokenKey> {
    let list = client.get("/1.0/provisioners")?.json("GET /provisioners")?;
    let jwks: Vec<&Value> = list
        .get("provisioners")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("JWK"))
                .collect()
        })
        .unwrap_or_default();
    let names = || {
        jwks.iter()
            .map(|p| p.get("name").and_then(Value::as_str).unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let prov = match name {
        Some(n) => jwks
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(n))
            .ok_or_else(|| {
                UserError::input(format!("the CA has no JWK provisioner {n:?}"))
                    .hint(format!("it has: {}", names().join(", ")))
            })?,
        None if jwks.len() == 1 => &jwks[0],
        None if jwks.is_empty() => return Err(UserError::input("the CA has no JWK provisioner").into()),
        None => {
            let labels: Vec<String> = jwks.iter().map(|p| provisioner_label(p)).collect();
            &jwks[choose_provisioner(&names(), &labels)?]
        }
    };
    let pname = prov.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let kid = prov
        .get("key")
        .and_then(|k| k.get("kid"))
        .and_then(Value::as_str)
        .ok_or_else(|| UserError::input(format!("provisioner {pname:?} has no key id")))?;
    let enc = client
        .get(&format!("/1.0/provisioners/{kid}/encrypted-key"))?
        .json("GET /provisioners/{kid}/encrypted-key")?;
    let enc = enc
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| UserError::input(format!("the CA sent no encrypted key for {pname:?}")))?;
    super::token::decrypt_provisioner_key(&pname, enc, password_file, stdin)
}

/// The token a command sends: `--token`, or one minted with the CA's provisioner for `endpoint`.
pub fn token_for(
    client: &CaClient,
    roots: &[Vec<u8>],
    mint: &MintArgs,
    endpoint: &str,
    subject: &str,
    sans: Option<Vec<String>>,
    stdin: &mut Stdin,
) -> Result<String> {
    if let Some(t) = &mint.token {
        return Ok(t.trim().to_string());
    }
    let key = match (&mint.x5c_cert, &mint.x5c_key) {
        (Some(cert), Some(k)) => {
            let name = provisioner_named(client, mint.provisioner.as_deref(), "X5C")?;
            super::token::x5c_key(cert, k, &name, mint.provisioner_password_file.clone(), stdin)?
        }
        _ => provisioner_key(
            client,
            mint.provisioner.as_deref(),
            mint.provisioner_password_file.clone(),
            stdin,
        )?,
    };
    let now = super::token::now();
    mint_for(
        client,
        roots,
        &key,
        endpoint,
        subject,
        sans,
        now,
        now + time::Duration::minutes(5),
    )
}

/// A token for `endpoint` of this CA: aud `<ca-url>/1.0/<endpoint>`, sha = the fingerprint of the root it is
/// trusted with.
#[allow(clippy::too_many_arguments)]
pub fn mint_for(
    client: &CaClient,
    roots: &[Vec<u8>],
    key: &super::token::TokenKey,
    endpoint: &str,
    subject: &str,
    sans: Option<Vec<String>>,
    nbf: time::OffsetDateTime,
    exp: time::OffsetDateTime,
) -> Result<String> {
    let sha = fingerprint(&roots[0], FingerprintHash::Sha256, FingerprintFormat::Hex);
    let aud = format!("{}/1.0/{endpoint}", client.url());
    super::token::mint(key, &aud, subject, sans, Some(&sha), nbf, exp)
}

/// Sends `/sign` and returns the chain PEM (leaf, then intermediates) from `certChain` (or crt + ca).
pub fn sign(
    client: &CaClient,
    csr_pem: &str,
    ott: &str,
    not_before: Option<&str>,
    not_after: Option<&str>,
) -> Result<String> {
    let mut body = json!({"csr": csr_pem, "ott": ott});
    if let Some(nb) = not_before {
        body["notBefore"] = json!(nb);
    }
    if let Some(na) = not_after {
        body["notAfter"] = json!(na);
    }
    chain_pem(client.post("/1.0/sign", &body, None)?.json("POST /sign")?)
}

/// The chain of a `{crt, ca, certChain}` answer, as one PEM text.
pub fn chain_pem(v: Value) -> Result<String> {
    let parts: Vec<String> = match v.get("certChain").and_then(Value::as_array) {
        Some(chain) if !chain.is_empty() => chain.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => ["crt", "ca"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
            .collect(),
    };
    if parts.is_empty() {
        return Err(UserError::unavailable("the CA's answer has no certificate").into());
    }
    let mut out = String::new();
    for p in parts {
        out.push_str(p.trim_end());
        out.push('\n');
    }
    // It must parse: never write something that is not a certificate chain.
    crate::pki::der_input::parse_certificates(out.as_bytes())
        .map_err(|e| UserError::unavailable(format!("the CA's answer is not a certificate chain: {e}")))?;
    Ok(out)
}

/// The leaf's serial in decimal.
pub fn serial_of(der: &[u8]) -> Result<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, c) = X509Certificate::from_der(der).map_err(|e| UserError::input(format!("certificate: {e}")))?;
    Ok(c.serial.to_str_radix(10))
}

/// Writes `data` to `path` atomically (refusing to overwrite without `force`), or to stdout for `-`/`None`.
pub fn write_or_print(path: Option<&str>, data: &[u8], force: bool, flag: &str) -> Result<()> {
    match path.filter(|p| *p != "-") {
        Some(p) => {
            let mut out = crate::io::output::OutputSet::new(force);
            out.check(Path::new(p), flag)?;
            out.stage(Path::new(p), data, crate::io::output::PUBLIC_MODE)?;
            out.commit()
        }
        None => crate::cmd::print_stdout(data),
    }
}
