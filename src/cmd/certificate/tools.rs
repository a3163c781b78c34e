//! `ferrica certificate bundle|format|key`: small conversions.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use der::Decode;

use crate::cli::certificate::{BundleArgs, FormatArgs, KeyArgs};
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::pki::der_input::{X509Input, parse_certificates, parse_x509};

/// `bundle CRT CA OUT`: the certificate followed by the CA certificate(s).
pub fn bundle(a: BundleArgs) -> Result<u8> {
    let mut out = OutputSet::new(a.force);
    out.input(Some(&a.crt_file), "CRT_FILE")
        .input(Some(&a.ca_file), "CA_FILE");
    out.check(Path::new(&a.out_file), "OUT_FILE")?;
    let mut pem = String::new();
    for (path, what) in [(&a.crt_file, "CRT_FILE"), (&a.ca_file, "CA_FILE")] {
        let data = crate::io::input::read_input(path, what)?;
        for c in parse_certificates(&data).map_err(|e| UserError::input(format!("{what} {path}: {e}")))? {
            pem.push_str(&super::create::pem_block("CERTIFICATE", c));
        }
    }
    out.stage(Path::new(&a.out_file), pem.as_bytes(), PUBLIC_MODE)?;
    out.commit()?;
    eprintln!("Your bundle has been saved in {}.", a.out_file);
    Ok(0)
}

/// `format FILE`: PEM to DER and DER to PEM, for certificates, CSRs and keys.
pub fn format(a: FormatArgs) -> Result<u8> {
    let data = crate::io::input::read_input(&a.input, "file")?;
    let bad = |m: String| -> anyhow::Error { UserError::input(format!("{}: {m}", a.input)).into() };
    let (bytes, secret) = if crate::pki::keys::looks_like_pem(&data) {
        let blocks = ::pem::parse_many(&data).map_err(|e| bad(crate::pki::keys::pem_error_text(&e)))?;
        let [block] = blocks.as_slice() else {
            return Err(UserError::usage(format!(
                "{} holds {} PEM blocks; format converts one",
                a.input,
                blocks.len()
            ))
            .hint("split the file, or use `certificate inspect --bundle --format pem`")
            .into());
        };
        if block.headers().get("DEK-Info").is_some() {
            return Err(bad("legacy-encrypted PEM has no DER form".into()))
                .map_err(|e: anyhow::Error| e.context("convert it with `crypto change-pass` first"));
        }
        (block.contents().to_vec(), block.tag().contains("PRIVATE"))
    } else {
        let tag = der_tag(&data).ok_or_else(|| bad("not a certificate, CSR or key in PEM or DER".into()))?;
        let pem = ::pem::encode_config(
            &::pem::Pem::new(tag, data.clone()),
            ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
        );
        (pem.into_bytes(), tag.contains("PRIVATE"))
    };
    write_out(a.out.as_deref(), &a.input, a.force, &bytes, secret)
}

/// `lint CRT`: findings on stdout, exit 1 if any is an error.
pub fn lint(a: crate::cli::certificate::LintArgs) -> Result<u8> {
    use crate::pki::lint::Severity;
    let mut certs = match super::load_x509(&a.input, &a.remote, a.insecure)? {
        X509Input::Certificates(c) => c,
        X509Input::Csr(_) => return Err(UserError::input(format!("{}: a CSR, not a certificate", a.input)).into()),
    };
    if !a.bundle {
        certs.truncate(1);
    }
    let mut all = Vec::new();
    for (i, der) in certs.iter().enumerate() {
        let findings = crate::pki::lint::lint(der).map_err(|e| UserError::input(format!("{}: {e}", a.input)))?;
        all.extend(findings.into_iter().map(|f| (i, f)));
    }
    let out = match a.format {
        crate::cli::certificate::LintFormat::Json => {
            let v: Vec<serde_json::Value> = all
                .iter()
                .map(|(i, f)| serde_json::json!({"file_index": i, "severity": f.severity, "code": f.code, "message": f.message}))
                .collect();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        crate::cli::certificate::LintFormat::Text => all
            .iter()
            .map(|(i, f)| {
                let sev = format!("{:?}", f.severity).to_lowercase();
                let which = if a.bundle { format!("[{i}] ") } else { String::new() };
                format!("{which}{sev:<8}{:<40}{}\n", f.code, f.message)
            })
            .collect(),
    };
    crate::cmd::print_stdout(out.as_bytes())?;
    let errors = all.iter().filter(|(_, f)| f.severity == Severity::Error).count();
    if errors > 0 {
        eprintln!("{}: {errors} error(s)", a.input);
        return Ok(1);
    }
    Ok(0)
}

/// `key FILE`: the public key of a certificate, CSR or key, as PEM.
pub fn key(a: KeyArgs) -> Result<u8> {
    let mut stdin = Stdin::default();
    let data = crate::cmd::crypto::read_path(&a.input, "file", &mut stdin)?;
    let spki = match parse_x509(&data) {
        Ok(X509Input::Certificates(c)) => spki_of(&c[0], true)?,
        Ok(X509Input::Csr(d)) => spki_of(&d, false)?,
        Err(_) => {
            // A key: the crypto loader decrypts with the same password sources.
            let loaded = crate::cmd::crypto::load_key_bytes(&data, &a.input, a.password_file.clone(), &mut stdin)?;
            crate::cmd::crypto::key::spki_of(&loaded)?
        }
    };
    let pem = super::create::pem_block("PUBLIC KEY", spki);
    write_out(a.out.as_deref(), &a.input, a.force, pem.as_bytes(), false)
}

fn spki_of(der: &[u8], cert: bool) -> Result<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    Ok(if cert {
        x509_parser::certificate::X509Certificate::from_der(der)
            .map(|(_, c)| c.public_key().raw.to_vec())
            .map_err(|e| UserError::input(e.to_string()))?
    } else {
        x509_parser::certification_request::X509CertificationRequest::from_der(der)
            .map(|(_, c)| c.certification_request_info.subject_pki.raw.to_vec())
            .map_err(|e| UserError::input(e.to_string()))?
    })
}

/// The PEM tag for a DER object.
fn der_tag(d: &[u8]) -> Option<&'static str> {
    use x509_parser::prelude::FromDer;
    if matches!(x509_parser::certificate::X509Certificate::from_der(d), Ok(([], _))) {
        return Some("CERTIFICATE");
    }
    if matches!(
        x509_parser::certification_request::X509CertificationRequest::from_der(d),
        Ok(([], _))
    ) {
        return Some("CERTIFICATE REQUEST");
    }
    if pkcs8::PrivateKeyInfoRef::from_der(d).is_ok() {
        return Some("PRIVATE KEY");
    }
    if pkcs8::EncryptedPrivateKeyInfoRef::from_der(&crate::pki::keys::encryption::normalize_prf_null(d)).is_ok() {
        return Some("ENCRYPTED PRIVATE KEY");
    }
    if sec1::EcPrivateKey::from_der(d).is_ok() {
        return Some("EC PRIVATE KEY");
    }
    if pkcs1::RsaPrivateKeyRef::from_der(d).is_ok() {
        return Some("RSA PRIVATE KEY");
    }
    if matches!(x509_parser::x509::SubjectPublicKeyInfo::from_der(d), Ok(([], _))) {
        return Some("PUBLIC KEY");
    }
    if pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(d).is_ok() {
        return Some("RSA PUBLIC KEY");
    }
    None
}

fn write_out(out: Option<&str>, input: &str, force: bool, bytes: &[u8], secret: bool) -> Result<u8> {
    match out {
        Some(p) => {
            let mut set = OutputSet::new(force);
            set.input(Some(input), "FILE");
            set.check(Path::new(p), "--out")?;
            set.stage(Path::new(p), bytes, if secret { KEY_MODE } else { PUBLIC_MODE })?;
            set.commit()?;
        }
        None => {
            if std::io::stdout().is_terminal() && bytes.contains(&0) {
                return Err(UserError::usage("refusing to write binary DER to a terminal")
                    .hint("pass --out FILE")
                    .into());
            }
            crate::cmd::print_stdout(bytes)?;
        }
    }
    Ok(0)
}
