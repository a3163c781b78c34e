//! `ferrica ssh inspect` and `ssh fingerprint`.

use anyhow::Result;
use serde_json::json;
use ssh_key::certificate::CertType;

use crate::cli::ssh::{SshFingerprintArgs, SshInspectArgs};
use crate::error::UserError;
use crate::ssh::cert;

fn when(unix: u64) -> String {
    if unix == u64::MAX {
        return "forever".into();
    }
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .map(crate::pki::issue::fmt_time)
        .unwrap_or_else(|_| unix.to_string())
}

fn read_text(path: &str, what: &str) -> Result<String> {
    let data = crate::io::input::read_input(path, what)?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

/// Prints a certificate as `ssh-keygen -L` does, or as JSON.
pub fn run_inspect(a: SshInspectArgs) -> Result<u8> {
    let text = read_text(&a.crt_file, "the certificate")?;
    let c = cert::parse_certificate(&text).map_err(|e| UserError::input(format!("{}: {e}", a.crt_file)))?;
    let kind = match c.cert_type() {
        CertType::User => "user",
        CertType::Host => "host",
    };
    let key_fp = c.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string();
    let ca_fp = c.signature_key().fingerprint(ssh_key::HashAlg::Sha256).to_string();
    let out = if a.format == "json" {
        let j = json!({
            "type": format!("{} {kind} certificate", c.algorithm().to_certificate_type()),
            "certType": kind,
            "publicKey": {"algorithm": c.public_key().algorithm().as_str(), "fingerprint": key_fp},
            "signingCA": {"algorithm": c.signature_key().algorithm().as_str(), "fingerprint": ca_fp,
                "signature": c.signature().algorithm().as_str()},
            "keyID": c.key_id(),
            "serial": c.serial().to_string(),
            "validAfter": when(c.valid_after()),
            "validBefore": when(c.valid_before()),
            "principals": c.valid_principals(),
            "criticalOptions": c.critical_options().iter().collect::<std::collections::BTreeMap<_, _>>(),
            "extensions": c.extensions().keys().collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&j)? + "\n"
    } else {
        let mut s = String::new();
        let list = |items: Vec<String>| {
            if items.is_empty() {
                " (none)\n".to_string()
            } else {
                format!(
                    "\n{}",
                    items
                        .iter()
                        .map(|i| format!("                {i}\n"))
                        .collect::<String>()
                )
            }
        };
        s += &format!("{}:\n", a.crt_file);
        s += &format!(
            "        Type: {} {kind} certificate\n",
            c.algorithm().to_certificate_type()
        );
        s += &format!("        Public key: {} {key_fp}\n", key_type_label(c.public_key()));
        s += &format!(
            "        Signing CA: {} {ca_fp} (using {})\n",
            key_type_label(c.signature_key()),
            c.signature().algorithm().as_str()
        );
        s += &format!("        Key ID: \"{}\"\n", c.key_id());
        s += &format!("        Serial: {}\n", c.serial());
        s += &format!(
            "        Valid: from {} to {}\n",
            when(c.valid_after()),
            when(c.valid_before())
        );
        s += &format!("        Principals:{}", list(c.valid_principals().to_vec()));
        s += &format!(
            "        Critical Options:{}",
            list(
                c.critical_options()
                    .iter()
                    .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {v}") })
                    .collect()
            )
        );
        s += &format!("        Extensions:{}", list(c.extensions().keys().cloned().collect()));
        s
    };
    crate::cmd::print_stdout(out.as_bytes())?;
    Ok(0)
}

/// `ECDSA-CERT`-style labels as `ssh-keygen -L` prints them.
fn key_type_label(k: &ssh_key::public::KeyData) -> &'static str {
    match k {
        ssh_key::public::KeyData::Ecdsa(_) => "ECDSA",
        ssh_key::public::KeyData::Ed25519(_) => "ED25519",
        ssh_key::public::KeyData::Rsa(_) => "RSA",
        _ => "OTHER",
    }
}

/// Prints `SHA256:...` for a public key or a certificate's key.
pub fn run_fingerprint(a: SshFingerprintArgs) -> Result<u8> {
    let text = read_text(&a.file, "the key")?;
    let key = match cert::parse_certificate(&text) {
        Ok(c) => c.public_key().clone(),
        Err(_) => ssh_key::PublicKey::from_openssh(text.trim())
            .map_err(|e| UserError::input(format!("{}: not an SSH public key or certificate: {e}", a.file)))?
            .key_data()
            .clone(),
    };
    crate::cmd::print_stdout(format!("{}\n", key.fingerprint(ssh_key::HashAlg::Sha256)).as_bytes())?;
    Ok(0)
}
