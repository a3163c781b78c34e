//! `ferrica certificate ...`

pub mod create;
pub mod fingerprint;
pub mod inspect;
pub mod install;
pub mod needs_renewal;
pub mod p12;
pub mod sign;
pub mod tools;
pub mod verify;

use anyhow::Result;

use crate::cli::certificate::CertificateCommand;
use crate::cli::{ExtensionArgs, RemoteArgs};
use crate::error::UserError;
use crate::io::password;
use crate::pki::der_input::{X509Input, parse_certificates, parse_x509};
use crate::pki::ext::NameConstraints;
use crate::pki::issue::{IssueRequest, Shape};
use crate::pki::keys::PrivateKey;

/// Dispatches a `certificate` subcommand.
pub fn run(cmd: CertificateCommand) -> Result<u8> {
    match cmd {
        CertificateCommand::Create(a) => create::run(*a),
        CertificateCommand::Inspect(a) => inspect::run(a),
        CertificateCommand::Fingerprint(a) => fingerprint::run(a),
        CertificateCommand::Sign(a) => sign::run(*a),
        CertificateCommand::Verify(a) => verify::run(a),
        CertificateCommand::NeedsRenewal(a) => Ok(needs_renewal::run(a)),
        CertificateCommand::Bundle(a) => tools::bundle(a),
        CertificateCommand::Format(a) => tools::format(a),
        CertificateCommand::Key(a) => tools::key(a),
        CertificateCommand::P12(a) => p12::run(a),
        CertificateCommand::Lint(a) => tools::lint(a),
        CertificateCommand::Install(a) => install::run(a, true),
        CertificateCommand::Uninstall(a) => install::run(a, false),
    }
}

/// Reads the certificates of an issuer file.
pub(crate) fn read_certs(path: &str, flag: &str) -> Result<Vec<Vec<u8>>> {
    let data = crate::io::input::read_input(path, &format!("{flag} file"))?;
    parse_certificates(&data).map_err(|e| {
        UserError::input(format!("{flag} {path}: {e}"))
            .hint("pass the issuer certificate in PEM or DER")
            .into()
    })
}

/// Parses a private key, with the password already resolved (or none).
pub(crate) fn parse_key(data: &[u8], pw: Option<password::Secret>, path: &str, flag: &str) -> Result<PrivateKey> {
    let mut pw = pw;
    let mut source = move || {
        pw.take()
            .map(|p| p.to_vec())
            .ok_or(crate::pki::keys::KeyError::PasswordRequired)
    };
    PrivateKey::parse(data, &mut source).map_err(|e| {
        let u = UserError::input(format!("{path}: {e}"));
        match e {
            crate::pki::keys::KeyError::WrongPassword => u
                .hint(format!(
                    "check the password given with {flag} (trailing whitespace is trimmed)"
                ))
                .into(),
            crate::pki::keys::KeyError::NotAKey(_) => u
                .hint("pass a private key in PEM or DER (PKCS#8, SEC1 or PKCS#1)")
                .into(),
            _ => u.into(),
        }
    })
}

/// The validity window from `--not-before`/`--not-after` (default: now, and the profile's lifetime), in whole
/// seconds.
pub fn validity(
    not_before: Option<&str>,
    not_after: Option<&str>,
    profile: crate::pki::profile::Profile,
) -> Result<(::time::OffsetDateTime, ::time::OffsetDateTime)> {
    use crate::pki::validity::parse_time_or_duration;
    let now = ::time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let nb = match not_before {
        Some(v) => parse_time_or_duration(v, now).map_err(|e| UserError::usage(format!("--not-before: {e}")))?,
        None => now,
    };
    let na = match not_after {
        Some(v) => parse_time_or_duration(v, now).map_err(|e| UserError::usage(format!("--not-after: {e}")))?,
        None => nb + profile.default_lifetime(),
    };
    Ok((nb, na))
}

/// Warns when an explicit `--not-after` was clamped to the issuer's notAfter.
pub fn warn_if_clamped(issued: &crate::pki::issue::Issued, explicit_not_after: bool) {
    if let Some((requested, used)) = issued.clamped
        && explicit_not_after
    {
        crate::cmd::warn(&format!(
            "--not-after {} is after the issuer's notAfter {}; the certificate ends at the issuer's notAfter",
            crate::pki::issue::fmt_time(requested),
            crate::pki::issue::fmt_time(used)
        ));
    }
}

/// Applies `--path-len`, name constraints and URL flags to a request.
pub fn apply_extension_args(req: &mut IssueRequest, e: &ExtensionArgs) -> Result<()> {
    let is_ca = req.shape.as_ref().map_or(req.profile.is_ca(), |s| s.ca.is_some());
    if let Some(n) = e.path_len {
        if !is_ca {
            return Err(UserError::usage("--path-len applies only to CA profiles").into());
        }
        match n {
            -1 => {
                req.shape = Some(Shape {
                    ca: Some(None),
                    key_usages: vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign],
                    ext_key_usages: Vec::new(),
                })
            }
            0..=255 => {
                let n = u8::try_from(n).expect("checked range");
                req.path_len = Some(n);
                if let Some(s) = &mut req.shape {
                    s.ca = Some(Some(n));
                }
            }
            _ => return Err(UserError::usage(format!("--path-len {n} is not -1..=255")).into()),
        }
    }
    let cidrs = |v: &[String], flag: &str| -> Result<Vec<_>> {
        v.iter()
            .map(|s| crate::pki::ext::parse_cidr(s).map_err(|e| UserError::usage(format!("{flag}: {e}")).into()))
            .collect()
    };
    req.name_constraints = NameConstraints {
        permit_dns: e.permit_dns.clone(),
        exclude_dns: e.exclude_dns.clone(),
        permit_ip: cidrs(&e.permit_ip, "--permit-ip")?,
        exclude_ip: cidrs(&e.exclude_ip, "--exclude-ip")?,
        permit_email: e.permit_email.clone(),
        exclude_email: e.exclude_email.clone(),
        permit_uri: e.permit_uri.clone(),
        exclude_uri: e.exclude_uri.clone(),
    };
    if !req.name_constraints.is_empty() && !is_ca {
        return Err(UserError::usage("name constraints (--permit-*/--exclude-*) apply only to CA profiles").into());
    }
    req.crl_urls = e.crl_url.clone();
    req.ocsp_urls = e.ocsp_url.clone();
    req.ca_issuers_urls = e.issuer_url.clone();
    Ok(())
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
