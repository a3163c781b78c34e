//! One module per subcommand; each `run` is thin: read inputs, call the domain, write outputs.
//! A `run` returns the exit code for success-like outcomes (0, or 1 for a negative check).

pub mod ca;
pub mod certificate;
pub mod crypto;
pub mod serve;
pub mod ssh;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Certificate(c) => certificate::run(c),
        Command::Crypto(c) => crypto::run(*c),
        Command::Ca(c) => ca::run(c),
        Command::Ssh(c) => ssh::run(c),
        Command::Serve(a) => serve::run(a),
        Command::Path => {
            print_stdout(format!("{}\n", ca::ferrica_path()?.display()).as_bytes())?;
            Ok(0)
        }
    }
}

/// Writes data to stdout (data only; diagnostics go to stderr).
pub fn print_stdout(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

/// Prints a warning on stderr.
pub fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}
