//! `ferrica certificate needs-renewal CRT|URL` with step's exit codes: 0 needs renewal, 1 does not, 2 the file does
//! not exist, 255 any other error.

use ::time::{Duration, OffsetDateTime};
use x509_parser::prelude::*;

use crate::cli::RemoteArgs;
use crate::cli::certificate::NeedsRenewalArgs;
use crate::pki::der_input::X509Input;

/// Runs the check; errors are printed here because this command has its own exit codes.
pub fn run(a: NeedsRenewalArgs) -> u8 {
    match check(&a) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            let missing =
                !crate::io::remote::is_url(&a.input) && a.input != "-" && !std::path::Path::new(&a.input).exists();
            if missing { 2 } else { 255 }
        }
    }
}

fn check(a: &NeedsRenewalArgs) -> anyhow::Result<bool> {
    let remote = RemoteArgs {
        roots: a.roots.clone(),
        servername: a.servername.clone(),
    };
    let mut certs = match super::load_x509(&a.input, &remote, false)? {
        X509Input::Certificates(c) => c,
        X509Input::Csr(_) => anyhow::bail!("{}: a CSR, not a certificate", a.input),
    };
    if !a.bundle {
        certs.truncate(1);
    }
    let now = OffsetDateTime::now_utc();
    let mut any = false;
    for der in &certs {
        let (_, c) = X509Certificate::from_der(der).map_err(|e| anyhow::anyhow!("{}: {e}", a.input))?;
        let nb = c.validity().not_before.to_datetime();
        let na = c.validity().not_after.to_datetime();
        let life = na - nb;
        let left = na - now;
        let needs = crate::pki::validity::needs_renewal(nb, na, now, a.expires_in.as_deref())
            .map_err(|e| anyhow::anyhow!(e))?;
        if a.verbose {
            let subject = c.subject().to_string();
            eprintln!(
                "{subject}: {} left of {} ({})",
                fmt_dur(left),
                fmt_dur(life),
                if needs {
                    "needs renewal"
                } else {
                    "does not need renewal"
                }
            );
        }
        any |= needs;
    }
    Ok(any)
}

fn fmt_dur(d: Duration) -> String {
    let s = d.whole_seconds();
    if s < 0 {
        return format!("-{}", fmt_dur(-d));
    }
    format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
}
