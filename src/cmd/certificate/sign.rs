//! `ferrica certificate sign CSR_FILE CRT_FILE KEY_FILE`

use std::path::Path;

use anyhow::Result;
use rcgen::{DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose};
use serde_json::{Map, Value, json};
use x509_parser::prelude::*;

use crate::cli::certificate::{SignArgs, SignProfile};
use crate::error::UserError;
use crate::io::output::{OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::pki::der_input::X509Input;
use crate::pki::issue::{CaIssuer, IssueRequest, San, Shape, issue};
use crate::pki::keys::{KeyKind, PrivateKey};
use crate::pki::profile::Profile;

/// Signs a CSR.
pub fn run(a: SignArgs) -> Result<u8> {
    let mut stdin = Stdin::default();
    if a.csr_file == "-" {
        stdin.claim("the CSR")?;
    }
    let mut out = OutputSet::new(a.force);
    out.input(Some(&a.csr_file), "CSR_FILE")
        .input(Some(&a.crt_file), "CRT_FILE")
        .input(Some(&a.key_file), "KEY_FILE")
        .input(a.template.as_deref(), "--template")
        .input(a.set_file.as_deref(), "--set-file");
    if let Some(o) = &a.out {
        out.check(Path::new(o), "--out")?;
    }
    // The CSR: parsed by x509-parser (rcgen cannot read private extensions), signature checked first.
    let data = crate::io::input::read_input(&a.csr_file, "CSR file")?;
    let der = match crate::pki::der_input::parse_x509(&data) {
        Ok(X509Input::Csr(d)) => d,
        Ok(X509Input::Certificates(_)) => {
            return Err(UserError::input(format!("{}: a certificate, not a CSR", a.csr_file)).into());
        }
        Err(e) => return Err(UserError::input(format!("{}: {e}", a.csr_file)).into()),
    };
    let CsrRequest {
        kind,
        public_key,
        subject,
        mut sans,
        key_usages: requested_ku,
        ext_key_usages: requested_eku,
    } = read_csr(&der).map_err(|e| UserError::input(format!("{}: {e}", a.csr_file)))?;
    let common_name = subject
        .iter()
        .find(|(t, _)| *t == DnType::CommonName)
        .map(|(_, v)| v.clone());
    if !a.omit_cn_san
        && let Some(cn) = &common_name
        && !matches!(a.profile, SignProfile::IntermediateCa)
        && !sans.iter().any(|s| san_text(s) == *cn)
    {
        sans.insert(0, San::parse(cn));
    }

    // Issuer and its password.
    let issuer_certs = super::read_certs(&a.crt_file, "CRT_FILE")?;
    let key_data = crate::io::input::read_input(&a.key_file, "KEY_FILE")?;
    let pw = if PrivateKey::is_encrypted(&key_data) {
        let what = format!("the issuer key {}", a.key_file);
        Some(crate::cmd::crypto::decrypt_password(
            &what,
            a.password_file.clone(),
            &mut stdin,
        )?)
    } else {
        None
    };
    let issuer_key = super::parse_key(&key_data, pw, &a.key_file, "--password-file")?;
    let issuer = CaIssuer::new(&issuer_certs[0], &issuer_key)
        .map_err(|e| UserError::input(format!("{} / {}: {e}", a.crt_file, a.key_file)))?;
    let profile = match a.profile {
        SignProfile::IntermediateCa => Profile::IntermediateCa,
        _ => Profile::Leaf,
    };
    let (not_before, not_after) = super::validity(a.not_before.as_deref(), a.not_after.as_deref(), profile)?;
    let mut req = IssueRequest::new(profile, "", sans, not_before, not_after);
    req.subject = subject;
    if a.profile == SignProfile::Csr {
        // The CSR's requested usages, minus anything a leaf must not have.
        let mut ku: Vec<KeyUsagePurpose> = requested_ku
            .into_iter()
            .filter(|k| !matches!(k, KeyUsagePurpose::KeyCertSign | KeyUsagePurpose::CrlSign))
            .collect();
        if ku.is_empty() {
            ku.push(KeyUsagePurpose::DigitalSignature);
        }
        req.shape = Some(Shape {
            ca: None,
            key_usages: ku,
            ext_key_usages: requested_eku,
        });
    }
    super::apply_extension_args(&mut req, &a.ext)?;
    if let Some(t) = &a.template {
        let text = crate::io::input::read_input(t, "--template file")?;
        let text = String::from_utf8(text).map_err(|_| UserError::input(format!("--template {t} is not UTF-8")))?;
        let data = template_data(&req, common_name.as_deref(), &a)?;
        let tpl = crate::pki::template::render(&text, &data).map_err(|e| UserError::input(format!("{t}: {e}")))?;
        tpl.apply(&mut req).map_err(|e| UserError::input(format!("{t}: {e}")))?;
    } else if !a.set.is_empty() || a.set_file.is_some() {
        return Err(UserError::usage("--set and --set-file need --template").into());
    }
    let issued = issue(&req, &public_key, kind, Some(&issuer), None).map_err(|e| UserError::input(e.to_string()))?;
    super::warn_if_clamped(&issued, a.not_after.is_some());
    let mut pem = super::create::pem_block("CERTIFICATE", issued.der);
    if a.bundle {
        for c in &issuer_certs {
            pem.push_str(&super::create::pem_block("CERTIFICATE", c.clone()));
        }
    }
    match &a.out {
        Some(o) => {
            out.stage(Path::new(o), pem.as_bytes(), PUBLIC_MODE)?;
            out.commit()?;
        }
        None => crate::cmd::print_stdout(pem.as_bytes())?,
    }
    Ok(0)
}

fn san_text(s: &San) -> String {
    match s {
        San::Dns(d) | San::Email(d) | San::Uri(d) => d.clone(),
        San::Ip(ip) => ip.to_string(),
    }
}

/// What a CSR asks `certificate sign` for, once its signature has verified.
pub struct CsrRequest {
    /// The key's kind.
    pub kind: KeyKind,
    /// The key, as rcgen takes it.
    pub public_key: rcgen::SubjectPublicKeyInfo,
    /// The subject as (type, value) pairs, in order.
    pub subject: Vec<(DnType, String)>,
    /// The SANs it requests.
    pub sans: Vec<San>,
    /// The key usages it requests.
    pub key_usages: Vec<KeyUsagePurpose>,
    /// The extended key usages it requests.
    pub ext_key_usages: Vec<ExtendedKeyUsagePurpose>,
}

/// Reads a CSR's DER as `certificate sign` does (x509-parser: rcgen cannot read private extensions), its signature
/// checked first. The error is a sentence for the CSR's file name to lead.
pub fn read_csr(der: &[u8]) -> Result<CsrRequest, String> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| e.to_string())?;
    csr.verify_signature()
        .map_err(|_| "the CSR's signature does not verify".to_string())?;
    let info = &csr.certification_request_info;
    let spki_der = info.subject_pki.raw;
    let kind = KeyKind::from_spki(spki_der).map_err(|e| e.to_string())?;
    let public_key =
        rcgen::SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| format!("unsupported public key: {e}"))?;
    let subject = csr_subject(&info.subject)?;
    let (sans, key_usages, ext_key_usages) = requested(&csr);
    Ok(CsrRequest {
        kind,
        public_key,
        subject,
        sans,
        key_usages,
        ext_key_usages,
    })
}

/// The CSR subject as (type, value) pairs, in order.
fn csr_subject(name: &X509Name<'_>) -> Result<Vec<(DnType, String)>, String> {
    let mut out = Vec::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .map(|i| i.collect())
            .ok_or("the CSR subject has an unreadable attribute type")?;
        let value = attr
            .as_str()
            .map_err(|_| "the CSR subject has a value that is not a string")?;
        out.push((DnType::from_oid(&oid), value.to_string()));
    }
    Ok(out)
}

/// The SANs, key usages and EKUs the CSR asks for.
fn requested(csr: &X509CertificationRequest<'_>) -> (Vec<San>, Vec<KeyUsagePurpose>, Vec<ExtendedKeyUsagePurpose>) {
    let (mut sans, mut ku, mut eku) = (Vec::new(), Vec::new(), Vec::new());
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                for g in &san.general_names {
                    match g {
                        GeneralName::DNSName(d) => sans.push(San::Dns(d.to_string())),
                        GeneralName::RFC822Name(e) => sans.push(San::Email(e.to_string())),
                        GeneralName::URI(u) => sans.push(San::Uri(u.to_string())),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => sans.push(San::Ip(
                                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).expect("4")).into(),
                            )),
                            16 => sans.push(San::Ip(
                                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).expect("16")).into(),
                            )),
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
            ParsedExtension::KeyUsage(k) => {
                for (on, p) in [
                    (k.digital_signature(), KeyUsagePurpose::DigitalSignature),
                    (k.non_repudiation(), KeyUsagePurpose::ContentCommitment),
                    (k.key_encipherment(), KeyUsagePurpose::KeyEncipherment),
                    (k.data_encipherment(), KeyUsagePurpose::DataEncipherment),
                    (k.key_agreement(), KeyUsagePurpose::KeyAgreement),
                    (k.key_cert_sign(), KeyUsagePurpose::KeyCertSign),
                    (k.crl_sign(), KeyUsagePurpose::CrlSign),
                ] {
                    if on {
                        ku.push(p);
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                for (on, p) in [
                    (e.server_auth, ExtendedKeyUsagePurpose::ServerAuth),
                    (e.client_auth, ExtendedKeyUsagePurpose::ClientAuth),
                    (e.code_signing, ExtendedKeyUsagePurpose::CodeSigning),
                    (e.email_protection, ExtendedKeyUsagePurpose::EmailProtection),
                    (e.time_stamping, ExtendedKeyUsagePurpose::TimeStamping),
                    (e.ocsp_signing, ExtendedKeyUsagePurpose::OcspSigning),
                ] {
                    if on {
                        eku.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    (sans, ku, eku)
}

/// Template variables: .Subject, .SANs, .Insecure.User (from --set-file, then --set).
fn template_data(req: &IssueRequest, cn: Option<&str>, a: &SignArgs) -> Result<Value> {
    let mut user = Map::new();
    if let Some(f) = &a.set_file {
        let data = crate::io::input::read_input(f, "--set-file")?;
        let v: Map<String, Value> = serde_json::from_slice(&data)
            .map_err(|e| UserError::input(format!("--set-file {f}: not a JSON object: {e}")))?;
        user.extend(v);
    }
    for kv in &a.set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UserError::usage(format!("--set {kv:?} is not key=value")))?;
        user.insert(k.to_string(), json!(v));
    }
    let sans: Vec<String> = req.sans.iter().map(san_text).collect();
    Ok(json!({
        "Subject": { "CommonName": cn.unwrap_or_default() },
        "SANs": sans,
        "Insecure": { "User": user },
    }))
}
