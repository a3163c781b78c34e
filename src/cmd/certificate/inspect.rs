//! `ferrica certificate inspect`

use anyhow::{Context, Result};

use crate::cli::certificate::{InspectArgs, InspectFormat};
use crate::pki::der_input::X509Input;
use crate::pki::{inspect, step_json};

/// Prints a certificate, chain or CSR.
pub fn run(a: InspectArgs) -> Result<u8> {
    let input = match super::load_x509(&a.input, &a.remote, a.insecure) {
        Ok(i) => i,
        // Not PEM/DER X.509: maybe a PKCS#12 file.
        Err(e) if a.input != "-" && super::p12::looks_like_p12(&a.input) => X509Input::Certificates(
            super::p12::read_certs(&a.input, a.password_file.clone()).map_err(|p| p.context(e))?,
        ),
        Err(e) => return Err(e),
    };
    let out = match input {
        X509Input::Certificates(mut certs) => {
            if !a.bundle {
                certs.truncate(1);
            }
            match a.format {
                InspectFormat::Pem => pem_many("CERTIFICATE", &certs),
                InspectFormat::Json => {
                    let infos = certs
                        .iter()
                        .map(|d| step_json::certificate(d))
                        .collect::<Result<Vec<_>, _>>()?;
                    let json = if a.bundle {
                        serde_json::to_string_pretty(&infos)
                    } else {
                        serde_json::to_string_pretty(&infos[0])
                    }
                    .context("encoding JSON")?;
                    json + "\n"
                }
                InspectFormat::Text => {
                    let mut parts = Vec::new();
                    for d in &certs {
                        let info = inspect::describe_certificate(d)?;
                        parts.push(if a.short {
                            inspect::certificate_short(&info)
                        } else {
                            inspect::certificate_text(&info)
                        });
                    }
                    parts.join("\n")
                }
            }
        }
        X509Input::Csr(der) => match a.format {
            InspectFormat::Pem => pem_many("CERTIFICATE REQUEST", std::slice::from_ref(&der)),
            InspectFormat::Json => {
                serde_json::to_string_pretty(&step_json::csr(&der)?).context("encoding JSON")? + "\n"
            }
            InspectFormat::Text => {
                let info = inspect::describe_csr(&der)?;
                if a.short {
                    inspect::csr_short(&info)
                } else {
                    inspect::csr_text(&info)
                }
            }
        },
    };
    super::super::print_stdout(out.as_bytes())?;
    Ok(0)
}

fn pem_many(tag: &str, ders: &[Vec<u8>]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    ders.iter()
        .map(|d| pem::encode_config(&pem::Pem::new(tag, d.clone()), config))
        .collect()
}
