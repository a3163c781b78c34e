//! `ferrica certificate verify CRT|URL`

use anyhow::Result;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::*;

use crate::cli::RemoteArgs;
use crate::cli::certificate::VerifyArgs;
use crate::error::UserError;
use crate::pki::der_input::X509Input;

/// Verifies a chain with webpki (signatures, dates, basicConstraints, path length, name constraints, serverAuth
/// EKU) plus key-usage checks webpki leaves out. Exit 0 valid, 1 invalid.
pub fn run(a: VerifyArgs) -> Result<u8> {
    let remote = RemoteArgs {
        roots: a.roots.clone(),
        servername: a.servername.clone(),
    };
    // A remote chain is fetched without judging it; it is judged below like a file.
    let chain = match super::load_x509(&a.input, &remote, true)? {
        X509Input::Certificates(c) => c,
        X509Input::Csr(_) => return Err(UserError::input(format!("{}: a CSR, not a certificate", a.input)).into()),
    };
    let host = match (&a.host, crate::io::remote::is_url(&a.input)) {
        (Some(h), _) => Some(h.clone()),
        (None, true) => Some(
            a.servername
                .clone()
                .unwrap_or(crate::io::remote::host_port(&a.input)?.0),
        ),
        (None, false) => None,
    };
    let roots = crate::io::remote::root_ders(a.roots.as_deref())?;
    let names = judge(&chain, &roots, host.as_deref(), UnixTime::now()).map_err(|e| -> anyhow::Error {
        match e {
            Verdict::Unusable(why) => UserError::input(format!("{}: {why}", a.input)).into(),
            Verdict::BadHost(h) => UserError::usage(format!("--host {h:?} is not a DNS name or IP")).into(),
            Verdict::Invalid(why) => UserError::negative(format!("{}: invalid: {why}", a.input)).into(),
        }
    })?;
    if a.verbose {
        for (i, n) in names.iter().enumerate() {
            eprintln!("{i}: {n}");
        }
        eprintln!(
            "anchor: a certificate from {}",
            a.roots.as_deref().unwrap_or("the system store")
        );
    }
    eprintln!("{}: ok", a.input);
    Ok(0)
}

/// Why [`judge`] refused a chain.
#[derive(Debug)]
pub enum Verdict {
    /// The leaf cannot be read as a certificate.
    Unusable(String),
    /// The host to check is neither a DNS name nor an IP address.
    BadHost(String),
    /// The chain is readable and not valid.
    Invalid(String),
}

/// Judges `chain` (leaf first) against the `roots` at `now`, for `host` if given: webpki's checks for serverAuth
/// and the key usages webpki leaves out. Returns the subjects of the path, leaf first. No I/O: the fuzzers call it.
pub fn judge(chain: &[Vec<u8>], roots: &[Vec<u8>], host: Option<&str>, now: UnixTime) -> Result<Vec<String>, Verdict> {
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|r| {
            let der = CertificateDer::from(r.as_slice());
            webpki::anchor_from_trusted_cert(&der).ok().map(|t| t.to_owned())
        })
        .collect();
    let (leaf_raw, rest) = chain.split_first().ok_or(Verdict::Unusable("no certificate".into()))?;
    let leaf_der = CertificateDer::from(leaf_raw.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = rest.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let leaf = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| Verdict::Unusable(format!("unusable certificate: {e}")))?;
    let algs = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    let path = leaf
        .verify_for_usage(
            algs,
            &anchors,
            &intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| Verdict::Invalid(describe(&e)))?;
    if let Some(h) = host {
        let name = ServerName::try_from(h).map_err(|_| Verdict::BadHost(h.to_string()))?;
        leaf.verify_is_valid_for_subject_name(&name)
            .map_err(|_| Verdict::Invalid(format!("not valid for {h}")))?;
    }
    // Key usage: webpki checks EKU but not KU.
    let (_, cert) = X509Certificate::from_der(leaf_raw).map_err(|e| Verdict::Unusable(e.to_string()))?;
    if let Ok(Some(ku)) = cert.key_usage()
        && !(ku.value.digital_signature() || ku.value.key_encipherment() || ku.value.key_agreement())
    {
        return Err(Verdict::Invalid(
            "the key usage allows no TLS use (no digitalSignature or keyEncipherment)".into(),
        ));
    }
    let mut names = vec![cert.subject().to_string()];
    for i in path.intermediate_certificates() {
        let der = i.der();
        let (_, c) = X509Certificate::from_der(der.as_ref()).map_err(|e| Verdict::Unusable(e.to_string()))?;
        if let Ok(Some(ku)) = c.key_usage()
            && !ku.value.key_cert_sign()
        {
            return Err(Verdict::Invalid(format!("issuer {} lacks keyCertSign", c.subject())));
        }
        names.push(c.subject().to_string());
    }
    Ok(names)
}

fn describe(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => "the certificate has expired".into(),
        E::CertNotValidYet { .. } => "the certificate is not valid yet".into(),
        E::UnknownIssuer => "no chain to a trusted root (unknown issuer)".into(),
        E::NameConstraintViolation => "a name is outside the issuer's name constraints".into(),
        E::CaUsedAsEndEntity => "the certificate is a CA, not an end entity".into(),
        E::EndEntityUsedAsCa => "an end-entity certificate is used as an issuer".into(),
        E::PathLenConstraintViolated => "the path length constraint is violated".into(),
        E::InvalidSignatureForPublicKey => "a signature does not verify".into(),
        other => format!("{other:?}"),
    }
}
