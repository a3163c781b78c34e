//! Fetching the certificate chain a TLS server presents (`inspect https://host[:port]`, `fingerprint URL`).

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{ErrorKind, UserError};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an input names a remote server rather than a file.
pub fn is_url(input: &str) -> bool {
    input.starts_with("https://") || input.starts_with("tls://")
}

/// Splits `https://host[:port][/path]` into host and port (443 by default; IPv6 in brackets).
pub fn host_port(url: &str) -> Result<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let bad = || UserError::usage(format!("cannot parse the URL {url:?}")).hint("use https://host[:port]");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad().into());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 443,
    };
    Ok((host, port))
}

/// Connects, completes a TLS handshake and returns the presented chain (leaf first), as DER.
pub fn fetch_chain(url: &str, roots: Option<&str>, servername: Option<&str>, insecure: bool) -> Result<Vec<Vec<u8>>> {
    let (host, port) = host_port(url)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UserError::usage(format!("TLS setup: {e}")))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(accept_any(provider))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(load_roots(roots)?).with_no_client_auth()
    };
    let name_str = servername.unwrap_or(&host).to_string();
    let name = ServerName::try_from(name_str.clone())
        .map_err(|_| UserError::usage(format!("{name_str:?} is not a valid TLS server name")))?;
    let unavailable = |what: String| UserError::unavailable(what);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unavailable(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| unavailable(format!("{host} has no address")))?;
    let mut sock = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| unavailable(format!("cannot connect to {host}:{port}: {e}")))?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    sock.set_write_timeout(Some(TIMEOUT))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| UserError::usage(format!("TLS setup: {e}")))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            let tls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if let Some(rustls::Error::InvalidCertificate(c)) = tls_err {
                return Err(UserError {
                    kind: ErrorKind::Refused,
                    msg: format!("the certificate of {host}:{port} is not trusted: {c:?}"),
                    hint: Some("pass --roots with the CA that issued it, or --insecure to look anyway".into()),
                }
                .into());
            }
            return Err(unavailable(format!("TLS handshake with {host}:{port} failed: {e}")).into());
        }
    }
    let certs = conn.peer_certificates().unwrap_or_default();
    if certs.is_empty() {
        return Err(unavailable(format!("{host}:{port} presented no certificate")).into());
    }
    Ok(certs.iter().map(|c| c.as_ref().to_vec()).collect())
}

/// The DER certificates of `--roots` (a PEM/DER file or a directory of them), or of the system store.
pub fn root_ders(roots: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match roots {
        Some(path) => {
            let p = std::path::Path::new(path);
            let files: Vec<std::path::PathBuf> = if p.is_dir() {
                let mut v: Vec<_> = std::fs::read_dir(p)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file())
                    .collect();
                v.sort();
                v
            } else {
                vec![p.to_path_buf()]
            };
            for f in files {
                let data = crate::io::input::read_input(&f.to_string_lossy(), "--roots file")?;
                match crate::pki::der_input::parse_certificates(&data) {
                    Ok(certs) => out.extend(certs),
                    // In a directory, skip what is not a certificate (hash links to keys, READMEs).
                    Err(_) if p.is_dir() => {}
                    Err(e) => return Err(UserError::input(format!("--roots {}: {e}", f.display())).into()),
                }
            }
            if out.is_empty() {
                return Err(UserError::input(format!("--roots {path} holds no certificate")).into());
            }
        }
        None => out.extend(
            rustls_native_certs::load_native_certs()
                .certs
                .into_iter()
                .map(|c| c.as_ref().to_vec()),
        ),
    }
    Ok(out)
}

fn load_roots(roots: Option<&str>) -> Result<rustls::RootCertStore> {
    let mut store = rustls::RootCertStore::empty();
    for c in root_ders(roots)? {
        let res = store.add(CertificateDer::from(c));
        if roots.is_some() {
            res.map_err(|e| UserError::input(format!("--roots: unusable root: {e}")))?;
        }
    }
    Ok(store)
}

/// A verifier that accepts any server certificate (still checking handshake signatures).
pub fn accept_any(provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(Lenient { provider, roots: None })
}

/// A verifier that checks the chain against `roots` but not the name the server is known by (libpq's
/// `verify-ca`).
pub fn chain_only(roots: Arc<rustls::RootCertStore>, provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(Lenient {
        provider,
        roots: Some(roots),
    })
}

/// `--insecure` (no roots): accept whatever chain the server shows; with roots, the chain must lead to one,
/// whatever names it holds. The handshake signature is checked either way.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    roots: Option<Arc<rustls::RootCertStore>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(host_port("https://example.test").unwrap(), ("example.test".into(), 443));
        assert_eq!(
            host_port("https://example.test:8443/x").unwrap(),
            ("example.test".into(), 8443)
        );
        assert_eq!(host_port("https://[::1]:9000").unwrap(), ("::1".into(), 9000));
        assert!(host_port("https://:1").is_err());
    }
}
