//! The certificate toolbox: sign, templates, name constraints, verify, p12, needs-renewal, lint, install, and the
//! small converters. openssl (and certutil, keytool) judge.

use std::path::Path;

use crate::common::*;

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ferrica(dir).args(args).output().unwrap();
    assert!(out.status.success(), "ferrica {args:?}: {}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An unencrypted root and intermediate, plus `--permit-*` constrained intermediate `lab.crt`.
fn pki(dir: &Path) {
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "root.crt",
            "root.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "intermediate-ca",
            "Int",
            "int.crt",
            "int.key",
            "--ca",
            "root.crt",
            "--ca-key",
            "root.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "intermediate-ca",
            "Lab",
            "lab.crt",
            "lab.key",
            "--ca",
            "root.crt",
            "--ca-key",
            "root.key",
            "--no-password",
            "--insecure",
            "--permit-dns",
            "lab.example",
            "--permit-ip",
            "10.0.0.0/8",
            "--exclude-dns",
            "secret.lab.example",
        ],
    );
}

fn openssl_csr(dir: &Path, name: &str, cn: &str, sans: &str) {
    let cnf = format!(
        "[req]\ndistinguished_name = dn\nreq_extensions = ext\nprompt = no\n[dn]\nCN = {cn}\n[ext]\n\
         basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign, digitalSignature\n\
         subjectAltName = {sans}\n1.3.6.1.4.1.55555.1 = ASN1:UTF8String:private request data\n"
    );
    std::fs::write(dir.join(format!("{name}.cnf")), cnf).unwrap();
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-config",
            &format!("{name}.cnf"),
        ],
    );
}

#[test]
fn sign_overrides_what_the_csr_asks_for() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    openssl_csr(dir, "svc", "svc.example.test", "DNS:svc.example.test, IP:10.1.2.3");
    let pem = ok(
        dir,
        &[
            "certificate",
            "sign",
            "svc.csr",
            "int.crt",
            "int.key",
            "--not-after",
            "48h",
        ],
    );
    std::fs::write(dir.join("svc.crt"), &pem).unwrap();
    assert!(
        openssl_ok(
            dir,
            &["verify", "-CAfile", "root.crt", "-untrusted", "int.crt", "svc.crt"]
        )
        .contains("OK")
    );
    let text = openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-text"]);
    assert!(!text.contains("CA:TRUE"), "the CSR's CA:TRUE is not copied: {text}");
    assert!(
        !text.contains("Certificate Sign") && text.contains("Digital Signature"),
        "{text}"
    );
    assert!(
        !text.contains("55555"),
        "the CSR's private extension is not copied: {text}"
    );
    assert!(text.contains("DNS:svc.example.test, IP Address:10.1.2.3"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    // openssl's purpose check agrees it is not a CA.
    let purpose = openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-purpose"]);
    assert!(purpose.contains("SSL server CA : No"), "{purpose}");
    // A tampered CSR is refused.
    let mut csr = std::fs::read_to_string(dir.join("svc.csr")).unwrap().into_bytes();
    let i = csr.len() - 40;
    csr[i] = if csr[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(dir.join("bad.csr"), csr).unwrap();
    let out = ferrica(dir)
        .args(["certificate", "sign", "bad.csr", "int.crt", "int.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    // --profile csr keeps the requested usages except CA ones; --profile intermediate-ca makes a CA.
    let pem = ok(
        dir,
        &[
            "certificate",
            "sign",
            "svc.csr",
            "int.crt",
            "int.key",
            "--profile",
            "csr",
        ],
    );
    std::fs::write(dir.join("csr-profile.crt"), pem).unwrap();
    let text = openssl_ok(dir, &["x509", "-in", "csr-profile.crt", "-noout", "-text"]);
    assert!(
        text.contains("Digital Signature") && !text.contains("Certificate Sign") && !text.contains("CA:TRUE"),
        "{text}"
    );
    ok(
        dir,
        &[
            "certificate",
            "sign",
            "svc.csr",
            "root.crt",
            "root.key",
            "--profile",
            "intermediate-ca",
            "--out",
            "sub.crt",
        ],
    );
    assert!(openssl_ok(dir, &["x509", "-in", "sub.crt", "-noout", "-text"]).contains("CA:TRUE, pathlen:0"));
}

#[test]
fn name_constraints_are_enforced_by_openssl_and_verify() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    let text = openssl_ok(dir, &["x509", "-in", "lab.crt", "-noout", "-text"]);
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    for (name, cn, sans, good) in [
        ("in", "svc.lab.example", "DNS:svc.lab.example, IP:10.9.8.7", true),
        ("out", "evil.com", "DNS:evil.com", false),
        ("ip", "svc.lab.example", "DNS:svc.lab.example, IP:192.168.1.1", false),
        ("excl", "db.secret.lab.example", "DNS:db.secret.lab.example", false),
    ] {
        openssl_csr(dir, name, cn, sans);
        let pem = ok(
            dir,
            &["certificate", "sign", &format!("{name}.csr"), "lab.crt", "lab.key"],
        );
        let chain = pem + &std::fs::read_to_string(dir.join("lab.crt")).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), &chain).unwrap();
        let o = tool(
            dir,
            "openssl",
            &[
                "verify",
                "-CAfile",
                "root.crt",
                "-untrusted",
                "lab.crt",
                &format!("{name}.crt"),
            ],
        );
        let v = ferrica(dir)
            .args(["certificate", "verify", &format!("{name}.crt"), "--roots", "root.crt"])
            .output()
            .unwrap();
        if good {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(v.status.code(), Some(0), "{}", stderr_of(&v));
        } else {
            let err = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("subtree violation"), "{name}: openssl said {err}");
            assert_clean_error(&v, 1, "name constraints");
        }
    }
}

#[test]
fn verify_agrees_with_openssl() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc.example.test",
            "good.crt",
            "good.key",
            "--bundle",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc.example.test",
            "old.crt",
            "old.key",
            "--bundle",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--not-before",
            "-72h",
            "--not-after",
            "-24h",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Other",
            "other.crt",
            "other.key",
            "--no-password",
            "--insecure",
        ],
    );
    let cases: [(&str, &str, Option<&str>, bool, &str); 5] = [
        ("good.crt", "root.crt", None, true, ""),
        ("good.crt", "root.crt", Some("svc.example.test"), true, ""),
        (
            "good.crt",
            "root.crt",
            Some("other.example.test"),
            false,
            "not valid for",
        ),
        ("old.crt", "root.crt", None, false, "expired"),
        ("good.crt", "other.crt", None, false, "unknown issuer"),
    ];
    for (crt, roots, host, valid, why) in cases {
        let mut args = vec!["verify", "-CAfile", roots, "-untrusted", "int.crt"];
        if let Some(h) = host {
            args.extend(["-verify_hostname", h]);
        }
        args.push(crt);
        let o = tool(dir, "openssl", &args);
        let mut c = ferrica(dir);
        c.args(["certificate", "verify", crt, "--roots", roots]);
        if let Some(h) = host {
            c.args(["--host", h]);
        }
        let v = c.output().unwrap();
        assert_eq!(o.status.success(), valid, "openssl on {crt} {host:?}");
        if valid {
            assert_eq!(v.status.code(), Some(0), "{}", stderr_of(&v));
        } else {
            assert_clean_error(&v, 1, why);
        }
    }
}

#[test]
fn p12_reads_in_openssl_3_without_legacy() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc",
            "svc.crt",
            "svc.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    pw_file(dir, "pw", "p12-secret\n");
    ok(
        dir,
        &[
            "certificate",
            "p12",
            "out.p12",
            "svc.crt",
            "svc.key",
            "--ca",
            "int.crt",
            "--password-file",
            "pw",
        ],
    );
    let info = tool(
        dir,
        "openssl",
        &[
            "pkcs12", "-in", "out.p12", "-passin", "file:pw", "-info", "-nokeys", "-noout",
        ],
    );
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let err = String::from_utf8_lossy(&info.stderr);
    assert!(err.contains("AES-256-CBC") && err.contains("MAC: sha256"), "{err}");
    let keyout = openssl_ok(
        dir,
        &["pkcs12", "-in", "out.p12", "-passin", "file:pw", "-nocerts", "-nodes"],
    );
    assert!(keyout.contains("PRIVATE KEY"));
    // Read back by inspect.
    let short = ok(
        dir,
        &[
            "certificate",
            "inspect",
            "out.p12",
            "--password-file",
            "pw",
            "--short",
            "--bundle",
        ],
    );
    assert!(
        short.contains("TLS Certificate") && short.contains("Intermediate CA Certificate"),
        "{short}"
    );
    // Wrong key for the certificate, and --legacy for old stores.
    let out = ferrica(dir)
        .args([
            "certificate",
            "p12",
            "x.p12",
            "svc.crt",
            "int.key",
            "--password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "not the key of");
    ok(
        dir,
        &[
            "certificate",
            "p12",
            "legacy.p12",
            "svc.crt",
            "svc.key",
            "--password-file",
            "pw",
            "--legacy",
        ],
    );
    openssl_ok(
        dir,
        &["pkcs12", "-in", "legacy.p12", "-passin", "file:pw", "-noout", "-legacy"],
    );
    let ks = tool(
        dir,
        "keytool",
        &[
            "-list",
            "-keystore",
            "out.p12",
            "-storetype",
            "PKCS12",
            "-storepass",
            "p12-secret",
        ],
    );
    assert!(
        String::from_utf8_lossy(&ks.stdout).contains("PrivateKeyEntry"),
        "{}",
        String::from_utf8_lossy(&ks.stdout)
    );
}

#[test]
fn needs_renewal_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc",
            "svc.crt",
            "svc.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    let code = |args: &[&str]| {
        ferrica(dir)
            .args(["certificate", "needs-renewal"])
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        code(&["svc.crt"]),
        Some(1),
        "a fresh 24h certificate does not need renewal"
    );
    assert_eq!(code(&["svc.crt", "--expires-in", "25h"]), Some(0));
    assert_eq!(code(&["svc.crt", "--expires-in", "1h"]), Some(1));
    assert_eq!(code(&["svc.crt", "--expires-in", "100%"]), Some(0));
    assert_eq!(code(&["svc.crt", "--expires-in", "50%"]), Some(1));
    assert_eq!(code(&["missing.crt"]), Some(2));
    std::fs::write(dir.join("garbage.crt"), "not a certificate").unwrap();
    assert_eq!(code(&["garbage.crt"]), Some(255));
    assert_eq!(code(&["svc.crt", "--expires-in", "soon"]), Some(255));
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc",
            "old.crt",
            "old.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--not-before",
            "-20h",
            "--not-after",
            "4h",
            "--no-password",
            "--insecure",
        ],
    );
    assert_eq!(code(&["old.crt"]), Some(0), "more than 2/3 elapsed");
}

#[test]
fn lint_is_clean_on_every_profile_and_flags_a_broken_certificate() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc.example.test",
            "leaf.crt",
            "leaf.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--san",
            "10.0.0.1",
            "--san",
            "svc.example.test",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "rsa.example.test",
            "rsa.crt",
            "rsa.key",
            "--kty",
            "RSA",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "ed.example.test",
            "ed.crt",
            "ed.key",
            "--kty",
            "OKP",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "self.example.test",
            "self.crt",
            "self.key",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ],
    );
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Deep Root",
            "deep.crt",
            "deep.key",
            "--path-len",
            "-1",
            "--crl-url",
            "http://pki.test/root.crl",
            "--ocsp-url",
            "http://pki.test/ocsp",
            "--no-password",
            "--insecure",
        ],
    );
    openssl_csr(dir, "csr", "csr.example.test", "DNS:csr.example.test");
    std::fs::write(
        dir.join("signed.crt"),
        ok(dir, &["certificate", "sign", "csr.csr", "int.crt", "int.key"]),
    )
    .unwrap();
    std::fs::write(
        dir.join("csrprof.crt"),
        ok(
            dir,
            &[
                "certificate",
                "sign",
                "csr.csr",
                "int.crt",
                "int.key",
                "--profile",
                "csr",
            ],
        ),
    )
    .unwrap();
    let tpl = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    std::fs::write(
        dir.join("tpl.crt"),
        ok(
            dir,
            &[
                "certificate",
                "sign",
                "csr.csr",
                "int.crt",
                "int.key",
                "--template",
                &tpl.join("leaf-with-ou.json").to_string_lossy(),
                "--set",
                "org=Example",
                "--set",
                "team=Payments",
            ],
        ),
    )
    .unwrap();
    for crt in [
        "root.crt",
        "int.crt",
        "lab.crt",
        "leaf.crt",
        "rsa.crt",
        "ed.crt",
        "self.crt",
        "deep.crt",
        "signed.crt",
        "csrprof.crt",
        "tpl.crt",
    ] {
        let out = ferrica(dir).args(["certificate", "lint", crt]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{crt}: {text}");
        assert!(
            !text.contains("error") && !text.contains("warning"),
            "{crt} must lint clean: {text}"
        );
    }
    // A deliberately broken certificate: serial 0, RSA-1024, a CA without keyUsage.
    openssl_ok(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-keyout",
            "bad.key",
            "-out",
            "bad.crt",
            "-subj",
            "/CN=bad",
            "-days",
            "1",
            "-set_serial",
            "0",
        ],
    );
    let out = ferrica(dir).args(["certificate", "lint", "bad.crt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for code in ["e_serial_zero", "e_rsa_key_too_small", "e_ca_key_usage_missing"] {
        assert!(text.contains(code), "{code} in {text}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok_code(
        dir,
        &["certificate", "lint", "bad.crt", "--format", "json"],
        1,
    ))
    .unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "e_serial_zero" && f["severity"] == "error")
    );
}

fn ok_code(dir: &Path, args: &[&str], code: i32) -> String {
    let out = ferrica(dir).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn templates_and_ca_shape_flags() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    let tpl = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    openssl_csr(dir, "svc", "svc.example.test", "DNS:svc.example.test");
    std::fs::write(dir.join("vars.json"), r#"{"org": "Example Corp"}"#).unwrap();
    let pem = ok(
        dir,
        &[
            "certificate",
            "sign",
            "svc.csr",
            "int.crt",
            "int.key",
            "--template",
            &tpl.join("leaf-with-ou.json").to_string_lossy(),
            "--set-file",
            "vars.json",
            "--set",
            "team=Payments",
        ],
    );
    std::fs::write(dir.join("t.crt"), pem).unwrap();
    let subject = openssl_ok(
        dir,
        &["x509", "-in", "t.crt", "-noout", "-subject", "-nameopt", "RFC2253"],
    );
    assert!(
        subject.contains("CN=svc.example.test,OU=Payments,O=Example Corp"),
        "{subject}"
    );
    assert!(
        openssl_ok(dir, &["x509", "-in", "t.crt", "-noout", "-text"]).contains("Digital Signature, Key Encipherment")
    );
    // A constrained sub-CA from the template; an unknown variable is a clear error.
    let sub = ok(
        dir,
        &[
            "certificate",
            "sign",
            "svc.csr",
            "root.crt",
            "root.key",
            "--profile",
            "intermediate-ca",
            "--template",
            &tpl.join("constrained-intermediate.json").to_string_lossy(),
            "--set",
            "org=Example",
            "--set",
            "domain=apps.example",
        ],
    );
    std::fs::write(dir.join("sub.crt"), sub).unwrap();
    let text = openssl_ok(dir, &["x509", "-in", "sub.crt", "-noout", "-text"]);
    assert!(
        text.contains("DNS:apps.example")
            && text.contains("CA:TRUE, pathlen:0")
            && text.contains("pki.example.internal/crl"),
        "{text}"
    );
    let out = ferrica(dir)
        .args(["certificate", "sign", "svc.csr", "int.crt", "int.key", "--template"])
        .arg(tpl.join("leaf-with-ou.json"))
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "unknown variable .Insecure.User.org");
    // Flags: --path-len on a root, URI name constraints, AIA.
    ok(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "R2",
            "r2.crt",
            "r2.key",
            "--path-len",
            "2",
            "--permit-uri",
            "spiffe.example",
            "--ocsp-url",
            "http://ocsp.test",
            "--issuer-url",
            "http://pki.test/r2.crt",
            "--no-password",
            "--insecure",
        ],
    );
    let text = openssl_ok(dir, &["x509", "-in", "r2.crt", "-noout", "-text"]);
    assert!(
        text.contains("CA:TRUE, pathlen:2")
            && text.contains("URI:spiffe.example")
            && text.contains("OCSP - URI:http://ocsp.test")
            && text.contains("CA Issuers - URI:http://pki.test/r2.crt"),
        "{text}"
    );
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "x",
            "x.crt",
            "x.key",
            "--profile",
            "self-signed",
            "--permit-dns",
            "a.test",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "only to CA profiles");
}

#[test]
fn install_round_trips_in_throwaway_stores() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    std::fs::create_dir(dir.join("nss")).unwrap();
    assert!(
        tool(dir, "certutil", &["-N", "-d", "sql:nss", "--empty-password"])
            .status
            .success(),
        "certutil (libnss3-tools) is required"
    );
    assert!(
        tool(
            dir,
            "keytool",
            &[
                "-genkeypair",
                "-alias",
                "seed",
                "-keyalg",
                "EC",
                "-dname",
                "CN=seed",
                "-keystore",
                "ks.p12",
                "-storetype",
                "PKCS12",
                "-storepass",
                "changeit"
            ]
        )
        .status
        .success(),
        "keytool is required"
    );
    let stores = [
        "--nss-db",
        "nss",
        "--java-keystore",
        "ks.p12",
        "--prefix",
        "pfx",
        "--all",
    ];
    let check = |dir: &Path| {
        ferrica(dir)
            .args(["certificate", "install", "root.crt", "--check"])
            .args(stores)
            .output()
            .unwrap()
    };
    assert_eq!(check(dir).status.code(), Some(1), "not trusted before");
    ok(
        dir,
        &[&["certificate", "install", "root.crt"][..], &stores[..]].concat(),
    );
    assert_eq!(check(dir).status.code(), Some(0), "{}", stderr_of(&check(dir)));
    assert!(String::from_utf8_lossy(&tool(dir, "certutil", &["-L", "-d", "sql:nss"]).stdout).contains("ferrica-"));
    assert!(
        String::from_utf8_lossy(
            &tool(
                dir,
                "keytool",
                &["-list", "-keystore", "ks.p12", "-storepass", "changeit"]
            )
            .stdout
        )
        .contains("trustedCertEntry")
    );
    let bundle = std::fs::read_to_string(dir.join("pfx/etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(
        bundle.contains(
            std::fs::read_to_string(dir.join("root.crt"))
                .unwrap()
                .lines()
                .nth(1)
                .unwrap()
        )
    );
    ok(
        dir,
        &[&["certificate", "uninstall", "root.crt"][..], &stores[..]].concat(),
    );
    assert_eq!(check(dir).status.code(), Some(1), "not trusted after uninstall");
    assert!(!String::from_utf8_lossy(&tool(dir, "certutil", &["-L", "-d", "sql:nss"]).stdout).contains("ferrica-"));
}

#[test]
fn bundle_format_and_key() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pki(dir);
    ok(
        dir,
        &[
            "certificate",
            "create",
            "svc",
            "svc.crt",
            "svc.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
            "--no-password",
            "--insecure",
        ],
    );
    ok(dir, &["certificate", "bundle", "svc.crt", "int.crt", "chain.crt"]);
    openssl_ok(
        dir,
        &["verify", "-CAfile", "root.crt", "-untrusted", "chain.crt", "chain.crt"],
    );
    let out = ferrica(dir)
        .args(["certificate", "bundle", "svc.crt", "int.crt", "chain.crt"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "--force");
    // PEM -> DER -> PEM for a certificate, a CSR and a key.
    ok(
        dir,
        &[
            "certificate",
            "create",
            "c",
            "c.csr",
            "c.key",
            "--csr",
            "--no-password",
            "--insecure",
        ],
    );
    for f in ["svc.crt", "c.csr", "svc.key"] {
        ok(dir, &["certificate", "format", f, "--out", &format!("{f}.der")]);
        let back = ok(dir, &["certificate", "format", &format!("{f}.der")]);
        assert_eq!(back, std::fs::read_to_string(dir.join(f)).unwrap(), "{f}");
    }
    openssl_ok(dir, &["x509", "-in", "svc.crt.der", "-inform", "DER", "-noout"]);
    // key: the same public key from the certificate, the CSR's key file and the private key.
    let from_cert = ok(dir, &["certificate", "key", "svc.crt"]);
    assert_eq!(from_cert, ok(dir, &["certificate", "key", "svc.key"]));
    assert_eq!(
        from_cert,
        openssl_ok(dir, &["x509", "-in", "svc.crt", "-noout", "-pubkey"])
    );
    assert_eq!(
        ok(dir, &["certificate", "key", "c.csr"]),
        ok(dir, &["certificate", "key", "c.key"])
    );
}
