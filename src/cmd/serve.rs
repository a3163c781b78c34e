//! `ferrica serve [CA_JSON]`

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::ca::config::CaConfig;
use crate::ca::store::postgres::PgStore;
use crate::ca::store::{Backend, RedbStore, StoreError};
use crate::cli::ServeArgs;
use crate::error::UserError;
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::keys::PrivateKey;
use crate::server::Ca;

/// Loads the CA and serves until SIGTERM/SIGINT.
pub fn run(a: ServeArgs) -> Result<u8> {
    if let Some((flag, why)) = a.step_ca.refusal() {
        return Err(UserError::usage(format!("{flag} is step-ca's, and {why}")).into());
    }
    let path = match &a.ca_config {
        Some(p) => PathBuf::from(p),
        None => crate::cmd::ca::ferrica_path()?.join("config/ca.json"),
    };
    let data = crate::io::input::read_input(&path.to_string_lossy(), "ca.json")
        .map_err(|e| e.context("run `ferrica ca init` first"))?;
    let config = CaConfig::from_json(&data).map_err(|e| UserError::input(format!("{}: {e}", path.display())))?;
    let root_path = match &config.root {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or_default().to_string(),
        _ => String::new(),
    };
    let root_der = crate::cmd::certificate::read_certs(&root_path, "root (ca.json)")?.remove(0);
    let intermediate_der = crate::cmd::certificate::read_certs(&config.crt, "crt (ca.json)")?.remove(0);
    let key_data = crate::io::input::read_input(&config.key, "key (ca.json)")?;
    let pw = if PrivateKey::is_encrypted(&key_data) {
        let from_config = config
            .extra
            .get("password")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        match (&a.password_file, from_config) {
            (None, Some(p)) => Some(zeroize::Zeroizing::new(p.as_bytes().to_vec())),
            _ => {
                let need = PasswordNeed {
                    what: format!("the intermediate key {}", config.key),
                    flag: "--password-file",
                    env: "FERRICA_PASSWORD_FILE",
                    file: a.password_file.clone(),
                    purpose: Purpose::Decrypt,
                };
                Some(password::resolve(&[need], &mut Stdin::default())?.remove(0))
            }
        }
    } else {
        None
    };
    let ssh_fallback = pw.clone();
    let intermediate_key = crate::cmd::certificate::parse_key(&key_data, pw, &config.key, "--password-file")?;
    let db = match &a.db {
        Some(url) => Some(serde_json::json!({"type": "postgresql", "dataSource": url})),
        None => config.db.clone(),
    };
    let store = open_store(db.as_ref(), &path)?;
    let address = a.address.clone().unwrap_or_else(|| config.address.clone());
    let address = any_host(address);
    let jobs_interval = crate::pki::validity::parse_duration(&a.jobs_interval)
        .ok()
        .filter(|d| d.whole_seconds() >= 1)
        .map(|d| std::time::Duration::from_secs(d.whole_seconds() as u64))
        .ok_or_else(|| {
            UserError::usage(format!(
                "--jobs-interval {:?}: a duration of a second or more, such as 10m",
                a.jobs_interval
            ))
        })?;
    let (limits, requests) = limits(&a.limits)?;
    // The plain-HTTP listener for relying parties (/crl, /ocsp, /roots.pem, /intermediate.crt, /health).
    let insecure = a
        .insecure_address
        .clone()
        .or_else(|| Some(config.insecure_address.clone()).filter(|s| !s.is_empty()))
        .map(any_host);
    // Bound now, so that the URLs written into leaves carry the real port (`:0` picks one).
    let plain_listener = match &insecure {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| UserError::usage(format!("cannot listen on {addr} (insecure address): {e}")))?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let insecure_base = match &plain_listener {
        Some(l) => {
            let port = l.local_addr()?.port();
            let host = config.dns_names.first().cloned().unwrap_or_else(|| "localhost".into());
            let host = if host.contains(':') { format!("[{host}]") } else { host };
            Some(if port == 80 {
                format!("http://{host}")
            } else {
                format!("http://{host}:{port}")
            })
        }
        None => None,
    };
    let revocation_urls =
        crate::server::RevocationUrls::new(insecure_base.as_deref(), config.extra.get("revocationUrls"))
            .map_err(|e| UserError::input(format!("{}: {e}", path.display())))?;
    let ocsp_settings = crate::server::ocsp::Settings::from_config(config.extra.get("ocsp"))
        .map_err(|e| UserError::input(format!("{}: {e}", path.display())))?;
    let (crt, key) = (config.crt.clone(), config.key.clone());
    // step-ca's federatedRoots: files of roots this CA also vouches for (GET /federation lists them).
    let mut federated_pem = Vec::new();
    for f in config
        .extra
        .get("federatedRoots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        for der in crate::cmd::certificate::read_certs(f, "federatedRoots (ca.json)")? {
            federated_pem.push(crate::server::pem("CERTIFICATE", &der));
        }
    }
    let intermediate_key = Arc::new(intermediate_key);
    let started = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut ca = Ca::new(
        config,
        Some(path.clone()),
        root_der,
        intermediate_der,
        intermediate_key.clone(),
        store,
        started,
    )
    .map_err(|e| UserError::input(format!("{crt} / {key}: {e}")))?;
    if ocsp_settings != Default::default() {
        ca.ocsp = crate::server::ocsp::Responder::new(
            ocsp_settings,
            &ca.issuer,
            &ca.intermediate_der,
            intermediate_key,
            started,
        )
        .map_err(|e| UserError::input(format!("ocsp: {e}")))?;
    }
    ca.revocation_urls = revocation_urls;
    ca.requests = requests;
    ca.federated_pem = federated_pem;
    // The SSH CA keys (`ca init --ssh`), with their own password files or the intermediate's password.
    let config = ca.config();
    for (which, file, flag, env) in [
        (
            "userKey",
            &a.ssh_user_password_file,
            "--ssh-user-password-file",
            "FERRICA_SSH_USER_PASSWORD_FILE",
        ),
        (
            "hostKey",
            &a.ssh_host_password_file,
            "--ssh-host-password-file",
            "FERRICA_SSH_HOST_PASSWORD_FILE",
        ),
    ] {
        let source = crate::cmd::ssh::SshKeyPassword {
            file: file.clone(),
            flag,
            env,
            fallback: ssh_fallback.as_deref().map(|p| &p[..]),
        };
        let key = crate::cmd::ssh::load_ssh_ca(&config, which, &source)?;
        match which {
            "userKey" => ca.ssh_user = key,
            _ => ca.ssh_host = key,
        }
    }
    // The password is wiped now, not when serve exits.
    drop(ssh_fallback);
    ca.acme.http_port = a.acme_http_port;
    ca.acme.tls_port = a.acme_tls_port;
    ca.acme.external_url = a.external_url.clone();
    if let Some(r) = &a.resolver {
        let addr = r
            .parse::<std::net::SocketAddr>()
            .or_else(|_| format!("{r}:53").parse())
            .map_err(|_| UserError::usage(format!("--resolver {r:?} is not HOST:PORT (an IP address and a port)")))?;
        ca.acme.resolver = Some(addr);
    }
    let ca = Arc::new(ca);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking threads run the synchronous store calls of the rarer routes (/sign and /ssh/sign do their crypto
        // on the async workers and await the group commit); a few per core is enough, and a bounded pool keeps
        // memory flat (hundreds of threads each fault in their own allocator pages: measured slower with
        // scripts/bench-serve.sh).
        .max_blocking_threads(4 * std::thread::available_parallelism().map_or(2, |n| n.get()))
        .build()
        .context("starting the runtime")?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = crate::io::log::BatchedStderr::new(!ansi);
    let flush_log = log.clone();
    let served = runtime.block_on(async move {
        // On a terminal each line at once; otherwise (a file, a pipe, journald) in batches: a write per
        // request was a measurable part of its cost.
        tokio::spawn(log.clone().flush_loop());
        let _ = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(ansi)
            .with_target(false)
            .try_init();
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| UserError::usage(format!("cannot listen on {address}: {e}")))?;
        let bound = listener.local_addr()?;
        eprintln!("ferrica serve: listening on https://{bound}");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let gate = crate::server::listen::Gate::new(limits);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let plain = match plain_listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l)?;
                eprintln!(
                    "ferrica serve: listening on http://{} (CRL, OCSP, roots)",
                    l.local_addr()?
                );
                let app = crate::server::insecure_app(ca.clone());
                Some(tokio::spawn(crate::server::listen::serve(
                    gate.clone(),
                    l,
                    None,
                    app,
                    stopped(stop_rx.clone()),
                )))
            }
            None => None,
        };
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let app = crate::server::app(ca.clone());
        // SIGHUP re-reads ca.json.
        let reload_ca = ca.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                match reload_ca.reload() {
                    Ok(()) => tracing::info!("reloaded ca.json"),
                    Err(e) => tracing::error!("reloading ca.json failed, keeping the old one: {e}"),
                }
            }
        });
        // The periodic jobs (ACME and used-token purges): on the instance that leads (always, on the embedded
        // store), at start and then every --jobs-interval.
        let jobs_ca = ca.clone();
        let every = jobs_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut leading = false;
            loop {
                tick.tick().await;
                let c = jobs_ca.clone();
                let r = tokio::task::spawn_blocking(move || run_jobs(&c)).await;
                match r {
                    Ok(Ok(now_leading)) => {
                        if now_leading != leading {
                            if now_leading {
                                tracing::info!("leader: this instance runs the periodic jobs");
                            } else {
                                tracing::info!("leader: another instance runs the periodic jobs");
                            }
                            leading = now_leading;
                        }
                    }
                    Ok(Err(e)) => tracing::error!("periodic jobs failed: {e}"),
                    Err(e) => tracing::error!("periodic jobs task failed: {e}"),
                }
            }
        });
        let (acceptor, renewer) = crate::server::tls::acceptor(&ca)?;
        crate::server::listen::serve(gate, listener, Some(acceptor), app, stopped(stop_rx)).await?;
        renewer.abort();
        if let Some(p) = plain {
            match tokio::time::timeout(std::time::Duration::from_secs(10), p).await {
                Ok(Ok(Err(e))) => tracing::warn!("plain-HTTP listener: {e}"),
                Err(_) => tracing::warn!("plain-HTTP listener: connections did not finish within 10 s"),
                _ => {}
            }
        }
        log.flush();
        eprintln!("ferrica serve: stopped");
        Ok::<_, anyhow::Error>(())
    });
    flush_log.flush();
    served?;
    Ok(0)
}

/// The connection and request limits from the flags; the connection cap follows the file-descriptor limit, which is
/// first raised to its hard maximum.
fn limits(a: &crate::cli::LimitArgs) -> Result<(crate::server::listen::Limits, crate::server::RequestLimits)> {
    use crate::server::listen::{DEFAULT_MAX_CONNECTIONS, Limits, RESERVED_FDS};
    let duration = |flag: &str, v: &str| {
        crate::pki::validity::parse_duration(v)
            .ok()
            .filter(|d| d.is_positive())
            .map(|d| std::time::Duration::from_millis(d.whole_milliseconds() as u64))
            .ok_or_else(|| UserError::usage(format!("{flag} {v:?}: a positive duration, such as 10s or 2m")))
    };
    let fds = raise_fd_limit();
    let fit = fds.map_or(DEFAULT_MAX_CONNECTIONS, |n| n.saturating_sub(RESERVED_FDS).max(1));
    let max_connections = match a.max_connections {
        Some(0) => return Err(UserError::usage("--max-connections 0: at least 1").into()),
        Some(n) => {
            if n > fit {
                eprintln!(
                    "warning: --max-connections {n} is more than the file-descriptor limit allows ({} open files); \
                     connections past about {fit} will wait in the kernel's queue",
                    fds.unwrap_or_default()
                );
            }
            n
        }
        None => DEFAULT_MAX_CONNECTIONS.min(fit),
    };
    let requests = request_limits(a)?;
    // RFC 9113 bounds the windows (2^31-1) and the frame size (2^14 to 2^24-1); hyper wants 8 KiB to read a head in.
    let within = |flag: &str, v: u64, lo: u64, hi: u64| in_range(flag, v, lo, hi, true);
    let window = (1 << 31) - 1;
    let h2_max_streams = in_range("--http2-max-streams", a.http2_max_streams.into(), 1, window, false)? as u32;
    let h2_stream_window = within("--http2-stream-window", a.http2_stream_window, 1, window)? as u32;
    let h2_connection_window = within("--http2-connection-window", a.http2_connection_window, 1, window)? as u32;
    let h2_max_frame = within("--http2-max-frame", a.http2_max_frame, 1 << 14, (1 << 24) - 1)? as u32;
    let header_floor = requests.header_bytes as u64;
    let h2_max_header_list = within(
        "--http2-max-header-list",
        a.http2_max_header_list,
        header_floor,
        u32::MAX.into(),
    )
    .map_err(|e| e.hint("it must be at least --max-header-bytes, so that a large header section gets 431"))?
        as u32;
    let h1_max_buffer = within(
        "--http1-max-buffer",
        a.http1_max_buffer,
        header_floor.max(8 << 10),
        1 << 30,
    )
    .map_err(|e| e.hint("it must be at least 8KiB and --max-header-bytes"))? as usize;
    if a.http2_max_pending_resets == 0 {
        return Err(UserError::usage("--http2-max-pending-resets 0: at least 1").into());
    }
    let limits = Limits {
        handshake_timeout: duration("--handshake-timeout", &a.handshake_timeout)?,
        header_timeout: duration("--header-timeout", &a.header_timeout)?,
        idle_timeout: duration("--idle-timeout", &a.idle_timeout)?,
        request_timeout: duration("--request-timeout", &a.request_timeout)?,
        max_connections,
        max_connections_per_address: a.max_connections_per_address,
        h2_max_streams,
        h2_stream_window,
        h2_connection_window,
        h2_max_frame,
        h2_max_header_list,
        h2_max_pending_resets: a.http2_max_pending_resets,
        h1_max_buffer,
    };
    Ok((limits, requests))
}

/// The body and header limits of each route, from the flags: 1 KiB to 64 MiB each.
fn request_limits(a: &crate::cli::LimitArgs) -> Result<crate::server::RequestLimits> {
    let size = |flag: &str, v: u64| in_range(flag, v, 1 << 10, 64 << 20, true).map(|v| v as usize);
    Ok(crate::server::RequestLimits {
        body: size("--max-body", a.max_body)?,
        ocsp_body: size("--max-ocsp-body", a.max_ocsp_body)?,
        acme_body: size("--max-acme-body", a.max_acme_body)?,
        header_bytes: size("--max-header-bytes", a.max_header_bytes)?,
    })
}

/// `v` when it lies in `lo..=hi`, else a usage error naming the flag and the range (for sizes, in bytes and, where
/// they are whole, KiB or MiB).
fn in_range(flag: &str, v: u64, lo: u64, hi: u64, bytes: bool) -> Result<u64, UserError> {
    if (lo..=hi).contains(&v) {
        return Ok(v);
    }
    let show = |n: u64| match n {
        _ if !bytes || n == 0 => n.to_string(),
        _ if n.is_multiple_of(1 << 20) => format!("{}MiB ({n})", n >> 20),
        _ if n.is_multiple_of(1 << 10) => format!("{}KiB ({n})", n >> 10),
        _ => n.to_string(),
    };
    let unit = if bytes { " bytes" } else { "" };
    Err(UserError::usage(format!(
        "{flag} {v}: between {} and {}{unit}",
        show(lo),
        show(hi)
    )))
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force, if known.
fn raise_fd_limit() -> Option<usize> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        if setrlimit(Resource::Nofile, l).is_err() {
            l = getrlimit(Resource::Nofile);
        }
    }
    l.current.map(|n| n.min(usize::MAX as u64) as usize)
}

/// The periodic jobs, if this instance leads; returns whether it does.
fn run_jobs(ca: &Ca) -> std::result::Result<bool, StoreError> {
    if !ca.store.lead()? {
        return Ok(false);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let p = crate::server::acme::purge(ca, now)?;
    if p != Default::default() {
        tracing::info!(
            nonces = p.nonces,
            orders = p.orders,
            authorizations = p.authorizations,
            "acme: purged expired records"
        );
    }
    // A token is refused once past its exp (plus a minute of leeway): its ID need not be kept an hour later.
    let tokens = ca.store.purge_tokens(now - 3600)?;
    if tokens > 0 {
        tracing::info!(tokens, "purged expired token IDs");
    }
    Ok(true)
}

/// The store ca.json's `db` (or `--db`) names: PostgreSQL, the embedded redb file, or memory without a `db`.
pub(crate) fn open_store(db: Option<&Value>, path: &std::path::Path) -> Result<Arc<dyn Backend>> {
    use crate::ca::config::StoreChoice;
    let Some(db) = db else {
        eprintln!("warning: ca.json has no db: used tokens and issued certificates are kept in memory only");
        return Ok(Arc::new(RedbStore::in_memory()?));
    };
    match crate::ca::config::store_choice(db).map_err(|e| UserError::input(format!("{}: db: {e}", path.display())))? {
        StoreChoice::Embedded(file) => {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            Ok(Arc::new(RedbStore::open(&file).map_err(|e| {
                UserError::input(format!("database {}: {e}", file.display()))
            })?))
        }
        StoreChoice::Postgres { url, database, options } => {
            let store = PgStore::connect(&url, database.as_deref(), &options).map_err(|e| match e {
                StoreError::Unavailable(m) => anyhow::Error::from(
                    UserError::unavailable(format!("PostgreSQL: {m}"))
                        .hint("check db.dataSource in ca.json (or --db) and that the server is running"),
                ),
                other => UserError::input(format!("PostgreSQL: {other}")).into(),
            })?;
            eprintln!("ferrica serve: store: PostgreSQL {}", store.shown());
            Ok(Arc::new(store))
        }
    }
}

/// `:port` means every address.
fn any_host(address: String) -> String {
    if address.starts_with(':') {
        format!("0.0.0.0{address}")
    } else {
        address
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
