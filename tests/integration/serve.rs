//! `ferrica serve` on 127.0.0.1:0, driven with curl and the CLI; openssl judges the certificates.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// A running server; killed on drop so that a failing test leaves nothing behind.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(dir: &Path) -> Server {
    start_at(dir, "127.0.0.1:0")
}

/// `ferrica serve` on `address`; waits for its "listening on" line (warnings may come first).
pub(crate) fn start_at(dir: &Path, address: &str) -> Server {
    start_with(dir, address, &[])
}

/// [`start_at`] with more `serve` flags.
pub(crate) fn start_with(dir: &Path, address: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--password-file", "pw", "--address", address])
        .args(extra)
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = loop {
        let line = lines.next().expect("serve stopped before listening").unwrap();
        if line.contains("listening on") {
            break line;
        }
    };
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{first}");
    // Keep draining stderr (request logs) so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// `ferrica serve` with its stderr in `log` (read by the test), on 127.0.0.1:0.
pub(crate) fn start_logged(dir: &Path, log: &str, extra: &[&str]) -> Server {
    start_logged_under(&[], dir, log, extra)
}

/// [`start_logged`] run through a wrapper command (`wrapper` then ferrica's path and arguments), e.g. `prlimit`.
pub(crate) fn start_logged_under(wrapper: &[&str], dir: &Path, log: &str, extra: &[&str]) -> Server {
    let file = std::fs::File::create(dir.join(log)).unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    let child = cmd
        .args(["serve", "--password-file", "pw", "--address", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    // Killed and reaped on drop, whatever happens below.
    let mut server = Server {
        child,
        url: String::new(),
    };
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
        if let Some(url) = text.split_whitespace().find(|w| w.starts_with("https://")) {
            server.url = url.to_string();
            return server;
        }
        assert!(start.elapsed().as_secs() < 20, "serve did not start:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub(crate) fn wait_for_log(dir: &Path, log: &str, needle: &str, secs: u64) {
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            start.elapsed().as_secs() < secs,
            "{needle:?} not in {log} within {secs} s:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Waits until `url` answers 200 (curl, trusting the CA's root), for at most `secs`; `what` says what failed.
pub(crate) fn wait_for_200(dir: &Path, url: &str, secs: u64, what: &str) {
    let start = std::time::Instant::now();
    while curl(dir, &[url]).0 != 200 {
        assert!(
            start.elapsed().as_secs() < secs,
            "{what}: {url} not 200 within {secs} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The plain-HTTP base URL that a server started by [`start_logged`] with `--insecure-address` printed to `log`.
pub(crate) fn plain_url(dir: &Path, log: &str) -> String {
    wait_for_log(dir, log, "http://", 20);
    let text = std::fs::read_to_string(dir.join(log)).unwrap();
    text.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string()
}

pub(crate) fn curl(dir: &Path, args: &[&str]) -> (u16, String) {
    let out = tool(
        dir,
        "curl",
        &[
            &["-s", "-w", "\n%{http_code}", "--cacert", "pki/certs/root_ca.crt"][..],
            args,
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap_or(0), body.to_string())
}

pub(crate) fn token(dir: &Path, url: &str, subject: &str, sans: &[&str]) -> String {
    let mut c = ferrica(dir);
    c.env("FERRICA_PATH", dir.join("pki")).args([
        "ca",
        "token",
        subject,
        "--offline",
        "--password-file",
        "pw",
        "--ca-url",
        url,
    ]);
    for s in sans {
        c.args(["--san", s]);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub(crate) fn sign_body(dir: &Path, csr: &str, ott: &str) -> PathBuf {
    let body = serde_json::json!({"csr": std::fs::read_to_string(dir.join(csr)).unwrap(), "ott": ott});
    let p = dir.join(format!("{csr}.{}.json", &ott[ott.len() - 8..]));
    std::fs::write(&p, body.to_string()).unwrap();
    p
}

#[test]
fn init_serve_sign_and_refuse() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    let url = server.url.clone();

    let (code, body) = curl(dir, &[&format!("{url}/health")]);
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    let fp = String::from_utf8_lossy(
        &ferrica(dir)
            .args(["certificate", "fingerprint", "pki/certs/root_ca.crt"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let (code, body) = curl(dir, &[&format!("{url}/1.0/root/{fp}")]);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["ca"],
        std::fs::read_to_string(dir.join("pki/certs/root_ca.crt")).unwrap()
    );
    assert_eq!(curl(dir, &[&format!("{url}/root/{}", "0".repeat(64))]).0, 404);
    let (code, body) = curl(dir, &[&format!("{url}/provisioners")]);
    let provs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200);
    let kid = provs["provisioners"][0]["key"]["kid"].as_str().unwrap().to_string();
    let (code, body) = curl(dir, &[&format!("{url}/1.0/provisioners/{kid}/encrypted-key")]);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["key"],
        provs["provisioners"][0]["encryptedKey"]
    );

    // Token -> certificate; the chain verifies with openssl; step-ca's response shape.
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
            "--san",
            "10.0.0.5",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let ott = token(dir, &url, "svc.lab.test", &["svc.lab.test", "10.0.0.5"]);
    let body = sign_body(dir, "svc.csr", &ott);
    let (code, resp) = curl(
        dir,
        &["-d", &format!("@{}", body.display()), &format!("{url}/1.0/sign")],
    );
    assert_eq!(code, 201, "{resp}");
    let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(v["certChain"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["ca"],
        std::fs::read_to_string(dir.join("pki/certs/intermediate_ca.crt")).unwrap()
    );
    std::fs::write(dir.join("svc.crt"), v["crt"].as_str().unwrap()).unwrap();
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-untrusted",
            "pki/certs/intermediate_ca.crt",
            "svc.crt",
        ],
    );
    let text = openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-text"]);
    assert!(text.contains("DNS:svc.lab.test, IP Address:10.0.0.5"), "{text}");

    // The same token again, a SAN outside the token, a garbage token, malformed JSON, an oversized body.
    let (code, resp) = curl(
        dir,
        &["-d", &format!("@{}", body.display()), &format!("{url}/1.0/sign")],
    );
    assert_eq!(code, 401, "{resp}");
    assert!(resp.contains("token already used"));
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "evil.test",
            "evil.csr",
            "evil.key",
            "--csr",
            "--san",
            "evil.test",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let ott2 = token(dir, &url, "svc.lab.test", &["svc.lab.test"]);
    let (code, resp) = curl(
        dir,
        &[
            "-d",
            &format!("@{}", sign_body(dir, "evil.csr", &ott2).display()),
            &format!("{url}/sign"),
        ],
    );
    assert_eq!(code, 403, "{resp}");
    let (code, _) = curl(
        dir,
        &[
            "-d",
            &format!(
                "@{}",
                sign_body(dir, "svc.csr", "garbage.token.value-12345678").display()
            ),
            &format!("{url}/sign"),
        ],
    );
    assert_eq!(code, 401);
    let (code, resp) = curl(dir, &["-d", "{not json", &format!("{url}/sign")]);
    assert_eq!(code, 400);
    assert!(serde_json::from_str::<serde_json::Value>(&resp).unwrap()["status"] == 400);
    std::fs::write(dir.join("big"), vec![b'x'; 2 << 20]).unwrap();
    // HTTP/1.1 with `Expect: 100-continue` (curl's default for a body this size): the server refuses from the
    // Content-Length alone. Over HTTP/2 curl may still be sending when the 413 arrives and report a send error.
    assert_eq!(
        curl(
            dir,
            &[
                "--http1.1",
                "--expect100-timeout",
                "30",
                "--data-binary",
                "@big",
                &format!("{url}/sign")
            ]
        )
        .0,
        413
    );
    // Still serving; SIGTERM drains and exits 0.
    assert_eq!(curl(dir, &[&format!("{url}/health")]).0, 200);
    let mut server = server;
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

pub(crate) fn init_pki(dir: &Path) {
    init_pki_with(dir, &[]);
}

/// [`init_pki`] with more `ca init` flags (e.g. `--no-db`).
pub(crate) fn init_pki_with(dir: &Path, extra: &[&str]) {
    init_pki_as(dir, "ca-secret", extra);
}

/// [`init_pki_with`] under another password (written to `pw`).
pub(crate) fn init_pki_as(dir: &Path, password: &str, extra: &[&str]) {
    pw_file(dir, "pw", &format!("{password}\n"));
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "init",
            "--name",
            "Lab",
            "--dns",
            "127.0.0.1",
            "--dns",
            "localhost",
            "--provisioner",
            "ci@lab.test",
            "--password-file",
            "pw",
        ])
        .args(extra)
        .assert()
        .success();
}

/// `ferrica` with FERRICA_PATH=pki and the CA URL and root in the environment.
pub(crate) fn client(dir: &Path, url: &str) -> assert_cmd::Command {
    let mut c = ferrica(dir);
    c.env("FERRICA_PATH", dir.join("pki"))
        .env("FERRICA_CA_URL", url)
        .env("FERRICA_ROOT", dir.join("pki/certs/root_ca.crt"));
    c
}

pub(crate) fn inspect(dir: &Path, crt: &str) -> serde_json::Value {
    let out = ferrica(dir)
        .args(["certificate", "inspect", crt, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn serial(dir: &Path, crt: &str) -> String {
    inspect(dir, crt)["serial_number"].as_str().unwrap().to_string()
}

/// The serial's DER content bytes, lowercase hex (the JSON carries the decimal only, as step's does).
pub(crate) fn serial_hex(dir: &Path, crt: &str) -> String {
    let pem = std::fs::read(dir.join(crt)).unwrap();
    let der = x509_parser::pem::parse_x509_pem(&pem).unwrap().1.contents;
    hex::encode(x509_parser::parse_x509_certificate(&der).unwrap().1.raw_serial())
}

pub(crate) fn verify_chain(dir: &Path, crt: &str) {
    openssl_ok(
        dir,
        &["verify", "-CAfile", "pki/certs/root_ca.crt", "-untrusted", crt, crt],
    );
}

pub(crate) fn wait_for_lines(path: &Path, n: usize) {
    let start = std::time::Instant::now();
    while std::fs::read_to_string(path).map_or(0, |s| s.lines().count()) < n {
        assert!(
            start.elapsed().as_secs() < 30,
            "{} never reached {n} lines",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub(crate) fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn client_commands_against_a_running_ca() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    let url = server.url.clone();

    // health, provisioners via the CA, an online token (the provisioner key is fetched from the CA).
    client(dir, &url)
        .args(["ca", "health"])
        .assert()
        .success()
        .stdout("ok\n");
    let out = client(dir, &url)
        .args([
            "ca",
            "provisioner",
            "list",
            "--ca-url",
            &url,
            "--root",
            "pki/certs/root_ca.crt",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"ci@lab.test\""),
        "{}",
        stderr_of(&out)
    );
    let out = client(dir, &url)
        .args([
            "ca",
            "token",
            "svc.lab.test",
            "--san",
            "svc.lab.test",
            "--san",
            "10.0.0.5",
            "--password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ott = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // certificate with the token: chain verifies, key 0600 and readable by openssl.
    client(dir, &url)
        .args([
            "ca",
            "certificate",
            "svc.lab.test",
            "svc.crt",
            "svc.key",
            "--token",
            &ott,
            "--san",
            "svc.lab.test",
            "--san",
            "10.0.0.5",
        ])
        .assert()
        .success();
    verify_chain(dir, "svc.crt");
    openssl_ok(dir, &["pkey", "-in", "svc.key", "-noout"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.join("svc.key")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-text"]);
    assert!(text.contains("DNS:svc.lab.test, IP Address:10.0.0.5"), "{text}");

    // The same token again: refused (exit 4), nothing written.
    let out = client(dir, &url)
        .args([
            "ca",
            "certificate",
            "svc.lab.test",
            "again.crt",
            "again.key",
            "--token",
            &ott,
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "token already used");
    assert!(!dir.join("again.crt").exists() && !dir.join("again.key").exists());

    // A token minted by the command itself, the provisioner password piped in.
    client(dir, &url)
        .args([
            "ca",
            "certificate",
            "other.lab.test",
            "other.crt",
            "other.key",
            "--provisioner",
            "ci@lab.test",
            "--not-after",
            "2h",
        ])
        .write_stdin("ca-secret\n")
        .assert()
        .success();
    verify_chain(dir, "other.crt");
    // 2h plus the minute of backdate, cut where the intermediate (made seconds ago) begins.
    let life = inspect(dir, "other.crt")["validity"]["length"].as_i64().unwrap();
    assert!((2 * 3600..=2 * 3600 + 60).contains(&life), "{life}");

    // A SAN outside the token is refused by the CA (403 -> exit 4).
    let out = client(dir, &url)
        .args(["ca", "token", "svc.lab.test", "--password-file", "pw"])
        .output()
        .unwrap();
    let ott2 = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = client(dir, &url)
        .args([
            "ca",
            "certificate",
            "svc.lab.test",
            "evil.crt",
            "evil.key",
            "--token",
            &ott2,
            "--san",
            "evil.test",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "do not match the token");

    // ca sign with an openssl CSR.
    tool(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "csr.key",
            "-out",
            "web.csr",
            "-subj",
            "/CN=web.lab.test",
            "-addext",
            "subjectAltName=DNS:web.lab.test",
        ],
    );
    client(dir, &url)
        .args(["ca", "sign", "web.csr", "web.crt", "--provisioner-password-file", "pw"])
        .assert()
        .success();
    verify_chain(dir, "web.crt");

    // Renew over mTLS: new serial, later notAfter, same key; then with a token signed by the key (--mtls=false).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (s0, na0) = (
        serial(dir, "svc.crt"),
        inspect(dir, "svc.crt")["validity"]["end"].clone(),
    );
    let out = client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "--force");
    client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--force"])
        .assert()
        .success();
    let (s1, na1) = (
        serial(dir, "svc.crt"),
        inspect(dir, "svc.crt")["validity"]["end"].clone(),
    );
    assert_ne!(s0, s1);
    assert!(na1.as_str().unwrap() > na0.as_str().unwrap(), "{na0} -> {na1}");
    verify_chain(dir, "svc.crt");
    openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-checkend", "3600"]);
    client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--mtls=false", "--out", "svc2.crt"])
        .assert()
        .success();
    assert_ne!(serial(dir, "svc2.crt"), s1);
    // --expires-in: not due yet, nothing written.
    client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--force", "--expires-in", "1h"])
        .assert()
        .success()
        .stderr(predicates::str::contains("not renewed"));
    assert_eq!(serial(dir, "svc.crt"), s1);

    // Revoke over mTLS with the certificate itself; renewals are refused; the serial is on the CRL.
    client(dir, &url)
        .args([
            "ca",
            "revoke",
            "--cert",
            "svc.crt",
            "--key",
            "svc.key",
            "--reasonCode",
            "1",
            "--reason",
            "test",
        ])
        .assert()
        .success();
    let out = client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--force"])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "revoked");
    // Revoke with a token minted online (serial of other.crt).
    let other = serial(dir, "other.crt");
    client(dir, &url)
        .args(["ca", "revoke", &other, "--provisioner-password-file", "pw"])
        .assert()
        .success();
    let out = client(dir, &url)
        .args(["ca", "revoke", &other, "--provisioner-password-file", "pw"])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "already revoked");
    let (code, _) = curl(dir, &["-o", "crl.der", &format!("{url}/crl")]);
    assert_eq!(code, 200);
    let crl = openssl_ok(
        dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-noout",
            "-text",
            "-CAfile",
            "pki/certs/intermediate_ca.crt",
        ],
    );
    let hex_of = |dec: &str| serial_hex(dir, if dec == other { "other.crt" } else { "svc.crt" }).to_ascii_uppercase();
    assert!(crl.contains(&hex_of(&s1)) && crl.contains(&hex_of(&other)), "{crl}");
    assert!(crl.contains("Key Compromise"), "{crl}");
    let (code, pem) = curl(dir, &[&format!("{url}/1.0/crl?pem")]);
    assert_eq!(code, 200);
    assert!(pem.starts_with("-----BEGIN X509 CRL-----"), "{pem}");
    std::fs::write(dir.join("crl.pem"), pem).unwrap();
    let out = tool(
        dir,
        "openssl",
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-untrusted",
            "pki/certs/intermediate_ca.crt",
            "-CRLfile",
            "crl.pem",
            "svc.crt",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revoked") || stderr_of(&out).contains("revoked"),
        "{}",
        stderr_of(&out)
    );
    let out = tool(
        dir,
        "openssl",
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-untrusted",
            "pki/certs/intermediate_ca.crt",
            "-CRLfile",
            "crl.pem",
            "web.crt",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));

    // root by fingerprint: the right one is written, a wrong one refused (exit 4).
    let fp = String::from_utf8_lossy(
        &ferrica(dir)
            .args(["certificate", "fingerprint", "pki/certs/root_ca.crt"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    client(dir, &url)
        .args(["ca", "root", "fetched.crt", "--fingerprint", &fp])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.join("fetched.crt")).unwrap(),
        std::fs::read(dir.join("pki/certs/root_ca.crt")).unwrap()
    );
    let out = client(dir, &url)
        .args(["ca", "root", "bad.crt", "--fingerprint", &"ab".repeat(32)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(!dir.join("bad.crt").exists());

    // bootstrap into a fresh FERRICA_PATH, then health and roots with no flags.
    let home = dir.join("client");
    ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "bootstrap", "--ca-url", &url, "--fingerprint", &fp])
        .assert()
        .success();
    ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "health"])
        .assert()
        .success()
        .stdout("ok\n");
    let out = ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "roots"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, std::fs::read(dir.join("pki/certs/root_ca.crt")).unwrap());
    let out = ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "bootstrap", "--ca-url", &url, "--fingerprint", &fp])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "--force");
    // bootstrap --install into a throwaway system-store tree.
    let prefix = dir.join("sysroot");
    std::fs::create_dir_all(prefix.join("usr/local/share/ca-certificates")).unwrap();
    std::fs::create_dir_all(prefix.join("etc/ssl/certs")).unwrap();
    let out = ferrica(dir)
        .env("FERRICA_PATH", dir.join("client2"))
        .args([
            "ca",
            "bootstrap",
            "--ca-url",
            &url,
            "--fingerprint",
            &fp,
            "--install",
            "--prefix",
        ])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("installed"), "{}", stderr_of(&out));

    // A CA that is not there: the network exit code (5), so CI can retry.
    let out = client(dir, "https://127.0.0.1:1")
        .args(["ca", "health"])
        .output()
        .unwrap();
    assert_clean_error(&out, 5, "cannot connect");

    // SIGHUP reloads ca.json: after disabling renewal, renewals are refused.
    client(dir, &url)
        .args(["ca", "provisioner", "update", "ci@lab.test", "--disable-renewal"])
        .assert()
        .success();
    signal(server.child.id(), "-HUP");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = client(dir, &url)
        .args(["ca", "renew", "web.crt", "csr.key", "--force"])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "renew is disabled");
}

#[test]
fn renewal_daemon() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    let url = server.url.clone();
    client(dir, &url)
        .args([
            "ca",
            "certificate",
            "d.lab.test",
            "d.crt",
            "d.key",
            "--provisioner-password-file",
            "pw",
        ])
        .assert()
        .success();
    let first = serial(dir, "d.crt");
    // A process to signal after each renewal.
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(dir.join("sleeper.pid"), sleeper.id().to_string()).unwrap();

    // --renew-period 2s: renews twice, runs --exec each time, signals the pid-file's process.
    let mut daemon = Command::new(BIN)
        .args([
            "ca",
            "renew",
            "d.crt",
            "d.key",
            "--daemon",
            "--renew-period",
            "2s",
            "--exec",
            "echo renewed >> renewed.log",
            "--pid-file",
            "sleeper.pid",
            "--signal",
            "TERM",
        ])
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .env("FERRICA_CA_URL", &url)
        .env("FERRICA_ROOT", dir.join("pki/certs/root_ca.crt"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lines(&dir.join("renewed.log"), 2);
    assert_ne!(serial(dir, "d.crt"), first);
    verify_chain(dir, "d.crt");
    let status = sleeper.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "the pid-file's process got SIGTERM");
    signal(daemon.id(), "-TERM");
    assert!(daemon.wait().unwrap().success(), "SIGTERM stops the daemon with exit 0");

    // Default schedule (2/3 of 24h away): SIGHUP forces a renewal at once.
    let mut daemon = Command::new(BIN)
        .args([
            "ca",
            "renew",
            "d.crt",
            "d.key",
            "--daemon",
            "--exec",
            "echo hup >> hup.log",
        ])
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .env("FERRICA_CA_URL", &url)
        .env("FERRICA_ROOT", dir.join("pki/certs/root_ca.crt"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = serial(dir, "d.crt");
    signal(daemon.id(), "-HUP");
    wait_for_lines(&dir.join("hup.log"), 1);
    assert_ne!(serial(dir, "d.crt"), before);
    signal(daemon.id(), "-INT");
    assert!(daemon.wait().unwrap().success());
}
