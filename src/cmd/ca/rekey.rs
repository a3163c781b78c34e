//! `ferrica ca rekey CRT KEY`: a new key (generated, or `--private-key`), its CSR sent to `/rekey` over mTLS with
//! the current certificate and key; the new certificate and key are written together.

use std::path::Path;

use anyhow::Result;
use serde_json::json;
use x509_parser::prelude::*;

use super::client;
use crate::cli::ca::RekeyArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::pki::issue::create_csr;
use crate::pki::keys::{KeySpec, PrivateKey};

/// `ca rekey`.
pub fn run(a: RekeyArgs) -> Result<u8> {
    let out_cert = a.out_cert.clone().unwrap_or_else(|| a.crt_file.clone());
    let out_key = a.out_key.clone().unwrap_or_else(|| a.key_file.clone());
    let out = OutputSet::new(a.force);
    out.check(
        Path::new(&out_cert),
        if a.out_cert.is_some() { "--out-cert" } else { "CRT_FILE" },
    )?;
    out.check(
        Path::new(&out_key),
        if a.out_key.is_some() { "--out-key" } else { "KEY_FILE" },
    )?;
    let signal = super::renew::parse_signal(&a.after.signal)?;
    let key = client::read_key(&a.key_file, a.password_file.clone(), "--password-file")?;
    let chain = crate::cmd::certificate::read_certs(&a.crt_file, "certificate")?;
    let (_, cert) =
        X509Certificate::from_der(&chain[0]).map_err(|e| UserError::input(format!("{}: {e}", a.crt_file)))?;
    if cert.public_key().raw != key.spki_der().as_slice() {
        return Err(UserError::input(format!("{} is not the key of {}", a.key_file, a.crt_file)).into());
    }
    if crate::cmd::crypto::now_unix() > cert.validity().not_after.timestamp() {
        return Err(
            UserError::input(format!("{} has expired: rekey authenticates with it", a.crt_file))
                .hint("get a new certificate with `ferrica ca certificate`")
                .into(),
        );
    }
    let new_key = match &a.private_key {
        Some(path) => client::read_key(path, None, "--private-key")?,
        None => PrivateKey::generate(KeySpec::from_flags(
            a.key_type.kty.as_deref(),
            a.key_type.crv.as_deref(),
            a.key_type.size,
            false,
        )?)?,
    };
    if new_key.spki_der() == key.spki_der() {
        return Err(UserError::usage("--private-key is the certificate's current key").into());
    }
    // The CA keeps the certificate's names and reads only the key from the CSR.
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let csr = create_csr(&cn, &[], &new_key)?;
    let csr_pem = crate::cmd::certificate::create::pem_block("CERTIFICATE REQUEST", csr);
    let id = client::identity(&a.crt_file, &key)?;
    let (ca, _) = client::connect(&a.ca, Some(id))?;
    let answer = ca.post("/1.0/rekey", &json!({"csr": csr_pem}), None)?;
    let pem = client::chain_pem(answer.json("POST /rekey")?)?;
    let issued = crate::pki::der_input::parse_certificates(pem.as_bytes())?;
    let (_, leaf) = X509Certificate::from_der(&issued[0])
        .map_err(|e| UserError::unavailable(format!("the rekeyed certificate: {e}")))?;
    if leaf.public_key().raw != new_key.spki_der().as_slice() {
        return Err(UserError::unavailable("the CA answered with a certificate for another key").into());
    }
    let mut out = out;
    out.stage(Path::new(&out_cert), pem.as_bytes(), PUBLIC_MODE)?;
    out.stage(Path::new(&out_key), new_key.to_pem(None)?.as_bytes(), KEY_MODE)?;
    out.commit()?;
    eprintln!(
        "Your certificate has been saved in {out_cert} (serial {}).",
        leaf.serial.to_str_radix(10)
    );
    eprintln!("Your private key has been saved in {out_key}.");
    super::renew::after_renewal(&a.after, signal);
    Ok(0)
}
