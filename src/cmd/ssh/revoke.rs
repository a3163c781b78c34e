//! `ferrica ssh revoke SERIAL` and `ferrica ssh krl FILE`.

use anyhow::Result;
use serde_json::json;

use super::connect;
use crate::cli::ssh::{SshKrlArgs, SshRevokeArgs};
use crate::cmd::ca::client;
use crate::error::UserError;
use crate::io::password::Stdin;

/// Revokes by serial with a token for `/ssh/revoke`.
pub fn run_revoke(a: SshRevokeArgs) -> Result<u8> {
    let serial: u64 = a
        .serial
        .trim()
        .parse()
        .map_err(|_| UserError::usage(format!("SERIAL {:?} is not a decimal SSH serial", a.serial)))?;
    if a.reason_code > 10 || a.reason_code == 7 {
        return Err(UserError::usage(format!("--reasonCode {} is not 0-6 or 8-10", a.reason_code)).into());
    }
    let (ca, roots) = connect(&a.ca)?;
    let token = match &a.token {
        Some(t) => t.trim().to_string(),
        None => {
            let key = client::provisioner_key(
                &ca,
                a.provisioner.as_deref(),
                a.provisioner_password_file.clone(),
                &mut Stdin::default(),
            )?;
            let now = crate::cmd::ca::token::now();
            client::mint_for(
                &ca,
                &roots,
                &key,
                "ssh/revoke",
                &serial.to_string(),
                None,
                now,
                now + time::Duration::minutes(5),
            )?
        }
    };
    let body = json!({"serial": serial.to_string(), "ott": token, "reasonCode": a.reason_code,
        "reason": a.reason, "passive": true});
    ca.post("/1.0/ssh/revoke", &body, None)?.json("POST /ssh/revoke")?;
    eprintln!("The SSH certificate with serial {serial} has been revoked.");
    Ok(0)
}

/// Writes the CA's KRL.
pub fn run_krl(a: SshKrlArgs) -> Result<u8> {
    let (ca, _) = connect(&a.ca)?;
    let krl = ca.get("/1.0/ssh/krl")?.ok("GET /ssh/krl")?;
    if a.file == "-" {
        crate::cmd::print_stdout(&krl)?;
    } else {
        client::write_or_print(Some(&a.file), &krl, a.force, "FILE")?;
        eprintln!("The KRL has been saved in {}.", a.file);
    }
    Ok(0)
}
