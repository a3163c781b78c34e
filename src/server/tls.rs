//! TLS for `serve`: the CA's own certificate for its `dnsNames`, issued from the intermediate and renewed in-process
//! at two thirds of its life; TLS 1.2-1.3 on rustls with aws-lc-rs; client certificates verified to the root when
//! given (as step-ca's `VerifyClientCertIfGiven`) and handed to the handlers as [`super::PeerChain`] by [`super::listen`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::Ca;
use crate::pki::issue::{IssueRequest, San, issue};
use crate::pki::keys::{KeySpec, PrivateKey};
use crate::pki::profile::Profile;

/// How long the CA's own TLS certificate lives.
pub const SERVER_CERT_LIFETIME: time::Duration = time::Duration::hours(24);

/// A certificate that can be swapped while serving.
#[derive(Debug)]
pub struct RenewingCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for RenewingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

/// Issues the CA's TLS certificate (leaf + intermediate) for its dnsNames.
pub fn server_cert(ca: &Ca) -> anyhow::Result<CertifiedKey> {
    let key = PrivateKey::generate(KeySpec::P256)?;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let config = ca.config();
    let cn = config.common_name.clone().unwrap_or_else(|| "Ferrica Online CA".into());
    let sans = config.dns_names.iter().map(|d| San::parse(d)).collect();
    let req = IssueRequest::new(
        Profile::Leaf,
        &cn,
        sans,
        now - time::Duration::minutes(1),
        now + SERVER_CERT_LIFETIME,
    );
    let leaf = issue(&req, key.key_pair(), key.kind(), Some(&ca.issuer), None)?;
    let chain = vec![
        CertificateDer::from(leaf.der),
        CertificateDer::from(ca.intermediate_der.clone()),
    ];
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()));
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    Ok(CertifiedKey::from_der(chain, der, &provider)?)
}

/// The TLS acceptor for `serve`, and the task that renews the CA's own certificate at two thirds of its life (abort it
/// when the server stops).
pub fn acceptor(ca: &Arc<Ca>) -> anyhow::Result<(tokio_rustls::TlsAcceptor, tokio::task::JoinHandle<()>)> {
    let resolver = Arc::new(RenewingCert(RwLock::new(Arc::new(server_cert(ca)?))));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(CertificateDer::from(ca.root_der.clone()))?;
    let client_verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(client_verifier)
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let renew_every = Duration::from_secs((SERVER_CERT_LIFETIME.whole_seconds() as u64) * 2 / 3);
    let renew_ca = ca.clone();
    let renewer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(renew_every).await;
            match server_cert(&renew_ca) {
                Ok(c) => {
                    if let Ok(mut slot) = resolver.0.write() {
                        *slot = Arc::new(c);
                    }
                    tracing::info!("renewed the CA's TLS certificate");
                }
                Err(e) => tracing::error!("renewing the CA's TLS certificate failed: {e:#}"),
            }
        }
    });
    Ok((acceptor, renewer))
}
