//! `ferrica ca certificate SUBJECT CRT KEY` and `ferrica ca sign CSR CRT`: a key and CSR (or a given CSR) sent
//! with a one-time token to the CA's `/sign`.

use std::path::Path;

use anyhow::Result;
use x509_parser::prelude::*;

use super::client;
use crate::cli::ca::{CertificateArgs, SignArgs};
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::pki::issue::{San, create_csr};
use crate::pki::keys::{KeySpec, PrivateKey};

/// `ca certificate`.
pub fn run_certificate(a: CertificateArgs) -> Result<u8> {
    let out = OutputSet::new(a.force);
    out.check(Path::new(&a.crt_file), "CRT_FILE")?;
    out.check(Path::new(&a.key_file), "KEY_FILE")?;
    let spec = KeySpec::from_flags(
        a.key_type.kty.as_deref(),
        a.key_type.crv.as_deref(),
        a.key_type.size,
        false,
    )?;
    let sans: Vec<String> = if a.san.is_empty() {
        vec![a.subject.clone()]
    } else {
        a.san.clone()
    };
    if let Some(directory) = &a.acme {
        return acme(&a, directory, &sans, spec, out);
    }
    let (ca, roots) = client::connect(&a.ca, None)?;
    let mut stdin = Stdin::default();
    let token = client::token_for(&ca, &roots, &a.mint, "sign", &a.subject, Some(sans.clone()), &mut stdin)?;
    let key = PrivateKey::generate(spec)?;
    let parsed: Vec<San> = sans.iter().map(|s| San::parse(s)).collect();
    let csr = create_csr(&a.subject, &parsed, &key)?;
    let csr_pem = crate::cmd::certificate::create::pem_block("CERTIFICATE REQUEST", csr);
    let chain = client::sign(&ca, &csr_pem, &token, a.not_before.as_deref(), a.not_after.as_deref())?;
    save_chain_and_key(out, &a, &chain, &key)
}

/// Writes the chain to CRT_FILE and the key (unencrypted, 0600, as step does) to KEY_FILE, together.
fn save_chain_and_key(mut out: OutputSet, a: &CertificateArgs, chain: &str, key: &PrivateKey) -> Result<u8> {
    out.stage(Path::new(&a.crt_file), chain.as_bytes(), PUBLIC_MODE)?;
    out.stage(Path::new(&a.key_file), key.to_pem(None)?.as_bytes(), KEY_MODE)?;
    out.commit()?;
    eprintln!("Your certificate has been saved in {}.", a.crt_file);
    eprintln!("Your private key has been saved in {}.", a.key_file);
    Ok(0)
}

/// `ca certificate --acme`: the same key and CSR, through an ACME order answered over http-01.
fn acme(a: &CertificateArgs, directory: &str, sans: &[String], spec: KeySpec, out: OutputSet) -> Result<u8> {
    use crate::io::acme_client::{Request, Responder};
    if a.not_before.is_some() || a.not_after.is_some() {
        return Err(
            UserError::usage("--not-before/--not-after do not apply to --acme (the CA's provisioner decides)").into(),
        );
    }
    let parsed: Vec<San> = sans.iter().map(|s| San::parse(s)).collect();
    for s in &parsed {
        s.validate().map_err(|e| UserError::usage(format!("--san: {e}")))?;
    }
    // The CA's root: --root / FERRICA_ROOT, else defaults.json's (a private CA), else the system's roots.
    let root = match &a.ca.root {
        Some(r) => Some(std::path::PathBuf::from(r)),
        None => client::defaults()?.and_then(|d| {
            d.get("root")
                .and_then(serde_json::Value::as_str)
                .map(std::path::PathBuf::from)
        }),
    };
    let responder = match &a.webroot {
        Some(dir) => Responder::Webroot(dir.into()),
        None => {
            let addr = if a.http_listen.starts_with(':') {
                format!("0.0.0.0{}", a.http_listen)
            } else {
                a.http_listen.clone()
            };
            Responder::Standalone(
                addr.parse()
                    .map_err(|_| UserError::usage(format!("--http-listen {:?} is not HOST:PORT", a.http_listen)))?,
            )
        }
    };
    let account_file = super::ferrica_path()?.join("acme").join(format!(
        "{}.json",
        hex::encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, directory.as_bytes()).as_ref()[..12])
    ));
    let key = PrivateKey::generate(spec)?;
    let csr_der = create_csr(&a.subject, &parsed, &key)?;
    let chain = crate::io::acme_client::obtain(&Request {
        directory: directory.to_string(),
        root,
        account_file,
        contacts: a
            .contact
            .iter()
            .map(|c| format!("mailto:{}", c.trim_start_matches("mailto:")))
            .collect(),
        identifiers: parsed,
        csr_der,
        responder,
    })?;
    save_chain_and_key(out, a, &chain, &key)
}

/// `ca sign`.
pub fn run_sign(a: SignArgs) -> Result<u8> {
    let mut out = OutputSet::new(a.force);
    out.input(Some(&a.csr_file), "CSR_FILE");
    out.check(Path::new(&a.crt_file), "CRT_FILE")?;
    let data = crate::io::input::read_input(&a.csr_file, "CSR file")?;
    let der = match crate::pki::der_input::parse_x509(&data) {
        Ok(crate::pki::der_input::X509Input::Csr(der)) => der,
        Ok(_) => return Err(UserError::input(format!("{}: a certificate, not a CSR", a.csr_file)).into()),
        Err(e) => return Err(UserError::input(format!("{}: {e}", a.csr_file)).into()),
    };
    let (_, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| UserError::input(format!("{}: {e}", a.csr_file)))?;
    // The token's subject and SANs are the CSR's, so that the CA's comparison passes.
    let cn = csr
        .certification_request_info
        .subject
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut sans = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(s) = ext {
            for g in &s.general_names {
                match g {
                    GeneralName::DNSName(d) => sans.push(d.to_string()),
                    GeneralName::RFC822Name(e) => sans.push(e.to_string()),
                    GeneralName::URI(u) => sans.push(u.to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                            sans.push(std::net::IpAddr::from(v4).to_string());
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                            sans.push(std::net::IpAddr::from(v6).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let subject = if cn.is_empty() {
        sans.first().cloned().unwrap_or_default()
    } else {
        cn.clone()
    };
    if subject.is_empty() && a.mint.token.is_none() {
        return Err(UserError::input(format!("{}: the CSR has neither a CN nor SANs", a.csr_file)).into());
    }
    if sans.is_empty() {
        sans.push(subject.clone());
    }
    let (ca, roots) = client::connect(&a.ca, None)?;
    let token = client::token_for(
        &ca,
        &roots,
        &a.mint,
        "sign",
        &subject,
        Some(sans),
        &mut Stdin::default(),
    )?;
    let csr_pem = crate::cmd::certificate::create::pem_block("CERTIFICATE REQUEST", der);
    let chain = client::sign(&ca, &csr_pem, &token, a.not_before.as_deref(), a.not_after.as_deref())?;
    out.stage(Path::new(&a.crt_file), chain.as_bytes(), PUBLIC_MODE)?;
    out.commit()?;
    eprintln!("Your certificate has been saved in {}.", a.crt_file);
    Ok(0)
}
