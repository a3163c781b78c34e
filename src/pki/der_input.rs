//! Reading certificates and CSRs from bytes that may be PEM (one or many blocks) or DER.

use x509_parser::prelude::*;

use super::keys::{looks_like_pem, pem_error_text};

/// What a certificate file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X509Input {
    /// One or more certificates (a chain or bundle), in file order.
    Certificates(Vec<Vec<u8>>),
    /// A PKCS#10 certificate request.
    Csr(Vec<u8>),
}

/// Why bytes are not a certificate or CSR.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing at all.
    #[error("the input is empty")]
    Empty,
    /// Damaged PEM.
    #[error("{0}")]
    BadPem(String),
    /// PEM of the wrong kind.
    #[error("not a certificate: found PEM {found:?}{extra}")]
    WrongPem {
        /// The tag that was found.
        found: String,
        /// Extra advice for the message.
        extra: &'static str,
    },
    /// DER that does not parse.
    #[error("not a certificate or CSR (neither PEM nor DER X.509): {0}")]
    NotX509(String),
}

/// Parses PEM (certificates, or one CSR) or a single DER certificate/CSR.
pub fn parse_x509(data: &[u8]) -> Result<X509Input, InputError> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(InputError::Empty);
    }
    if looks_like_pem(data) {
        let blocks = ::pem::parse_many(data).map_err(|e| InputError::BadPem(pem_error_text(&e)))?;
        if blocks.is_empty() {
            return Err(InputError::BadPem("truncated PEM (no complete block)".into()));
        }
        let mut certs = Vec::new();
        for b in &blocks {
            match b.tag() {
                "CERTIFICATE" | "X509 CERTIFICATE" => {
                    check_cert(b.contents())?;
                    certs.push(b.contents().to_vec());
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" if certs.is_empty() => {
                    check_csr(b.contents())?;
                    return Ok(X509Input::Csr(b.contents().to_vec()));
                }
                // A bundle with keys or other material: skip what is not a certificate once we have one.
                _ if !certs.is_empty() => {}
                other => {
                    let extra = if other.contains("PRIVATE KEY") {
                        " (this is a private key; pass the certificate file)"
                    } else {
                        ""
                    };
                    return Err(InputError::WrongPem {
                        found: other.into(),
                        extra,
                    });
                }
            }
        }
        return Ok(X509Input::Certificates(certs));
    }
    match X509Certificate::from_der(data) {
        Ok(([], _)) => Ok(X509Input::Certificates(vec![data.to_vec()])),
        _ => match X509CertificationRequest::from_der(data) {
            Ok(([], _)) => Ok(X509Input::Csr(data.to_vec())),
            _ => Err(InputError::NotX509(
                X509Certificate::from_der(data)
                    .err()
                    .map_or("trailing data".into(), |e| e.to_string()),
            )),
        },
    }
}

/// Parses input that must hold certificates (not a CSR).
pub fn parse_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, InputError> {
    match parse_x509(data)? {
        X509Input::Certificates(c) => Ok(c),
        X509Input::Csr(_) => Err(InputError::WrongPem {
            found: "CERTIFICATE REQUEST".into(),
            extra: "",
        }),
    }
}

fn check_cert(der: &[u8]) -> Result<(), InputError> {
    X509Certificate::from_der(der)
        .map(|_| ())
        .map_err(|e| InputError::NotX509(format!("bad certificate: {e}")))
}

fn check_csr(der: &[u8]) -> Result<(), InputError> {
    X509CertificationRequest::from_der(der)
        .map(|_| ())
        .map_err(|e| InputError::NotX509(format!("bad certificate request: {e}")))
}
