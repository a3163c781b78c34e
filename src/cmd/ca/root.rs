//! `ferrica ca root|roots|bootstrap|health`: getting and pinning the CA's root, and checking that the CA answers.

use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use super::client;
use crate::cli::ca::{BootstrapArgs, CaClientArgs, RootArgs, RootsArgs};
use crate::error::{ErrorKind, UserError};
use crate::io::http::{CaClient, Trust};
use crate::io::output::{OutputSet, PUBLIC_MODE};
use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};

/// Fetches `/root/{fp}` without trusting the server, and accepts the root only if its SHA-256 is `fp`.
fn fetch_root(ca_url: &str, fp: &str) -> Result<Vec<u8>> {
    let want = fp.replace([':', '-'], "").to_ascii_lowercase();
    if want.len() != 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UserError::usage(format!(
            "--fingerprint {fp:?} is not a SHA-256 fingerprint (64 hex digits)"
        ))
        .into());
    }
    let client = CaClient::new(ca_url, Trust::Insecure, None)?;
    let v = client.get(&format!("/1.0/root/{want}"))?.json("GET /root")?;
    let pem_text = v
        .get("ca")
        .and_then(Value::as_str)
        .ok_or_else(|| UserError::unavailable("the CA's answer has no root"))?;
    let der = crate::pki::der_input::parse_certificates(pem_text.as_bytes())
        .map_err(|e| UserError::unavailable(format!("the CA's root does not parse: {e}")))?
        .remove(0);
    let got = fingerprint(&der, FingerprintHash::Sha256, FingerprintFormat::Hex);
    if got != want {
        return Err(UserError {
            kind: ErrorKind::Refused,
            msg: format!("the root from {ca_url} has fingerprint {got}, not {want}"),
            hint: Some(
                "someone may be intercepting the connection; check the fingerprint with the CA's operator".into(),
            ),
        }
        .into());
    }
    Ok(der)
}

fn pem(der: &[u8]) -> String {
    crate::cmd::certificate::create::pem_block("CERTIFICATE", der.to_vec())
}

/// `ca root`.
pub fn run_root(a: RootArgs) -> Result<u8> {
    let url = client::ca_url(a.ca_url.as_deref())?;
    let fp = match a.fingerprint {
        Some(f) => f,
        None => client::defaults()?
            .and_then(|d| d.get("fingerprint").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| UserError::usage("pass --fingerprint with the root's SHA-256"))?,
    };
    let mut force = a.force;
    if let Some(f) = a.root_file.as_deref().filter(|f| *f != "-") {
        let set = OutputSet::new(a.force);
        set.check(Path::new(f), "ROOT_FILE")?;
        force |= set.approved(Path::new(f));
    }
    let der = fetch_root(&url, &fp)?;
    client::write_or_print(a.root_file.as_deref(), pem(&der).as_bytes(), force, "ROOT_FILE")?;
    if let Some(f) = a.root_file.as_deref().filter(|f| *f != "-") {
        eprintln!("The root certificate has been saved in {f}.");
    }
    Ok(0)
}

/// `ca roots` (`/roots`) and `ca federation` (`/federation`): PEM certificates from `{"crts": [...]}`.
pub fn run_roots(a: RootsArgs, path: &str) -> Result<u8> {
    let mut force = a.force;
    if let Some(f) = a.roots_file.as_deref().filter(|f| *f != "-") {
        let set = OutputSet::new(a.force);
        set.check(Path::new(f), "ROOTS_FILE")?;
        force |= set.approved(Path::new(f));
    }
    let (ca, _) = client::connect(&a.ca, None)?;
    let what = format!("GET {}", path.trim_start_matches("/1.0"));
    let v = ca.get(path)?.json(&what)?;
    let mut out = String::new();
    for c in v.get("crts").and_then(Value::as_array).into_iter().flatten() {
        if let Some(p) = c.as_str() {
            out.push_str(p.trim_end());
            out.push('\n');
        }
    }
    crate::pki::der_input::parse_certificates(out.as_bytes())
        .map_err(|e| UserError::unavailable(format!("{what}: the certificates do not parse: {e}")))?;
    client::write_or_print(a.roots_file.as_deref(), out.as_bytes(), force, "ROOTS_FILE")?;
    Ok(0)
}

/// `ca bootstrap`.
pub fn run_bootstrap(a: BootstrapArgs) -> Result<u8> {
    let base = super::ferrica_path()?;
    let root_path = base.join("certs/root_ca.crt");
    let defaults_path = base.join("config/defaults.json");
    let mut out = OutputSet::new(a.force);
    if !a.force {
        for (p, what) in [
            (&root_path, "$FERRICA_PATH/certs/root_ca.crt"),
            (&defaults_path, "$FERRICA_PATH/config/defaults.json"),
        ] {
            if p.exists() {
                out.check(p, what)?;
            }
        }
    }
    let der = fetch_root(&a.ca_url, &a.fingerprint)?;
    let fp = fingerprint(&der, FingerprintHash::Sha256, FingerprintFormat::Hex);
    for dir in [base.join("certs"), base.join("config")] {
        std::fs::create_dir_all(&dir).map_err(|e| UserError::input(format!("creating {}: {e}", dir.display())))?;
    }
    out.check(&root_path, "$FERRICA_PATH/certs/root_ca.crt")?;
    out.check(&defaults_path, "$FERRICA_PATH/config/defaults.json")?;
    let defaults = json!({
        "ca-url": a.ca_url.trim_end_matches('/'),
        "fingerprint": fp,
        "root": root_path.to_string_lossy(),
    });
    out.stage(&root_path, pem(&der).as_bytes(), PUBLIC_MODE)?;
    out.stage(
        &defaults_path,
        (serde_json::to_string_pretty(&defaults)? + "\n").as_bytes(),
        PUBLIC_MODE,
    )?;
    out.commit()?;
    eprintln!("The root certificate has been saved in {}.", root_path.display());
    eprintln!(
        "The authority configuration has been saved in {}.",
        defaults_path.display()
    );
    if a.install {
        let trust = crate::cli::certificate::TrustArgs {
            crt_file: root_path.to_string_lossy().into_owned(),
            check: false,
            all: false,
            no_system: false,
            firefox: false,
            nss_db: Vec::new(),
            java: false,
            java_keystore: None,
            java_storepass_file: None,
            prefix: a.prefix.clone(),
        };
        crate::cmd::certificate::install::run(trust, true)?;
    }
    Ok(0)
}

/// `ca health`.
pub fn run_health(a: CaClientArgs) -> Result<u8> {
    let (ca, _) = client::connect(&a, None)?;
    let v = ca.get("/health")?.json("GET /health")?;
    match v.get("status").and_then(Value::as_str) {
        Some(s) => {
            crate::cmd::print_stdout(format!("{s}\n").as_bytes())?;
            Ok(if s == "ok" {
                0
            } else {
                ErrorKind::Unavailable.exit_code()
            })
        }
        None => Err(UserError::unavailable("the CA's /health answer has no status").into()),
    }
}
