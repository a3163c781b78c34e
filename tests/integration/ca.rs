//! `ca init` and `path`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// `ferrica ca init ...` with FERRICA_PATH=pki, no terminal, `stdin` piped in.
fn init(dir: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new("setsid")
        .args(["-w", BIN, "ca", "init"])
        .args(args)
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .env_remove("FERRICA_PASSWORD_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn init_writes_a_working_pki_without_a_terminal() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = init(
        dir,
        &[
            "--name",
            "Lab",
            "--dns",
            "ca.lab.test",
            "--dns",
            "127.0.0.1",
            "--provisioner",
            "ci@lab.test",
            "--acme",
        ],
        b"ca-secret\n",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let fp = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let pki = dir.join("pki");
    for (f, mode) in [
        ("secrets/root_ca_key", 0o600),
        ("secrets/intermediate_ca_key", 0o600),
        ("secrets", 0o700),
        ("certs/root_ca.crt", 0o644),
    ] {
        assert_eq!(
            std::fs::metadata(pki.join(f)).unwrap().permissions().mode() & 0o777,
            mode,
            "{f}"
        );
    }
    assert!(pki.join("db").is_dir());
    let p = |f: &str| pki.join(f).to_string_lossy().into_owned();
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            &p("certs/root_ca.crt"),
            &p("certs/intermediate_ca.crt"),
        ],
    );
    openssl_ok(
        dir,
        &[
            "pkey",
            "-in",
            &p("secrets/root_ca_key"),
            "-passin",
            "pass:ca-secret",
            "-noout",
        ],
    );
    let subject = openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            &p("certs/intermediate_ca.crt"),
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
        ],
    );
    assert!(subject.contains("CN=Lab Intermediate CA,O=Lab"), "{subject}");
    let fp2 = ferrica(dir)
        .args(["certificate", "fingerprint"])
        .arg(pki.join("certs/root_ca.crt"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fp2.stdout).trim(), fp);
    // ca.json: step-ca's layout, a JWK provisioner whose encrypted key opens with the CA password.
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(pki.join("config/ca.json")).unwrap()).unwrap();
    assert_eq!(cfg["dnsNames"], serde_json::json!(["ca.lab.test", "127.0.0.1"]));
    assert_eq!(cfg["address"], ":9000");
    assert_eq!(cfg["crt"], p("certs/intermediate_ca.crt"));
    let provs = cfg["authority"]["provisioners"].as_array().unwrap();
    assert_eq!(provs[0]["type"], "JWK");
    assert_eq!(provs[1]["type"], "ACME");
    std::fs::write(dir.join("enc.jwe"), provs[0]["encryptedKey"].as_str().unwrap()).unwrap();
    pw_file(dir, "pw", "ca-secret\n");
    let jwk = ferrica(dir)
        .args(["crypto", "jwe", "decrypt", "enc.jwe", "--password-file", "pw"])
        .output()
        .unwrap();
    assert!(jwk.status.success(), "{}", stderr_of(&jwk));
    let tp = ferrica(dir)
        .args(["crypto", "jwk", "thumbprint"])
        .write_stdin(jwk.stdout)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tp.stdout).trim(),
        provs[0]["key"]["kid"].as_str().unwrap()
    );
    let defaults: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pki.join("config/defaults.json")).unwrap()).unwrap();
    assert_eq!(defaults["ca-url"], "https://ca.lab.test:9000");
    assert_eq!(defaults["fingerprint"], fp.as_str());
    // A second init is refused; `path` prints FERRICA_PATH.
    let again = init(
        dir,
        &["--name", "Lab", "--dns", "x", "--provisioner", "p"],
        b"ca-secret\n",
    );
    assert_clean_error(&again, 3, "already exists");
    let path = ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .arg("path")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&path.stdout).trim(), pki.to_string_lossy());
}

#[test]
fn init_fails_at_once_without_answers_and_supports_rsa_and_existing_roots() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = init(dir, &["--dns", "ca.test"], b"");
    assert_clean_error(&out, 2, "missing --name, --provisioner");
    assert!(!dir.join("pki").exists());

    // An RSA PKI (step cannot), with a separate provisioner password.
    pw_file(dir, "prov", "prov-secret\n");
    let out = init(
        dir,
        &[
            "--name",
            "R",
            "--dns",
            "ca.test",
            "--provisioner",
            "p",
            "--kty",
            "RSA",
            "--size",
            "3072",
            "--provisioner-password-file",
            "prov",
            "--no-db",
        ],
        b"ca-secret\n",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let pki = dir.join("pki");
    let text = openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            &pki.join("certs/intermediate_ca.crt").to_string_lossy(),
            "-noout",
            "-text",
        ],
    );
    assert!(text.contains("Public-Key: (3072 bit)"), "{text}");
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(pki.join("config/ca.json")).unwrap()).unwrap();
    assert!(cfg.get("db").is_none() && !pki.join("db").exists());
    std::fs::write(
        dir.join("enc.jwe"),
        cfg["authority"]["provisioners"][0]["encryptedKey"].as_str().unwrap(),
    )
    .unwrap();
    ferrica(dir)
        .args(["crypto", "jwe", "decrypt", "enc.jwe", "--password-file", "prov"])
        .assert()
        .success();

    // From an existing (encrypted) root: step's fixture.
    std::fs::remove_dir_all(&pki).unwrap();
    pw_file(dir, "ca", "ca-secret\n");
    let out = init(
        dir,
        &[
            "--name",
            "Fixture",
            "--dns",
            "ca.test",
            "--provisioner",
            "p",
            "--root",
            &step("root_ca.crt").to_string_lossy(),
            "--key",
            &step("root_ca.key").to_string_lossy(),
            "--key-password-file",
            &step("pw.txt").to_string_lossy(),
            "--password-file",
            "ca",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        !pki.join("secrets/root_ca_key").exists(),
        "an existing root key is not copied"
    );
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            &step("root_ca.crt").to_string_lossy(),
            &pki.join("certs/intermediate_ca.crt").to_string_lossy(),
        ],
    );
}

#[test]
fn offline_tokens_carry_steps_claims() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = init(
        dir,
        &["--name", "Lab", "--dns", "ca.lab.test", "--provisioner", "ci@lab.test"],
        b"ca-secret\n",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let fp = String::from_utf8_lossy(&out.stdout).trim().to_string();
    pw_file(dir, "pw", "ca-secret\n");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pki/config/ca.json")).unwrap()).unwrap();
    std::fs::write(
        dir.join("prov.pub.json"),
        cfg["authority"]["provisioners"][0]["key"].to_string(),
    )
    .unwrap();
    let token = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(["ca", "token"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = token(&[
        "svc.lab.test",
        "--offline",
        "--password-file",
        "pw",
        "--san",
        "svc.lab.test",
        "--san",
        "10.0.0.5",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v = ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "verify",
            "--key",
            "prov.pub.json",
            "--iss",
            "ci@lab.test",
            "--aud",
            "https://ca.lab.test:9000/1.0/sign",
        ])
        .write_stdin(out.stdout)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", stderr_of(&v));
    let shown: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let claims = &shown["payload"];
    assert_eq!(claims["sans"], serde_json::json!(["svc.lab.test", "10.0.0.5"]));
    assert_eq!(claims["sha"], fp.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 300);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 64);
    // A revocation token has the /revoke audience; a bad validity and a wrong password are refused.
    let out = token(&[
        "1234",
        "--revoke",
        "--offline",
        "--password-file",
        "pw",
        "--output-file",
        "revoke.jwt",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A token is a bearer credential until it is used: its file is the owner's alone, like a key.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("revoke.jwt")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "verify",
            "revoke.jwt",
            "--key",
            "prov.pub.json",
            "--iss",
            "ci@lab.test",
            "--aud",
            "https://ca.lab.test:9000/1.0/revoke",
        ])
        .assert()
        .success();
    assert_clean_error(
        &token(&["s", "--offline", "--password-file", "pw", "--not-after", "2h"]),
        2,
        "10 s to 1 h",
    );
    pw_file(dir, "bad", "nope\n");
    assert_clean_error(
        &token(&["s", "--offline", "--password-file", "bad"]),
        3,
        "wrong password",
    );
    // Without --offline the token is minted online: an unreachable CA is a
    // network failure (exit 5) so CI can retry.
    assert_clean_error(
        &token(&["s", "--password-file", "pw", "--ca-url", "https://127.0.0.1:1"]),
        5,
        "cannot connect",
    );
}

#[test]
fn provisioners_are_managed_in_ca_json() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = init(
        dir,
        &["--name", "Lab", "--dns", "ca.lab.test", "--provisioner", "first"],
        b"ca-secret\n",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let prov = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(["ca", "provisioner"])
            .args(args)
            .output()
            .unwrap()
    };
    let list = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(
            &ferrica(dir)
                .env("FERRICA_PATH", dir.join("pki"))
                .args(["ca", "provisioner", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    pw_file(dir, "pw", "prov-secret\n");
    let out = prov(&[
        "add",
        "ci@lab.test",
        "--type",
        "JWK",
        "--create",
        "--password-file",
        "pw",
        "--x509-max-dur",
        "720h",
        "--x509-default-dur",
        "168h",
        "--allow-dns",
        "*.lab.test",
        "--allow-ip",
        "10.0.0.0/8",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        prov(&["add", "acme", "--type", "ACME", "--disable-renewal"])
            .status
            .success()
    );
    assert!(
        prov(&[
            "add",
            "hosts",
            "--type",
            "X5C",
            "--x5c-roots",
            &step("root_ca.crt").to_string_lossy()
        ])
        .status
        .success()
    );
    let l = list(dir);
    let names: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["first", "ci@lab.test", "acme", "hosts"]);
    assert_eq!(l[1]["claims"]["maxTLSCertDuration"], "720h");
    assert_eq!(
        l[1]["policy"]["x509"]["allow"]["dns"],
        serde_json::json!(["*.lab.test"])
    );
    assert_eq!(l[2]["claims"]["disableRenewal"], true);
    // The new provisioner mints tokens with its own password.
    let tok = ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "token",
            "svc.lab.test",
            "--offline",
            "--provisioner",
            "ci@lab.test",
            "--password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert!(tok.status.success(), "{}", stderr_of(&tok));
    // Errors: duplicate name, inconsistent durations, unknown provisioner; ca.json stays valid.
    assert_clean_error(
        &prov(&["add", "acme", "--type", "ACME"]),
        3,
        "already has a provisioner",
    );
    assert_clean_error(
        &prov(&["update", "ci@lab.test", "--x509-min-dur", "1000h"]),
        2,
        "min <= default <= max",
    );
    assert!(
        prov(&[
            "update",
            "acme",
            "--disable-renewal=false",
            "--allow-renewal-after-expiry"
        ])
        .status
        .success()
    );
    assert_eq!(list(dir)[2]["claims"]["disableRenewal"], false);
    assert!(prov(&["remove", "hosts"]).status.success());
    assert_clean_error(&prov(&["remove", "hosts"]), 3, "no provisioner named");
    assert_eq!(list(dir).as_array().unwrap().len(), 3);
}

#[test]
fn an_eab_key_id_that_starts_with_a_hyphen_can_be_removed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = init(
        dir,
        &["--name", "Lab", "--dns", "ca.lab.test", "--provisioner", "first"],
        b"ca-secret\n",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let run = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(["ca"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["provisioner", "add", "acme", "--type", "ACME", "--require-eab"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Versions before 2026-12 could make such ids (one in 64).
    let file = dir.join("pki/config/acme_eab.json");
    let keys = serde_json::json!({"keys": [
        {"kid": "-Zyiwo1x2y3z4a5b6c7d8e9f", "hmacKey": "AAAA", "provisioner": "acme", "reference": "", "createdAt": 0},
        {"kid": "keep", "hmacKey": "AAAA", "provisioner": "acme", "reference": "", "createdAt": 0},
    ]});
    std::fs::write(&file, keys.to_string()).unwrap();
    let out = run(&["acme", "eab", "remove", "acme", "-Zyiwo1x2y3z4a5b6c7d8e9f"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed = String::from_utf8(run(&["acme", "eab", "list", "acme"]).stdout).unwrap();
    assert!(!listed.contains("-Zyiwo"), "{listed}");
    assert!(listed.contains("keep"), "{listed}");
    // Flags still work after it.
    let out = run(&["acme", "eab", "remove", "acme", "keep", "--ca-config", "nope.json"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("nope.json"), "{}", stderr_of(&out));
}
