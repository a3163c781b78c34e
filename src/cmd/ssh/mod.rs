//! `ferrica ssh ...`

mod certificate;
mod config;
mod inspect;
mod renew;
mod revoke;

use anyhow::Result;
use serde_json::Value;

use crate::ca::config::CaConfig;
use crate::cli::ssh::SshCommand;
use crate::error::UserError;
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::keys::PrivateKey;
use crate::ssh::cert::SshCa;

pub use certificate::{random_serial, ssh_claims, time_ordered_serial};

/// Dispatches an `ssh` subcommand.
pub fn run(cmd: SshCommand) -> Result<u8> {
    match cmd {
        SshCommand::Certificate(a) => certificate::run(*a),
        SshCommand::Inspect(a) => inspect::run_inspect(a),
        SshCommand::Fingerprint(a) => inspect::run_fingerprint(a),
        SshCommand::Revoke(a) => revoke::run_revoke(a),
        SshCommand::Krl(a) => revoke::run_krl(a),
        SshCommand::Renew(a) => renew::run(a, false),
        SshCommand::Rekey(a) => renew::run(a, true),
        SshCommand::Config(a) => config::run_config(a),
        SshCommand::NeedsRenewal(a) => config::run_needs_renewal(a),
        SshCommand::Hosts(a) => config::run_hosts(a),
        SshCommand::CheckHost(a) => config::run_check_host(a),
    }
}

/// A client for the CA named by `--ca-url` and `--root` (or defaults.json), and the roots it is trusted with.
fn connect(a: &crate::cli::ssh::SshCaArgs) -> Result<(crate::io::http::CaClient, Vec<Vec<u8>>)> {
    let args = crate::cli::ca::CaClientArgs {
        ca_url: a.ca_url.clone(),
        root: a.root.clone(),
        offline: false,
    };
    crate::cmd::ca::client::connect(&args, None)
}

/// Where a password for an SSH CA key comes from.
pub struct SshKeyPassword<'a> {
    /// The flag naming a file, if given (`--ssh-user-password-file`, `--ca-password-file`).
    pub file: Option<String>,
    /// That flag, for messages.
    pub flag: &'static str,
    /// Its environment variable.
    pub env: &'static str,
    /// A password already known (the CA key's, which step-ca uses for the SSH keys too).
    pub fallback: Option<&'a [u8]>,
}

/// The SSH CA key for `which` (`userKey` or `hostKey` in ca.json's `ssh`), decrypted, or `None` when ca.json has
/// none. The password: the flag's file, else `fallback`, else ca.json's `password`, else a prompt on a terminal.
pub fn load_ssh_ca(config: &CaConfig, which: &str, pw: &SshKeyPassword<'_>) -> Result<Option<SshCa>> {
    let Some(path) = config
        .extra
        .get("ssh")
        .and_then(|s| s.get(which))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let data = crate::io::input::read_input(path, &format!("ssh.{which} (ca.json)"))?;
    let password = if PrivateKey::is_encrypted(&data) {
        let from_config = config
            .extra
            .get("password")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        match (&pw.file, pw.fallback, from_config) {
            (None, Some(p), _) => Some(zeroize::Zeroizing::new(p.to_vec())),
            (None, None, Some(p)) => Some(zeroize::Zeroizing::new(p.as_bytes().to_vec())),
            _ => {
                let need = PasswordNeed {
                    what: format!("the SSH CA key {path}"),
                    flag: pw.flag,
                    env: pw.env,
                    file: pw.file.clone(),
                    purpose: Purpose::Decrypt,
                };
                Some(password::resolve(&[need], &mut Stdin::default())?.remove(0))
            }
        }
    } else {
        None
    };
    let key = crate::cmd::certificate::parse_key(&data, password, path, pw.flag)?;
    let ca = SshCa::new(std::sync::Arc::new(key)).map_err(|e| UserError::input(format!("{path}: {e}")))?;
    Ok(Some(ca))
}
