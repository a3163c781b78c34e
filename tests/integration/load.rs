//! A bounded `/sign` load for fault tests: N keep-alive TLS connections, each sending requests with fresh tokens
//! minted in-process, logging every acknowledged (201) certificate's serial and token ID. A failed connection
//! moves on to the next URL, so a load across two instances keeps going when one dies.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Map, json};

/// One acknowledged certificate.
#[derive(Debug, Clone)]
pub(crate) struct Ack {
    pub(crate) serial: String,
    /// The token's ID as the store keeps it.
    pub(crate) jti: String,
    /// The token's exp (the embedded store keys used tokens by exp and ID).
    pub(crate) exp: i64,
}

/// What a load run saw.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) acked: Vec<Ack>,
    /// Answers by HTTP status, other than 201.
    pub(crate) refused: std::collections::BTreeMap<u16, usize>,
    /// Connections that failed (refused, reset, closed mid-request).
    pub(crate) broken: usize,
    /// The first few bodies of answers other than 201 and 503.
    pub(crate) samples: Vec<String>,
}

/// Runs `conns` connections spread over `urls` until `stop` is set (or `limit` passes); `dir` holds the PKI.
pub(crate) fn sign_load(
    dir: &Path,
    urls: &[String],
    conns: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    limit: Duration,
) -> Outcome {
    use ferrica::jose::jws::{self, Alg, SigningKey};
    let config =
        ferrica::ca::config::CaConfig::from_json(&std::fs::read(dir.join("pki/config/ca.json")).unwrap()).unwrap();
    let prov = config
        .authority
        .provisioners
        .iter()
        .find(|p| p["type"] == "JWK")
        .unwrap()
        .clone();
    let name = prov["name"].as_str().unwrap().to_string();
    let jwe = ferrica::jose::jwe::Jwe::parse(prov["encryptedKey"].as_str().unwrap().as_bytes()).unwrap();
    let pw = std::fs::read_to_string(dir.join("pw")).unwrap();
    let jwk = ferrica::jose::jwk::Jwk::from_json(&ferrica::jose::jwe::decrypt(&jwe, pw.trim_end().as_bytes()).unwrap())
        .unwrap();
    let kid = jwk.kid.clone().unwrap();
    let signer = Arc::new(SigningKey::from_jwk(jwk).unwrap());
    let key = ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256).unwrap();
    let csr_der =
        ferrica::pki::issue::create_csr("load.lab", &[ferrica::pki::issue::San::parse("load.lab")], &key).unwrap();
    let csr = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", csr_der));

    let mut roots = rustls::RootCertStore::empty();
    for c in
        ferrica::pki::der_input::parse_certificates(&std::fs::read(dir.join("pki/certs/root_ca.crt")).unwrap()).unwrap()
    {
        roots.add(CertificateDer::from(c)).unwrap();
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let out = Arc::new(Mutex::new(Outcome::default()));
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + limit;
    // Token IDs unique across runs against one database.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..conns)
        .map(|i| {
            let (urls, tls, out, stop, counter, signer) = (
                urls.to_vec(),
                tls.clone(),
                out.clone(),
                stop.clone(),
                counter.clone(),
                signer.clone(),
            );
            let (name, kid, csr) = (name.clone(), kid.clone(), csr.clone());
            rt.spawn(async move {
                let mut which = i % urls.len();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let url = &urls[which];
                    which = (which + 1) % urls.len();
                    let (host, port) = ferrica::io::remote::host_port(url).unwrap();
                    let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
                        out.lock().unwrap().broken += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let name_ = ServerName::try_from(host.clone()).unwrap();
                    let Ok(stream) = tokio_rustls::TlsConnector::from(tls.clone()).connect(name_, tcp).await else {
                        out.lock().unwrap().broken += 1;
                        continue;
                    };
                    let Ok((mut send, conn)) =
                        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
                    else {
                        out.lock().unwrap().broken += 1;
                        continue;
                    };
                    tokio::spawn(conn);
                    let aud = format!("{url}/1.0/sign");
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let now = time::OffsetDateTime::now_utc().unix_timestamp();
                        let jti = format!("load-{run_id}-{i}-{}", counter.fetch_add(1, Ordering::Relaxed));
                        let claims = json!({"iss": name, "aud": aud, "sub": "load.lab", "sans": ["load.lab"],
                            "jti": jti, "iat": now, "nbf": now, "exp": now + 300});
                        let mut h = Map::new();
                        h.insert("kid".into(), json!(kid));
                        h.insert("typ".into(), json!("JWT"));
                        let ott =
                            jws::sign_compact(&signer, Alg::Es256, h, &serde_json::to_vec(&claims).unwrap()).unwrap();
                        let req = hyper::Request::post("/1.0/sign")
                            .header("host", host.as_str())
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(json!({"csr": csr, "ott": ott}).to_string())))
                            .unwrap();
                        let Ok(res) = send.send_request(req).await else {
                            out.lock().unwrap().broken += 1;
                            break;
                        };
                        let status = res.status().as_u16();
                        let Ok(body) = res.into_body().collect().await else {
                            out.lock().unwrap().broken += 1;
                            break;
                        };
                        let body = body.to_bytes();
                        if status == 201 {
                            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                            let der = pem::parse(v["crt"].as_str().unwrap()).unwrap().into_contents();
                            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
                            out.lock().unwrap().acked.push(Ack {
                                serial: cert.serial.to_str_radix(10),
                                // As the CA keys used tokens: <iss>:<jti>.
                                jti: format!("{name}:{jti}"),
                                exp: now + 300,
                            });
                        } else {
                            let mut o = out.lock().unwrap();
                            *o.refused.entry(status).or_default() += 1;
                            if status != 503 && o.samples.len() < 5 {
                                o.samples.push(format!("{status} {}", String::from_utf8_lossy(&body)));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    rt.shutdown_background();
    Arc::try_unwrap(out).unwrap().into_inner().unwrap()
}
