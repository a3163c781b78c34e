//! `serve`'s connection limits against clients that stall or hoard: slowhttptest's slowloris attack, raw sockets that
//! stop mid-handshake or mid-request, a per-address and a global cap, nghttp reading the HTTP/2 SETTINGS, and a
//! server run out of file descriptors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::serve::{
    curl, init_pki, init_pki_with, sign_body, start_logged, start_logged_under, token, wait_for_200, wait_for_log,
};

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A TCP connection to the server from `source` (any 127.0.0.0/8 address is this host).
fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::STREAM, None).unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    rustix::net::bind(&socket, &from).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    rustix::net::connect(&socket, &to).unwrap();
    TcpStream::from(socket)
}

/// Whether the server closed `s` within `within` (EOF or a reset), rather than leaving it open.
fn closed_by_server(s: &mut impl Read, within: Duration) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if start.elapsed() >= within {
                    return false;
                }
            }
            Err(_) => return true,
        }
    }
}

/// A TLS client stream to the server that trusts the CA's root; `alpn` as given (none: HTTP/1.1 by sniffing).
fn tls(dir: &Path, port: u16, alpn: &[&[u8]]) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in
        ferrica::pki::der_input::parse_certificates(&std::fs::read(dir.join("pki/certs/root_ca.crt")).unwrap()).unwrap()
    {
        roots.add(rustls::pki_types::CertificateDer::from(c)).unwrap();
    }
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    s
}

fn svc_csr(dir: &Path) {
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc.lab.test",
            "svc.csr",
            "svc.key",
            "--csr",
            "--san",
            "svc.lab.test",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
}

/// curl from `source` (`--interface`): status and seconds taken.
fn timed_curl(dir: &Path, source: &str, args: &[&str]) -> (u16, f64) {
    let out = tool(
        dir,
        "curl",
        &[
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{time_total}",
                "--interface",
                source,
                "--cacert",
                "pki/certs/root_ca.crt",
            ][..],
            args,
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (code, secs) = text.split_once(' ').unwrap_or(("0", "0"));
    (code.parse().unwrap_or(0), secs.parse().unwrap_or(0.0))
}

fn summary(what: &str, times: &mut [f64]) -> String {
    times.sort_by(f64::total_cmp);
    let ms = |q: f64| times[((times.len() - 1) as f64 * q) as usize] * 1000.0;
    format!(
        "{what}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        times.len(),
        ms(0.5),
        ms(0.99),
        ms(1.0)
    )
}

#[test]
fn a_slowloris_attack_is_cut_off_by_the_header_timeout_while_health_and_sign_keep_answering() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    svc_csr(dir);
    // No per-address cap: the header timeout alone must free what the attack holds.
    let server = start_logged(
        dir,
        "serve.log",
        &["--header-timeout", "8s", "--max-connections-per-address", "0"],
    );
    let url = server.url.clone();
    // 400 connections (slowhttptest opens 100-150 a second here), each sending one more header line every second and
    // never finishing; the 8 s header timeout lets them pile up first. The attack gives up after 30 s, or as soon as
    // the server has closed every connection.
    let mut attack = Command::new("slowhttptest")
        .args([
            "-H", "-c", "400", "-r", "200", "-i", "1", "-l", "30", "-p", "3", "-g", "-o",
        ])
        .arg(dir.join("slow"))
        .args(["-u", &format!("{url}/health")])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("slow.out")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("slowhttptest is required (scripts/install-test-deps.sh)");
    let (mut health, mut sign) = (Vec::new(), Vec::new());
    let start = Instant::now();
    // Measured while the attack runs.
    std::thread::sleep(Duration::from_secs(1));
    while attack.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "slowhttptest did not stop");
        let (code, t) = timed_curl(dir, "127.0.0.1", &[&format!("{url}/health")]);
        assert_eq!(code, 200, "/health during the attack");
        health.push(t);
        let ott = token(dir, &url, "svc.lab.test", &["svc.lab.test"]);
        let body = sign_body(dir, "svc.csr", &ott);
        let (code, t) = timed_curl(
            dir,
            "127.0.0.1",
            &[
                "--data-binary",
                &format!("@{}", body.display()),
                &format!("{url}/1.0/sign"),
            ],
        );
        assert_eq!(code, 201, "/sign during the attack");
        sign.push(t);
    }
    let report = std::fs::read_to_string(dir.join("slow.out")).unwrap();
    let csv = std::fs::read_to_string(dir.join("slow.csv")).unwrap();
    // Seconds,Closed,Pending,Connected,Service Available
    let held = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    assert!(held >= 300, "the attack never held many connections open:\n{csv}");
    assert!(
        report.contains("No open connections left"),
        "the server left slow connections open until the attack gave up:\n{csv}"
    );
    assert!(health.len() >= 3, "too few requests during the attack");
    eprintln!(
        "during the attack (up to {held} slow connections): {}; {}",
        summary("/health", &mut health),
        summary("/sign", &mut sign)
    );
    let (code, _) = curl(dir, &[&format!("{url}/health")]);
    assert_eq!(code, 200);
}

#[test]
fn connections_over_the_per_address_or_global_cap_are_closed_at_once_and_others_still_served() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start_logged(
        dir,
        "serve.log",
        &["--max-connections-per-address", "3", "--max-connections", "5"],
    );
    let port = port_of(&server.url);
    let url = server.url.clone();
    let held: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.1", port)).collect();
    let mut fourth = connect_from("127.0.0.1", port);
    fourth.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(
        closed_by_server(&mut fourth, Duration::from_secs(10)),
        "a fourth connection from one address was kept"
    );
    wait_for_log(dir, "serve.log", "--max-connections-per-address", 10);
    // Another address is served meanwhile.
    assert_eq!(timed_curl(dir, "127.0.0.2", &[&format!("{url}/health")]).0, 200);
    // Five open in all (three from .1, two from .3): the global cap closes a newcomer from anywhere.
    let more: Vec<TcpStream> = (0..2).map(|_| connect_from("127.0.0.3", port)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut sixth = connect_from("127.0.0.4", port);
    sixth.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(
        closed_by_server(&mut sixth, Duration::from_secs(10)),
        "a connection over --max-connections was kept"
    );
    // When they leave, their places are free again.
    drop(held);
    drop(more);
    wait_for_200(dir, &format!("{url}/health"), 10, "places were not freed");
}

#[test]
fn stalled_handshakes_headers_bodies_and_idle_connections_are_closed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start_logged(
        dir,
        "serve.log",
        &[
            "--handshake-timeout",
            "1s",
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--request-timeout",
            "1s",
        ],
    );
    let port = port_of(&server.url);
    let patience = Duration::from_secs(15);

    // TCP, and not a byte of TLS: the handshake timeout.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(closed_by_server(&mut raw, patience), "a silent TCP connection was kept");

    // TLS done, then silence: nothing tells HTTP/1.1 from HTTP/2 yet, so the idle timeout closes it.
    let mut quiet = tls(dir, port, &[]);
    assert!(
        closed_by_server(&mut quiet, patience),
        "an idle TLS connection was kept"
    );

    // HTTP/2: the preface and SETTINGS, then silence: a GOAWAY and the close, after the idle timeout.
    let mut h2 = tls(dir, port, &[b"h2"]);
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    assert!(
        closed_by_server(&mut h2, patience),
        "an idle HTTP/2 connection was kept"
    );

    // A header section trickled a line at a time, never finished: bytes keep moving, so only the header timeout
    // can close it.
    let mut slow = tls(dir, port, &[b"http/1.1"]);
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n").unwrap();
    let start = Instant::now();
    let mut cut = false;
    for i in 0..50 {
        if slow.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).is_err()
            || closed_by_server(&mut slow, Duration::from_millis(300))
        {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "a header section trickled for {:?} was still being read",
        start.elapsed()
    );

    // A body promised and trickled: 408 with the API's JSON error.
    let mut body = tls(dir, port, &[b"http/1.1"]);
    body.write_all(
        b"POST /1.0/sign HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .unwrap();
    let mut answer = Vec::new();
    let start = Instant::now();
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") && start.elapsed() < patience {
        let _ = body.write_all(b" ");
        let mut buf = [0u8; 4096];
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "a trickled body got: {text:?}");
}

#[test]
fn http2_settings_are_the_configured_limits() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start_logged(
        dir,
        "serve.log",
        &[
            "--http2-max-streams",
            "7",
            "--http2-stream-window",
            "100000",
            "--http2-connection-window",
            "2000000",
            "--http2-max-frame",
            "32KiB",
            "--http2-max-header-list",
            "100000",
        ],
    );
    let out = Command::new("nghttp")
        .args(["-nv", "--no-verify-peer"])
        .arg(format!("{}/health", server.url))
        .current_dir(dir)
        .output()
        .expect("nghttp is required (scripts/install-test-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr_of(&out));
    for want in [
        "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7",
        "SETTINGS_INITIAL_WINDOW_SIZE(0x04):100000",
        "SETTINGS_MAX_FRAME_SIZE(0x05):32768",
        "SETTINGS_MAX_HEADER_LIST_SIZE(0x06):100000",
        // The connection window grows from RFC 9113's 65,535 by one WINDOW_UPDATE on stream 0.
        "(window_size_increment=1934465)",
        ":status: 200",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
}

#[test]
fn running_out_of_file_descriptors_is_logged_and_survived() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    // 40 descriptors: the server starts, and runs out after a handful of connections (the cap is set above that).
    let mut server = start_logged_under(
        &["prlimit", "--nofile=40:40"],
        dir,
        "serve.log",
        &["--max-connections", "1000", "--max-connections-per-address", "0"],
    );
    let text = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(text.contains("is more than the file-descriptor limit allows"), "{text}");
    let port = port_of(&server.url);
    let flood: Vec<TcpStream> = (0..60).map(|_| connect_from("127.0.0.1", port)).collect();
    wait_for_log(dir, "serve.log", "out of file descriptors", 20);
    assert!(server.child.try_wait().unwrap().is_none(), "serve died");
    drop(flood);
    wait_for_200(dir, &format!("{}/health", server.url), 20, "serve did not recover");
}

#[test]
fn bodies_over_a_routes_limit_get_413_whether_declared_or_streamed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start_logged(dir, "serve.log", &[]);
    let url = server.url.clone();
    // Just over each limit, so that curl has sent it all by the time the answer comes.
    std::fs::write(dir.join("17k"), vec![b'x'; 17 << 10]).unwrap();
    std::fs::write(dir.join("66k"), vec![b'x'; 66 << 10]).unwrap();
    // OCSP reads at most 16 KiB, the REST routes 64 KiB: with a Content-Length, and chunked without one.
    for (route, file) in [("ocsp", "17k"), ("1.0/sign", "66k"), ("revoke", "66k")] {
        for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
            let (code, body) = curl(
                dir,
                &[
                    &["--http1.1", "--data-binary", &format!("@{file}")][..],
                    extra,
                    &[&format!("{url}/{route}")],
                ]
                .concat(),
            );
            assert_eq!(code, 413, "/{route} {extra:?}: {body}");
        }
    }
    // A header section far over the 32 KiB limit is not buffered whole: hyper stops at 128 KiB with its own 431.
    std::fs::write(dir.join("huge-header"), format!("X-Huge: {}\n", "a".repeat(200 << 10))).unwrap();
    let (code, _) = curl(dir, &["--http1.1", "-H", "@huge-header", &format!("{url}/health")]);
    assert_eq!(code, 431);
    assert_eq!(curl(dir, &[&format!("{url}/health")]).0, 200);
    // A body under the limit is read and judged on its merits.
    let (code, _) = curl(dir, &["--data-binary", "@17k", &format!("{url}/1.0/sign")]);
    assert_eq!(code, 400);
}

#[test]
fn every_body_and_header_limit_is_the_one_its_flag_sets() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--acme"]);
    let server = start_logged(
        dir,
        "serve.log",
        &[
            "--max-body",
            "128KiB",
            "--max-ocsp-body",
            "2KiB",
            "--max-acme-body",
            "4096",
            "--max-header-bytes",
            "4KiB",
        ],
    );
    let url = server.url.clone();
    for (name, size) in [("3k", 3 << 10), ("5k", 5 << 10), ("66k", 66 << 10), ("130k", 130 << 10)] {
        std::fs::write(dir.join(name), vec![b'x'; size]).unwrap();
    }
    let post = |file: &str, path: &str, extra: &[&str]| {
        curl(
            dir,
            &[
                &["--http1.1", "--data-binary", &format!("@{file}")][..],
                extra,
                &[&format!("{url}{path}")],
            ]
            .concat(),
        )
    };
    // 66 KiB was over the default of 64 KiB: now it is read, and refused for what it is.
    assert_eq!(post("66k", "/1.0/sign", &[]).0, 400);
    assert_eq!(post("130k", "/1.0/sign", &[]).0, 413);
    assert_eq!(post("3k", "/ocsp", &[]).0, 413);
    // ACME's limit answers with an ACME problem document.
    let jose = ["-H", "Content-Type: application/jose+json"];
    let (code, body) = post("5k", "/acme/acme/new-account", &jose);
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("urn:ietf:params:acme:error:malformed"), "{body}");
    let (code, body) = post("3k", "/acme/acme/new-account", &jose);
    assert_eq!(code, 400, "a 3 KiB JWS is read and judged: {body}");
    // 5 KiB of header fields is over 4 KiB: 431 with a JSON body, on HTTP/1.1 and HTTP/2.
    let header = format!("X-Big: {}", "a".repeat(5 << 10));
    for proto in ["--http1.1", "--http2"] {
        let (code, body) = curl(dir, &[proto, "-H", &header, &format!("{url}/health")]);
        assert_eq!(code, 431, "{proto}: {body}");
        assert!(body.contains("at most 4096"), "{proto}: {body}");
    }
    let header = format!("X-Big: {}", "a".repeat(3 << 10));
    assert_eq!(curl(dir, &["-H", &header, &format!("{url}/health")]).0, 200);
}

#[test]
fn limit_flags_out_of_range_are_refused_with_the_flag_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    for (args, want) in [
        (&["--max-body", "12"][..], "--max-body 12: between 1KiB"),
        (&["--max-ocsp-body", "lots"][..], "--max-ocsp-body"),
        (
            &["--http2-max-frame", "1KiB"][..],
            "--http2-max-frame 1024: between 16KiB (16384) and 16777215 bytes",
        ),
        (&["--http2-max-header-list", "16KiB"][..], "--max-header-bytes"),
        (&["--http1-max-buffer", "4KiB"][..], "--http1-max-buffer 4096"),
        (&["--http2-max-pending-resets", "0"][..], "--http2-max-pending-resets 0"),
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--password-file", "pw", "--address", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: no {want:?} in {err}");
    }
}

/// One HTTP/2 frame: its 9-byte header (length, type, flags, stream) and payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK block for `GET https://localhost/health`: static-table :method and :scheme, then :path and :authority
/// as literals without indexing.
fn h2_get_health(stream: u32) -> Vec<u8> {
    let mut block = vec![0x82, 0x87, 0x04, 7];
    block.extend_from_slice(b"/health");
    block.extend_from_slice(&[0x01, 9]);
    block.extend_from_slice(b"localhost");
    // END_STREAM | END_HEADERS.
    h2_frame(0x1, 0x5, stream, &block)
}

/// Opens `resets` streams and cancels each at once (RST_STREAM, CANCEL), all in one write, then asks for /health on
/// one more stream. Returns the GOAWAY error code if the server sent one, or None if it answered the last request.
fn rapid_reset(dir: &Path, port: u16, resets: u32) -> Option<u32> {
    let mut h2 = tls(dir, port, &[b"h2"]);
    let mut burst = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    burst.extend(h2_frame(0x4, 0, 0, &[]));
    for i in 0..resets {
        let id = 2 * i + 1;
        burst.extend(h2_get_health(id));
        burst.extend(h2_frame(0x3, 0, id, &8u32.to_be_bytes()));
    }
    let last = 2 * resets + 1;
    burst.extend(h2_get_health(last));
    h2.write_all(&burst).unwrap();
    h2.flush().unwrap();
    // Frames until a GOAWAY or the answer's HEADERS on the last stream.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        while buf.len() >= 9 {
            let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
            if buf.len() < 9 + len {
                break;
            }
            let (kind, stream) = (
                buf[3],
                u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff,
            );
            let payload = buf[9..9 + len].to_vec();
            buf.drain(..9 + len);
            match kind {
                0x7 => return Some(u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]])),
                0x1 if stream == last => return None,
                _ => {}
            }
        }
        assert!(Instant::now() < deadline, "neither a GOAWAY nor an answer within 10 s");
        match h2.read(&mut chunk) {
            Ok(0) => panic!("the connection closed without a GOAWAY"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading frames: {e}"),
        }
    }
}

#[test]
fn streams_reset_before_they_are_answered_close_the_connection_past_the_configured_cap() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    // ENHANCE_YOUR_CALM (0xb) once more than 5 streams wait reset; under a cap of 500 the same burst is served.
    for (cap, want) in [("5", Some(0xb)), ("500", None)] {
        let server = start_logged(dir, "serve.log", &["--http2-max-pending-resets", cap]);
        assert_eq!(rapid_reset(dir, port_of(&server.url), 50), want, "a cap of {cap}");
        assert_eq!(curl(dir, &[&format!("{}/health", server.url)]).0, 200);
    }
}
