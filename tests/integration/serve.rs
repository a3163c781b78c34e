//! `ferrica serve` on 127.0.0.1:0, driven with curl and the CLI; openssl judges the certificates.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// A running server; killed on drop so that a failing test leaves nothing behind.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--password-file", "pw", "--address", "127.0.0.1:0"])
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("serve printed nothing").unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{first}");
    // Keep draining stderr (request logs) so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

fn curl(dir: &Path, args: &[&str]) -> (u16, String) {
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

fn token(dir: &Path, url: &str, subject: &str, sans: &[&str]) -> String {
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

fn sign_body(dir: &Path, csr: &str, ott: &str) -> PathBuf {
    let body = serde_json::json!({"csr": std::fs::read_to_string(dir.join(csr)).unwrap(), "ott": ott});
    let p = dir.join(format!("{csr}.{}.json", &ott[ott.len() - 8..]));
    std::fs::write(&p, body.to_string()).unwrap();
    p
}

#[test]
fn init_serve_sign_and_refuse() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "ca-secret\n");
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
        .assert()
        .success();
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
        curl(dir, &["--http1.1", "--data-binary", "@big", &format!("{url}/sign")]).0,
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
