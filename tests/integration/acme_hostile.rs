//! Hostile ACME requests, signed by hand (ferrica's JOSE code as the attacker's toolkit) and sent with curl: each
//! gets the right problem document and a fresh nonce, nothing panics, and the server keeps serving.

use std::path::Path;

use base64::Engine;
use ferrica::jose::jws::{Alg, SigningKey};
use serde_json::{Value, json};

use crate::acme::challtestsrv;
use crate::common::*;
use crate::serve::{init_pki, start_with};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn problem(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn kind(&self) -> String {
        self.problem()["type"].as_str().unwrap_or_default().to_string()
    }

    fn next_link(&self) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case("link") && v.contains("rel=\"next\"")).then(|| v.trim().to_string())
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

struct Client<'a> {
    dir: &'a Path,
    base: String,
    key: SigningKey,
    kid: Option<String>,
    n: usize,
}

impl Client<'_> {
    fn send(&mut self, url: &str, body: &[u8], ctype: &str) -> Reply {
        self.n += 1;
        let file = self.dir.join(format!("req{}.json", self.n));
        std::fs::write(&file, body).unwrap();
        let out = tool(
            self.dir,
            "curl",
            &[
                "-s",
                "-i",
                // HTTP/1.1: with Expect: 100-continue the server refuses an oversized body from its Content-Length;
                // a long expect timeout so that a busy machine cannot make curl send the body anyway.
                "--http1.1",
                "--expect100-timeout",
                "30",
                "--cacert",
                "pki/certs/root_ca.crt",
                "-X",
                "POST",
                "-H",
                &format!("Content-Type: {ctype}"),
                "--data-binary",
                &format!("@{}", file.display()),
                url,
            ],
        );
        let mut text = String::from_utf8_lossy(&out.stdout).to_string();
        while text.starts_with("HTTP/1.1 100") {
            text = text
                .split_once("\r\n\r\n")
                .map_or(String::new(), |(_, rest)| rest.to_string());
        }
        let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Reply {
            status,
            headers: headers.to_string(),
            body: body.to_string(),
        }
    }

    fn nonce(&self) -> String {
        let out = tool(
            self.dir,
            "curl",
            &[
                "-s",
                "-I",
                "--cacert",
                "pki/certs/root_ca.crt",
                &format!("{}/new-nonce", self.base),
            ],
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("replay-nonce: ").map(|v| v.trim().to_string()))
            .expect("a nonce")
    }

    /// A JWS over `payload` (`None`: POST-as-GET) with the usual header, changed by `edit`.
    fn jws(
        &self,
        url: &str,
        payload: Option<&Value>,
        nonce: &str,
        edit: impl Fn(&mut serde_json::Map<String, Value>),
    ) -> Vec<u8> {
        let mut h = serde_json::Map::new();
        h.insert("alg".into(), json!("ES256"));
        h.insert("nonce".into(), json!(nonce));
        h.insert("url".into(), json!(url));
        match &self.kid {
            Some(k) => h.insert("kid".into(), json!(k)),
            None => h.insert(
                "jwk".into(),
                serde_json::to_value(self.key.jwk.public().unwrap()).unwrap(),
            ),
        };
        edit(&mut h);
        let protected = b64(&serde_json::to_vec(&h).unwrap());
        let payload = payload
            .map(|p| b64(&serde_json::to_vec(p).unwrap()))
            .unwrap_or_default();
        let sig = self
            .key
            .sign(Alg::Es256, format!("{protected}.{payload}").as_bytes())
            .unwrap();
        serde_json::to_vec(&json!({"protected": protected, "payload": payload, "signature": b64(&sig)})).unwrap()
    }

    fn post(&mut self, path: &str, payload: Option<&Value>) -> Reply {
        let url = format!("{}/{path}", self.base);
        let nonce = self.nonce();
        let body = self.jws(&url, payload, &nonce, |_| {});
        self.send(&url, &body, "application/jose+json")
    }
}

#[test]
fn hostile_acme_requests_get_the_right_problem_and_the_server_keeps_serving() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    init_pki(dir);
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "acme",
            "--type",
            "ACME",
            "--allow-dns",
            "*.lab.test",
            "--challenge",
            "dns-01",
        ])
        .assert()
        .success();
    let server = start_with(dir, "127.0.0.1:0", &["--resolver", &format!("127.0.0.1:{}", cts.dns)]);
    let key = SigningKey::from_private_key(
        ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256).unwrap(),
    )
    .unwrap();
    let mut c = Client {
        dir,
        base: format!("{}/acme/acme", server.url),
        key,
        kid: None,
        n: 0,
    };
    let terms = json!({"termsOfServiceAgreed": true});

    // A proper account first; then the same request replayed with its nonce.
    let url = format!("{}/new-account", c.base);
    let nonce = c.nonce();
    let body = c.jws(&url, Some(&terms), &nonce, |_| {});
    let r = c.send(&url, &body, "application/jose+json");
    assert_eq!(r.status, 201, "{}", r.body);
    let kid = r.header("location").expect("Location");
    let r = c.send(&url, &body, "application/jose+json");
    assert_eq!(
        (r.status, r.kind().as_str()),
        (400, "urn:ietf:params:acme:error:badNonce"),
        "{}",
        r.body
    );
    assert!(
        r.header("replay-nonce").is_some(),
        "badNonce carries a fresh nonce: {}",
        r.headers
    );
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));

    // A url that is not the request's; alg none and HS256; jwk and kid together; an unknown kid.
    let nonce = c.nonce();
    let body = c.jws(&url, Some(&terms), &nonce, |h| {
        h.insert("url".into(), json!("https://elsewhere.test/acme/acme/new-account"));
    });
    let r = c.send(&url, &body, "application/jose+json");
    assert_eq!(
        (r.status, r.kind().as_str()),
        (401, "urn:ietf:params:acme:error:unauthorized"),
        "{}",
        r.body
    );
    for alg in ["none", "HS256"] {
        let nonce = c.nonce();
        let body = c.jws(&url, Some(&terms), &nonce, |h| {
            h.insert("alg".into(), json!(alg));
        });
        let r = c.send(&url, &body, "application/jose+json");
        assert_eq!(
            r.kind(),
            "urn:ietf:params:acme:error:badSignatureAlgorithm",
            "{alg}: {}",
            r.body
        );
        assert!(
            r.problem()["algorithms"].as_array().unwrap().contains(&json!("ES256")),
            "{}",
            r.body
        );
    }
    let nonce = c.nonce();
    let body = c.jws(&url, Some(&terms), &nonce, |h| {
        h.insert("kid".into(), json!(kid));
    });
    let r = c.send(&url, &body, "application/jose+json");
    assert_eq!(
        (r.status, r.kind().as_str()),
        (400, "urn:ietf:params:acme:error:malformed"),
        "{}",
        r.body
    );
    c.kid = Some(format!("{}/account/nosuchaccount", c.base));
    let r = c.post(
        "new-order",
        Some(&json!({"identifiers": [{"type": "dns", "value": "a.lab.test"}]})),
    );
    assert_eq!(r.kind(), "urn:ietf:params:acme:error:accountDoesNotExist", "{}", r.body);
    c.kid = Some(kid.clone());

    // A wrong content type, a GET on a POST resource, a 3 MB JWS.
    let r = c.send(&format!("{}/new-order", c.base), b"{}", "application/json");
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(crate::serve::curl(dir, &[&format!("{}/new-order", c.base)]).0, 405);
    let big = vec![b'a'; 3 << 20];
    let r = c.send(&format!("{}/new-order", c.base), &big, "application/jose+json");
    assert_eq!(
        (r.status, r.kind().as_str()),
        (413, "urn:ietf:params:acme:error:malformed"),
        "{}",
        r.headers
    );

    // An identifier outside the provisioner's policy: rejectedIdentifier naming it.
    let r = c.post(
        "new-order",
        Some(&json!({"identifiers": [{"type": "dns", "value": "evil.test"}, {"type": "dns", "value": "ok.lab.test"}]})),
    );
    assert_eq!(
        (r.status, r.kind().as_str()),
        (400, "urn:ietf:params:acme:error:rejectedIdentifier"),
        "{}",
        r.body
    );
    assert_eq!(
        r.problem()["subproblems"][0]["identifier"]["value"],
        "evil.test",
        "{}",
        r.body
    );

    // A ready order (dns-01 through the CA's resolver), finalized with a CSR naming one more name: badCSR.
    let r = c.post(
        "new-order",
        Some(&json!({"identifiers": [{"type": "dns", "value": "ok.lab.test"}]})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let order_url = r.header("location").unwrap();
    let order: Value = serde_json::from_str(&r.body).unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap().to_string();
    let authz: Value =
        serde_json::from_str(&c.post(authz_url.trim_start_matches(&format!("{}/", c.base)), None).body).unwrap();
    let ch = &authz["challenges"][0];
    assert_eq!(ch["type"], "dns-01");
    let thumb = c.key.jwk.public().unwrap().thumbprint().unwrap();
    let ka = format!("{}.{thumb}", ch["token"].as_str().unwrap());
    let txt = b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ka.as_bytes()).as_ref());
    let set = json!({"host": "_acme-challenge.ok.lab.test.", "value": txt}).to_string();
    tool(
        dir,
        "curl",
        &["-sf", "-d", &set, &format!("http://127.0.0.1:{}/set-txt", cts.mgmt)],
    );
    let ch_path = ch["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&format!("{}/", c.base))
        .to_string();
    assert_eq!(c.post(&ch_path, Some(&json!({}))).status, 200);
    let order_path = order_url.trim_start_matches(&format!("{}/", c.base)).to_string();
    let start = std::time::Instant::now();
    loop {
        let o: Value = serde_json::from_str(&c.post(&order_path, None).body).unwrap();
        if o["status"] == "ready" {
            break;
        }
        assert_eq!(o["status"], "pending", "{o}");
        assert!(start.elapsed().as_secs() < 20, "the order never became ready");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let key = ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256).unwrap();
    let csr = ferrica::pki::issue::create_csr(
        "",
        &[
            ferrica::pki::issue::San::Dns("ok.lab.test".into()),
            ferrica::pki::issue::San::Dns("extra.lab.test".into()),
        ],
        &key,
    )
    .unwrap();
    let r = c.post(&format!("{order_path}/finalize"), Some(&json!({"csr": b64(&csr)})));
    assert_eq!(
        (r.status, r.kind().as_str()),
        (400, "urn:ietf:params:acme:error:badCSR"),
        "{}",
        r.body
    );
    // The order is still ready: a proper CSR then issues.
    let csr = ferrica::pki::issue::create_csr(
        "ok.lab.test",
        &[ferrica::pki::issue::San::Dns("ok.lab.test".into())],
        &key,
    )
    .unwrap();
    let r = c.post(&format!("{order_path}/finalize"), Some(&json!({"csr": b64(&csr)})));
    assert_eq!(r.status, 200, "{}", r.body);
    let o: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(o["status"], "valid", "{o}");
    // The orders list pages at 100, the next page linked.
    for i in 0..100 {
        let r = c.post(
            "new-order",
            Some(&json!({"identifiers": [{"type": "dns", "value": format!("p{i}.lab.test")}]})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let account_path = kid.trim_start_matches(&format!("{}/", c.base)).to_string();
    let r = c.post(&format!("{account_path}/orders"), None);
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["orders"].as_array().unwrap().len(), 100, "{}", r.body);
    let next = r.next_link().expect("a next page");
    assert!(next.contains("cursor=100"), "{next}");
    let r = c.post(&format!("{account_path}/orders?cursor=100"), None);
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{}", r.body);
    assert!(r.next_link().is_none(), "{:?}", r.next_link());

    // Another account cannot read that order.
    let other = SigningKey::from_private_key(
        ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256).unwrap(),
    )
    .unwrap();
    let mut c2 = Client {
        dir,
        base: c.base.clone(),
        key: other,
        kid: None,
        n: 1000,
    };
    let r = c2.post("new-account", Some(&terms));
    c2.kid = r.header("location");
    let r = c2.post(&order_path, None);
    assert_eq!(r.kind(), "urn:ietf:params:acme:error:unauthorized", "{}", r.body);

    assert_eq!(
        crate::serve::curl(dir, &[&format!("{}/health", server.url)]).0,
        200,
        "the CA keeps serving"
    );
}
