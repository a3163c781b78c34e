//! `ferrica ca ...`

pub mod init;
pub mod provisioner;
pub mod token;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::ca::CaCommand;
use crate::error::UserError;

/// Dispatches a `ca` subcommand.
pub fn run(cmd: CaCommand) -> Result<u8> {
    match cmd {
        CaCommand::Init(a) => init::run(*a),
        CaCommand::Token(a) => token::run(*a),
        CaCommand::Provisioner(c) => provisioner::run(c),
    }
}

/// `$FERRICA_PATH`, or `~/.ferrica`.
pub fn ferrica_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FERRICA_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UserError::usage("neither FERRICA_PATH nor HOME is set").hint("set FERRICA_PATH=/some/dir"))?;
    Ok(PathBuf::from(home).join(".ferrica"))
}
