//! `ferrica certificate create SUBJECT CRT_FILE [KEY_FILE]`

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::certificate::CreateArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::issue::{CaIssuer, IssueRequest, San, create_csr, issue};
use crate::pki::keys::{KeySpec, PrivateKey};
use crate::pki::profile::Profile;

/// Creates a certificate (or CSR) and its key.
pub fn run(a: CreateArgs) -> Result<u8> {
    // 1. Flags, before touching anything.
    if a.no_password && !a.insecure {
        return Err(UserError::usage("--no-password requires --insecure")
            .hint("add --insecure to write the key unencrypted, or give --password-file FILE")
            .into());
    }
    if a.no_password && a.password_file.is_some() && a.key.is_none() {
        return Err(UserError::usage("--no-password conflicts with --password-file").into());
    }
    let key_file = match (&a.key, &a.key_file) {
        (None, Some(k)) => Some(k.clone()),
        (None, None) => {
            return Err(
                UserError::usage("missing KEY_FILE: where should the new private key go?")
                    .hint("add a key file name after the certificate file, or reuse a key with --key FILE")
                    .into(),
            );
        }
        (Some(_), Some(_)) => {
            return Err(UserError::usage("KEY_FILE and --key conflict: --key reuses an existing key").into());
        }
        (Some(_), None) => None,
    };
    if a.key.is_some() && (a.key_type.kty.is_some() || a.key_type.crv.is_some() || a.key_type.size.is_some()) {
        return Err(UserError::usage("--kty/--crv/--size conflict with --key").into());
    }
    let spec = KeySpec::from_flags(
        a.key_type.kty.as_deref(),
        a.key_type.crv.as_deref(),
        a.key_type.size,
        a.insecure,
    )
    .map_err(|e| UserError::usage(e.to_string()))?;
    let signs = !a.csr && !a.profile.is_self_signed();
    if a.csr || a.profile.is_self_signed() {
        if a.ca.is_some() || a.ca_key.is_some() {
            let what = if a.csr {
                "--csr".to_string()
            } else {
                format!("--profile {}", a.profile.name())
            };
            return Err(UserError::usage(format!("{what} takes no --ca/--ca-key")).into());
        }
    } else if a.ca.is_none() || a.ca_key.is_none() {
        return Err(UserError::usage(format!(
            "--profile {} needs --ca FILE and --ca-key FILE",
            a.profile.name()
        ))
        .hint("create a root first with --profile root-ca, or use --profile self-signed")
        .into());
    }
    if a.bundle && !signs {
        return Err(UserError::usage("--bundle needs an issuer (--ca)").into());
    }
    let (not_before, not_after) = super::validity(a.not_before.as_deref(), a.not_after.as_deref(), a.profile)?;
    let mut sans: Vec<San> = a.san.iter().map(|s| San::parse(s)).collect();
    for san in &sans {
        san.validate().map_err(|e| UserError::usage(format!("--san: {e}")))?;
    }
    if a.subject.trim().is_empty() && sans.is_empty() {
        return Err(
            UserError::usage("the SUBJECT is empty and there is no --san: the certificate would name nothing").into(),
        );
    }
    if sans.is_empty() && (a.csr || matches!(a.profile, Profile::Leaf | Profile::SelfSigned)) {
        // step's rule: the subject doubles as the SAN. Only when it is a name a SAN can carry.
        let from_subject = San::parse(&a.subject);
        match from_subject.validate() {
            Ok(()) => sans.push(from_subject),
            Err(e) => crate::cmd::warn(&format!(
                "the subject {:?} is not a DNS name, IP, email or URI ({e}); the certificate has no SAN (pass --san)",
                a.subject
            )),
        }
    }

    // 2. Outputs must be writable before any expensive work.
    let mut out = OutputSet::new(a.force);
    out.input(a.ca.as_deref(), "--ca")
        .input(a.ca_key.as_deref(), "--ca-key")
        .input(a.key.as_deref(), "--key")
        .input(a.password_file.as_deref(), "--password-file")
        .input(a.ca_password_file.as_deref(), "--ca-password-file");
    let crt_path = Path::new(&a.crt_file);
    out.check(crt_path, "CRT_FILE")?;
    if let Some(k) = &key_file {
        if Path::new(k) == crt_path {
            return Err(UserError::usage("CRT_FILE and KEY_FILE are the same file").into());
        }
        out.input(Some(&a.crt_file), "CRT_FILE");
        out.check(Path::new(k), "KEY_FILE")?;
    }

    // 3. Inputs, then the passwords they need.
    let ca_cert = match &a.ca {
        Some(p) if signs => Some(super::read_certs(p, "--ca")?),
        _ => None,
    };
    let ca_key_data = match &a.ca_key {
        Some(p) if signs => Some(crate::io::input::read_input(p, "--ca-key file")?),
        _ => None,
    };
    let existing_key = match &a.key {
        Some(p) => Some(crate::io::input::read_input(p, "--key file")?),
        None => None,
    };
    let mut needs = Vec::new();
    let ca_key_path = a.ca_key.clone().unwrap_or_default();
    if let Some(d) = &ca_key_data
        && PrivateKey::is_encrypted(d)
    {
        needs.push(PasswordNeed {
            what: format!("the CA key {ca_key_path}"),
            flag: "--ca-password-file",
            env: "FERRICA_CA_PASSWORD_FILE",
            file: a.ca_password_file.clone(),
            purpose: Purpose::Decrypt,
        });
    }
    let ca_need = needs.len();
    if let Some(d) = &existing_key
        && PrivateKey::is_encrypted(d)
    {
        needs.push(PasswordNeed {
            what: format!("the key {}", a.key.as_deref().unwrap_or_default()),
            flag: "--password-file",
            env: "FERRICA_PASSWORD_FILE",
            file: a.password_file.clone(),
            purpose: Purpose::Decrypt,
        });
    }
    let encrypt_new = key_file.is_some() && !a.no_password;
    if encrypt_new {
        needs.push(PasswordNeed {
            what: format!("the new key {}", key_file.as_deref().unwrap_or_default()),
            flag: "--password-file",
            env: "FERRICA_PASSWORD_FILE",
            file: a.password_file.clone(),
            purpose: Purpose::Encrypt,
        });
    }
    let mut passwords = password::resolve(&needs, &mut Stdin::default())?.into_iter();
    let ca_pw = if ca_need == 1 { passwords.next() } else { None };
    let key_pw = if existing_key.as_deref().is_some_and(PrivateKey::is_encrypted) {
        passwords.next()
    } else {
        None
    };
    let new_pw = if encrypt_new { passwords.next() } else { None };

    // 4. Keys.
    let ca_key = match &ca_key_data {
        Some(d) => Some(super::parse_key(d, ca_pw, &ca_key_path, "--ca-password-file")?),
        None => None,
    };
    let subject_key = match &existing_key {
        Some(d) => super::parse_key(d, key_pw, a.key.as_deref().unwrap_or_default(), "--password-file")?,
        None => PrivateKey::generate(spec).context("generating the key")?,
    };

    // 5. The certificate or CSR.
    let crt_pem = if a.csr {
        let der = create_csr(&a.subject, &sans, &subject_key)?;
        pem_block("CERTIFICATE REQUEST", der)
    } else {
        let mut req = IssueRequest::new(a.profile, &a.subject, sans, not_before, not_after);
        super::apply_extension_args(&mut req, &a.ext)?;
        let issuer = match (&ca_cert, &ca_key) {
            (Some(certs), Some(key)) => Some(CaIssuer::new(&certs[0], key).map_err(|e| {
                UserError::input(format!(
                    "--ca {} / --ca-key {}: {e}",
                    a.ca.as_deref().unwrap_or_default(),
                    ca_key_path
                ))
            })?),
            _ => None,
        };
        let issued = issue(
            &req,
            subject_key.key_pair(),
            subject_key.kind(),
            issuer.as_ref(),
            Some(&subject_key),
        )
        .map_err(|e| UserError::input(e.to_string()))?;
        super::warn_if_clamped(&issued, a.not_after.is_some());
        let mut pem = pem_block("CERTIFICATE", issued.der);
        if a.bundle
            && let Some(certs) = &ca_cert
        {
            for c in certs {
                pem.push_str(&pem_block("CERTIFICATE", c.clone()));
            }
        }
        pem
    };

    // 6. Write everything, or nothing.
    out.stage(crt_path, crt_pem.as_bytes(), PUBLIC_MODE)?;
    if let Some(k) = &key_file {
        let key_pem = subject_key
            .to_pem(new_pw.as_deref().map(|p| &p[..]))
            .context("encoding the key")?;
        out.stage(Path::new(k), key_pem.as_bytes(), KEY_MODE)?;
    }
    out.commit()?;
    let what = if a.csr {
        "certificate signing request"
    } else {
        "certificate"
    };
    eprintln!("Your {what} has been saved in {}.", a.crt_file);
    if let Some(k) = &key_file {
        let enc = if new_pw.is_some() { "" } else { " (unencrypted)" };
        eprintln!("Your private key has been saved in {k}{enc}.");
    }
    Ok(0)
}

pub(crate) fn pem_block(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
