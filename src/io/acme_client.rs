//! The ACME client of `ferrica ca certificate --acme`: instant-acme speaks RFC 8555; this module keeps the
//! account's credentials under `$FERRICA_PATH/acme/`, answers http-01 from its own listener (`--standalone`) or by
//! writing files into a web root (`--webroot`), and maps failures to exit codes (a problem from the CA is a refusal,
//! exit 4; the network, exit 5).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};

use crate::error::{ErrorKind, UserError};

/// How the http-01 challenge is answered.
#[derive(Debug, Clone)]
pub enum Responder {
    /// A listener of our own on this address for the duration of the order.
    Standalone(SocketAddr),
    /// Files under `<dir>/.well-known/acme-challenge/`, served by the user's web server.
    Webroot(PathBuf),
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The directory URL.
    pub directory: String,
    /// A root to trust for the CA's HTTPS (a private CA); `None`: the system's roots.
    pub root: Option<PathBuf>,
    /// Where the account credentials live (created on first use, 0600).
    pub account_file: PathBuf,
    /// `mailto:` contacts for a new account.
    pub contacts: Vec<String>,
    /// DNS names and IP addresses.
    pub identifiers: Vec<crate::pki::issue::San>,
    /// The CSR (DER).
    pub csr_der: Vec<u8>,
    /// How to answer http-01.
    pub responder: Responder,
}

fn refused(e: instant_acme::Error, what: &str) -> anyhow::Error {
    match e {
        instant_acme::Error::Api(p) => {
            let mut msg = format!(
                "{what}: the ACME server answered {}: {}",
                p.r#type.as_deref().unwrap_or("an error"),
                p.detail.as_deref().unwrap_or("")
            );
            for s in &p.subproblems {
                msg.push_str(&format!("; {:?}: {}", s.identifier, s.detail.as_deref().unwrap_or("")));
            }
            UserError {
                kind: ErrorKind::Refused,
                msg,
                hint: None,
            }
            .into()
        }
        instant_acme::Error::Timeout(_) => {
            UserError::unavailable(format!("{what}: the ACME server did not finish in time")).into()
        }
        other => UserError::unavailable(format!("{what}: {other}")).into(),
    }
}

/// Gets a certificate chain (PEM) for the request.
pub fn obtain(req: &Request) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(obtain_async(req))
}

fn builder(root: Option<&Path>) -> Result<instant_acme::AccountBuilder> {
    match root {
        Some(r) => {
            Account::builder_with_root(r).map_err(|e| UserError::input(format!("--root {}: {e}", r.display())).into())
        }
        None => Account::builder().map_err(|e| UserError::input(format!("TLS roots: {e}")).into()),
    }
}

async fn account(req: &Request) -> Result<Account> {
    if let Ok(data) = std::fs::read(&req.account_file) {
        let creds: AccountCredentials = serde_json::from_slice(&data).map_err(|e| {
            UserError::input(format!(
                "{}: not ACME account credentials: {e}",
                req.account_file.display()
            ))
        })?;
        return builder(req.root.as_deref())?
            .from_credentials(creds)
            .await
            .map_err(|e| refused(e, "loading the ACME account"));
    }
    let contacts: Vec<&str> = req.contacts.iter().map(String::as_str).collect();
    let (account, creds) = builder(req.root.as_deref())?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            req.directory.clone(),
            None,
        )
        .await
        .map_err(|e| refused(e, "creating the ACME account"))?;
    if let Some(dir) = req.account_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = crate::io::output::OutputSet::new(true);
    out.stage(
        &req.account_file,
        &serde_json::to_vec_pretty(&creds)?,
        crate::io::output::KEY_MODE,
    )?;
    out.commit()?;
    Ok(account)
}

/// http-01 answers: token -> key authorization.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Serves `/.well-known/acme-challenge/<token>` from `tokens` on `addr` until the returned task is aborted.
pub async fn standalone(addr: SocketAddr, tokens: Tokens) -> Result<tokio::task::JoinHandle<()>> {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        UserError::usage(format!("--http-listen {addr}: cannot listen: {e}"))
            .hint("http-01 needs port 80 (root, or CAP_NET_BIND_SERVICE), or the CA's test port")
    })?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |r: hyper::Request<hyper::body::Incoming>| {
                    let tokens = tokens.clone();
                    async move {
                        let token = r
                            .uri()
                            .path()
                            .strip_prefix("/.well-known/acme-challenge/")
                            .unwrap_or("");
                        let answer = tokens.lock().ok().and_then(|t| t.get(token).cloned());
                        let res = match answer {
                            Some(ka) => hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(ka))),
                            None => {
                                let mut r = hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::new()));
                                *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                                r
                            }
                        };
                        Ok::<_, std::convert::Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    }))
}

async fn obtain_async(req: &Request) -> Result<String> {
    use crate::pki::issue::San;
    let account = account(req).await?;
    let identifiers: Vec<Identifier> = req
        .identifiers
        .iter()
        .map(|s| match s {
            San::Ip(ip) => Ok(Identifier::Ip(*ip)),
            San::Dns(d) => Ok(Identifier::Dns(d.clone())),
            other => Err(UserError::usage(format!(
                "ACME certifies DNS names and IP addresses, not {other:?}"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| refused(e, "new order"))?;
    let tokens: Tokens = Arc::default();
    let _server = match &req.responder {
        Responder::Standalone(addr) => Some(AbortOnDrop(standalone(*addr, tokens.clone()).await?)),
        Responder::Webroot(_) => None,
    };
    let mut written = Vec::new();
    {
        let mut auths = order.authorizations();
        while let Some(a) = auths.next().await {
            let mut a = a.map_err(|e| refused(e, "authorization"))?;
            if a.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut ch = a
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| UserError::refused("the ACME server offers no http-01 challenge"))?;
            let key_auth = ch.key_authorization().as_str().to_string();
            let token = ch.token.clone();
            match &req.responder {
                Responder::Standalone(_) => {
                    if let Ok(mut t) = tokens.lock() {
                        t.insert(token, key_auth);
                    }
                }
                Responder::Webroot(root) => {
                    let dir = root.join(".well-known/acme-challenge");
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| UserError::input(format!("--webroot {}: {e}", dir.display())))?;
                    let file = dir.join(&token);
                    std::fs::write(&file, key_auth.as_bytes())
                        .map_err(|e| UserError::input(format!("--webroot {}: {e}", file.display())))?;
                    written.push(file);
                }
            }
            ch.set_ready().await.map_err(|e| refused(e, "challenge"))?;
        }
    }
    let poll = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(90));
    let status = order.poll_ready(&poll).await.map_err(|e| refused(e, "validation"));
    for f in &written {
        let _ = std::fs::remove_file(f);
    }
    if status? != OrderStatus::Ready {
        return Err(UserError::refused("the ACME order is invalid").into());
    }
    order
        .finalize_csr(&req.csr_der)
        .await
        .map_err(|e| refused(e, "finalize"))?;
    order
        .poll_certificate(&poll)
        .await
        .map_err(|e| refused(e, "certificate"))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
