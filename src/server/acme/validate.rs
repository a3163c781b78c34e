//! Challenge validation, the only network work of ACME, off the request path: a bounded number at once
//! ([`MAX_CONCURRENT`]), each attempt under a timeout, retried with backoff while the challenge is `processing`,
//! then `valid` or `invalid` with the last problem, which makes the authorization (and so its order) invalid at
//! once: clients stop polling instead of waiting for an expiry.
//!
//! http-01 fetches `http://<name>:<port>/.well-known/acme-challenge/<token>` (port 80, or `serve --acme-http-port`);
//! dns-01 reads the TXT records of `_acme-challenge.<name>`; tls-alpn-01 (RFC 8737) connects with ALPN `acme-tls/1`
//! and checks the self-signed certificate's critical `id-pe-acmeIdentifier`. Names resolve through
//! `serve --resolver HOST:PORT` when given, else the system resolver.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::{AcmeTable, Authz, Ca, Identifier, Problem, now, update};

/// Validations running at once; more wait.
pub const MAX_CONCURRENT: usize = 32;
/// One attempt's time limit.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits before the 2nd and 3rd attempts.
const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// The most of a challenge response read.
const MAX_RESPONSE: usize = 8 << 10;

/// A challenge to validate.
#[derive(Debug, Clone)]
pub struct Job {
    /// Authorization id.
    pub authz: String,
    /// Challenge id.
    pub challenge: String,
    /// `http-01`, `dns-01` or `tls-alpn-01`.
    pub kind: String,
    /// What is being validated.
    pub identifier: Identifier,
    /// `token.thumbprint`.
    pub key_authorization: String,
}

/// Where validation connects and which resolver it asks.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// http-01 port (80).
    pub http_port: u16,
    /// tls-alpn-01 port (443).
    pub tls_port: u16,
    /// A DNS server for names and dns-01 TXT records, instead of the system's.
    pub resolver: Option<SocketAddr>,
    /// The base URL clients use, when the server sits behind a proxy.
    pub external_url: Option<String>,
}

impl Settings {
    /// The defaults of RFC 8555 and RFC 8737: ports 80 and 443, the system resolver.
    pub fn standard() -> Settings {
        Settings {
            http_port: 80,
            tls_port: 443,
            resolver: None,
            external_url: None,
        }
    }
}

/// Starts validating `job` in the background; `first` (if given) hears when the first attempt has finished and, if
/// it succeeded, been recorded, so that the request that started it can answer with the outcome when it is quick.
pub fn spawn(ca: Arc<Ca>, job: Job, first: Option<tokio::sync::oneshot::Sender<()>>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::error!("acme: no runtime to validate on");
        return;
    };
    handle.spawn(async move {
        let Ok(_permit) = ca.acme_validations.clone().acquire_owned().await else {
            return;
        };
        let mut last = None;
        let mut first = first;
        for attempt in 0..=BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF[attempt - 1]).await;
            }
            let r = match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt_once(&ca.acme, &job)).await {
                Ok(r) => r,
                Err(_) => Err(Problem::new(
                    "connection",
                    400,
                    format!("{} timed out after {} s", job.kind, ATTEMPT_TIMEOUT.as_secs()),
                )),
            };
            match r {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(p) => {
                    tracing::info!(identifier = %job.identifier.value, kind = %job.kind, attempt, "acme: validation failed: {p}");
                    last = Some(p);
                    // The request that started this stops waiting: retries take seconds.
                    if let Some(tx) = first.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
        let ca2 = ca.clone();
        let _ = tokio::task::spawn_blocking(move || record(&ca2, &job, last)).await;
        if let Some(tx) = first.take() {
            let _ = tx.send(());
        }
    });
}

/// Writes the outcome: the challenge and its authorization become valid, or both invalid.
fn record(ca: &Ca, job: &Job, failure: Option<Problem>) {
    let t = now();
    let r = update(ca, AcmeTable::Authz, &job.authz, |z: &mut Authz| {
        if z.status != "pending" {
            return Ok(());
        }
        if let Some(c) = z.challenges.iter_mut().find(|c| c.id == job.challenge) {
            match &failure {
                None => {
                    c.status = "valid".into();
                    c.validated = Some(t);
                }
                Some(p) => {
                    c.status = "invalid".into();
                    c.error = Some(p.clone().about(&job.identifier));
                }
            }
        }
        z.status = if failure.is_none() { "valid" } else { "invalid" }.into();
        if failure.is_none() {
            z.expires = t + crate::acme::model::VALID_AUTHZ_LIFETIME;
        }
        Ok(())
    });
    match r {
        Ok(_) => tracing::info!(
            identifier = %job.identifier.value,
            kind = %job.kind,
            valid = failure.is_none(),
            "acme: challenge done"
        ),
        Err(p) => tracing::error!("acme: recording a validation failed: {p}"),
    }
}

async fn attempt_once(s: &Settings, job: &Job) -> Result<(), Problem> {
    match job.kind.as_str() {
        "http-01" => http01(s, job).await,
        "dns-01" => dns01(s, job).await,
        "tls-alpn-01" => tls_alpn01(s, job).await,
        other => Err(Problem::malformed(format!("unknown challenge type {other}"))),
    }
}

fn resolver(s: &Settings) -> Result<hickory_resolver::TokioResolver, Problem> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    let builder = match s.resolver {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            hickory_resolver::TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => hickory_resolver::TokioResolver::builder_tokio()
            .map_err(|e| Problem::new("dns", 400, format!("no system resolver: {e}")))?,
    };
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = Duration::from_secs(5);
    builder
        .with_options(opts)
        .build()
        .map_err(|e| Problem::new("dns", 400, format!("resolver: {e}")))
}

/// The addresses to connect to for an identifier.
async fn addresses(s: &Settings, id: &Identifier, port: u16) -> Result<Vec<SocketAddr>, Problem> {
    if id.kind == "ip" {
        let ip: IpAddr = id
            .value
            .parse()
            .map_err(|_| Problem::malformed(format!("{} is not an IP address", id.value)))?;
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns = |e: String| Problem::new("dns", 400, format!("resolving {}: {e}", id.value));
    let ips: Vec<IpAddr> = if s.resolver.is_some() {
        let r = resolver(s)?;
        let fqdn = format!("{}.", id.value);
        r.lookup_ip(fqdn.as_str())
            .await
            .map_err(|e| dns(e.to_string()))?
            .iter()
            .collect()
    } else {
        tokio::net::lookup_host((id.value.as_str(), port))
            .await
            .map_err(|e| dns(e.to_string()))?
            .map(|a| a.ip())
            .collect()
    };
    if ips.is_empty() {
        return Err(dns("no address".into()));
    }
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
}

async fn connect(addrs: &[SocketAddr], what: &str) -> Result<tokio::net::TcpStream, Problem> {
    let mut last = String::from("no address");
    for a in addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(Problem::new(
        "connection",
        400,
        format!("{what}: cannot connect: {last}"),
    ))
}

async fn http01(s: &Settings, job: &Job) -> Result<(), Problem> {
    use http_body_util::{BodyExt, Empty, Limited};
    let token = job.key_authorization.split('.').next().unwrap_or_default();
    let path = format!("/.well-known/acme-challenge/{token}");
    let addrs = addresses(s, &job.identifier, s.http_port).await?;
    let host = match job.identifier.kind.as_str() {
        "ip" if job.identifier.value.contains(':') => format!("[{}]", job.identifier.value),
        _ => job.identifier.value.clone(),
    };
    let url = format!("http://{host}:{}{path}", s.http_port);
    let tcp = connect(&addrs, &url).await?;
    let conn_err = |e: String| Problem::new("connection", 400, format!("{url}: {e}"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .map_err(|e| conn_err(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri(path.as_str())
        .header(hyper::header::HOST, &host)
        .header(
            hyper::header::USER_AGENT,
            concat!("ferrica-acme/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<hyper::body::Bytes>::new())
        .map_err(|e| Problem::internal(e.to_string()))?;
    let res = sender.send_request(req).await.map_err(|e| conn_err(e.to_string()))?;
    let status = res.status();
    let body = Limited::new(res.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| conn_err(format!("reading the answer: {e}")))?
        .to_bytes();
    driver.abort();
    if !status.is_success() {
        return Err(Problem::unauthorized(format!("{url} answered {status}")));
    }
    let got = String::from_utf8_lossy(&body);
    if got.trim_end() != job.key_authorization {
        return Err(Problem::unauthorized(format!(
            "{url} answered {:?}, not the key authorization",
            got.chars().take(100).collect::<String>()
        )));
    }
    Ok(())
}

async fn dns01(s: &Settings, job: &Job) -> Result<(), Problem> {
    let name = format!("_acme-challenge.{}.", job.identifier.value);
    let want = crate::acme::model::dns01_txt(&job.key_authorization);
    let r = resolver(s)?;
    let lookup = r
        .txt_lookup(name.as_str())
        .await
        .map_err(|e| Problem::new("dns", 400, format!("TXT {name}: {e}")))?;
    let mut seen = Vec::new();
    for rec in lookup.answers() {
        if let hickory_resolver::proto::rr::RData::TXT(txt) = &rec.data {
            let v: String = txt
                .txt_data
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            if v == want {
                return Ok(());
            }
            seen.push(v);
        }
    }
    Err(Problem::unauthorized(format!(
        "TXT {name} holds {seen:?}, not the digest of the key authorization"
    )))
}

async fn tls_alpn01(s: &Settings, job: &Job) -> Result<(), Problem> {
    use x509_parser::prelude::*;
    if job.identifier.kind != "dns" && job.identifier.kind != "ip" {
        return Err(Problem::malformed("tls-alpn-01 validates dns and ip identifiers"));
    }
    let addrs = addresses(s, &job.identifier, s.tls_port).await?;
    let what = format!("tls-alpn-01 {}:{}", job.identifier.value, s.tls_port);
    let tcp = connect(&addrs, &what).await?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // TLS 1.3 only: the handshake signature is checked against the certificate's key as a raw key, because the
    // certificate carries a critical extension that path validation (rightly) refuses.
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Problem::internal(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AlpnVerifier(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let name = if job.identifier.kind == "ip" {
        rustls::pki_types::ServerName::IpAddress(
            job.identifier
                .value
                .parse::<IpAddr>()
                .map_err(|_| Problem::malformed("bad IP"))?
                .into(),
        )
    } else {
        rustls::pki_types::ServerName::try_from(job.identifier.value.clone())
            .map_err(|_| Problem::malformed("bad name"))?
    };
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| Problem::new("tls", 400, format!("{what}: {e}")))?;
    let (_, conn) = tls.get_ref();
    if conn.alpn_protocol() != Some(b"acme-tls/1") {
        return Err(Problem::new(
            "tls",
            400,
            format!("{what}: the server did not negotiate acme-tls/1"),
        ));
    }
    let der = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| Problem::new("tls", 400, format!("{what}: no certificate")))?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|e| Problem::unauthorized(format!("{what}: the certificate does not parse: {e}")))?;
    // One SAN, the identifier.
    let sans: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .map(|g| match g {
                GeneralName::DNSName(d) => d.to_ascii_lowercase(),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string(),
                    16 => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string(),
                    _ => String::new(),
                },
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    if sans != [job.identifier.value.clone()] {
        return Err(Problem::unauthorized(format!(
            "{what}: the certificate names {sans:?}, not exactly {:?}",
            job.identifier.value
        )));
    }
    // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical, an OCTET STRING of SHA-256(key authorization).
    let oid = x509_parser::der_parser::oid!(1.3.6.1.5.5.7.1.31);
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid == oid)
        .ok_or_else(|| Problem::unauthorized(format!("{what}: no acmeIdentifier extension")))?;
    if !ext.critical {
        return Err(Problem::unauthorized(format!(
            "{what}: the acmeIdentifier extension is not critical"
        )));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, job.key_authorization.as_bytes());
    let mut want = vec![0x04, 0x20];
    want.extend_from_slice(digest.as_ref());
    if ext.value != want.as_slice() {
        return Err(Problem::unauthorized(format!(
            "{what}: acmeIdentifier is not the digest of the key authorization"
        )));
    }
    Ok(())
}

/// tls-alpn-01's verifier: any certificate (it is judged after the handshake), with the TLS 1.3 handshake
/// signature verified against the certificate's public key.
#[derive(Debug)]
struct AlpnVerifier(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AlpnVerifier {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("tls-alpn-01 is validated over TLS 1.3".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        use x509_parser::prelude::*;
        let (_, c) = X509Certificate::from_der(cert.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(c.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &spki,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
