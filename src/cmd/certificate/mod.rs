//! `ferrica certificate ...`

pub mod create;
pub mod fingerprint;
pub mod inspect;

use anyhow::Result;

use crate::cli::RemoteArgs;
use crate::cli::certificate::CertificateCommand;
use crate::error::UserError;
use crate::pki::der_input::{X509Input, parse_x509};

/// Dispatches a `certificate` subcommand.
pub fn run(cmd: CertificateCommand) -> Result<u8> {
    match cmd {
        CertificateCommand::Create(a) => create::run(*a),
        CertificateCommand::Inspect(a) => inspect::run(a),
        CertificateCommand::Fingerprint(a) => fingerprint::run(a),
    }
}

/// Reads a certificate/CSR input: a file, `-` (stdin), or `https://host[:port]` (the chain the server presents).
pub fn load_x509(input: &str, remote: &RemoteArgs, insecure: bool) -> Result<X509Input> {
    if crate::io::remote::is_url(input) {
        let chain =
            crate::io::remote::fetch_chain(input, remote.roots.as_deref(), remote.servername.as_deref(), insecure)?;
        return Ok(X509Input::Certificates(chain));
    }
    let data = crate::io::input::read_input(input, "file")?;
    let name = if input == "-" {
        "stdin".to_string()
    } else {
        input.to_string()
    };
    parse_x509(&data).map_err(|e| {
        UserError::input(format!("{name}: {e}"))
            .hint("pass a certificate or CSR in PEM or DER form")
            .into()
    })
}
