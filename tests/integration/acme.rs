//! ACME (RFC 8555) in `ferrica serve`, judged by real clients: certbot (PyPI) for http-01, with
//! pebble-challtestsrv (Debian's pebble package) as the DNS server that the CA resolves names with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;
use crate::serve::{Server, curl, init_pki, inspect, serial_hex, start_with};

/// pebble-challtestsrv answering every A query with 127.0.0.1 (its DNS on `dns`, management API on `mgmt`).
pub(crate) struct ChallTestSrv {
    child: Child,
    pub(crate) dns: u16,
    pub(crate) mgmt: u16,
}

impl Drop for ChallTestSrv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn challtestsrv() -> ChallTestSrv {
    let (dns, mgmt) = (free_port(), free_port());
    let child = Command::new("pebble-challtestsrv")
        .args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
        ])
        .args([
            "-management",
            &format!("127.0.0.1:{mgmt}"),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv is required (scripts/install-test-deps.sh installs Debian's pebble)");
    // Wait until the management API answers.
    wait_for_port(mgmt, "pebble-challtestsrv");
    ChallTestSrv { child, dns, mgmt }
}

/// `python3 -m http.server` over `dir/www` (with `.well-known/acme-challenge/` made): a plain web server for
/// http-01 answers that clients write as files.
pub(crate) struct WebRoot {
    child: Child,
    pub(crate) dir: PathBuf,
}

impl Drop for WebRoot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn webroot(dir: &Path, port: u16) -> WebRoot {
    let root = dir.join("www");
    std::fs::create_dir_all(root.join(".well-known/acme-challenge")).unwrap();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "python http.server");
    WebRoot { child, dir: root }
}

/// Chain check with openssl against the CA's root, and `certificate lint`, for a certificate an ACME client got.
pub(crate) fn assert_issued_well(dir: &Path, crt: &Path) {
    let c = crt.to_string_lossy();
    openssl_ok(
        dir,
        &["verify", "-CAfile", "pki/certs/root_ca.crt", "-untrusted", &c, &c],
    );
    ferrica(dir).args(["certificate", "lint", &c]).assert().success();
}

/// A CA with an ACME provisioner `acme`, served with http-01 validation on `http_port` and names resolved by
/// challtestsrv.
pub(crate) fn acme_ca(dir: &Path, cts: &ChallTestSrv, http_port: u16) -> Server {
    init_pki(dir);
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args(["ca", "provisioner", "add", "acme", "--type", "ACME"])
        .args([
            "--claims",
            r#"{"maxTLSCertDuration": "4320h", "defaultTLSCertDuration": "744h"}"#,
        ])
        .assert()
        .success();
    start_with(
        dir,
        "127.0.0.1:0",
        &[
            "--acme-http-port",
            &http_port.to_string(),
            "--resolver",
            &format!("127.0.0.1:{}", cts.dns),
        ],
    )
}

fn certbot_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/certbot");
    assert!(p.exists(), "certbot is required: bash scripts/install-test-deps.sh");
    p
}

pub(crate) fn certbot(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(certbot_bin())
        .args(args)
        .args([
            "--config-dir",
            "cb/config",
            "--work-dir",
            "cb/work",
            "--logs-dir",
            "cb/logs",
            "-n",
        ])
        .current_dir(dir)
        .env("REQUESTS_CA_BUNDLE", dir.join("pki/certs/root_ca.crt"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn hex_serial(dir: &Path, crt: &Path) -> String {
    openssl_ok(dir, &["x509", "-in", &crt.to_string_lossy(), "-noout", "-serial"])
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_uppercase()
}

#[test]
fn certbot_gets_renews_and_revokes_a_certificate_over_http01() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let http_port = free_port();
    let server = acme_ca(dir, &cts, http_port);
    let directory = format!("{}/acme/acme/directory", server.url);
    let port = http_port.to_string();
    let get = |name: &str| {
        certbot(
            dir,
            &[
                "certonly",
                "--standalone",
                "--http-01-port",
                &port,
                "-d",
                name,
                "--server",
                &directory,
                "--agree-tos",
                "--register-unsafely-without-email",
            ],
        )
    };
    let out = get("svc.lab.test");
    assert!(
        out.status.success(),
        "certbot:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    let live = dir.join("cb/config/live/svc.lab.test");
    let cert = live.join("cert.pem");
    // The provisioner's claims: 744 h by default (plus the minute of backdate).
    let info = inspect(dir, &cert.to_string_lossy());
    assert_eq!(info["validity"]["length"], 744 * 3600 + 60, "{info}");
    assert_eq!(
        info["extensions"]["subject_alt_name"]["dns_names"],
        serde_json::json!(["svc.lab.test"]),
        "{info}"
    );
    assert_issued_well(dir, &live.join("fullchain.pem"));
    pkilint(dir, "lint_pkix_cert", &cert.to_string_lossy());
    pkilint_with(
        dir,
        "lint_pkix_signer_signee_cert_chain",
        &["pki/certs/intermediate_ca.crt", &cert.to_string_lossy()],
    );

    // ARI: the suggested window is the last third of the lifetime.
    let ari = |crt: &Path| {
        use base64::Engine;
        let info = inspect(dir, &crt.to_string_lossy());
        let b64 = |h: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex::decode(h).unwrap());
        let id = format!(
            "{}.{}",
            b64(info["extensions"]["authority_key_id"].as_str().unwrap()),
            b64(&serial_hex(dir, &crt.to_string_lossy()))
        );
        let (code, body) = curl(dir, &["-i", &format!("{}/acme/acme/renewal-info/{id}", server.url)]);
        assert_eq!(code, 200, "{body}");
        assert!(body.to_ascii_lowercase().contains("retry-after: "), "{body}");
        let json = &body[body.find('{').unwrap()..];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let t = |k: &str| {
            time::OffsetDateTime::parse(
                v["suggestedWindow"][k].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        (t("start"), t("end"))
    };
    let (start, end) = ari(&cert);
    let nb = time::OffsetDateTime::parse(
        info["validity"]["start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((start - nb).whole_hours(), (744 * 2 / 3) as i64, "{start} {end}");
    assert!(end > start);

    // Renewal: a new certificate with a new serial.
    let first = hex_serial(dir, &cert);
    let first_copy = dir.join("first.pem");
    std::fs::copy(&cert, &first_copy).unwrap();
    let out = certbot(dir, &["renew", "--force-renewal", "--no-random-sleep-on-renew"]);
    assert!(out.status.success(), "certbot renew:\n{}", stderr_of(&out));
    let second = hex_serial(dir, &cert);
    assert_ne!(first, second);

    // Revocation: the serial is on the CRL.
    let out = certbot(
        dir,
        &[
            "revoke",
            "--server",
            &directory,
            "--cert-path",
            &cert.to_string_lossy(),
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        ],
    );
    assert!(out.status.success(), "certbot revoke:\n{}", stderr_of(&out));
    let (code, crl) = curl(dir, &[&format!("{}/crl?pem", server.url)]);
    assert_eq!(code, 200);
    std::fs::write(dir.join("crl.pem"), crl).unwrap();
    let text = openssl_ok(dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(text.contains(&second), "serial {second} not on the CRL:\n{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(!text.contains(&first), "the first certificate was not revoked:\n{text}");
    // ARI says a revoked certificate is due now.
    let (_, end) = ari(&cert);
    assert!(end <= time::OffsetDateTime::now_utc(), "{end}");
    assert!(ari(&first_copy).1 > time::OffsetDateTime::now_utc());
    // Revocation signed by the certificate's own key (no account): the first certificate goes on the CRL too.
    let out = certbot(
        dir,
        &[
            "revoke",
            "--server",
            &directory,
            "--cert-path",
            &dir.join("cb/config/archive/svc.lab.test/cert1.pem").to_string_lossy(),
            "--key-path",
            &dir.join("cb/config/archive/svc.lab.test/privkey1.pem")
                .to_string_lossy(),
            "--reason",
            "superseded",
            "--no-delete-after-revoke",
        ],
    );
    assert!(out.status.success(), "certbot revoke --key-path:\n{}", stderr_of(&out));
    let (_, crl) = curl(dir, &[&format!("{}/crl?pem", server.url)]);
    std::fs::write(dir.join("crl.pem"), crl).unwrap();
    let text = openssl_ok(dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(text.contains(&first) && text.contains(&second), "{text}");
}

#[test]
fn the_acme_surface_answers_with_problems_and_nonces() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let server = acme_ca(dir, &cts, free_port());
    let base = format!("{}/acme/acme", server.url);
    // The directory (also under /2.0/acme), newNonce by HEAD (200) and GET (204), never cached.
    let (code, body) = curl(dir, &[&format!("{base}/directory")]);
    assert_eq!(code, 200, "{body}");
    let dirv: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(dirv["newOrder"], format!("{base}/new-order"));
    let (code, body) = curl(dir, &[&format!("{}/2.0/acme/acme/directory", server.url)]);
    assert_eq!(code, 200);
    assert!(body.contains("/2.0/acme/acme/new-account"), "{body}");
    for (flag, want) in [("-I", 200), ("-i", 204)] {
        let (code, head) = curl(dir, &[flag, &format!("{base}/new-nonce")]);
        assert_eq!(code, want);
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("replay-nonce: "), "{head}");
        assert!(lower.contains("cache-control: no-store"), "{head}");
    }
    // An unknown provisioner, a wrong content type, a GET on a POST resource, a stale nonce.
    assert_eq!(curl(dir, &[&format!("{}/acme/nope/directory", server.url)]).0, 404);
    let (code, body) = curl(
        dir,
        &[
            "-i",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
            &format!("{base}/new-order"),
        ],
    );
    assert_eq!(code, 415, "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{body}"
    );
    assert!(body.contains("urn:ietf:params:acme:error:malformed"), "{body}");
    let (code, body) = curl(dir, &["-i", &format!("{base}/new-order")]);
    assert_eq!(code, 405, "{body}");
    assert!(body.to_ascii_lowercase().contains("allow: post"), "{body}");
    assert!(body.contains("urn:ietf:params:acme:error:malformed"), "{body}");
    let jws = serde_json::json!({"protected": "eyJhbGciOiJFUzI1NiIsIm5vbmNlIjoib2xkIiwidXJsIjoieCIsImp3ayI6e319", "payload": "", "signature": ""});
    let (code, body) = curl(
        dir,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/jose+json",
            "-d",
            &jws.to_string(),
            &format!("{base}/new-account"),
        ],
    );
    assert_eq!(code, 401, "a wrong url is refused before anything else: {body}");
    // The server keeps serving.
    assert_eq!(curl(dir, &[&format!("{}/health", server.url)]).0, 200);
}

#[test]
fn certbot_gets_a_wildcard_over_dns01_with_txt_records_in_the_resolver() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let server = acme_ca(dir, &cts, free_port());
    let directory = format!("{}/acme/acme/directory", server.url);
    // certbot's manual hooks put the TXT record into challtestsrv, the CA's resolver, and take it out again.
    let hook = dir.join("auth-hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncurl -sf -d \"{{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\",\\\"value\\\":\\\"$CERTBOT_VALIDATION\\\"}}\" http://127.0.0.1:{}/set-txt\n",
            cts.mgmt
        ),
    )
    .unwrap();
    let cleanup = dir.join("cleanup-hook.sh");
    std::fs::write(
        &cleanup,
        format!(
            "#!/bin/sh\ncurl -sf -d \"{{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\"}}\" http://127.0.0.1:{}/clear-txt\n",
            cts.mgmt
        ),
    )
    .unwrap();
    for h in [&hook, &cleanup] {
        std::fs::set_permissions(h, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let out = certbot(
        dir,
        &[
            "certonly",
            "--manual",
            "--preferred-challenges",
            "dns",
            "--manual-auth-hook",
            &hook.to_string_lossy(),
            "--manual-cleanup-hook",
            &cleanup.to_string_lossy(),
            "-d",
            "*.lab.test",
            "-d",
            "lab.test",
            "--server",
            &directory,
            "--agree-tos",
            "--register-unsafely-without-email",
        ],
    );
    assert!(
        out.status.success(),
        "certbot:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    let cert = dir.join("cb/config/live/lab.test/cert.pem");
    let info = inspect(dir, &cert.to_string_lossy());
    let mut dns: Vec<String> =
        serde_json::from_value(info["extensions"]["subject_alt_name"]["dns_names"].clone()).unwrap();
    dns.sort();
    assert_eq!(dns, ["*.lab.test", "lab.test"], "{info}");
    assert_issued_well(dir, &dir.join("cb/config/live/lab.test/fullchain.pem"));
}

fn lego(dir: &Path, path: &str, args: &[&str]) -> std::process::Output {
    Command::new("lego")
        .args(["--path", path, "--accept-tos"])
        .args(args)
        .current_dir(dir)
        .env("LEGO_CA_CERTIFICATES", dir.join("pki/certs/root_ca.crt"))
        .stdin(Stdio::null())
        .output()
        .expect("lego is required (scripts/install-test-deps.sh installs Debian's lego)")
}

fn assert_ok(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(out)
    );
}

#[test]
fn lego_gets_certificates_over_http01_tls_alpn01_and_dns01_with_external_account_binding() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let (http_port, tls_port) = (free_port(), free_port());
    init_pki(dir);
    let ca = |args: &[&str]| {
        let out = ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap();
        assert_ok(&format!("{args:?}"), &out);
        out
    };
    ca(&["ca", "provisioner", "add", "eab", "--type", "ACME", "--require-eab"]);
    let key: serde_json::Value =
        serde_json::from_slice(&ca(&["ca", "acme", "eab", "add", "eab", "host1", "--format", "json"]).stdout).unwrap();
    let (kid, hmac) = (key["kid"].as_str().unwrap(), key["hmacKey"].as_str().unwrap());
    let listed = String::from_utf8(ca(&["ca", "acme", "eab", "list", "eab"]).stdout).unwrap();
    assert!(
        listed.contains(kid) && listed.contains("host1") && !listed.contains(hmac),
        "{listed}"
    );
    let server = start_with(
        dir,
        "127.0.0.1:0",
        &[
            "--acme-http-port",
            &http_port.to_string(),
            "--acme-tls-port",
            &tls_port.to_string(),
            "--resolver",
            &format!("127.0.0.1:{}", cts.dns),
        ],
    );
    let directory = format!("{}/acme/eab/directory", server.url);
    let http = format!("127.0.0.1:{http_port}");
    let tls = format!("127.0.0.1:{tls_port}");

    // Without a binding the provisioner refuses the account.
    let out = lego(
        dir,
        "lg0",
        &[
            "--server",
            &directory,
            "--email",
            "a@lab.test",
            "--domains",
            "a.lab.test",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("External Account Binding")
            || stderr_of(&out).contains("External Account Binding"),
        "{}",
        stderr_of(&out)
    );

    // With it: http-01, then tls-alpn-01 with the same account.
    let eab = ["--eab", "--kid", kid, "--hmac", hmac];
    let lego_eab = |path: &str, email: &str, rest: &[&str]| {
        lego(
            dir,
            path,
            &[&["--server", directory.as_str(), "--email", email][..], &eab, rest].concat(),
        )
    };
    let out = lego_eab(
        "lg",
        "a@lab.test",
        &["--domains", "a.lab.test", "--http", "--http.port", &http, "run"],
    );
    assert_ok("lego http-01", &out);
    let out = lego_eab(
        "lg",
        "a@lab.test",
        &["--domains", "t.lab.test", "--tls", "--tls.port", &tls, "run"],
    );
    assert_ok("lego tls-alpn-01", &out);

    // dns-01 through lego's exec provider, which writes the TXT record into the CA's resolver; a wildcard.
    let script = dir.join("dns.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  present) curl -sf -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{m}/set-txt ;;\n  cleanup) curl -sf -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{m}/clear-txt ;;\nesac\n",
            m = cts.mgmt
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new("lego")
        .args([
            "--path",
            "lg",
            "--accept-tos",
            "--server",
            &directory,
            "--email",
            "a@lab.test",
        ])
        .args(eab)
        .args(["--domains", "*.w.lab.test", "--dns", "exec", "--dns.disable-cp", "run"])
        .current_dir(dir)
        .env("LEGO_CA_CERTIFICATES", dir.join("pki/certs/root_ca.crt"))
        .env("EXEC_PATH", &script)
        .env("EXEC_POLLING_INTERVAL", "1")
        .env("EXEC_PROPAGATION_TIMEOUT", "10")
        .output()
        .unwrap();
    assert_ok("lego dns-01", &out);
    for (file, name) in [
        ("a.lab.test", "a.lab.test"),
        ("t.lab.test", "t.lab.test"),
        ("_.w.lab.test", "*.w.lab.test"),
    ] {
        let crt = dir.join(format!("lg/certificates/{file}.crt"));
        let info = inspect(dir, &crt.to_string_lossy());
        assert_eq!(
            info["extensions"]["subject_alt_name"]["dns_names"],
            serde_json::json!([name]),
            "{info}"
        );
        assert_issued_well(dir, &crt);
    }

    // The key has bound its account: another account cannot use it; a removed key is gone from the list.
    let out = lego_eab(
        "lg2",
        "b@lab.test",
        &["--domains", "b.lab.test", "--http", "--http.port", &http, "run"],
    );
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("already bound an account")
            || String::from_utf8_lossy(&out.stdout).contains("already bound"),
        "{}",
        stderr_of(&out)
    );
    ca(&["ca", "acme", "eab", "remove", "eab", kid]);
    let listed = String::from_utf8(ca(&["ca", "acme", "eab", "list", "eab"]).stdout).unwrap();
    assert!(!listed.contains(kid), "{listed}");
}

/// pebble (Debian's package), the ACME test server, with a TLS certificate made by ferrica.
struct Pebble {
    child: Child,
    directory: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pebble(dir: &Path, cts: &ChallTestSrv, http_port: u16) -> Pebble {
    let f = |args: &[&str]| ferrica(dir).args(args).assert().success();
    f(&[
        "certificate",
        "create",
        "--profile",
        "root-ca",
        "Pebble TLS Root",
        "pebble-root.crt",
        "pebble-root.key",
        "--no-password",
        "--insecure",
    ]);
    f(&[
        "certificate",
        "create",
        "localhost",
        "pebble.crt",
        "pebble.key",
        "--ca",
        "pebble-root.crt",
        "--ca-key",
        "pebble-root.key",
        "--san",
        "localhost",
        "--san",
        "127.0.0.1",
        "--not-after",
        "24h",
        "--no-password",
        "--insecure",
    ]);
    let (port, mgmt) = (free_port(), free_port());
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{port}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt}"),
        "certificate": dir.join("pebble.crt"),
        "privateKey": dir.join("pebble.key"),
        "httpPort": http_port,
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let child = Command::new("pebble")
        .args([
            "-config",
            &dir.join("pebble.json").to_string_lossy(),
            "-dnsserver",
            &format!("127.0.0.1:{}", cts.dns),
        ])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble is required (scripts/install-test-deps.sh installs Debian's pebble)");
    wait_for_port(port, "pebble");
    Pebble {
        child,
        directory: format!("https://127.0.0.1:{port}/dir"),
    }
}

#[test]
fn ca_certificate_acme_gets_certificates_from_ferrica_and_from_pebble() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let http_port = free_port();
    let server = acme_ca(dir, &cts, http_port);
    let listen = format!("127.0.0.1:{http_port}");
    let client = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("client"))
            .args(args)
            .output()
            .unwrap()
    };

    // Against ferrica serve: standalone http-01, then again with the same (stored) account.
    let directory = format!("{}/acme/acme/directory", server.url);
    for name in ["c1.lab.test", "c2.lab.test"] {
        let out = client(&[
            "ca",
            "certificate",
            name,
            &format!("{name}.crt"),
            &format!("{name}.key"),
            "--acme",
            &directory,
            "--standalone",
            "--http-listen",
            &listen,
            "--root",
            "pki/certs/root_ca.crt",
            "--san",
            name,
            "--san",
            "127.0.0.1",
            "--contact",
            "ops@lab.test",
        ]);
        assert_ok(&format!("ca certificate --acme {name}"), &out);
        let info = inspect(dir, &format!("{name}.crt"));
        assert_eq!(
            info["extensions"]["subject_alt_name"]["dns_names"],
            serde_json::json!([name]),
            "{info}"
        );
        assert_eq!(
            info["extensions"]["subject_alt_name"]["ip_addresses"],
            serde_json::json!(["127.0.0.1"]),
            "{info}"
        );
        assert_issued_well(dir, &dir.join(format!("{name}.crt")));
    }
    let accounts = files(&dir.join("client/acme"));
    assert_eq!(accounts.len(), 1, "one account per directory: {accounts:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("client/acme").join(&accounts[0]))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // --webroot: a plain web server serves the files the client writes.
    let web = webroot(dir, http_port);
    let webroot = web.dir.clone();
    let out = client(&[
        "ca",
        "certificate",
        "w.lab.test",
        "w.crt",
        "w.key",
        "--acme",
        &directory,
        "--webroot",
        &webroot.to_string_lossy(),
        "--root",
        "pki/certs/root_ca.crt",
    ]);
    drop(web);
    assert_ok("ca certificate --acme --webroot", &out);
    assert!(
        files(&webroot.join(".well-known/acme-challenge")).is_empty(),
        "challenge files are removed"
    );

    // A refusal by the CA (an identifier outside the provisioner's policy) exits 4.
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args(["ca", "provisioner", "update", "acme", "--allow-dns", "*.lab.test"])
        .assert()
        .success();
    signal_hup(&server);
    let out = client(&[
        "ca",
        "certificate",
        "evil.test",
        "e.crt",
        "e.key",
        "--acme",
        &directory,
        "--http-listen",
        &listen,
        "--root",
        "pki/certs/root_ca.crt",
    ]);
    assert_clean_error(&out, 4, "rejectedIdentifier");

    // Against pebble, the ACME test server.
    let peb = pebble(dir, &cts, http_port);
    let out = client(&[
        "ca",
        "certificate",
        "p.lab.test",
        "p.crt",
        "p.key",
        "--acme",
        &peb.directory,
        "--http-listen",
        &listen,
        "--root",
        "pebble-root.crt",
    ]);
    assert_ok("ca certificate --acme against pebble", &out);
    let info = inspect(dir, "p.crt");
    assert_eq!(
        info["extensions"]["subject_alt_name"]["dns_names"],
        serde_json::json!(["p.lab.test"]),
        "{info}"
    );
    assert!(info["issuer_dn"].as_str().unwrap().contains("Pebble"), "{info}");
}

fn signal_hup(server: &Server) {
    crate::serve::signal(server.child.id(), "-HUP");
    std::thread::sleep(std::time::Duration::from_millis(300));
}

#[test]
fn uacme_and_dehydrated_get_certificates_over_http01() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let http_port = free_port();
    let server = acme_ca(dir, &cts, http_port);
    let directory = format!("{}/acme/acme/directory", server.url);
    let web = webroot(dir, http_port);
    let wellknown = web.dir.join(".well-known/acme-challenge");

    // uacme reads only the system trust store: in a private mount namespace, the system bundle plus our root is
    // bound over it (the machine's own store is untouched).
    let hook = dir.join("uacme-hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ \"$2\" = http-01 ] || exit 1\ncase \"$1\" in\n  begin) printf '%s' \"$5\" > {w}/\"$4\" ;;\n  *) rm -f {w}/\"$4\" ;;\nesac\n",
            w = wellknown.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    bundle.extend(std::fs::read(dir.join("pki/certs/root_ca.crt")).unwrap());
    std::fs::write(dir.join("bundle.crt"), bundle).unwrap();
    let script = format!(
        "mount --bind {b} /etc/ssl/certs/ca-certificates.crt && uacme -y -a {directory} -c {c} new && uacme -a {directory} -c {c} -h {h} issue u.lab.test",
        b = dir.join("bundle.crt").display(),
        c = dir.join("uacme").display(),
        h = hook.display(),
    );
    std::fs::create_dir(dir.join("uacme")).unwrap();
    let root = rustix::process::getuid().is_root();
    let mut unshare = Command::new("unshare");
    if !root {
        unshare.arg("-r");
    }
    let out = unshare
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    assert_ok("uacme", &out);
    let ucert = dir.join("uacme/u.lab.test/cert.pem");
    let info = inspect(dir, &ucert.to_string_lossy());
    assert_eq!(
        info["extensions"]["subject_alt_name"]["dns_names"],
        serde_json::json!(["u.lab.test"]),
        "{info}"
    );
    assert_issued_well(dir, &ucert);

    // dehydrated takes curl's options.
    std::fs::create_dir(dir.join("dh")).unwrap();
    std::fs::write(
        dir.join("dh/config"),
        format!(
            "CA=\"{directory}\"\nCHALLENGETYPE=\"http-01\"\nWELLKNOWN=\"{w}\"\nBASEDIR=\"{b}\"\nCURL_OPTS=\"--cacert {r}\"\n",
            w = wellknown.display(),
            b = dir.join("dh").display(),
            r = dir.join("pki/certs/root_ca.crt").display()
        ),
    )
    .unwrap();
    let dh = |args: &[&str]| {
        Command::new("dehydrated")
            .args(["-f", &dir.join("dh/config").to_string_lossy()])
            .args(args)
            .output()
            .expect("dehydrated is required (scripts/install-test-deps.sh)")
    };
    assert_ok("dehydrated --register", &dh(&["--register", "--accept-terms"]));
    assert_ok("dehydrated -c", &dh(&["-c", "-d", "d.lab.test"]));
    drop(web);
    let crt = dir.join("dh/certs/d.lab.test/fullchain.pem");
    assert_issued_well(dir, &crt);
}

#[test]
fn finalize_refuses_a_key_type_the_provisioner_does_not_sign_and_certbot_says_why() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let http_port = free_port();
    init_pki(dir);
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "acme",
            "--type",
            "ACME",
            "--key-type",
            "EC P-256",
        ])
        .assert()
        .success();
    let bad = ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "other",
            "--type",
            "ACME",
            "--key-type",
            "DSA",
        ])
        .output()
        .unwrap();
    assert_clean_error(&bad, 2, "keyTypes member \"DSA\" is not one of");
    let server = start_with(
        dir,
        "127.0.0.1:0",
        &[
            "--acme-http-port",
            &http_port.to_string(),
            "--resolver",
            &format!("127.0.0.1:{}", cts.dns),
        ],
    );
    let directory = format!("{}/acme/acme/directory", server.url);
    let port = http_port.to_string();
    let get = |name: &str, key: &[&str]| {
        certbot(
            dir,
            &[
                &[
                    "certonly",
                    "--standalone",
                    "--http-01-port",
                    &port,
                    "-d",
                    name,
                    "--server",
                    &directory,
                ][..],
                &["--agree-tos", "--register-unsafely-without-email"],
                key,
            ]
            .concat(),
        )
    };
    let out = get("rsa.lab.test", &["--key-type", "rsa", "--rsa-key-size", "2048"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(&out));
    assert!(!out.status.success(), "an RSA key was signed: {text}");
    assert!(text.contains("does not sign RSA 2048 keys"), "{text}");
    let out = get("ec.lab.test", &["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"]);
    assert!(out.status.success(), "certbot with P-256: {}", stderr_of(&out));
}
