//! The OCSP responder and the plain-HTTP listener, judged by `openssl ocsp`, curl and pkilint.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::serve::{Server, client, init_pki, serial};

/// `ferrica serve --insecure-address 127.0.0.1:0`: the server and its plain-HTTP base URL.
pub(crate) fn start_with_plain(dir: &Path) -> (Server, String) {
    // Each server of a test directory logs to its own file.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let log = format!("serve-{}.log", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let server = crate::serve::start_logged(dir, &log, &["--insecure-address", "127.0.0.1:0"]);
    let http = crate::serve::plain_url(dir, &log);
    (server, http)
}

/// `openssl ocsp` against `url`, answer saved to `out`; returns stdout + stderr.
fn ocsp(dir: &Path, url: &str, args: &[&str], out: &str) -> String {
    let o = tool(
        dir,
        "openssl",
        &[&["ocsp", "-url", url, "-respout", out][..], args].concat(),
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn issue(dir: &Path, url: &str, name: &str) {
    client(dir, url)
        .args([
            "ca",
            "certificate",
            name,
            &format!("{name}.crt"),
            &format!("{name}.key"),
        ])
        .args(["--provisioner-password-file", "pw"])
        .assert()
        .success();
}

const CHECK: &[&str] = &[
    "-issuer",
    "pki/certs/intermediate_ca.crt",
    "-CAfile",
    "pki/certs/root_ca.crt",
];

#[test]
fn ocsp_answers_good_revoked_and_unknown_and_leaves_point_at_the_plain_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir);
    let (srv, http) = start_with_plain(dir);
    issue(dir, &srv.url, "a.lab");
    issue(dir, &srv.url, "b.lab");

    // The leaf carries the CRL distribution point and the AIA on the plain listener, and lints clean.
    let ext = openssl_ok(
        dir,
        &[
            "x509",
            "-in",
            "a.lab.crt",
            "-noout",
            "-ext",
            "authorityInfoAccess,crlDistributionPoints",
        ],
    );
    for want in [
        format!("URI:{http}/crl"),
        format!("OCSP - URI:{http}/ocsp"),
        format!("CA Issuers - URI:{http}/intermediate.crt"),
    ] {
        assert!(ext.contains(&want), "{want} missing from\n{ext}");
    }
    openssl_ok(dir, &["x509", "-in", "a.lab.crt", "-out", "a.leaf.pem"]);
    pkilint(dir, "lint_pkix_cert", "a.leaf.pem");

    // Good, POST with a nonce (openssl checks that it is echoed).
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[CHECK, &["-cert", "a.lab.crt"]].concat(),
        "good.der",
    );
    assert!(
        text.contains("Response verify OK") && text.contains("a.lab.crt: good"),
        "{text}"
    );
    pkilint(dir, "lint_ocsp_response", "good.der");

    // The plain listener also gives the CRL, the roots and the intermediate, and nothing that issues.
    let out = tool(
        dir,
        "curl",
        &["-s", "-o", "plain.crl", "-w", "%{http_code}", &format!("{http}/crl")],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    openssl_ok(
        dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "plain.crl",
            "-noout",
            "-CAfile",
            "pki/certs/intermediate_ca.crt",
        ],
    );
    let out = tool(
        dir,
        "curl",
        &["-s", "-o", "int.der", &format!("{http}/intermediate.crt")],
    );
    assert!(out.status.success());
    let pem_int = openssl_ok(dir, &["x509", "-inform", "DER", "-in", "int.der"]);
    assert_eq!(
        pem_int.trim(),
        std::fs::read_to_string(dir.join("pki/certs/intermediate_ca.crt"))
            .unwrap()
            .trim()
    );
    let out = tool(
        dir,
        "curl",
        &["-s", "-w", "\n%{http_code}", &format!("{http}/roots.pem")],
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("\n200"));
    let out = tool(
        dir,
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-d",
            "{}",
            &format!("{http}/sign"),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "404",
        "the plain listener must not sign"
    );

    // GET without a nonce: cacheable, with an ETag that answers 304.
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[CHECK, &["-cert", "b.lab.crt", "-no_nonce", "-reqout", "b.req"]].concat(),
        "b1.der",
    );
    assert!(text.contains("b.lab.crt: good"), "{text}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(dir.join("b.req")).unwrap());
    let get_url = format!(
        "{http}/ocsp/{}",
        b64.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D")
    );
    let out = tool(dir, "curl", &["-s", "-D", "-", "-o", "b2.der", &get_url]);
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/ocsp-response"), "{head}");
    assert!(
        head.contains("cache-control: max-age=") && head.contains("public"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .trim()
        .to_string();
    // The same pre-signed answer comes back (GET with the raw path too).
    let raw_get = format!("{http}/ocsp/{b64}");
    tool(dir, "curl", &["-s", "-o", "b3.der", &raw_get]);
    assert_eq!(
        std::fs::read(dir.join("b2.der")).unwrap(),
        std::fs::read(dir.join("b3.der")).unwrap()
    );
    let text = ocsp_verify(dir, "b2.der", "b.lab.crt");
    assert!(text.contains("b.lab.crt: good"), "{text}");
    let out = tool(
        dir,
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("If-None-Match: {etag}"),
            &raw_get,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "304");

    // Revoke b: the very next answer says revoked with the reason, even where a good one was cached.
    client(dir, &srv.url)
        .args(["ca", "revoke", &serial(dir, "b.lab.crt"), "--reason-code", "1"])
        .args(["--provisioner-password-file", "pw"])
        .assert()
        .success();
    tool(dir, "curl", &["-s", "-o", "b4.der", &raw_get]);
    // The CRL now lists it, and lints clean; so do the chain's links.
    tool(dir, "curl", &["-s", "-o", "revoked.crl", &format!("{http}/crl")]);
    let crl = openssl_ok(dir, &["crl", "-inform", "DER", "-in", "revoked.crl", "-noout", "-text"]);
    assert!(crl.contains("Key Compromise"), "{crl}");
    pkilint_with(dir, "lint_crl", &["-t", "CRL", "-p", "PKIX", "revoked.crl"]);
    openssl_ok(dir, &["x509", "-in", "b.lab.crt", "-out", "b.leaf.pem"]);
    pkilint_with(
        dir,
        "lint_pkix_signer_signee_cert_chain",
        &["pki/certs/intermediate_ca.crt", "b.leaf.pem"],
    );
    pkilint_with(
        dir,
        "lint_pkix_signer_signee_cert_chain",
        &["pki/certs/root_ca.crt", "pki/certs/intermediate_ca.crt"],
    );
    let text = ocsp_verify(dir, "b4.der", "b.lab.crt");
    assert!(
        text.contains("b.lab.crt: revoked") && text.contains("Reason: keyCompromise"),
        "{text}"
    );
    pkilint(dir, "lint_ocsp_response", "b4.der");
    // POST over the HTTPS port agrees.
    let text = ocsp(
        dir,
        &format!("{}/ocsp", srv.url),
        &[
            CHECK,
            &["-cert", "b.lab.crt", "-VAfile", "pki/certs/intermediate_ca.crt"],
        ]
        .concat(),
        "b5.der",
    );
    assert!(text.contains("b.lab.crt: revoked"), "{text}");

    // A serial this CA never issued: unknown.
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[CHECK, &["-serial", "0x1234"]].concat(),
        "unknown.der",
    );
    assert!(text.contains("0x1234: unknown"), "{text}");
    pkilint(dir, "lint_ocsp_response", "unknown.der");

    // Another CA's certificate: unauthorized.
    leaf_of_another_ca(dir, "other", "x.other", "x");
    openssl_ok(dir, &["x509", "-in", "other/x.crt", "-out", "x.pem"]);
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &["-issuer", "other/int.crt", "-cert", "x.pem"],
        "unauth.der",
    );
    assert!(text.contains("unauthorized"), "{text}");

    // Garbage gets malformedRequest, a wrong content type 415, and the server keeps answering.
    let out = tool(
        dir,
        "curl",
        &[
            "-s",
            "-o",
            "bad.der",
            "-w",
            "%{http_code}",
            "-H",
            "Content-Type: application/ocsp-request",
            "--data-binary",
            "garbage",
            &format!("{http}/ocsp"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let o = tool(
        dir,
        "openssl",
        &["ocsp", "-respin", "bad.der", "-resp_text", "-noverify"],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("malformedrequest (1)"), "{text}");
    let out = tool(
        dir,
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--data-binary",
            "@b.req",
            &format!("{http}/ocsp"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "415");
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[CHECK, &["-cert", "a.lab.crt"]].concat(),
        "again.der",
    );
    assert!(text.contains("a.lab.crt: good"), "{text}");
}

fn ocsp_verify(dir: &Path, resp: &str, cert: &str) -> String {
    let o = tool(
        dir,
        "openssl",
        &[&["ocsp", "-respin", resp][..], CHECK, &["-cert", cert]].concat(),
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_delegated_responder_signs_when_ca_json_asks_and_openssl_trusts_it_either_way() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir);
    let path: PathBuf = dir.join("pki/config/ca.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["ocsp"] = serde_json::json!({"delegated": true, "responseLifetime": "10m", "responderLifetime": "2h"});
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let (srv, http) = start_with_plain(dir);
    issue(dir, &srv.url, "d.lab");

    // Verified through the chain (-CAfile: the responder is issued by the intermediate, with OCSPSigning).
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[CHECK, &["-cert", "d.lab.crt"]].concat(),
        "d.der",
    );
    assert!(
        text.contains("Response verify OK") && text.contains("d.lab.crt: good"),
        "{text}"
    );
    pkilint(dir, "lint_ocsp_response", "d.der");
    let shown = openssl_ok(dir, &["ocsp", "-respin", "d.der", "-resp_text", "-noverify"]);
    for want in ["OCSP Signing", "OCSP No Check", "Lab Intermediate CA OCSP Responder"] {
        assert!(shown.contains(want), "{want} missing from\n{shown}");
    }
    // The responder certificate: two hours, lint-clean; trusted directly with -VAfile.
    let begin = shown.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = shown.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    std::fs::write(dir.join("responder.pem"), format!("{}\n", &shown[begin..end])).unwrap();
    pkilint(dir, "lint_pkix_cert", "responder.pem");
    let dates = openssl_ok(
        dir,
        &["x509", "-in", "responder.pem", "-noout", "-startdate", "-enddate"],
    );
    let times: Vec<i64> = dates
        .lines()
        .map(|l| {
            let v = l.split_once('=').unwrap().1;
            let f = time::macros::format_description!(
                "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
            );
            time::PrimitiveDateTime::parse(v, &f)
                .unwrap()
                .assume_utc()
                .unix_timestamp()
        })
        .collect();
    assert!((times[1] - times[0] - 2 * 3600).abs() <= 120, "{dates}");
    let text = ocsp(
        dir,
        &format!("{http}/ocsp"),
        &[
            "-issuer",
            "pki/certs/intermediate_ca.crt",
            "-cert",
            "d.lab.crt",
            "-VAfile",
            "responder.pem",
        ],
        "d2.der",
    );
    assert!(
        text.contains("Response verify OK") && text.contains("d.lab.crt: good"),
        "{text}"
    );
}

#[test]
fn a_reload_that_changes_ocsp_settings_says_they_wait_for_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir);
    let srv = crate::serve::start_logged(dir, "serve.log", &[]);
    let path = dir.join("pki/config/ca.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["ocsp"] = serde_json::json!({"delegated": true});
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    crate::serve::signal(srv.child.id(), "-HUP");
    crate::serve::wait_for_log(
        dir,
        "serve.log",
        "ocsp or revocationUrls: those take effect on restart only",
        10,
    );
}
