//! `certificate fingerprint`: equal to step's values, every format, bundles, CSRs.

use base64::Engine;

use crate::common::*;

#[test]
fn equals_steps_fingerprints() {
    let d = tempfile::tempdir().unwrap();
    let expected = std::fs::read_to_string(step("fingerprints.txt")).unwrap();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let (file, fp) = line.split_once(' ').unwrap();
        let out = ferrica(d.path())
            .args(["certificate", "fingerprint"])
            .arg(step(file))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), fp, "{file}");
        // From stdin too.
        let out = ferrica(d.path())
            .args(["certificate", "fingerprint", "-"])
            .write_stdin(std::fs::read(step(file)).unwrap())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), fp, "{file} via stdin");
    }
}

#[test]
fn formats_bundle_der_and_csr() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let root = step("root_ca.crt");
    let hex = "86c543800062b7ded40e4d09b71b93128e6aad2d3b525272a07d39d2fdaf1a27";
    let raw = hex::decode(hex).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for (fmt, want) in [
        ("hex", hex.to_string()),
        ("base64", b64.encode(&raw)),
        ("base64-url-raw", url.encode(&raw)),
        (
            "base64-raw",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw),
        ),
        ("base64-url", base64::engine::general_purpose::URL_SAFE.encode(&raw)),
    ] {
        let out = ferrica(dir)
            .args(["certificate", "fingerprint", "--format", fmt])
            .arg(&root)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{fmt}");
    }
    // DER input gives the same value.
    openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            root.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            "root.der",
        ],
    );
    ferrica(dir)
        .args(["certificate", "fingerprint", "root.der"])
        .assert()
        .success()
        .stdout(format!("{hex}\n"));
    // --bundle: one line per certificate.
    let chain = [step("leaf.crt"), step("intermediate_ca.crt"), step("root_ca.crt")]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    std::fs::write(dir.join("chain.crt"), chain).unwrap();
    let out = ferrica(dir)
        .args(["certificate", "fingerprint", "--bundle", "chain.crt"])
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], hex);
    let out = ferrica(dir)
        .args(["certificate", "fingerprint", "chain.crt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // SHA-1 with --insecure equals openssl's.
    let out = ferrica(dir)
        .args(["certificate", "fingerprint", "--sha1", "--insecure"])
        .arg(&root)
        .output()
        .unwrap();
    let ossl = openssl_ok(
        dir,
        &["x509", "-in", root.to_str().unwrap(), "-noout", "-fingerprint", "-sha1"],
    );
    let ossl = ossl.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ossl);
    // A CSR: SHA-256 of its DER.
    let csr = step("csr.csr");
    openssl_ok(
        dir,
        &[
            "req",
            "-in",
            csr.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            "csr.der",
        ],
    );
    let want = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &std::fs::read(dir.join("csr.der")).unwrap(),
    ));
    ferrica(dir)
        .args(["certificate", "fingerprint"])
        .arg(&csr)
        .assert()
        .success()
        .stdout(format!("{want}\n"));
}
