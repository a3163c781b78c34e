//! `ferrica ca acme eab add|list|remove`: external account binding keys in `acme_eab.json` beside ca.json (0600,
//! written atomically), which `serve` reads when an account is created.

use std::path::{Path, PathBuf};

use anyhow::Result;
use base64::Engine;
use serde_json::{Value, json};

use crate::acme::eab::{EabKey, EabKeys, FILE_NAME, key_id};
use crate::cli::ca::{ConfigArg, EabCommand};
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet};

fn keys_path(config: &ConfigArg) -> Result<(PathBuf, crate::ca::config::CaConfig)> {
    let (ca_json, cfg) = super::provisioner::load(config)?;
    let dir = ca_json.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((dir.join(FILE_NAME), cfg))
}

fn read(path: &Path) -> Result<EabKeys> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(UserError::input(format!("{}: {e}", path.display())).into()),
    };
    Ok(EabKeys::from_json(&data).map_err(|e| UserError::input(format!("{}: {e}", path.display())))?)
}

fn write(path: &Path, keys: &EabKeys) -> Result<()> {
    let mut out = OutputSet::new(true);
    out.stage(path, (serde_json::to_string_pretty(keys)? + "\n").as_bytes(), KEY_MODE)?;
    out.commit()
}

fn acme_provisioner(cfg: &crate::ca::config::CaConfig, name: &str) -> Result<()> {
    match cfg.provisioner(name) {
        Some(p) if p.get("type").and_then(Value::as_str) == Some("ACME") => Ok(()),
        Some(_) => Err(UserError::usage(format!("provisioner {name:?} is not an ACME provisioner")).into()),
        None => Err(UserError::input(format!("there is no provisioner {name:?}"))
            .hint("add one with `ferrica ca provisioner add NAME --type ACME --require-eab`")
            .into()),
    }
}

/// Runs an `eab` subcommand.
pub fn run_eab(cmd: EabCommand) -> Result<u8> {
    match cmd {
        EabCommand::Add(a) => {
            let (path, cfg) = keys_path(&a.config)?;
            acme_provisioner(&cfg, &a.provisioner)?;
            let mut keys = read(&path)?;
            let reference = a.reference.clone().unwrap_or_default();
            if !reference.is_empty()
                && keys
                    .keys
                    .iter()
                    .any(|k| k.provisioner == a.provisioner && k.reference == reference)
            {
                return Err(UserError::input(format!(
                    "provisioner {:?} already has a key with reference {reference:?}",
                    a.provisioner
                ))
                .into());
            }
            let b64 = |n| -> Result<String> {
                Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::jose::random(n)?))
            };
            let mut id = [0u8; 18];
            id.copy_from_slice(&crate::jose::random(18)?);
            let key = EabKey {
                kid: key_id(&id),
                hmac_key: b64(32)?,
                provisioner: a.provisioner.clone(),
                reference: reference.clone(),
                created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            keys.keys.push(key.clone());
            write(&path, &keys)?;
            let text = if a.format == "json" {
                serde_json::to_string(&json!({
                    "kid": key.kid, "hmacKey": key.hmac_key, "provisioner": key.provisioner, "reference": key.reference,
                }))? + "\n"
            } else {
                format!(
                    "Key ID: {}\nHMAC key (base64url): {}\nProvisioner: {}\nReference: {}\n",
                    key.kid, key.hmac_key, key.provisioner, key.reference
                )
            };
            crate::cmd::print_stdout(text.as_bytes())?;
            Ok(0)
        }
        EabCommand::List(a) => {
            let (path, cfg) = keys_path(&a.config)?;
            acme_provisioner(&cfg, &a.provisioner)?;
            let keys = read(&path)?;
            let mine: Vec<&EabKey> = keys.keys.iter().filter(|k| k.provisioner == a.provisioner).collect();
            let text = if a.format == "json" {
                let list: Vec<Value> = mine
                    .iter()
                    .map(|k| json!({"kid": k.kid, "provisioner": k.provisioner, "reference": k.reference, "createdAt": k.created_at}))
                    .collect();
                serde_json::to_string_pretty(&list)? + "\n"
            } else {
                let mut t = String::from("Key ID\tProvisioner\tReference\n");
                for k in mine {
                    t.push_str(&format!("{}\t{}\t{}\n", k.kid, k.provisioner, k.reference));
                }
                t
            };
            crate::cmd::print_stdout(text.as_bytes())?;
            Ok(0)
        }
        EabCommand::Remove(a) => {
            let (path, cfg) = keys_path(&a.config)?;
            acme_provisioner(&cfg, &a.provisioner)?;
            let mut keys = read(&path)?;
            let before = keys.keys.len();
            keys.keys
                .retain(|k| !(k.provisioner == a.provisioner && k.kid == a.kid));
            if keys.keys.len() == before {
                return Err(
                    UserError::input(format!("provisioner {:?} has no EAB key {:?}", a.provisioner, a.kid)).into(),
                );
            }
            write(&path, &keys)?;
            eprintln!("Removed EAB key {} of {:?}.", a.kid, a.provisioner);
            Ok(0)
        }
    }
}
