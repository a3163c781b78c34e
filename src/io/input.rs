//! Reading an input named on the command line (`-` = stdin), with errors that name it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::UserError;

/// Reads a whole file, or stdin for `-`.
pub fn read_input(path: &str, what: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
        return Ok(buf);
    }
    let p = Path::new(path);
    if p.is_dir() {
        return Err(UserError::input(format!("{what} {path} is a directory"))
            .hint("pass a file, not a directory")
            .into());
    }
    std::fs::read(p).map_err(|e| {
        let msg = match e.kind() {
            std::io::ErrorKind::NotFound => format!("{what} {path} does not exist"),
            std::io::ErrorKind::PermissionDenied => {
                format!("{what} {path} is not readable (permission denied)")
            }
            _ => format!("cannot read {what} {path}: {e}"),
        };
        UserError::input(msg).into()
    })
}
