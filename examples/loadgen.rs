//! Load generator for `scripts/bench-serve.sh`: `/1.0/sign` throughput of a running `ferrica serve`.
//!
//! Pre-mints one-time tokens with the provisioner key from ca.json (before the clock starts), then for each
//! concurrency level opens that many keep-alive HTTP/1.1 TLS connections and sends `/sign` requests (one CSR,
//! a fresh token each) for a fixed time. Prints req/s and p50/p99 latency per level; every answer must be 201.
//! ENDPOINT=ocsp OCSP_REQUEST=FILE posts that DER OCSP request to /ocsp instead (answers must be 200).
//!
//! usage: loadgen CA_URL CA_JSON ROOT PASSWORD_FILE [SECONDS] [LEVELS, e.g. 1,16,64]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrica::ca::config::CaConfig;
use ferrica::jose::jwk::Jwk;
use ferrica::jose::jws::{self, Alg, SigningKey};
use ferrica::pki::issue::{San, create_csr};
use ferrica::pki::keys::{KeySpec, PrivateKey};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Map, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: loadgen CA_URL CA_JSON ROOT PASSWORD_FILE [SECONDS] [LEVELS]");
        std::process::exit(2);
    }
    let (url, ca_json, root, pw_file) = (&args[1], &args[2], &args[3], &args[4]);
    let secs: u64 = args.get(5).map_or(Ok(5), |s| s.parse())?;
    let levels: Vec<usize> = args
        .get(6)
        .map_or("1,16,64", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;

    // The provisioner key (the first JWK provisioner), decrypted once.
    let config = CaConfig::from_json(&std::fs::read(ca_json)?)?;
    let prov = config
        .authority
        .provisioners
        .iter()
        .find(|p| p.get("type").and_then(|t| t.as_str()) == Some("JWK"))
        .ok_or("no JWK provisioner")?;
    let name = prov["name"].as_str().unwrap_or_default().to_string();
    let jwe = ferrica::jose::jwe::Jwe::parse(prov["encryptedKey"].as_str().ok_or("no encryptedKey")?.as_bytes())?;
    let pw = std::fs::read_to_string(pw_file)?;
    let jwk = Jwk::from_json(&ferrica::jose::jwe::decrypt(&jwe, pw.trim_end().as_bytes())?)?;
    let kid = jwk.kid.clone().unwrap_or_default();
    let signer = SigningKey::from_jwk(jwk)?;

    // ENDPOINT=ssh: /1.0/ssh/sign with a P-256 public key and an SSH token (step.ssh claims); else /1.0/sign.
    let ssh = std::env::var("ENDPOINT").is_ok_and(|e| e == "ssh");
    let ocsp = std::env::var("ENDPOINT").is_ok_and(|e| e == "ocsp");
    let ocsp_body = match std::env::var("OCSP_REQUEST") {
        Ok(f) if ocsp => Some(Bytes::from(std::fs::read(f)?)),
        _ if ocsp => return Err("ENDPOINT=ocsp needs OCSP_REQUEST=FILE".into()),
        _ => None,
    };
    let path = if ssh {
        "/1.0/ssh/sign"
    } else if ocsp {
        "/ocsp"
    } else {
        "/1.0/sign"
    };
    let (content_type, want) = if ocsp {
        ("application/ocsp-request", 200)
    } else {
        ("application/json", 201)
    };
    let key = PrivateKey::generate(KeySpec::P256)?;
    let csr_der = create_csr("bench.lab.test", &[San::parse("bench.lab.test")], &key)?;
    let csr = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", csr_der));
    let ssh_key = {
        use base64::Engine as _;
        let data = ferrica::ssh::cert::key_data_of_spki(&key.spki_der())?;
        let mut blob = Vec::new();
        ssh_encoding::Encode::encode(&data, &mut blob)?;
        base64::engine::general_purpose::STANDARD.encode(blob)
    };
    let aud = format!("{}{path}", url.trim_end_matches('/'));
    let (host, port) = ferrica::io::remote::host_port(url).map_err(|e| e.to_string())?;

    let mut roots = rustls::RootCertStore::empty();
    for c in ferrica::pki::der_input::parse_certificates(&std::fs::read(root)?)? {
        roots.add(CertificateDer::from(c))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // With SERVER_PID set, the server's CPU time per request during each measured window.
    let server_pid: Option<u32> = std::env::var("SERVER_PID").ok().and_then(|p| p.parse().ok());
    println!("| concurrency | requests | req/s | p50 ms | p99 ms | server CPU us/req | loadgen CPU us/req |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &c in &levels {
        // Enough tokens for 20,000 req/s over the run; minted before the clock starts.
        let n = if ocsp { 1 } else { 20_000 * secs as usize };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let bodies: Vec<Bytes> = (0..n)
            .map(|i| {
                let mut claims = json!({"iss": name, "aud": aud, "sub": "bench.lab.test", "sans": ["bench.lab.test"],
                    "jti": format!("bench-{}-{c}-{now}-{i}", std::process::id()), "iat": now, "nbf": now, "exp": now + 600});
                if ssh {
                    claims["sub"] = json!("bench");
                    claims.as_object_mut().unwrap().remove("sans");
                    claims["step"] = json!({"ssh": {"certType": "user", "keyID": "bench", "principals": ["bench"],
                        "validAfter": "", "validBefore": ""}});
                }
                let mut h = Map::new();
                h.insert("kid".into(), json!(kid));
                h.insert("typ".into(), json!("JWT"));
                let ott = jws::sign_compact(&signer, Alg::Es256, h, &serde_json::to_vec(&claims).unwrap()).unwrap();
                let body = if ssh {
                    json!({"publicKey": ssh_key, "ott": ott, "certType": "user", "keyID": "bench", "principals": ["bench"]})
                } else {
                    json!({"csr": csr, "ott": ott})
                };
                Bytes::from(body.to_string())
            })
            .collect();
        // MINT=FILE: write the bodies (a JSON document a line) for another load generator (wrk with
        // scripts/wrk-sign.lua) and stop.
        if let Ok(file) = std::env::var("MINT") {
            let mut text = String::new();
            for b in &bodies {
                text.push_str(std::str::from_utf8(b)?);
                text.push('\n');
            }
            std::fs::write(&file, text)?;
            eprintln!("loadgen: {} request bodies in {file}", bodies.len());
            return Ok(());
        }
        let bodies = Arc::new(match &ocsp_body {
            Some(b) => vec![b.clone()],
            None => bodies,
        });
        let next = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let (server0, self0) = (server_pid.map(cpu_seconds), cpu_seconds_self());
        let tasks: Vec<_> = (0..c)
            .map(|_| {
                let (bodies, next, tls, host) = (bodies.clone(), next.clone(), tls.clone(), host.clone());
                rt.spawn(async move {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.unwrap();
                    tcp.set_nodelay(true).unwrap();
                    let name = ServerName::try_from(host.clone()).unwrap();
                    let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.unwrap();
                    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let i = if bodies.len() == 1 {
                            0
                        } else {
                            next.fetch_add(1, Ordering::Relaxed)
                        };
                        if i >= bodies.len() {
                            break;
                        }
                        let req = hyper::Request::post(path)
                            .header("host", host.as_str())
                            .header("content-type", content_type)
                            .body(Full::new(bodies[i].clone()))
                            .unwrap();
                        let t = Instant::now();
                        let res = send.send_request(req).await.unwrap();
                        let status = res.status().as_u16();
                        let body = res.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(status, want, "{}", String::from_utf8_lossy(&body));
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            lat.extend(rt.block_on(t)?);
        }
        let elapsed = start.elapsed().as_secs_f64();
        let per_req = |cpu: f64| format!("{:.0}", cpu * 1e6 / lat.len().max(1) as f64);
        let server = match (server_pid, server0) {
            (Some(pid), Some(c0)) => per_req(cpu_seconds(pid) - c0),
            _ => "-".into(),
        };
        let client = per_req(cpu_seconds_self() - self0);
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
        println!(
            "| {c} | {} | {:.0} | {:.2} | {:.2} | {server} | {client} |",
            lat.len(),
            lat.len() as f64 / elapsed,
            pct(0.50),
            pct(0.99)
        );
    }
    Ok(())
}

/// utime + stime of a process, in seconds, from /proc (Linux).
fn cpu_seconds(pid: u32) -> f64 {
    proc_cpu(&format!("/proc/{pid}/stat"))
}

fn cpu_seconds_self() -> f64 {
    proc_cpu("/proc/self/stat")
}

fn proc_cpu(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces), which ends with ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}
