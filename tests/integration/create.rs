//! `certificate create`: the chain openssl accepts, profiles, validity, files.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn root_intermediate_leaf_chain_verifies_with_openssl() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let out = ferrica(dir)
        .args(["certificate", "create", "svc.example.test", "leaf.crt", "leaf.key"])
        .args(["--ca", "int.crt", "--ca-key", "int.key", "--ca-password-file", "pw"])
        .args([
            "--san",
            "svc.example.test",
            "--san",
            "10.1.2.3",
            "--not-after",
            "8760h",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let verify = openssl_ok(
        dir,
        &["verify", "-CAfile", "root.crt", "-untrusted", "int.crt", "leaf.crt"],
    );
    assert!(verify.contains("leaf.crt: OK"), "{verify}");

    let leaf = openssl_ok(dir, &["x509", "-in", "leaf.crt", "-noout", "-text"]);
    assert!(leaf.contains("DNS:svc.example.test"), "{leaf}");
    assert!(leaf.contains("IP Address:10.1.2.3"), "{leaf}");
    assert!(
        leaf.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{leaf}"
    );
    assert!(
        leaf.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{leaf}"
    );
    assert!(
        !leaf.contains("CA:TRUE") && !leaf.contains("Basic Constraints"),
        "leaf has no basicConstraints: {leaf}"
    );
    assert!(
        leaf.contains("Subject Key Identifier") && leaf.contains("Authority Key Identifier"),
        "{leaf}"
    );
    // --not-after 8760h: one year from now.
    let end = openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            "leaf.crt",
            "-noout",
            "-checkend",
            &(364 * 86400).to_string(),
        ],
    );
    assert!(end.contains("will not expire"), "{end}");
    let out = tool(
        dir,
        "openssl",
        &[
            "x509",
            "-in",
            "leaf.crt",
            "-noout",
            "-checkend",
            &(366 * 86400).to_string(),
        ],
    );
    assert!(!out.status.success(), "leaf must end within 366 days");

    let root = openssl_ok(dir, &["x509", "-in", "root.crt", "-noout", "-text"]);
    assert!(root.contains("CA:TRUE, pathlen:1"), "{root}");
    assert!(
        root.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"),
        "{root}"
    );
    assert!(
        !root.contains("Authority Key Identifier"),
        "a self-signed root has no AKI: {root}"
    );
    let int = openssl_ok(dir, &["x509", "-in", "int.crt", "-noout", "-text"]);
    assert!(int.contains("CA:TRUE, pathlen:0"), "{int}");
    // Ten years, within a day.
    let ten_years = 10 * 365 * 86400;
    assert!(
        openssl_ok(
            dir,
            &[
                "x509",
                "-in",
                "root.crt",
                "-noout",
                "-checkend",
                &(ten_years - 86400).to_string()
            ]
        )
        .contains("will not expire")
    );

    // Keys: 0600, encrypted PKCS#8 that openssl decrypts.
    for k in ["root.key", "int.key", "leaf.key"] {
        let mode = std::fs::metadata(dir.join(k)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{k}");
    }
    let root_key = std::fs::read_to_string(dir.join("root.key")).unwrap();
    assert!(
        root_key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{root_key}"
    );
    openssl_ok(dir, &["pkey", "-in", "root.key", "-passin", "file:pw", "-noout"]);
    let params = openssl_ok(dir, &["asn1parse", "-in", "root.key"]);
    assert!(
        params.contains("hmacWithSHA256") && params.contains("aes-256-cbc"),
        "{params}"
    );
    assert!(params.contains(":0927C0"), "600000 PBKDF2 iterations: {params}");
    let leaf_key = std::fs::read_to_string(dir.join("leaf.key")).unwrap();
    assert!(leaf_key.starts_with("-----BEGIN PRIVATE KEY-----"), "{leaf_key}");
}

#[test]
fn rsa_4096_leaf_has_key_encipherment() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "rsa.test",
            "rsa.crt",
            "rsa.key",
            "--kty",
            "RSA",
            "--size",
            "4096",
        ])
        .args([
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--ca-password-file",
            "pw",
            "--password-file",
            "pw",
        ])
        .assert()
        .success();
    openssl_ok(
        dir,
        &["verify", "-CAfile", "root.crt", "-untrusted", "int.crt", "rsa.crt"],
    );
    let text = openssl_ok(dir, &["x509", "-in", "rsa.crt", "-noout", "-text"]);
    assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
    assert!(text.contains("Digital Signature, Key Encipherment"), "{text}");
    let key = openssl_ok(
        dir,
        &["pkey", "-in", "rsa.key", "-passin", "file:pw", "-noout", "-text"],
    );
    assert!(key.contains("4096 bit"), "{key}");
}

#[test]
fn every_key_type_makes_a_valid_self_signed_root() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (i, flags) in [
        vec!["--kty", "EC", "--crv", "P-384"],
        vec!["--kty", "EC", "--crv", "P-521"],
        vec!["--kty", "OKP", "--crv", "Ed25519"],
        vec!["--kty", "RSA", "--size", "2048"],
        vec!["--kty", "RSA", "--size", "3072"],
    ]
    .into_iter()
    .enumerate()
    {
        let crt = format!("r{i}.crt");
        let key = format!("r{i}.key");
        ferrica(dir)
            .args([
                "certificate",
                "create",
                "--profile",
                "root-ca",
                "Root",
                &crt,
                &key,
                "--no-password",
                "--insecure",
            ])
            .args(&flags)
            .assert()
            .success();
        openssl_ok(dir, &["verify", "-CAfile", &crt, &crt]);
        openssl_ok(dir, &["pkey", "-in", &key, "-noout"]);
    }
}

#[test]
fn rsa_under_2048_needs_insecure() {
    let d = tempfile::tempdir().unwrap();
    let create = |extra: &[&str]| {
        ferrica(d.path())
            .args([
                "certificate",
                "create",
                "x",
                "x.crt",
                "x.key",
                "--profile",
                "self-signed",
                "--kty",
                "RSA",
            ])
            .args(["--size", "1024"])
            .args(extra)
            .output()
            .unwrap()
    };
    assert_clean_error(&create(&["--password-file", "/dev/null"]), 2, "needs --insecure");
    // With --insecure the gate opens, but aws-lc-rs cannot make such a key: a clear error, not a panic.
    assert_clean_error(&create(&["--no-password", "--insecure"]), 2, "not supported");
    assert!(files(d.path()).is_empty());
}

#[test]
fn leaf_outliving_its_issuer_is_clamped_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Short Root",
            "root.crt",
            "root.key",
        ])
        .args(["--not-after", "48h", "--no-password", "--insecure"])
        .assert()
        .success();
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "leaf.crt",
            "leaf.key",
            "--ca",
            "root.crt",
            "--ca-key",
            "root.key",
        ])
        .args(["--not-after", "8760h", "--no-password", "--insecure"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("warning: --not-after"), "{}", stderr_of(&out));
    let root_end = openssl_ok(dir, &["x509", "-in", "root.crt", "-noout", "-enddate"]);
    let leaf_end = openssl_ok(dir, &["x509", "-in", "leaf.crt", "-noout", "-enddate"]);
    assert_eq!(root_end, leaf_end);
}

#[test]
fn not_before_and_days_and_rfc3339() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "a.crt",
            "a.key",
            "--profile",
            "self-signed",
        ])
        .args([
            "--not-before",
            "2030-01-01T00:00:00Z",
            "--not-after",
            "2030-03-01T12:00:00Z",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    let dates = openssl_ok(dir, &["x509", "-in", "a.crt", "-noout", "-dates"]);
    assert!(dates.contains("notBefore=Jan  1 00:00:00 2030 GMT"), "{dates}");
    assert!(dates.contains("notAfter=Mar  1 12:00:00 2030 GMT"), "{dates}");
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "b.crt",
            "b.key",
            "--profile",
            "self-signed",
            "--not-after",
            "90d",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    assert!(
        openssl_ok(
            dir,
            &["x509", "-in", "b.crt", "-noout", "-checkend", &(89 * 86400).to_string()]
        )
        .contains("will not expire")
    );
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "c.crt",
            "c.key",
            "--profile",
            "self-signed",
            "--not-after",
            "5y",
        ])
        .args(["--no-password", "--insecure"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--not-after");
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "c.crt",
            "c.key",
            "--profile",
            "self-signed",
            "--not-after",
            "-1h",
        ])
        .args(["--no-password", "--insecure"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "not before notAfter");
    assert!(!dir.join("c.crt").exists() && !dir.join("c.key").exists());
}

#[test]
fn csr_is_verified_by_openssl() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "csr.test",
            "a.csr",
            "a.key",
            "--csr",
            "--san",
            "csr.test",
        ])
        .args([
            "--san",
            "ops@example.test",
            "--san",
            "spiffe://example.test/svc",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let out = tool(dir, "openssl", &["req", "-in", "a.csr", "-verify", "-noout", "-text"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DNS:csr.test, email:ops@example.test, URI:spiffe://example.test/svc"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("verify OK"));
}

#[test]
fn bundle_appends_the_issuer() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    ferrica(dir)
        .args(["certificate", "create", "svc", "chain.crt", "leaf.key", "--bundle"])
        .args([
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--ca-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let chain = std::fs::read_to_string(dir.join("chain.crt")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(chain.ends_with(&std::fs::read_to_string(dir.join("int.crt")).unwrap()));
}

#[test]
fn existing_files_need_force() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("a.key"), "keep me").unwrap();
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "a.crt",
            "a.key",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "refusing to overwrite a.key");
    assert!(stderr_of(&out).contains("--force"));
    assert_eq!(std::fs::read_to_string(dir.join("a.key")).unwrap(), "keep me");
    assert_eq!(files(dir), vec!["a.key"]);
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "a.crt",
            "a.key",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ])
        .arg("--force")
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "a.key", "-noout"]);
}

#[test]
fn reusing_a_key_with_key() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "a.crt",
            "a.key",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "b.crt",
            "--key",
            "a.key",
            "--profile",
            "self-signed",
        ])
        .assert()
        .success();
    let a = openssl_ok(dir, &["x509", "-in", "a.crt", "-noout", "-pubkey"]);
    let b = openssl_ok(dir, &["x509", "-in", "b.crt", "-noout", "-pubkey"]);
    assert_eq!(a, b);
}

#[test]
fn issuer_key_must_match_issuer_certificate() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "leaf.crt",
            "leaf.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "root.key",
        ])
        .args(["--ca-password-file", "pw", "--no-password", "--insecure"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "does not match");
    assert!(!dir.join("leaf.crt").exists() && !dir.join("leaf.key").exists());
    // A leaf cannot be an issuer.
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "leaf.crt",
            "leaf.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
        ])
        .args(["--ca-password-file", "pw", "--no-password", "--insecure"])
        .assert()
        .success();
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "x",
            "x.crt",
            "x.key",
            "--ca",
            "leaf.crt",
            "--ca-key",
            "leaf.key",
        ])
        .args(["--no-password", "--insecure"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "not a CA");
    // An intermediate with pathlen 0 cannot sign another intermediate.
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "intermediate-ca",
            "Sub",
            "s.crt",
            "s.key",
        ])
        .args([
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--ca-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "pathlen 0");
}

#[test]
fn help_documents_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["certificate", "create", "--help"],
        vec!["certificate", "inspect", "--help"],
    ] {
        let out = ferrica(d.path()).args(&args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("EXIT CODES") && text.contains("5  network"),
            "{args:?}: {text}"
        );
    }
}
