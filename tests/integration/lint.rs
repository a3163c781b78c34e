//! Everything ferrica issues passes pkilint's PKIX linters at WARNING: each profile with each key type, `ca init`'s
//! chain, a CA-signed CSR, and from `serve` a token-signed leaf, its renewal (`ca renew`) and its rekeys (`ca rekey`). (CRLs, OCSP answers
//! and the responder certificate are linted in `ocsp.rs`, an ACME certificate in `acme.rs`.)

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use crate::serve::{client, init_pki, start_logged};

const KEYS: &[(&str, &[&str])] = &[
    ("p256", &["--kty", "EC", "--crv", "P-256"]),
    ("p384", &["--kty", "EC", "--crv", "P-384"]),
    ("p521", &["--kty", "EC", "--crv", "P-521"]),
    ("ed25519", &["--kty", "OKP", "--crv", "Ed25519"]),
    ("rsa2048", &["--kty", "RSA", "--size", "2048"]),
    ("rsa3072", &["--kty", "RSA", "--size", "3072"]),
];

fn create(dir: &std::path::Path, args: &[&str]) {
    ferrica(dir)
        .args(["certificate", "create"])
        .args(args)
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
}

#[test]
fn every_profile_and_key_type_passes_pkilint() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (kind, key) in KEYS {
        let root = format!("{kind}-root");
        create(
            dir,
            &[
                &[
                    &format!("{kind} Root"),
                    &format!("{root}.crt"),
                    &format!("{root}.key"),
                    "--profile",
                    "root-ca",
                ][..],
                key,
            ]
            .concat(),
        );
        let int = format!("{kind}-int");
        create(
            dir,
            &[
                &[
                    &format!("{kind} Intermediate"),
                    &format!("{int}.crt"),
                    &format!("{int}.key"),
                    "--profile",
                    "intermediate-ca",
                ][..],
                &["--ca", &format!("{root}.crt"), "--ca-key", &format!("{root}.key")],
                key,
            ]
            .concat(),
        );
        let leaf = format!("{kind}-leaf");
        create(
            dir,
            &[
                &[
                    &format!("{kind}.lab.test"),
                    &format!("{leaf}.crt"),
                    &format!("{leaf}.key"),
                    "--profile",
                    "leaf",
                ][..],
                &[
                    "--ca",
                    &format!("{int}.crt"),
                    "--ca-key",
                    &format!("{int}.key"),
                    "--san",
                    &format!("{kind}.lab.test"),
                    "--san",
                    "10.0.0.5",
                ],
                key,
            ]
            .concat(),
        );
        let selfsigned = format!("{kind}-self");
        create(
            dir,
            &[
                &[
                    &format!("{kind}-self.lab.test"),
                    &format!("{selfsigned}.crt"),
                    &format!("{selfsigned}.key"),
                    "--profile",
                    "self-signed",
                    "--subtle",
                ][..],
                &["--san", &format!("{kind}-self.lab.test")],
                key,
            ]
            .concat(),
        );
        for crt in [&root, &int, &leaf, &selfsigned] {
            pkilint(dir, "lint_pkix_cert", &format!("{crt}.crt"));
        }
        pkilint_with(
            dir,
            "lint_pkix_signer_signee_cert_chain",
            &[&format!("{root}.crt"), &format!("{int}.crt")],
        );
        pkilint_with(
            dir,
            "lint_pkix_signer_signee_cert_chain",
            &[&format!("{int}.crt"), &format!("{leaf}.crt")],
        );
    }
}

#[test]
fn ca_init_chain_a_signed_csr_and_what_serve_issues_renews_and_rekeys_pass_pkilint() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let (root, int) = ("pki/certs/root_ca.crt", "pki/certs/intermediate_ca.crt");
    pkilint(dir, "lint_pkix_cert", root);
    pkilint(dir, "lint_pkix_cert", int);
    pkilint_with(dir, "lint_pkix_signer_signee_cert_chain", &[root, int]);

    // A CSR signed offline by the intermediate.
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "csr.lab.test",
            "c.csr",
            "c.key",
            "--csr",
            "--san",
            "csr.lab.test",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    let signed = ferrica(dir)
        .args([
            "certificate",
            "sign",
            "c.csr",
            int,
            "pki/secrets/intermediate_ca_key",
            "--password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert!(signed.status.success(), "{}", stderr_of(&signed));
    std::fs::write(dir.join("c.crt"), &signed.stdout).unwrap();
    pkilint(dir, "lint_pkix_cert", "c.crt");

    // From serve: a token-signed leaf, its renewal (mTLS) and its rekey.
    let server = start_logged(dir, "serve.log", &[]);
    let url = server.url.clone();
    let tok = crate::serve::token(dir, &url, "svc.lab.test", &["svc.lab.test", "10.1.2.3"]);
    client(dir, &url)
        .args([
            "ca",
            "certificate",
            "svc.lab.test",
            "svc.crt",
            "svc.key",
            "--token",
            &tok,
        ])
        .assert()
        .success();
    std::fs::copy(dir.join("svc.crt"), dir.join("issued.crt")).unwrap();
    client(dir, &url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--force"])
        .assert()
        .success();
    std::fs::copy(dir.join("svc.crt"), dir.join("renewed.crt")).unwrap();
    // Rekey (`ca rekey`, over mTLS): refused without --force, then a new key for the same names.
    let old_key = std::fs::read(dir.join("svc.key")).unwrap();
    let out = client(dir, &url)
        .args(["ca", "rekey", "svc.crt", "svc.key"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "refusing to overwrite svc.crt");
    client(dir, &url)
        .args(["ca", "rekey", "svc.crt", "svc.key", "--force"])
        .assert()
        .success();
    assert_ne!(
        std::fs::read(dir.join("svc.key")).unwrap(),
        old_key,
        "the key was not replaced"
    );
    assert_eq!(
        std::fs::metadata(dir.join("svc.key")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    client(dir, &url)
        .args([
            "ca",
            "rekey",
            "svc.crt",
            "svc.key",
            "--out-cert",
            "rekeyed.crt",
            "--out-key",
            "rsa.key",
        ])
        .args(["--kty", "RSA", "--size", "3072", "--exec", "touch reloaded"])
        .assert()
        .success();
    assert!(dir.join("reloaded").exists(), "--exec did not run after the rekey");
    let info = crate::serve::inspect(dir, "rekeyed.crt");
    assert_eq!(info["subject_key_info"]["rsa_public_key"]["length"], 3072, "{info}");
    assert_eq!(
        info["extensions"]["subject_alt_name"],
        crate::serve::inspect(dir, "issued.crt")["extensions"]["subject_alt_name"],
        "rekey keeps the names"
    );
    for crt in ["issued.crt", "renewed.crt", "rekeyed.crt"] {
        // The leaf alone (the files hold the chain).
        let pem = std::fs::read_to_string(dir.join(crt)).unwrap();
        let first = &pem[..pem.find("-----END CERTIFICATE-----").unwrap() + 26];
        std::fs::write(dir.join(format!("{crt}.leaf")), first).unwrap();
        pkilint(dir, "lint_pkix_cert", &format!("{crt}.leaf"));
        pkilint_with(
            dir,
            "lint_pkix_signer_signee_cert_chain",
            &[int, &format!("{crt}.leaf")],
        );
    }
}
