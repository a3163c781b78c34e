//! Regressions for the defects found by hostile testing (issue 16): each test is named after the behaviour it
//! guards, and fails on the code before the fix.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::serve::{client, curl, init_pki, init_pki_with, inspect, sign_body, signal, start, start_at, token};

fn csr(dir: &Path, name: &str) {
    ferrica(dir)
        .args([
            "certificate",
            "create",
            name,
            &format!("{name}.csr"),
            &format!("{name}.key"),
        ])
        .args(["--csr", "--san", name, "--no-password", "--insecure"])
        .assert()
        .success();
}

fn post_sign(dir: &Path, url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let p = dir.join("body.json");
    std::fs::write(&p, body.to_string()).unwrap();
    let (code, text) = curl(
        dir,
        &["-X", "POST", "--data-binary", "@body.json", &format!("{url}/1.0/sign")],
    );
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A 403 whose message says `why`.
fn assert_refused(code: u16, body: &serde_json::Value, why: &str) {
    assert_eq!(code, 403, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains(why), "{body}");
}

#[test]
fn backdating_cannot_stretch_a_certificate_past_the_provisioner_maximum() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    let url = server.url.clone();

    // The CLI: -87000h with the default 24h lifetime would be ten years.
    let out = client(dir, &url)
        .args(["ca", "certificate", "bd.test", "bd.crt", "bd.key"])
        .args(["--provisioner", "ci@lab.test", "--provisioner-password-file", "pw"])
        .args(["--not-before", "-87000h"])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "notBefore");
    assert!(!dir.join("bd.crt").exists() && !dir.join("bd.key").exists());

    // The raw API: a notBefore years back is before the intermediate's, and refused.
    csr(dir, "bd.test");
    let csr_pem = std::fs::read_to_string(dir.join("bd.test.csr")).unwrap();
    let ott = token(dir, &url, "bd.test", &["bd.test"]);
    let (code, body) = post_sign(
        dir,
        &url,
        &serde_json::json!({"csr": csr_pem, "ott": ott, "notBefore": "2020-01-01T00:00:00Z"}),
    );
    assert_refused(code, &body, "before the issuer certificate's notBefore");

    // A window of 48h under a 24h maximum, wherever it starts: refused.
    let ott = token(dir, &url, "bd.test", &["bd.test"]);
    let (code, body) = post_sign(
        dir,
        &url,
        &serde_json::json!({"csr": csr_pem, "ott": ott, "notBefore": "1h", "notAfter": "49h"}),
    );
    assert_refused(code, &body, "more than the provisioner's maximum");

    // Within the maximum, a later start is fine.
    let ott = token(dir, &url, "bd.test", &["bd.test"]);
    let (code, body) = post_sign(
        dir,
        &url,
        &serde_json::json!({"csr": csr_pem, "ott": ott, "notBefore": "1h", "notAfter": "25h"}),
    );
    assert_eq!(code, 201, "{body}");
}

#[test]
fn without_a_database_tokens_from_before_a_restart_are_refused_and_revocation_is_not_pretended() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--no-db"]);
    let mut server = start(dir);
    let url = server.url.clone();
    csr(dir, "svc.lab.test");
    let used = token(dir, &url, "svc.lab.test", &["svc.lab.test"]);
    let unused = token(dir, &url, "svc.lab.test", &["svc.lab.test"]);
    let body = sign_body(dir, "svc.lab.test.csr", &used);
    let sign = |url: &str, body: &Path| {
        curl(
            dir,
            &[
                "-X",
                "POST",
                "--data-binary",
                &format!("@{}", body.display()),
                &format!("{url}/1.0/sign"),
            ],
        )
    };
    assert_eq!(sign(&url, &body).0, 201);
    assert_eq!(sign(&url, &body).0, 401, "a token is single-use");

    // Revoking is refused: it would be forgotten at the next restart.
    let ca_out = client(dir, &url)
        .args(["ca", "certificate", "r.lab.test", "r.crt", "r.key"])
        .args(["--provisioner", "ci@lab.test", "--provisioner-password-file", "pw"])
        .output()
        .unwrap();
    assert!(ca_out.status.success(), "{}", stderr_of(&ca_out));
    let out = client(dir, &url)
        .args(["ca", "revoke", "--cert", "r.crt", "--key", "r.key"])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "revocation needs a database");

    // A restart forgets the used token, so every token issued before the start is refused: the used one and the one
    // minted a second before the restart (within what used to be the leeway).
    signal(server.child.id(), "-TERM");
    server.child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let server = start(dir);
    let (code, text) = sign(&server.url, &body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("issued before the CA started"), "{text}");
    let (code, text) = sign(&server.url, &sign_body(dir, "svc.lab.test.csr", &unused));
    assert_eq!(code, 401, "{text}");
    // A token minted after the start works.
    let fresh = token(dir, &server.url, "svc.lab.test", &["svc.lab.test"]);
    assert_eq!(sign(&server.url, &sign_body(dir, "svc.lab.test.csr", &fresh)).0, 201);
}

#[test]
fn a_client_certificate_from_another_ca_is_a_refusal_not_an_outage() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    leaf_of_another_ca(dir, "other", "svc.lab.test", "svc");
    let out = client(dir, &server.url)
        .args(["ca", "renew", "other/svc.crt", "other/svc.key", "--out", "x.crt"])
        .env("FERRICA_DEBUG", "1")
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("rejected the client certificate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.join("x.crt").exists());
}

#[test]
fn force_never_overwrites_an_input() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let int_before = std::fs::read(dir.join("int.crt")).unwrap();
    let key_before = std::fs::read(dir.join("int.key")).unwrap();
    let issuer = ["--ca", "int.crt", "--ca-key", "int.key", "--ca-password-file", "pw"];
    let leaf = ["--force", "--no-password", "--insecure"];
    // CRT_FILE is --ca, KEY_FILE is --ca-key, CRT_FILE is a symlink to --ca, or the same file by another path.
    std::os::unix::fs::symlink("int.crt", dir.join("link.crt")).unwrap();
    for (crt, key, flag) in [
        ("int.crt", "p.key", "--ca"),
        ("p.crt", "int.key", "--ca-key"),
        ("link.crt", "p.key", "--ca"),
        ("./sub/../int.crt", "p.key", "--ca"),
    ] {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let out = ferrica(dir)
            .args(["certificate", "create", "p.test", crt, key])
            .args(issuer)
            .args(leaf)
            .output()
            .unwrap();
        assert_clean_error(&out, 2, flag);
        assert!(
            stderr_of(&out).contains("refusing to overwrite an input"),
            "{}",
            stderr_of(&out)
        );
    }
    assert_eq!(std::fs::read(dir.join("int.crt")).unwrap(), int_before);
    assert_eq!(std::fs::read(dir.join("int.key")).unwrap(), key_before);
    assert!(!dir.join("p.crt").exists() && !dir.join("p.key").exists());

    // sign --out onto the CSR, bundle onto its CA file, format onto its input.
    csr(dir, "x.test");
    let out = ferrica(dir)
        .args([
            "certificate",
            "sign",
            "x.test.csr",
            "int.crt",
            "int.key",
            "--password-file",
            "pw",
        ])
        .args(["--out", "x.test.csr", "--force"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "CSR_FILE");
    assert!(
        std::fs::read_to_string(dir.join("x.test.csr"))
            .unwrap()
            .contains("CERTIFICATE REQUEST")
    );
    let out = ferrica(dir)
        .args(["certificate", "bundle", "root.crt", "int.crt", "int.crt", "--force"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "CA_FILE");
    let out = ferrica(dir)
        .args(["certificate", "format", "root.crt", "--out", "root.crt", "--force"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "refusing to overwrite an input");
    assert_eq!(std::fs::read(dir.join("int.crt")).unwrap(), int_before);
}

#[test]
fn provisioner_list_finds_the_ca_from_bootstrap_and_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    let fp = String::from_utf8_lossy(
        &ferrica(dir)
            .args(["certificate", "fingerprint", "pki/certs/root_ca.crt"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let home = dir.join("client");
    ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "bootstrap", "--ca-url", &server.url, "--fingerprint", &fp])
        .assert()
        .success();
    let names = |out: std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let after_bootstrap = ferrica(dir)
        .env("FERRICA_PATH", &home)
        .args(["ca", "provisioner", "list"])
        .output()
        .unwrap();
    assert_eq!(names(after_bootstrap), ["ci@lab.test"]);
    let from_env = ferrica(dir)
        .env("FERRICA_PATH", dir.join("nowhere"))
        .env("FERRICA_CA_URL", &server.url)
        .env("FERRICA_ROOT", dir.join("pki/certs/root_ca.crt"))
        .args(["ca", "provisioner", "list"])
        .output()
        .unwrap();
    assert_eq!(names(from_env), ["ci@lab.test"]);
}

/// Adds members to the ca.json that `ca init` wrote under `dir/pki`.
fn edit_ca_json(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("pki/config/ca.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn other_root(dir: &Path) -> std::path::PathBuf {
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Federated Root",
            "fed-root.crt",
            "fed-root.key",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    dir.join("fed-root.crt")
}

#[test]
fn federation_lists_the_root_and_the_federated_roots() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let fed = other_root(dir);
    edit_ca_json(dir, |v| v["federatedRoots"] = serde_json::json!([fed]));
    let server = start(dir);
    for path in ["/federation", "/1.0/federation"] {
        let (code, body) = curl(dir, &[&format!("{}{path}", server.url)]);
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["crts"].as_array().unwrap().len(), 2, "{body}");
    }
    client(dir, &server.url)
        .args(["ca", "federation", "fed.pem"])
        .assert()
        .success();
    let pem = std::fs::read_to_string(dir.join("fed.pem")).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "{pem}");
    assert!(pem.contains(std::fs::read_to_string(&fed).unwrap().trim()), "{pem}");
}

/// `step-ca` serving `dir/pki/config/ca.json` with the password in `dir/pw` (STEPPATH `dir/step`), once it says it
/// serves; killed on drop.
pub(crate) fn start_step_ca(step_ca: &Path, dir: &Path) -> Killed {
    let child = Command::new(step_ca)
        .arg(dir.join("pki/config/ca.json"))
        .args(["--password-file", "pw"])
        .current_dir(dir)
        .env("STEPPATH", dir.join("step"))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("step-ca.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("step-ca.err")).unwrap())
        .spawn()
        .unwrap();
    let killed = Killed(child);
    // step-ca logs to stderr.
    wait_for_step_ca(&dir.join("step-ca.err"));
    killed
}

/// Waits until `step-ca` says it serves, or panics with its output.
fn wait_for_step_ca(log: &Path) {
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("Serving HTTPS") {
            return;
        }
        assert!(start.elapsed().as_secs() < 20, "step-ca did not start:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub(crate) struct Killed(pub(crate) std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_pki_from_ca_init_serves_with_step_ca_and_step_tokens_unchanged() {
    let (Some(step), Some(step_ca)) = (step_tool("step"), step_tool("step-ca")) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let url = format!("https://127.0.0.1:{port}");
    init_pki_with(dir, &["--address", &address]);
    // step's offline tokens load the intermediate key; step-ca's documented "password" member supplies it
    // (ferrica reads it too). federatedRoots is step-ca's as well.
    let fed = other_root(dir);
    edit_ca_json(dir, |v| {
        v["password"] = serde_json::json!("ca-secret");
        v["federatedRoots"] = serde_json::json!([fed]);
    });
    let step_cmd = |args: &[&str]| {
        let out = Command::new(&step)
            .args(args)
            .current_dir(dir)
            .env("STEPPATH", dir.join("step"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "step {args:?}: {}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let ca_flags = ["--ca-url", url.as_str(), "--root", "pki/certs/root_ca.crt"];

    let run_step_ca = || start_step_ca(&step_ca, dir);

    // step-ca serves the ferrica PKI: health, and a certificate from ferrica's JWK provisioner.
    {
        let _ca = run_step_ca();
        assert_eq!(step_cmd(&[&["ca", "health"][..], &ca_flags].concat()), "ok");
        step_cmd(
            &[
                &[
                    "ca",
                    "certificate",
                    "a.lab.test",
                    "a.crt",
                    "a.key",
                    "--provisioner",
                    "ci@lab.test",
                ][..],
                &["--provisioner-password-file", "pw"],
                &ca_flags,
            ]
            .concat(),
        );
        openssl_ok(
            dir,
            &[
                "verify",
                "-CAfile",
                "pki/certs/root_ca.crt",
                "-untrusted",
                "a.crt",
                "a.crt",
            ],
        );
    }

    // ferrica serves the same files; step's offline token from the same ca.json signs there, and
    // `step ca federation` reads ferrica's /federation.
    let _server = start_at(dir, &address);
    let token = step_cmd(
        &[
            &[
                "ca",
                "token",
                "b.lab.test",
                "--offline",
                "--ca-config",
                "pki/config/ca.json",
            ][..],
            &["--provisioner", "ci@lab.test", "--password-file", "pw"],
            &ca_flags,
        ]
        .concat(),
    );
    step_cmd(
        &[
            &["ca", "certificate", "b.lab.test", "b.crt", "b.key", "--token", &token][..],
            &ca_flags,
        ]
        .concat(),
    );
    assert_eq!(inspect(dir, "b.crt")["subject"]["common_name"][0], "b.lab.test");
    step_cmd(&[&["ca", "federation", "fed.pem"][..], &ca_flags].concat());
    assert_eq!(
        std::fs::read_to_string(dir.join("fed.pem"))
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    drop(_server);

    // And step-ca starts again on the database directory that now holds ferrica's store too.
    let _ca = run_step_ca();
    assert_eq!(step_cmd(&[&["ca", "health"][..], &ca_flags].concat()), "ok");
    assert!(dir.join("pki/db/ferrica.redb").exists());
}

#[test]
fn bad_names_are_refused_where_they_enter_and_flagged_by_lint() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let leaf = |args: &[&str]| {
        ferrica(dir)
            .args(["certificate", "create"])
            .args(args)
            .args(["--ca", "int.crt", "--ca-key", "int.key", "--ca-password-file", "pw"])
            .args(["--no-password", "--insecure", "--force"])
            .output()
            .unwrap()
    };
    let long = "c".repeat(70_000);
    let out = leaf(&[&long, "l.crt", "l.key", "--san", "ok.test"]);
    assert_clean_error(&out, 3, "RFC 5280 allows at most 64");
    for bad in ["*.", "bad_name..com", "*.*.x", "a b", "user@"] {
        let out = leaf(&["ok.test", "l.crt", "l.key", "--san", bad]);
        assert_clean_error(&out, 2, &format!("{bad:?}"));
    }
    assert!(!dir.join("l.crt").exists());
    // A subject that is no name becomes no SAN (with a warning), not an invalid DNS SAN.
    let out = leaf(&["a,b=c+d", "l.crt", "l.key"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("has no SAN"), "{}", stderr_of(&out));
    assert!(
        inspect(dir, "l.crt")["extensions"]["subject_alt_name"]["dns_names"].is_null(),
        "{}",
        inspect(dir, "l.crt")
    );

    // Tokens and provisioners.
    init_pki(dir);
    let ca = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap()
    };
    assert_clean_error(
        &ca(&["ca", "token", "", "--offline", "--password-file", "pw"]),
        2,
        "SUBJECT is empty",
    );
    assert_clean_error(
        &ca(&["ca", "token", "x", "--san", "**", "--offline", "--password-file", "pw"]),
        2,
        "\"**\"",
    );
    assert_clean_error(&ca(&["ca", "provisioner", "add", "", "--type", "ACME"]), 2, "empty");
    assert_clean_error(
        &ca(&[
            "ca",
            "provisioner",
            "add",
            "acme",
            "--type",
            "ACME",
            "--allow-dns",
            "**",
        ]),
        2,
        "\"**\"",
    );

    // lint flags what openssl lets through.
    openssl_ok(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "o.key",
            "-out",
            "o.crt",
            "-subj",
            "/CN=ok.test",
            "-days",
            "30",
            "-addext",
            "subjectAltName=DNS:bad_name..com,DNS:*.*.x,DNS:a b,email:user@",
        ],
    );
    let out = ferrica(dir)
        .args(["certificate", "lint", "o.crt", "--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for needle in ["bad_name..com", "*.*.x", "a b", "user@"] {
        assert!(text.contains(needle), "lint should name {needle:?}:\n{text}");
    }
    assert_eq!(text.matches("e_san_dns_invalid").count(), 3, "{text}");
    assert_eq!(text.matches("e_san_email_invalid").count(), 1, "{text}");
}

#[test]
fn an_expired_issuer_is_reported_as_expired() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Old Root",
            "old.crt",
            "old.key",
        ])
        .args([
            "--not-before",
            "2020-01-01T00:00:00Z",
            "--not-after",
            "2021-01-01T00:00:00Z",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc.test",
            "svc.crt",
            "svc.key",
            "--ca",
            "old.crt",
            "--ca-key",
            "old.key",
        ])
        .args(["--no-password", "--insecure"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("the issuer certificate expired on 2021-01-01"), "{err}");
}

#[test]
fn a_password_file_from_the_environment_is_named_by_its_variable() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    csr(dir, "x.test");
    let out = ferrica(dir)
        .env("FERRICA_PASSWORD_FILE", "/nonexistent")
        .args(["certificate", "sign", "x.test.csr", "int.crt", "int.key"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "FERRICA_PASSWORD_FILE");
    assert!(!stderr_of(&out).contains("--password-file"), "{}", stderr_of(&out));
}

#[test]
fn oversized_headers_get_431_over_http2_as_over_http1() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let server = start(dir);
    // 60,000 bytes: curl's nghttp2 will not send a header block of 64 KiB or more itself, and h2's own default
    // (16 KiB) used to reset such a stream with no status at all.
    let big = format!("X-Big: {}", "a".repeat(60_000));
    for proto in ["--http1.1", "--http2"] {
        let (code, body) = curl(dir, &[proto, "-H", &big, &format!("{}/health", server.url)]);
        assert_eq!(code, 431, "{proto}: {body}");
        assert!(body.contains("header fields"), "{proto}: {body}");
    }
    // The server keeps serving.
    assert_eq!(curl(dir, &["--http2", &format!("{}/health", server.url)]).0, 200);
}

/// The provisioner key of `name` in ca.json, decrypted with `password`, and its kid.
fn provisioner_key(
    dir: &Path,
    name: &str,
    password: &str,
) -> (ferrica::jose::jws::SigningKey, String, ferrica::jose::jwk::Jwk) {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pki/config/ca.json")).unwrap()).unwrap();
    let p = config["authority"]["provisioners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
        .clone();
    let jwe = ferrica::jose::jwe::Jwe::parse(p["encryptedKey"].as_str().unwrap().as_bytes()).unwrap();
    let jwk =
        ferrica::jose::jwk::Jwk::from_json(&ferrica::jose::jwe::decrypt(&jwe, password.as_bytes()).unwrap()).unwrap();
    let kid = jwk.kid.clone().unwrap();
    let public = jwk.public().unwrap();
    (ferrica::jose::jws::SigningKey::from_jwk(jwk).unwrap(), kid, public)
}

#[test]
fn forged_and_stretched_tokens_are_each_refused() {
    use base64::Engine as _;
    use ferrica::jose::jws::{Alg, sign_compact};
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    pw_file(dir, "other.pw", "other-secret\n");
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "other",
            "--type",
            "JWK",
            "--create",
            "--password-file",
            "other.pw",
        ])
        .assert()
        .success();
    let server = start(dir);
    let url = server.url.clone();
    csr(dir, "svc.lab");
    let csr_pem = std::fs::read_to_string(dir.join("svc.lab.csr")).unwrap();
    let (key, kid, public) = provisioner_key(dir, "ci@lab.test", "ca-secret");
    let (other_key, other_kid, _) = provisioner_key(dir, "other", "other-secret");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut n = 0;
    let mut claims = |nbf: i64, exp: i64| {
        n += 1;
        serde_json::to_vec(
            &serde_json::json!({"iss": "ci@lab.test", "aud": format!("{url}/1.0/sign"),
            "sub": "svc.lab", "sans": ["svc.lab"], "jti": format!("attack-{n}"), "iat": now, "nbf": nbf, "exp": exp}),
        )
        .unwrap()
    };
    let header = |kid: &str, extra: serde_json::Value| {
        let mut h = serde_json::Map::new();
        h.insert("kid".into(), serde_json::json!(kid));
        h.insert("typ".into(), serde_json::json!("JWT"));
        for (k, v) in extra.as_object().unwrap() {
            h.insert(k.clone(), v.clone());
        }
        h
    };
    let try_sign = |ott: &str| post_sign(dir, &url, &serde_json::json!({"csr": csr_pem, "ott": ott}));

    // The genuine article passes, a minute of leeway included (nbf 30 s ahead).
    let good = sign_compact(
        &key,
        Alg::Es256,
        header(&kid, serde_json::json!({})),
        &claims(now + 30, now + 300),
    )
    .unwrap();
    assert_eq!(try_sign(&good).0, 201);

    let mut attacks: Vec<(&str, String)> = Vec::new();
    // alg none, no signature.
    let p = claims(now, now + 300);
    attacks.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&serde_json::to_vec(&header(&kid, serde_json::json!({"alg": "none"}))).unwrap()),
            b64(&p)
        ),
    ));
    // HS256 keyed with the provisioner's public key (the classic key confusion).
    let p = claims(now, now + 300);
    let h = b64(&serde_json::to_vec(&header(&kid, serde_json::json!({"alg": "HS256"}))).unwrap());
    let input = format!("{h}.{}", b64(&p));
    let secret = serde_json::to_vec(&public).unwrap();
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
        input.as_bytes(),
    );
    attacks.push(("HS256 with the public key", format!("{input}.{}", b64(mac.as_ref()))));
    // An algorithm that does not fit the key: ES384 named, ES256 used.
    let t = sign_compact(
        &key,
        Alg::Es256,
        header(&kid, serde_json::json!({})),
        &claims(now, now + 300),
    )
    .unwrap();
    let (_, rest) = t.split_once('.').unwrap();
    let h384 = b64(&serde_json::to_vec(&header(&kid, serde_json::json!({"alg": "ES384"}))).unwrap());
    attacks.push(("ES384 named on a P-256 key", format!("{h384}.{rest}")));
    // A critical header the CA does not understand.
    attacks.push((
        "crit",
        sign_compact(
            &key,
            Alg::Es256,
            header(&kid, serde_json::json!({"crit": ["exp"]})),
            &claims(now, now + 300),
        )
        .unwrap(),
    ));
    // The kid of another provisioner, signed with that provisioner's key, under this one's iss.
    attacks.push((
        "kid of another provisioner",
        sign_compact(
            &other_key,
            Alg::Es256,
            header(&other_kid, serde_json::json!({})),
            &claims(now, now + 300),
        )
        .unwrap(),
    ));
    // Times outside the minute of leeway.
    attacks.push((
        "nbf two minutes ahead",
        sign_compact(
            &key,
            Alg::Es256,
            header(&kid, serde_json::json!({})),
            &claims(now + 120, now + 300),
        )
        .unwrap(),
    ));
    attacks.push((
        "exp two minutes ago",
        sign_compact(
            &key,
            Alg::Es256,
            header(&kid, serde_json::json!({})),
            &claims(now - 400, now - 120),
        )
        .unwrap(),
    ));
    // A valid signature on a token whose payload was changed afterwards.
    let t = sign_compact(
        &key,
        Alg::Es256,
        header(&kid, serde_json::json!({})),
        &claims(now, now + 300),
    )
    .unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let stretched = serde_json::to_vec(
        &serde_json::json!({"iss": "ci@lab.test", "aud": format!("{url}/1.0/sign"),
        "sub": "svc.lab", "sans": ["svc.lab"], "jti": "attack-x", "iat": now, "nbf": now, "exp": now + 86400}),
    )
    .unwrap();
    attacks.push((
        "payload changed after signing",
        format!("{}.{}.{}", parts[0], b64(&stretched), parts[2]),
    ));
    // The genuine token a second time.
    attacks.push(("replayed", good.clone()));
    for (what, ott) in &attacks {
        let (code, body) = try_sign(ott);
        assert_eq!(code, 401, "{what}: {body}");
    }

    // A provisioner key encrypted with an iteration count beyond the bound is refused at once, not ground through.
    let path = dir.join("pki/config/ca.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let provs = config["authority"]["provisioners"].as_array_mut().unwrap();
    let entry = provs.iter_mut().find(|p| p["name"] == "ci@lab.test").unwrap();
    let enc = entry["encryptedKey"].as_str().unwrap().to_string();
    let (h, rest) = enc.split_once('.').unwrap();
    let mut hv: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    hv["p2c"] = serde_json::json!(50_000_000);
    entry["encryptedKey"] = serde_json::json!(format!("{}.{rest}", b64(&serde_json::to_vec(&hv).unwrap())));
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let start = std::time::Instant::now();
    let out = ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "token",
            "svc.lab",
            "--offline",
            "--provisioner",
            "ci@lab.test",
            "--password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("p2c"), "{}", stderr_of(&out));
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}
