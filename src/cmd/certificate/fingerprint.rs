//! `ferrica certificate fingerprint`

use anyhow::Result;

use crate::cli::certificate::FingerprintArgs;
use crate::error::UserError;
use crate::pki::der_input::X509Input;
use crate::pki::fingerprint::{FingerprintHash, fingerprint};

/// Prints the fingerprint of a certificate (or each one with `--bundle`) or CSR.
pub fn run(a: FingerprintArgs) -> Result<u8> {
    if a.sha1 && !a.insecure {
        return Err(UserError::usage("--sha1 requires --insecure")
            .hint("SHA-1 fingerprints are weak; prefer the SHA-256 default")
            .into());
    }
    let hash = if a.sha1 {
        FingerprintHash::Sha1
    } else {
        FingerprintHash::Sha256
    };
    let ders = match super::load_x509(&a.input, &a.remote, a.insecure)? {
        X509Input::Certificates(c) if a.bundle => c,
        X509Input::Certificates(mut c) => {
            c.truncate(1);
            c
        }
        X509Input::Csr(d) => vec![d],
    };
    let mut out = String::new();
    for der in &ders {
        out.push_str(&fingerprint(der, hash, a.format));
        out.push('\n');
    }
    super::super::print_stdout(out.as_bytes())?;
    Ok(0)
}
