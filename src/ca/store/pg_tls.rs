//! TLS to PostgreSQL with libpq's connection parameters, which step-ca's driver (pgx) also takes: `sslmode`
//! (`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`), `sslrootcert` (a PEM file, or `system`
//! for the operating system's roots), `sslcert` and `sslkey` (a client certificate, e.g. for pg_hba's `cert`).
//!
//! tokio-postgres itself reads only `disable`, `prefer` and `require` and no file, so [`split`] takes these out of
//! the data source before tokio-postgres parses the rest, and [`TlsParams::connector`] carries them out with rustls
//! (aws-lc-rs) through tokio-postgres-rustls. The rules are libpq's:
//! - `prefer` (the default) and `allow` use TLS when the server offers it, `disable` never, the others always;
//! - the server's chain is checked against the root file whenever there is one (`sslrootcert`, else
//!   `~/.postgresql/root.crt` if it exists); `verify-ca` and `verify-full` need one, and `verify-full` also checks
//!   that the certificate names the host;
//! - without a root file, `prefer` and `require` encrypt without authenticating the server;
//! - a unix socket never uses TLS;
//! - `sslcert` (else `~/.postgresql/postgresql.crt` if it exists) is presented with `sslkey` (else
//!   `~/.postgresql/postgresql.key`), which must not be readable by group or others.
//!
//! Differences from libpq: `allow` behaves as `prefer` (it tries TLS first), and there is no `sslpassword`
//! (client keys are read unencrypted, as libpq does without it) and no `sslcrl`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::RootCertStore;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (libpq's `allow` and `prefer`).
    Prefer,
    /// Always TLS; the chain is checked only when there is a root file.
    Require,
    /// Always TLS, the chain checked against the root file.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

/// The TLS parameters taken out of a data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// `sslmode` (`prefer` when absent).
    pub mode: Mode,
    /// `sslrootcert`.
    pub root: Option<String>,
    /// `sslcert`.
    pub cert: Option<String>,
    /// `sslkey`.
    pub key: Option<String>,
}

const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

fn bad(m: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("db.dataSource: {m}"))
}

/// Splits a data source (a `postgresql://` URL or libpq's `key=value` form) into what tokio-postgres reads and the
/// TLS parameters.
pub fn split(source: &str) -> Result<(String, TlsParams), StoreError> {
    let mut pairs = Vec::new();
    let rest = if source.starts_with("postgres://") || source.starts_with("postgresql://") {
        match source.split_once('?') {
            None => source.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for part in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = part.split_once('=').unwrap_or((part, ""));
                    let k = percent_decode_str(k).decode_utf8_lossy();
                    if KEYS.contains(&k.as_ref()) {
                        pairs.push((k.into_owned(), percent_decode_str(v).decode_utf8_lossy().into_owned()));
                    } else {
                        kept.push(part);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (k, v, text) in key_values(source)? {
            if KEYS.contains(&k.as_str()) {
                pairs.push((k, v));
            } else {
                kept.push(text);
            }
        }
        kept.join(" ")
    };
    let mut params = TlsParams {
        mode: Mode::Prefer,
        root: None,
        cert: None,
        key: None,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "sslmode" => {
                params.mode = match v.as_str() {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(bad(format!(
                            "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        )));
                    }
                }
            }
            "sslrootcert" => params.root = Some(v),
            "sslcert" => params.cert = Some(v),
            _ => params.key = Some(v),
        }
    }
    Ok((rest, params))
}

/// libpq's `key = value` pairs, each with its original text (so the others pass on unchanged): values may be
/// single-quoted, and a backslash escapes the next character.
fn key_values(s: &str) -> Result<Vec<(String, String, &str)>, StoreError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_string();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() || b[i] != b'=' {
            return Err(bad(format!("{key:?} has no value (key=value expected)")));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(bad(format!("the value of {key:?} has no closing quote"))),
                    Some(b'\'') => break,
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
        }
        out.push((key, String::from_utf8_lossy(&value).into_owned(), &s[start..i]));
    }
}

fn home_file(home: Option<&Path>, name: &str) -> Option<String> {
    let p = home?.join(".postgresql").join(name);
    p.exists().then(|| p.display().to_string())
}

impl TlsParams {
    /// The TLS mode tokio-postgres is to use for `config`'s hosts and the connector that does it.
    pub fn connector(&self, config: &tokio_postgres::Config) -> Result<(SslMode, MakeRustlsConnect), StoreError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        self.connector_in(config, home.as_deref())
    }

    /// [`TlsParams::connector`], with libpq's default files looked for under `home`.
    fn connector_in(
        &self,
        config: &tokio_postgres::Config,
        home: Option<&Path>,
    ) -> Result<(SslMode, MakeRustlsConnect), StoreError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let hosts = config.get_hosts();
        // libpq never uses TLS over a unix socket: a data source of sockets only gets no TLS, whatever it asks.
        if !hosts.is_empty() && hosts.iter().all(|h| matches!(h, Host::Unix(_))) {
            let plain = client_config(provider.clone(), crate::io::remote::accept_any(provider))?;
            return Ok((SslMode::Disable, MakeRustlsConnect::new(plain.with_no_client_auth())));
        }
        let mode = match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        };
        let root = self.root.clone().or_else(|| home_file(home, "root.crt"));
        let verifier: Arc<dyn ServerCertVerifier> = match (&root, self.mode) {
            (None, Mode::VerifyCa | Mode::VerifyFull) => {
                return Err(bad(format!(
                    "sslmode={} needs sslrootcert=FILE (a PEM file of the roots to trust, or \"system\"); libpq's \
                     default ~/.postgresql/root.crt does not exist",
                    if self.mode == Mode::VerifyCa {
                        "verify-ca"
                    } else {
                        "verify-full"
                    }
                )));
            }
            (None, _) => crate::io::remote::accept_any(provider.clone()),
            (Some(r), mode) => {
                let roots = Arc::new(load_roots(r)?);
                if mode == Mode::VerifyFull {
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                        .build()
                        .map_err(|e| bad(format!("sslrootcert {r}: {e}")))?
                } else {
                    crate::io::remote::chain_only(roots, provider.clone())
                }
            }
        };
        let builder = client_config(provider, verifier)?;
        let cert = self.cert.clone().or_else(|| home_file(home, "postgresql.crt"));
        let tls = match cert {
            None => builder.with_no_client_auth(),
            Some(cert) => {
                let key = match &self.key {
                    Some(k) => k.clone(),
                    None => home_file(home, "postgresql.key")
                        .ok_or_else(|| bad(format!("sslcert {cert} needs sslkey=FILE (its private key)")))?,
                };
                let chain = CertificateDer::pem_file_iter(&cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| bad(format!("sslcert {cert}: {e}")))?;
                if chain.is_empty() {
                    return Err(bad(format!("sslcert {cert} holds no certificate")));
                }
                check_key_mode(&key)?;
                let der = PrivateKeyDer::from_pem_file(&key).map_err(|e| bad(format!("sslkey {key}: {e}")))?;
                builder
                    .with_client_auth_cert(chain, der)
                    .map_err(|e| bad(format!("sslcert {cert} with sslkey {key}: {e}")))?
            }
        };
        Ok((mode, MakeRustlsConnect::new(tls)))
    }
}

/// A client configuration on `provider` with rustls's safe protocol versions and `verifier`, the client
/// certificate still to choose.
fn client_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, StoreError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier))
}

/// libpq refuses a client key that group or others may read; so does ferrica.
fn check_key_mode(path: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("sslkey {path}: {e}")))?;
    if meta.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "sslkey {path} is readable by group or others (mode {:o}); chmod 600 it",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

fn load_roots(r: &str) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    if r == "system" {
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        if store.is_empty() {
            return Err(bad("sslrootcert=system: the system has no root certificates"));
        }
        return Ok(store);
    }
    let certs = CertificateDer::pem_file_iter(r)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(format!("sslrootcert {r}: {e}")))?;
    for c in certs {
        store
            .add(c)
            .map_err(|e| bad(format!("sslrootcert {r}: an unusable root: {e}")))?;
    }
    if store.is_empty() {
        return Err(bad(format!("sslrootcert {r} holds no certificate")));
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_a_url_and_the_rest_stays() {
        let (rest, p) = split(
            "postgresql://u:p%40ss@db:5432/ferrica?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Froot%20ca.crt",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://u:p%40ss@db:5432/ferrica?application_name=x");
        assert_eq!(p.mode, Mode::VerifyFull);
        assert_eq!(p.root.as_deref(), Some("/etc/root ca.crt"));
        let (rest, p) = split("postgresql://db/?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), p.mode), ("postgresql://db/", Mode::Require));
        let (rest, p) = split("postgres://db/x").unwrap();
        assert_eq!((rest.as_str(), p.mode, p.root), ("postgres://db/x", Mode::Prefer, None));
        assert_eq!(split("postgresql://db/?sslmode=allow").unwrap().1.mode, Mode::Prefer);
        let e = split("postgresql://db/?sslmode=verify").unwrap_err().to_string();
        assert!(e.contains("sslmode \"verify\"") && e.contains("verify-full"), "{e}");
    }

    #[test]
    fn tls_parameters_leave_libpq_key_values_and_quotes_are_read() {
        let (rest, p) = split(
            "host=db  user=ca sslmode = verify-ca sslrootcert='/a b/it\\'s.crt' password='x y' sslcert=/c sslkey=/k",
        )
        .unwrap();
        assert_eq!(rest, "host=db user=ca password='x y'");
        assert_eq!(p.mode, Mode::VerifyCa);
        assert_eq!(p.root.as_deref(), Some("/a b/it's.crt"));
        assert_eq!((p.cert.as_deref(), p.key.as_deref()), (Some("/c"), Some("/k")));
        assert!(rest.parse::<tokio_postgres::Config>().is_ok());
        assert!(split("host=db sslmode").is_err());
        assert!(split("host=db sslrootcert='/open").is_err());
    }

    #[test]
    fn verifying_modes_need_a_root_and_sockets_never_use_tls() {
        let tcp: tokio_postgres::Config = "postgresql://db/x".parse().unwrap();
        let sock: tokio_postgres::Config = "postgresql://u@/x?host=/run/postgresql".parse().unwrap();
        let params = |mode| TlsParams {
            mode,
            root: Some("/nonexistent/root.crt".into()),
            cert: None,
            key: None,
        };
        // A home without ~/.postgresql, so libpq's default files play no part; then one with a client key that
        // others may read.
        let home = tempfile::tempdir().unwrap();
        let h = Some(home.path());
        let no_root = |mode| TlsParams {
            root: None,
            ..params(mode)
        };
        let e = no_root(Mode::VerifyFull)
            .connector_in(&tcp, h)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sslmode=verify-full needs sslrootcert"), "{e}");
        let e = params(Mode::VerifyCa).connector_in(&tcp, h).err().unwrap().to_string();
        assert!(e.contains("sslrootcert /nonexistent/root.crt"), "{e}");
        assert_eq!(
            no_root(Mode::Require).connector_in(&tcp, h).unwrap().0,
            SslMode::Require
        );
        assert_eq!(no_root(Mode::Prefer).connector_in(&tcp, h).unwrap().0, SslMode::Prefer);
        assert_eq!(
            no_root(Mode::Disable).connector_in(&tcp, h).unwrap().0,
            SslMode::Disable
        );
        assert_eq!(
            no_root(Mode::VerifyFull).connector_in(&sock, h).unwrap().0,
            SslMode::Disable
        );
        let dir = home.path().join(".postgresql");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("postgresql.crt"), "").unwrap();
        let e = no_root(Mode::Require).connector_in(&tcp, h).err().unwrap().to_string();
        assert!(e.contains("postgresql.crt needs sslkey"), "{e}");
        std::fs::write(dir.join("postgresql.key"), "").unwrap();
        let e = no_root(Mode::Require).connector_in(&tcp, h).err().unwrap().to_string();
        assert!(e.contains("postgresql.crt holds no certificate"), "{e}");
    }
}
