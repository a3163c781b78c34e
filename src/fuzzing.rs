//! The entry points the fuzz targets (`fuzz/fuzz_targets/`) drive, one per kind of outside input, each through the
//! functions the commands and the server use on that input, rendering included. Each must return (an error is
//! fine) for any bytes: a panic, a hang or an abort is a finding. The unit test at the end runs every committed seed
//! and saved crash input through the same functions on a plain `cargo test`, so a fixed crash stays fixed
//! without the fuzzer.

use crate::jose::{jwe, jwk::Jwk, jws};
use crate::pki::{der_input, inspect, keys::PrivateKey, lint, ocsp, step_json, template};

/// The password the key targets decrypt with (the seed corpus's encrypted keys use it).
pub const PASSWORD: &[u8] = b"fuzz-password";

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// The targets, by name: what `scripts/fuzz.sh` runs and the corpus directories under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("x509", x509),
    ("private_key", private_key),
    ("jose", jose),
    ("ca_json", ca_json),
    ("template", template_text),
    ("acme_jws", acme_jws),
    ("ssh", ssh),
    ("ocsp_request", ocsp_request),
    ("server_api", server_api),
    ("acme_payload", acme_payload),
];

/// PEM or DER certificates and CSRs, as `certificate inspect`, `fingerprint`, `lint`, `sign` and `verify` read them:
/// parsed, described, rendered as text, short and step's JSON, and linted; a CSR read and its signature checked as
/// `sign` does, a chain judged as `verify` does (its last certificate as the root).
pub fn x509(data: &[u8]) {
    match der_input::parse_x509(data) {
        Ok(der_input::X509Input::Certificates(certs)) => {
            for der in certs.iter().take(4) {
                if let Ok(info) = inspect::describe_certificate(der) {
                    let _ = inspect::certificate_text(&info);
                    let _ = inspect::certificate_short(&info);
                }
                if let Ok(j) = step_json::certificate(der) {
                    let _ = serde_json::to_string(&j);
                }
                let _ = lint::lint(der);
                let _ = crate::pki::fingerprint::fingerprint(
                    der,
                    crate::pki::fingerprint::FingerprintHash::Sha256,
                    crate::pki::fingerprint::FingerprintFormat::Hex,
                );
            }
            // As `certificate verify` judges them: the last certificate as the root, so the signatures are checked.
            let chain: Vec<Vec<u8>> = certs.iter().take(4).cloned().collect();
            let now = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000));
            let root = chain.last().cloned().into_iter().collect::<Vec<_>>();
            let _ = crate::cmd::certificate::verify::judge(&chain, &root, Some("example.com"), now);
        }
        Ok(der_input::X509Input::Csr(der)) => {
            let _ = crate::cmd::certificate::sign::read_csr(&der);
            if let Ok(info) = inspect::describe_csr(&der) {
                let _ = inspect::csr_text(&info);
                let _ = inspect::csr_short(&info);
            }
            if let Ok(j) = step_json::csr(&der) {
                let _ = serde_json::to_string(&j);
            }
        }
        Err(_) => {}
    }
}

/// Private keys in every form ferrica reads (PEM and DER: PKCS#8, encrypted PKCS#8, SEC1, PKCS#1, legacy
/// encrypted PEM; JWK and encrypted JWK), with [`PASSWORD`] when one is asked for; a key that parses is used once.
/// Public keys too (PEM or DER SubjectPublicKeyInfo, or a certificate's), converted to a JWK and an OpenSSH line.
pub fn private_key(data: &[u8]) {
    let mut pw = || Ok(PASSWORD.to_vec());
    if let Ok(k) = PrivateKey::parse(data, &mut pw) {
        let _ = k.public_pem();
        let _ = Jwk::from_private_key(&k);
    }
    let _ = PrivateKey::is_encrypted(data);
    if jwe::looks_like_jwe(data)
        && let Ok(j) = jwe::Jwe::parse(data)
        && let Ok(plain) = jwe::decrypt(&j, PASSWORD)
        && let Ok(k) = Jwk::from_json(&plain)
    {
        let _ = k.to_private_key();
    }
    if let Ok(k) = Jwk::from_json(data) {
        let _ = k.thumbprint();
        let _ = k.to_private_key();
        let _ = k.to_spki_der();
    }
    // Public keys (and certificates) as `crypto key public|fingerprint|format` read them.
    if let Some(spki) = crate::cmd::crypto::public_spki(data) {
        let _ = crate::pki::keys::KeyKind::from_spki(&spki);
        if let Ok(j) = Jwk::from_spki(&spki) {
            let _ = j.thumbprint();
        }
        let _ = crate::cmd::crypto::key::openssh_public(&spki);
    }
}

/// JWK, JWS/JWT and JWE: a JWK read and converted; compact tokens decoded, their claims checked, their signature
/// verified with a fixed P-256 key; JWE (compact and JSON) parsed and decrypted with [`PASSWORD`].
pub fn jose(data: &[u8]) {
    if let Ok(k) = Jwk::from_json(data) {
        let _ = k.thumbprint();
        let _ = k.public();
        let _ = k.to_spki_der();
        let _ = k.default_alg();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = jws::decode_compact(text.trim()) {
            let checks = jws::ClaimChecks::default();
            if let Some(claims) = serde_json::from_slice::<serde_json::Value>(&c.payload)
                .ok()
                .and_then(|v| v.as_object().cloned())
            {
                let _ = jws::check_claims(&claims, &checks, 1_700_000_000);
            }
        }
        let _ = jws::verify_compact(text.trim(), fixed_jwk(), None);
    }
    if let Ok(j) = jwe::Jwe::parse(data) {
        let _ = jwe::decrypt(&j, PASSWORD);
        let _ = j.compact();
    }
}

fn fixed_jwk() -> &'static Jwk {
    static KEY: std::sync::OnceLock<Jwk> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let k = PrivateKey::generate(crate::pki::keys::KeySpec::P256).expect("P-256 key");
        Jwk::from_private_key(&k).and_then(|j| j.public()).expect("JWK")
    })
}

/// ca.json as `serve`, `ca provisioner` and the token commands read it: the config, each provisioner's claims and
/// policy, the OCSP, revocation-URL and store settings.
pub fn ca_json(data: &[u8]) {
    let Ok(config) = crate::ca::config::CaConfig::from_json(data) else {
        return;
    };
    for p in &config.authority.provisioners {
        let entry = Some(p);
        let _ = crate::ca::authorize::tls_durations(entry, &config);
        for t in [
            ssh_key::certificate::CertType::User,
            ssh_key::certificate::CertType::Host,
        ] {
            let _ = crate::ca::ssh::durations(entry, &config, t);
            if let Some(e) = entry {
                let _ = crate::ca::ssh::check_enabled(e, &config, t);
                let _ = crate::ca::ssh::check_policy(e, t, &["web.lab".into()]);
            }
        }
    }
    if let Some(db) = &config.db {
        let _ = crate::ca::config::store_choice(db);
    }
    let _ = crate::server::ocsp::Settings::from_config(config.extra.get("ocsp"));
    let _ = crate::server::RevocationUrls::new(Some("http://ca.lab:8080"), config.extra.get("revocationUrls"));
    let _ = serde_json::to_vec(&config);
}

/// Certificate templates (`--template`), rendered with step's variables and applied to a request.
pub fn template_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = serde_json::json!({
        "Subject": {"CommonName": "svc.lab"},
        "SANs": [{"type": "dns", "value": "svc.lab"}],
        "Insecure": {"User": {"role": "admin"}},
    });
    if let Ok(t) = template::render(text, &vars) {
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("a time");
        let mut req = crate::pki::issue::IssueRequest::new(
            crate::pki::profile::Profile::Leaf,
            "svc.lab",
            vec![],
            now,
            now + time::Duration::hours(1),
        );
        let _ = t.apply(&mut req);
    }
}

/// An ACME request body (RFC 8555 §6.2 flattened JWS): parsed, checked against a URL, its payload read, its
/// signature verified with the key it carries.
pub fn acme_jws(data: &[u8]) {
    let Ok(req) = crate::acme::jws::parse(data) else {
        return;
    };
    let _ = req.check("https://ca.lab/acme/acme/new-order");
    let _ = req.payload();
    let _ = req.json();
    let _ = req.is_post_as_get();
    let _ = req.verify(fixed_jwk());
}

/// SSH public keys, certificates (`-cert.pub`) and OpenSSH private keys, as `ssh inspect`, `ssh certificate --sign`
/// and `/ssh/sign` read them; a certificate's signature is verified.
pub fn ssh(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = crate::ssh::cert::parse_public_key(text) {
        let _ = crate::ssh::cert::check_key(&k);
        let _ = crate::ssh::cert::spki_of(&k);
        let _ = crate::ssh::cert::public_line(&k, "fuzz");
    }
    if let Ok(c) = crate::ssh::cert::parse_certificate(text) {
        let _ = crate::ssh::cert::verify_signature(&c);
        let _ = crate::ssh::cert::certificate_line(&c);
    }
    // Up to `ssh::keys::MAX_BCRYPT_ROUNDS` bcrypt rounds are honest work, about 10 ms each here: a key asking for
    // 220 took 2.3 s and timed out an hour-long run on a busy machine. Past 16 (OpenSSH's default) the decryption
    // is skipped; the cap itself is tested in `ssh::keys`.
    if let Ok(k) = ssh_key::PrivateKey::from_openssh(text.as_bytes())
        && matches!(k.kdf(), ssh_key::Kdf::Bcrypt { rounds, .. } if *rounds > 16)
    {
        return;
    }
    let mut pw = || Ok(PASSWORD.to_vec());
    let _ = crate::ssh::keys::read_private(data, &mut pw);
}

/// An OCSP request (DER), parsed and its CertIDs read as `/ocsp` does.
pub fn ocsp_request(data: &[u8]) {
    if let Ok(r) = ocsp::Request::parse(data) {
        for id in &r.cert_ids {
            let _ = ocsp::serial_decimal(id);
        }
    }
}

/// A CA (made by `ca init`'s code, in memory, with an in-memory store) and the server's router, driven without
/// sockets; built once per process.
fn server() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static SERVER: std::sync::OnceLock<(tokio::runtime::Runtime, axum::Router)> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let now = time::OffsetDateTime::now_utc();
        let params = crate::ca::init::InitParams {
            name: "Fuzz".into(),
            dns: vec!["ca.lab".into()],
            address: "127.0.0.1:0".into(),
            provisioner: "ci@lab".into(),
            acme: true,
            no_db: false,
            ssh: false,
            key_spec: crate::pki::keys::KeySpec::P256,
            base: std::env::temp_dir(),
        };
        let pki = crate::ca::init::build(&params, None, PASSWORD, now).expect("a PKI");
        let store = std::sync::Arc::new(crate::ca::store::RedbStore::in_memory().expect("a store"));
        let ca = crate::server::Ca::new(
            pki.config,
            None,
            pki.root_der,
            pki.intermediate_der,
            std::sync::Arc::new(pki.intermediate_key),
            store,
            now.unix_timestamp(),
        )
        .expect("a CA");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        (rt, crate::server::app(std::sync::Arc::new(ca)))
    })
}

/// The online CA's request handling, without sockets: the first byte picks a route (`/sign`, `/renew` and
/// `/revoke` with the rest as the body or as a bearer token, `/ssh/sign`, ACME's new-account, `/ocsp`), the rest
/// is the request.
pub fn server_api(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (path, ct, bearer) = match pick % 7 {
        0 => ("/1.0/sign", "application/json", false),
        1 => ("/1.0/revoke", "application/json", false),
        2 => ("/1.0/renew", "application/json", true),
        3 => ("/1.0/ssh/sign", "application/json", false),
        4 => ("/acme/acme/new-account", "application/jose+json", false),
        5 => ("/ocsp", "application/ocsp-request", false),
        _ => ("/1.0/rekey", "application/json", true),
    };
    let mut req = axum::http::Request::post(path).header("content-type", ct);
    let body = if bearer {
        match std::str::from_utf8(rest) {
            Ok(t) if axum::http::HeaderValue::from_str(&format!("Bearer {t}")).is_ok() => {
                req = req.header("authorization", format!("Bearer {t}"));
                axum::body::Body::from("{}")
            }
            _ => return,
        }
    } else {
        axum::body::Body::from(rest.to_vec())
    };
    let Ok(req) = req.body(body) else { return };
    let (status, _, body) = call(req);
    // A 500 for client input is a finding: the server must answer with the protocol's error.
    assert!(
        status < 500 || status == 501,
        "{path}: {status} {}",
        String::from_utf8_lossy(&body)
    );
}

/// One request through the in-memory CA's router, with what the TLS layer adds to every request (no client
/// certificate, a loopback peer): the status, headers and body of the answer.
fn call(mut req: axum::http::Request<axum::body::Body>) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt as _;
    let (rt, app) = server();
    req.extensions_mut().insert(crate::server::PeerChain(None));
    req.extensions_mut()
        .insert(crate::server::PeerAddr(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    rt.block_on(async {
        let res = app.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (status, headers, body)
    })
}

/// An ACME client for [`acme_payload`]: its key, and the account URL made with it.
struct AcmeClient {
    key: crate::jose::jws::SigningKey,
    jwk: serde_json::Value,
    kid: String,
}

const ACME_BASE: &str = "https://ca.lab/acme/acme";

/// One request through the router: status, Location and body.
fn acme_call(req: axum::http::Request<axum::body::Body>) -> (u16, Option<String>, String) {
    let (status, headers, body) = call(req);
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, String::from_utf8_lossy(&body).into_owned())
}

/// A fresh nonce from new-nonce.
fn acme_nonce() -> String {
    let req = axum::http::Request::head(format!("{ACME_BASE}/new-nonce"))
        .header("host", "ca.lab")
        .body(axum::body::Body::empty())
        .expect("a request");
    let (_, headers, _) = call(req);
    headers
        .get("replay-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("a Replay-Nonce")
        .to_string()
}

/// A flattened JWS of `payload` for `url`, signed by the client's key, with its `kid` or (`by_jwk`) its JWK.
fn acme_post(client: &AcmeClient, url: &str, payload: &[u8], by_jwk: bool) -> (u16, Option<String>, String) {
    let mut h = serde_json::Map::new();
    if by_jwk {
        h.insert("jwk".into(), client.jwk.clone());
    } else {
        h.insert("kid".into(), serde_json::json!(client.kid));
    }
    h.insert("nonce".into(), serde_json::json!(acme_nonce()));
    h.insert("url".into(), serde_json::json!(url));
    let compact =
        crate::jose::jws::sign_compact(&client.key, crate::jose::jws::Alg::Es256, h, payload).expect("signing");
    let mut parts = compact.split('.');
    let body = serde_json::json!({
        "protected": parts.next(),
        "payload": parts.next(),
        "signature": parts.next(),
    });
    let req = axum::http::Request::post(url)
        .header("host", "ca.lab")
        .header("content-type", "application/jose+json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("a request");
    acme_call(req)
}

fn acme_client() -> &'static AcmeClient {
    static CLIENT: std::sync::OnceLock<AcmeClient> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let k = PrivateKey::generate(crate::pki::keys::KeySpec::P256).expect("P-256 key");
        let private = Jwk::from_private_key(&k).expect("JWK");
        let public = private.public().expect("public JWK");
        let jwk: serde_json::Value = serde_json::from_str(&public.to_json_pretty()).expect("JWK JSON");
        let key = crate::jose::jws::SigningKey::from_jwk(private).expect("a signing key");
        let mut client = AcmeClient {
            key,
            jwk,
            kid: String::new(),
        };
        let (status, location, body) = acme_post(
            &client,
            &format!("{ACME_BASE}/new-account"),
            br#"{"termsOfServiceAgreed": true}"#,
            true,
        );
        assert_eq!(status, 201, "new-account: {body}");
        client.kid = location.expect("the account's Location");
        client
    })
}

/// ACME payloads through the real router, signed as a client signs them: the first byte picks the resource
/// (new-order, the account, key-change, revoke-cert, new-account, a challenge), the rest is the JWS payload, sent
/// with a fresh nonce and a valid ES256 signature by an account made once, so that the payload readers (not the
/// JWS checks) see the input; a finalize CSR goes through the same decoding and name check as finalize. A 500 is a
/// finding.
pub fn acme_payload(data: &[u8]) {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let client = acme_client();
    let (url, by_jwk) = match pick % 6 {
        0 => (format!("{ACME_BASE}/new-order"), false),
        1 => (client.kid.clone(), false),
        2 => (format!("{ACME_BASE}/key-change"), false),
        3 => (format!("{ACME_BASE}/revoke-cert"), false),
        4 => (format!("{ACME_BASE}/new-account"), true),
        _ => {
            // finalize's CSR: base64url DER in the payload's `csr`, parsed and matched against an order's names.
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload)
                && let Some(der) = v.get("csr").and_then(serde_json::Value::as_str).and_then(|s| {
                    use base64::Engine;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
                })
                && let Ok(csr) = crate::server::x509::parse_csr_der(&der)
            {
                let order = [crate::acme::model::Identifier {
                    kind: "dns".into(),
                    value: "fuzz.lab".into(),
                }];
                let _ = crate::acme::model::check_csr_names(&order, csr.cn.as_deref(), &csr.sans);
            }
            return;
        }
    };
    // A deactivated account would turn every later input into `unauthorized`; deactivation stays out of reach.
    if pick % 6 == 1 && payload.windows(11).any(|w| w == b"deactivated") {
        return;
    }
    let (status, _, body) = acme_post(client, &url, payload, by_jwk);
    assert!(status < 500 || status == 501, "{url}: {status} {body}");
}

#[cfg(test)]
mod tests {
    /// Every committed seed and every saved crash input, through its target: what the fuzzers found stays fixed.
    #[test]
    fn the_seed_corpus_and_saved_crashes_replay_cleanly() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut ran = 0;
        for (name, target) in super::TARGETS {
            for dir in ["seeds", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                for e in entries {
                    let path = e.unwrap().path();
                    target(&std::fs::read(&path).unwrap());
                    ran += 1;
                }
            }
            assert!(root.join("seeds").join(name).is_dir(), "no seeds for target {name}");
        }
        assert!(ran >= 40, "only {ran} inputs replayed");
    }

    /// The x509 seeds reach `sign`'s CSR reading (the signature checked) and `verify`'s chain judgement.
    #[test]
    fn the_x509_seeds_reach_the_csr_and_chain_checks() {
        use crate::pki::der_input::{X509Input, parse_x509};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/x509");
        let Ok(X509Input::Csr(mut csr)) = parse_x509(&std::fs::read(dir.join("step.csr")).unwrap()) else {
            panic!("step.csr is not a CSR");
        };
        assert!(!crate::cmd::certificate::sign::read_csr(&csr).unwrap().sans.is_empty());
        let last = csr.len() - 1;
        csr[last] ^= 1;
        let err = crate::cmd::certificate::sign::read_csr(&csr).err().unwrap();
        assert!(err.contains("signature does not verify"), "{err}");
        let Ok(X509Input::Certificates(chain)) = parse_x509(&std::fs::read(dir.join("bundle.pem")).unwrap()) else {
            panic!("bundle.pem holds no certificates");
        };
        assert!(chain.len() > 1);
        let now = rustls::pki_types::UnixTime::now();
        let root = vec![chain.last().unwrap().clone()];
        let verdict = crate::cmd::certificate::verify::judge(&chain, &root, None, now);
        assert!(
            !matches!(verdict, Err(crate::cmd::certificate::verify::Verdict::Unusable(_))),
            "{verdict:?}"
        );
    }

    /// The public-key seeds reach the public-key path of the `private_key` target (not only its private-key one).
    #[test]
    fn the_public_key_seeds_are_read_as_public_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/private_key");
        for name in ["step-ed25519-public.pem", "step-rsa-public.pem", "ec-public.der"] {
            let data = std::fs::read(dir.join(name)).unwrap();
            let spki = crate::cmd::crypto::public_spki(&data).unwrap_or_else(|| panic!("{name}: not a public key"));
            crate::jose::jwk::Jwk::from_spki(&spki).unwrap();
            let line = crate::cmd::crypto::key::openssh_public(&spki).unwrap();
            assert!(
                line.starts_with("ssh-") || line.starts_with("ecdsa-sha2-nistp256 "),
                "{name}: {line}"
            );
        }
        assert!(crate::cmd::crypto::public_spki(&std::fs::read(dir.join("ec-pkcs8.pem")).unwrap()).is_none());
    }
}
