//! `ferrica ca ...`

pub mod acme;
pub mod certificate;
pub mod client;
pub mod db;
pub mod init;
pub mod provisioner;
pub mod rekey;
pub mod renew;
pub mod revoke;
pub mod root;
pub mod token;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::ca::CaCommand;
use crate::error::UserError;

/// Dispatches a `ca` subcommand.
pub fn run(cmd: CaCommand) -> Result<u8> {
    let offline = match &cmd {
        CaCommand::Certificate(a) => a.ca.offline,
        CaCommand::Sign(a) => a.ca.offline,
        CaCommand::Renew(a) => a.ca.offline,
        CaCommand::Rekey(a) => a.ca.offline,
        CaCommand::Revoke(a) => a.ca.offline,
        _ => false,
    };
    if offline {
        // Before any input is read.
        client::refuse_offline()?;
    }
    match cmd {
        CaCommand::Init(a) => init::run(*a),
        CaCommand::Token(a) => token::run(*a),
        CaCommand::Provisioner(c) => provisioner::run(c),
        CaCommand::Acme(crate::cli::ca::AcmeCommand::Eab(c)) => acme::run_eab(c),
        CaCommand::Db(crate::cli::ca::DbCommand::Copy(a)) => db::run_copy(a),
        CaCommand::Certificate(a) => certificate::run_certificate(*a),
        CaCommand::Sign(a) => certificate::run_sign(*a),
        CaCommand::Renew(a) => renew::run(*a),
        CaCommand::Rekey(a) => rekey::run(*a),
        CaCommand::Revoke(a) => revoke::run(*a),
        CaCommand::Root(a) => root::run_root(a),
        CaCommand::Roots(a) => root::run_roots(a, "/1.0/roots"),
        CaCommand::Federation(a) => root::run_roots(a, "/1.0/federation"),
        CaCommand::Bootstrap(a) => root::run_bootstrap(a),
        CaCommand::Health(a) => root::run_health(a),
    }
}

/// `$FERRICA_PATH`, or `~/.ferrica`.
pub fn ferrica_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FERRICA_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    // step's variable, so that `$(step path)` in a script names the same tree.
    if let Some(p) = std::env::var_os("STEPPATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UserError::usage("neither FERRICA_PATH nor HOME is set").hint("set FERRICA_PATH=/some/dir"))?;
    Ok(PathBuf::from(home).join(".ferrica"))
}
