//! `certificate inspect`: text, JSON, PEM, short, CSRs and remote servers.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::common::*;

#[test]
fn text_json_pem_and_short() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let leaf = step("leaf.crt");
    let out = ferrica(dir)
        .args(["certificate", "inspect"])
        .arg(&leaf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Subject: CN=leaf.example.test"), "{text}");
    assert!(text.contains("DNS:leaf.example.test, IP:10.0.0.1"), "{text}");
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert!(text.contains("Fingerprint (SHA-256): 459e086a7e13f62a"), "{text}");

    let out = ferrica(dir)
        .args(["certificate", "inspect", "--format", "json"])
        .arg(&leaf)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["type"], "certificate");
    assert_eq!(j["subject"]["common_name"], "leaf.example.test");
    assert_eq!(j["sans"]["dns"][0], "leaf.example.test");
    assert_eq!(j["sans"]["ip"][0], "10.0.0.1");
    assert_eq!(j["public_key"]["algorithm"], "EC");
    assert_eq!(j["public_key"]["curve"], "P-256");
    assert_eq!(j["public_key"]["size"], 256);
    assert_eq!(j["key_usage"][0], "digitalSignature");
    assert_eq!(j["extended_key_usage"], serde_json::json!(["serverAuth", "clientAuth"]));
    assert_eq!(
        j["fingerprints"]["sha256"],
        "459e086a7e13f62aa04ded341186afe7d02cf1c7478a16eb117a159f5cc6d4a0"
    );
    assert_eq!(j["validity"]["lifetime_seconds"], 8760 * 3600);
    // The serial agrees with openssl.
    let serial = openssl_ok(dir, &["x509", "-in", leaf.to_str().unwrap(), "-noout", "-serial"]);
    assert_eq!(
        serial.trim().trim_start_matches("serial=").to_lowercase(),
        j["serial"]["hex"].as_str().unwrap().to_lowercase()
    );

    // --format pem round-trips the DER.
    let out = ferrica(dir)
        .args(["certificate", "inspect", "--format", "pem"])
        .arg(&leaf)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(&leaf).unwrap()
    );

    let out = ferrica(dir)
        .args(["certificate", "inspect", "--short"])
        .arg(&leaf)
        .output()
        .unwrap();
    let short = String::from_utf8_lossy(&out.stdout);
    assert!(short.starts_with("X.509v3 TLS Certificate (ECDSA P-256)"), "{short}");
    assert!(
        short.contains("Issuer:      Fixture Intermediate CA") || short.contains("Issuer:"),
        "{short}"
    );
}

#[test]
fn bundles_and_csrs() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let chain = [step("leaf.crt"), step("intermediate_ca.crt"), step("root_ca.crt")]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    std::fs::write(dir.join("chain.crt"), &chain).unwrap();
    let out = ferrica(dir)
        .args(["certificate", "inspect", "--format", "json", "--bundle", "chain.crt"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 3);
    assert_eq!(j[2]["basic_constraints"]["ca"], true);
    assert_eq!(j[2]["basic_constraints"]["path_len"], 1);
    assert_eq!(j[1]["basic_constraints"]["path_len"], 0);
    let out = ferrica(dir)
        .args(["certificate", "inspect", "--short", "--bundle", "chain.crt"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("Root CA Certificate") && s.contains("Intermediate CA Certificate"),
        "{s}"
    );
    let out = ferrica(dir)
        .args(["certificate", "inspect", "--format", "pem", "--bundle", "chain.crt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), chain);

    let out = ferrica(dir)
        .args(["certificate", "inspect", "--format", "json"])
        .arg(step("csr.csr"))
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["type"], "csr");
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["sans"]["dns"][0], "csr.example.test");
    let out = ferrica(dir)
        .args(["certificate", "inspect", "-"])
        .write_stdin(std::fs::read(step("csr.csr")).unwrap())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Certificate Request:"));
}

/// Serves the chain in `dir` (leaf.crt with the int.crt bundle, leaf.key) over TLS for `conns` connections.
fn serve_tls(dir: &std::path::Path, conns: usize) -> u16 {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("chain.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((mut sock, _)) = listener.accept() else { return };
            sock.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut sock).is_err() {
                    break;
                }
            }
            let _ = conn.writer().write_all(b"");
            let _ = conn.complete_io(&mut sock);
        }
    });
    port
}

#[test]
fn remote_chain_over_tls() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "localhost",
            "chain.crt",
            "leaf.key",
            "--bundle",
            "--san",
            "localhost",
        ])
        .args([
            "--san",
            "127.0.0.1",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--ca-password-file",
            "pw",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    let port = serve_tls(dir, 4);
    let url = format!("https://127.0.0.1:{port}");

    let out = ferrica(dir)
        .args([
            "certificate",
            "inspect",
            &url,
            "--roots",
            "root.crt",
            "--bundle",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["subject"]["common_name"], "localhost");
    assert_eq!(j[1]["subject"]["common_name"], "Test Intermediate CA");

    let local = ferrica(dir)
        .args(["certificate", "fingerprint", "chain.crt"])
        .output()
        .unwrap();
    let remote = ferrica(dir)
        .args([
            "certificate",
            "fingerprint",
            &url,
            "--roots",
            "root.crt",
            "--servername",
            "localhost",
        ])
        .output()
        .unwrap();
    assert!(remote.status.success(), "{}", stderr_of(&remote));
    assert_eq!(local.stdout, remote.stdout);

    // Not trusted without the right root: refused (exit 4) with a hint; --insecure looks anyway.
    let out = ferrica(dir)
        .args(["certificate", "inspect", &url, "--roots", "int.key.none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let other = tempfile::tempdir().unwrap();
    ferrica(other.path())
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Other",
            "o.crt",
            "o.key",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let out = ferrica(dir)
        .arg("certificate")
        .arg("inspect")
        .arg(&url)
        .arg("--roots")
        .arg(other.path().join("o.crt"))
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "not trusted");
    let out = ferrica(dir)
        .args(["certificate", "inspect", &url, "--insecure", "--short"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("localhost"));
}

#[test]
fn unreachable_server_exits_5() {
    let d = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind, then drop.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = ferrica(d.path())
        .args(["certificate", "inspect", &format!("https://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_clean_error(&out, 5, "cannot connect");
}
