//! `ferrica ca revoke [SERIAL]`: with a revoke token (`--token`, or minted with `--provisioner`), or over mTLS with
//! the certificate being revoked (`--cert/--key`).

use anyhow::Result;
use serde_json::json;

use super::client;
use crate::cli::ca::RevokeArgs;
use crate::error::UserError;
use crate::io::password::Stdin;

/// `ca revoke`.
pub fn run(a: RevokeArgs) -> Result<u8> {
    if a.reason_code > 10 || a.reason_code == 7 {
        return Err(UserError::usage(format!("--reasonCode {} is not 0-6 or 8-10", a.reason_code)).into());
    }
    let (ca, serial, ott) = match (&a.cert, &a.key) {
        (Some(cert), Some(key_path)) => {
            let key = client::read_key(key_path, a.key_password_file.clone(), "--key-password-file")?;
            let id = client::identity(cert, &key)?;
            let own = client::serial_of(&id.chain[0])?;
            let serial = a.serial.clone().unwrap_or_else(|| own.clone());
            let (ca, _) = client::connect(&a.ca, Some(id))?;
            (ca, serial, String::new())
        }
        _ => {
            let serial = a
                .serial
                .clone()
                .ok_or_else(|| UserError::usage("give the SERIAL to revoke (or --cert and --key)"))?;
            let (ca, roots) = client::connect(&a.ca, None)?;
            let ott = client::token_for(&ca, &roots, &a.mint, "revoke", &serial, None, &mut Stdin::default())?;
            (ca, serial, ott)
        }
    };
    let body = json!({
        "serial": serial,
        "ott": ott,
        "reasonCode": a.reason_code,
        "reason": a.reason,
        "passive": true,
    });
    ca.post("/1.0/revoke", &body, None)?.json("POST /revoke")?;
    eprintln!("Certificate with serial number {serial} has been revoked.");
    Ok(0)
}
