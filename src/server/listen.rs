//! The listening edge of `serve`: accepts TCP connections, and keeps slow or greedy clients from starving the rest.
//!
//! Each connection is admitted by a [`Gate`] (a cap on all open connections and on those from one address; over it,
//! the connection is closed at once), then gets a TLS-handshake timeout, an HTTP/1.1 header-read timeout (which is
//! also how long a keep-alive connection may sit between requests), an idle timeout (no byte moved either way, on
//! either protocol), a request timeout (408 when a request is not read and answered in time) and HTTP/2 settings
//! chosen on purpose ([`Limits`]). Running out of file descriptors is logged and waited out, never a crash or a busy
//! loop. Both listeners (HTTPS and the plain-HTTP one) go through here with one gate.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use super::{ApiError, PeerAddr, PeerChain};

/// The limits every connection is served under; `serve --help` lists the flags that set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A TLS handshake that takes longer is dropped.
    pub handshake_timeout: Duration,
    /// An HTTP/1.1 request's header section must arrive within this (and a keep-alive connection is closed after
    /// this long without a new request).
    pub header_timeout: Duration,
    /// A connection on which no byte moved for this long is closed (gracefully: HTTP/2 gets a GOAWAY).
    pub idle_timeout: Duration,
    /// A request not read and answered within this gets 408.
    pub request_timeout: Duration,
    /// Open connections, over both listeners; more are closed as they arrive.
    pub max_connections: usize,
    /// Open connections from one IP address (0: no cap).
    pub max_connections_per_address: usize,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
    pub h2_max_streams: u32,
    /// HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE (per stream), in bytes.
    pub h2_stream_window: u32,
    /// The HTTP/2 connection-level flow-control window, in bytes.
    pub h2_connection_window: u32,
    /// HTTP/2 SETTINGS_MAX_FRAME_SIZE: the largest frame a client may send, in bytes.
    pub h2_max_frame: u32,
    /// HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE, in bytes. h2 refuses a stream (REFUSED_STREAM, no status) whose header
    /// block is over it, so it stays above the header limit that `server::limit_request_head` answers 431 for.
    pub h2_max_header_list: u32,
    /// HTTP/2: streams a client may open and reset before they are answered; one more closes the connection with
    /// ENHANCE_YOUR_CALM (the "rapid reset" attack, CVE-2023-44487).
    pub h2_max_pending_resets: usize,
    /// HTTP/1.1: the most a connection buffers while reading a request head (hyper answers 431 itself above it).
    pub h1_max_buffer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: 256,
            h2_max_streams: 64,
            h2_stream_window: 256 << 10,
            h2_connection_window: 1 << 20,
            h2_max_frame: 16 << 10,
            h2_max_header_list: 256 << 10,
            h2_max_pending_resets: 20,
            h1_max_buffer: 128 << 10,
        }
    }
}

/// The connection cap when the file-descriptor limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// File descriptors kept for everything but connections (the store, listeners, logs, ACME validation).
pub const RESERVED_FDS: usize = 64;

/// How long open connections may take to finish when the server stops.
const DRAIN: Duration = Duration::from_secs(10);

/// Counts open connections, in all and per address.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    refused: Refusals,
}

/// A connection the gate let in; leaving frees its place.
#[derive(Debug)]
pub struct Admitted {
    gate: Arc<Gate>,
    ip: IpAddr,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` are open.
    Full,
    /// `max_connections_per_address` are open from this address.
    PerAddress,
}

impl Gate {
    /// A gate for connections served under `limits`.
    pub fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            open: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            refused: Refusals::default(),
        })
    }

    /// The limits connections are served under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Lets a connection from `ip` in, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let mut per = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
            return Err(Refused::Full);
        }
        let n = per.entry(ip).or_insert(0);
        if self.limits.max_connections_per_address > 0 && *n >= self.limits.max_connections_per_address {
            return Err(Refused::PerAddress);
        }
        *n += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted { gate: self.clone(), ip })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per = self.gate.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Refused connections, logged at most every [`Refusals::EVERY`] with how many there were.
#[derive(Debug, Default)]
struct Refusals {
    full: AtomicU64,
    per_address: AtomicU64,
    last_log: Mutex<Option<Instant>>,
}

impl Refusals {
    const EVERY: Duration = Duration::from_secs(10);

    fn note(&self, why: Refused, ip: IpAddr, limits: &Limits) {
        match why {
            Refused::Full => self.full.fetch_add(1, Ordering::Relaxed),
            Refused::PerAddress => self.per_address.fetch_add(1, Ordering::Relaxed),
        };
        let mut last = self.last_log.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let (full, per) = (
            self.full.swap(0, Ordering::Relaxed),
            self.per_address.swap(0, Ordering::Relaxed),
        );
        tracing::warn!(
            refused_full = full,
            refused_per_address = per,
            last_address = %ip,
            "closing new connections: {} open connections is the cap (--max-connections), {} from one address \
             (--max-connections-per-address)",
            limits.max_connections,
            limits.max_connections_per_address,
        );
    }
}

/// Milliseconds on a monotonic clock that starts with the first connection.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A stream that remembers when bytes last moved on it, for the idle timeout.
struct Watched<T> {
    inner: T,
    last: Arc<AtomicU64>,
}

impl<T> Watched<T> {
    fn touch(&self) {
        self.last.store(now_ms(), Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Whether an accept error means the process (or system) is out of file descriptors or socket memory.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|x| e.raw_os_error() == Some(x.raw_os_error()))
}

/// 408 for a request that is not read and answered within the request timeout.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            408,
            format!("the request was not read and answered within {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then lets open connections
/// finish (at most 10 s).
pub async fn serve(
    gate: Arc<Gate>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let limits = gate.limits.clone();
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits.request_timeout,
        request_timeout,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut last_fd_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) if out_of_descriptors(&e) => {
                    // The connection stays in the kernel's queue; retrying at once would spin.
                    if last_fd_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                        tracing::error!(
                            open_connections = gate.open(),
                            "accept: {e}: out of file descriptors; new connections wait until some close \
                             (raise the limit with `ulimit -n`, or lower --max-connections)"
                        );
                        last_fd_warning = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!("accept: {e}");
                    continue;
                }
            },
        };
        let admitted = match gate.admit(addr.ip()) {
            Ok(a) => a,
            Err(why) => {
                gate.refused.note(why, addr.ip(), &limits);
                drop(tcp);
                continue;
            }
        };
        // Answers go out at once: Nagle's algorithm with delayed ACKs costs about 40 ms per request.
        let _ = tcp.set_nodelay(true);
        let last = Arc::new(AtomicU64::new(now_ms()));
        let io = Watched {
            inner: tcp,
            last: last.clone(),
        };
        let tls = tls.clone();
        let app = app.clone();
        let limits = limits.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(io)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%addr, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%addr, "TLS handshake timed out");
                            return;
                        }
                    };
                    let peer = PeerChain(
                        stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .map(|c| Arc::new(c.iter().map(|d| d.as_ref().to_vec()).collect())),
                    );
                    connection(stream, addr, peer, app, &limits, last, stop).await
                }
                None => connection(io, addr, PeerChain(None), app, &limits, last, stop).await,
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let start = Instant::now();
    while gate.open() > 0 && start.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if gate.open() > 0 {
        tracing::warn!(
            "{} connections did not finish within {} s",
            gate.open(),
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// Serves HTTP/1.1 or HTTP/2 on one connection under `limits`, closing it when idle or when the server stops.
async fn connection<I>(
    io: I,
    addr: SocketAddr,
    peer: PeerChain,
    app: axum::Router,
    limits: &Limits,
    last: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = tower::ServiceExt::map_request(app, move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer.clone());
        req.extensions_mut().insert(PeerAddr(addr));
        req
    });
    let svc = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // What one connection may buffer of a request head: hyper's default is about 400 KiB. Above the header
        // limit the middleware answers 431 with a JSON body; above this, hyper answers 431 itself.
        .max_buf_size(limits.h1_max_buffer);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams)
        .initial_stream_window_size(limits.h2_stream_window)
        .initial_connection_window_size(limits.h2_connection_window)
        .max_frame_size(limits.h2_max_frame)
        .max_pending_accept_reset_streams(limits.h2_max_pending_resets)
        // No keep-alive PINGs from the server: they would count as traffic and keep an idle connection open forever.
        // A dead peer is found by the idle timeout instead.
        .keep_alive_interval(None)
        .max_header_list_size(limits.h2_max_header_list);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let idle_ms = limits.idle_timeout.as_millis() as u64;
    // Once closing (idle, or the server stopping), in-flight requests get this long before the connection is dropped.
    let grace = limits.request_timeout + Duration::from_secs(1);
    let mut closing: Option<Instant> = None;
    loop {
        let quiet = now_ms().saturating_sub(last.load(Ordering::Relaxed));
        let wake = match closing {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::from_millis(idle_ms.saturating_sub(quiet).max(10)),
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%addr, "connection: {e}");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + DRAIN);
            }
            _ = tokio::time::sleep(wake) => {
                if let Some(deadline) = closing {
                    if Instant::now() >= deadline {
                        tracing::debug!(%addr, "connection dropped: still busy after closing");
                        return;
                    }
                } else if now_ms().saturating_sub(last.load(Ordering::Relaxed)) >= idle_ms {
                    tracing::debug!(%addr, "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + grace);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, per: usize) -> Arc<Gate> {
        Gate::new(Limits {
            max_connections: total,
            max_connections_per_address: per,
            ..Limits::default()
        })
    }

    #[test]
    fn the_gate_caps_one_address_and_frees_places_when_connections_leave() {
        let g = gate(10, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = g.admit(a).unwrap();
        let _second = g.admit(a).unwrap();
        assert_eq!(g.admit(a).unwrap_err(), Refused::PerAddress);
        let _other = g.admit(b).unwrap();
        assert_eq!(g.open(), 3);
        drop(first);
        assert_eq!(g.open(), 2);
        let _again = g.admit(a).unwrap();
    }

    #[test]
    fn the_gate_caps_all_connections_and_zero_means_no_per_address_cap() {
        let g = gate(3, 0);
        let a: IpAddr = "::1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| g.admit(a).unwrap()).collect();
        assert_eq!(g.admit("10.0.0.1".parse().unwrap()).unwrap_err(), Refused::Full);
        drop(held);
        assert_eq!(g.open(), 0);
        assert!(
            g.per_address.lock().unwrap().is_empty(),
            "addresses with no connection are forgotten"
        );
    }

    #[test]
    fn emfile_and_enfile_count_as_running_out_of_descriptors() {
        for errno in [24, 23] {
            assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(errno)));
        }
        assert!(!out_of_descriptors(&std::io::Error::from_raw_os_error(103)));
    }
}
