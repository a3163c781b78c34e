//! The HTTPS client of the `ca` commands: hyper's HTTP/1.1 over rustls (aws-lc-rs), one connection per request,
//! blocking API. The CA's root pins the connection (or `Trust::Insecure` while bootstrapping, where the caller
//! checks the fetched root's fingerprint itself). A client certificate is presented for mTLS renew/rekey/revoke.
//!
//! Failures map to exit codes: connection, TLS and timeout failures and 5xx answers are `Unavailable` (5, safe to
//! retry); an untrusted server certificate and 4xx answers are `Refused` (4) with the CA's message.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::Value;

use crate::error::{ErrorKind, UserError};

/// Whole-request timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How the CA's TLS certificate is checked.
pub enum Trust {
    /// It must chain to one of these roots (DER).
    Roots(Vec<Vec<u8>>),
    /// Anything (bootstrap: the caller verifies what it fetched by fingerprint).
    Insecure,
}

/// A client certificate chain (leaf first, DER) and its key (PKCS#8 DER).
pub struct Identity {
    /// The chain.
    pub chain: Vec<Vec<u8>>,
    /// The key.
    pub key_pkcs8: Vec<u8>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, after turning error statuses into errors (the CA's `message` included).
    pub fn json(self, what: &str) -> Result<Value> {
        let body = self.ok(what)?;
        serde_json::from_slice(&body).map_err(|e| {
            UserError::unavailable(format!("{what}: the CA answered with something other than JSON: {e}")).into()
        })
    }

    /// The body, after turning error statuses into errors.
    pub fn ok(self, what: &str) -> Result<Vec<u8>> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let message = serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().chars().take(200).collect());
        // 501 (not implemented) is an answer, not an outage: retrying cannot help.
        let kind = if self.status >= 500 && self.status != 501 {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Refused
        };
        Err(UserError {
            kind,
            msg: format!("{what}: the CA answered {}: {message}", self.status),
            hint: None,
        }
        .into())
    }
}

/// A client for one CA.
pub struct CaClient {
    base: String,
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl CaClient {
    /// A client for `ca_url` (`https://host[:port]`).
    pub fn new(ca_url: &str, trust: Trust, identity: Option<Identity>) -> Result<CaClient> {
        if !ca_url.starts_with("https://") {
            return Err(UserError::usage(format!("the CA URL {ca_url:?} is not https://host[:port]")).into());
        }
        let (host, port) = super::remote::host_port(ca_url)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| UserError::usage(format!("TLS setup: {e}")))?;
        let builder = match trust {
            Trust::Roots(roots) => {
                let mut store = rustls::RootCertStore::empty();
                for r in roots {
                    store
                        .add(CertificateDer::from(r))
                        .map_err(|e| UserError::input(format!("the CA root is unusable: {e}")))?;
                }
                builder.with_root_certificates(store)
            }
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(super::remote::accept_any(provider)),
        };
        let mut config = match identity {
            Some(id) => builder
                .with_client_auth_cert(
                    id.chain.into_iter().map(CertificateDer::from).collect(),
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_pkcs8)),
                )
                .map_err(|e| UserError::input(format!("the client certificate cannot be used: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let base = ca_url.trim_end_matches('/').to_string();
        Ok(CaClient {
            base,
            host,
            port,
            tls: Arc::new(config),
        })
    }

    /// The CA URL without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Answer> {
        self.request("GET", path, None, None)
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> Result<Answer> {
        self.request("POST", path, Some(serde_json::to_vec(body)?), bearer)
    }

    fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>, bearer: Option<&str>) -> Result<Answer> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            match tokio::time::timeout(TIMEOUT, self.send(method, path, body, bearer)).await {
                Ok(r) => r,
                Err(_) => {
                    Err(
                        UserError::unavailable(format!("{} did not answer within {} s", self.base, TIMEOUT.as_secs()))
                            .into(),
                    )
                }
            }
        })
    }

    /// A failure on the wire: a TLS alert from the CA is its refusal (exit 4: retrying cannot help), anything else
    /// a network failure (exit 5). With TLS 1.3 the CA judges the client certificate after the client's handshake
    /// has finished, so its alert arrives while the request is sent or the answer read.
    fn network_error(&self, e: &(dyn std::error::Error + 'static), what: &str) -> anyhow::Error {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
                err.downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
            });
            if let Some(rustls::Error::AlertReceived(alert)) = tls {
                use rustls::AlertDescription as A;
                let about_us = matches!(
                    alert,
                    A::BadCertificate
                        | A::UnsupportedCertificate
                        | A::CertificateRevoked
                        | A::CertificateExpired
                        | A::CertificateUnknown
                        | A::UnknownCA
                        | A::AccessDenied
                        | A::CertificateRequired
                        | A::DecryptError
                        | A::HandshakeFailure
                );
                let msg = if about_us {
                    format!(
                        "the CA at {} rejected the client certificate (TLS alert {alert:?})",
                        self.base
                    )
                } else {
                    format!("the CA at {} refused the connection (TLS alert {alert:?})", self.base)
                };
                return UserError {
                    kind: ErrorKind::Refused,
                    msg,
                    hint: about_us
                        .then(|| "the certificate must be one this CA issued, unexpired and not revoked".to_string()),
                }
                .into();
            }
            cur = err.source();
        }
        UserError::unavailable(format!("{} {what}: {e}", self.base)).into()
    }

    async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>, bearer: Option<&str>) -> Result<Answer> {
        let unavailable = |m: String| -> anyhow::Error { UserError::unavailable(m).into() };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unavailable(format!("cannot connect to {}: {e}", self.base)))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(self.host.clone())
            .map_err(|_| UserError::usage(format!("{:?} is not a valid TLS server name", self.host)))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = connector.connect(name, tcp).await.map_err(|e| {
            let tls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if let Some(rustls::Error::InvalidCertificate(c)) = tls_err {
                return UserError {
                    kind: ErrorKind::Refused,
                    msg: format!("the CA at {} is not trusted: {c:?}", self.base),
                    hint: Some("check --root (or run `ferrica ca bootstrap` with the CA's fingerprint)".into()),
                }
                .into();
            }
            self.network_error(&e, "TLS handshake failed")
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| self.network_error(&e, "HTTP handshake failed"))?;
        let driver = tokio::spawn(conn);
        let authority = if self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("ferrica/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        if let Some(t) = bearer {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| self.network_error(&e, &format!("{method} {path}")))?;
        let status = res.status().as_u16();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| self.network_error(&e, &format!("{method} {path}: reading the answer")))?
            .to_bytes()
            .to_vec();
        driver.abort();
        Ok(Answer { status, body })
    }
}
