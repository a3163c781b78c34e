//! `ferrica ca renew CRT KEY`: renews over mTLS with the certificate (or, once it has expired or with
//! `--mtls=false`, with a token signed by its key and carrying its chain in `x5cInsecure`), once or as a daemon.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine;
use serde_json::{Map, Value, json};
use x509_parser::prelude::*;

use super::client;
use crate::ca::authorize::RENEW_TOKEN_ISSUER;
use crate::cli::ca::RenewArgs;
use crate::error::UserError;
use crate::io::output::{OutputSet, PUBLIC_MODE};
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, Alg, SigningKey};
use crate::pki::keys::PrivateKey;

/// Longest wait between retries after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// `ca renew`.
pub fn run(a: RenewArgs) -> Result<u8> {
    let out_path = a.out.clone().unwrap_or_else(|| a.crt_file.clone());
    let force = a.force || a.daemon;
    if !force {
        OutputSet::new(false).check(Path::new(&out_path), if a.out.is_some() { "--out" } else { "CRT_FILE" })?;
    }
    let signal = parse_signal(&a.after.signal)?;
    let key = client::read_key(&a.key_file, a.password_file.clone(), "--password-file")?;
    if a.daemon {
        return daemon(&a, &key, &out_path, signal);
    }
    let (nb, na) = validity(&a.crt_file)?;
    if let Some(d) = &a.expires_in {
        let window =
            crate::pki::validity::parse_duration(d).map_err(|e| UserError::usage(format!("--expires-in: {e}")))?;
        let window = Duration::from_secs(window.whole_seconds().max(0) as u64);
        let jitter = jitter(window / 20);
        let left = (na - crate::cmd::crypto::now_unix()).max(0) as u64;
        if Duration::from_secs(left) > window + jitter {
            eprintln!(
                "{}: not renewed: it expires in {} (more than --expires-in {d})",
                a.crt_file,
                human(Duration::from_secs(left))
            );
            return Ok(0);
        }
    }
    let _ = nb;
    let serial = renew_once(&a, &a.crt_file, &key, &out_path)?;
    eprintln!("Your certificate has been saved in {out_path} (serial {serial}).");
    after_renewal(&a.after, signal);
    Ok(0)
}

/// notBefore and notAfter (unix seconds) of the first certificate in `path`.
fn validity(path: &str) -> Result<(i64, i64)> {
    let chain = crate::cmd::certificate::read_certs(path, "certificate")?;
    let (_, c) = X509Certificate::from_der(&chain[0]).map_err(|e| UserError::input(format!("{path}: {e}")))?;
    Ok((c.validity().not_before.timestamp(), c.validity().not_after.timestamp()))
}

/// One renewal of `crt_path` (whose key is `key`), written to `out_path`. Returns the new serial.
fn renew_once(a: &RenewArgs, crt_path: &str, key: &PrivateKey, out_path: &str) -> Result<String> {
    let chain = crate::cmd::certificate::read_certs(crt_path, "certificate")?;
    let (_, cert) = X509Certificate::from_der(&chain[0]).map_err(|e| UserError::input(format!("{crt_path}: {e}")))?;
    if cert.public_key().raw != key.spki_der().as_slice() {
        return Err(UserError::input(format!("{} is not the key of {crt_path}", a.key_file)).into());
    }
    let expired = crate::cmd::crypto::now_unix() > cert.validity().not_after.timestamp();
    let answer = if a.mtls && !expired {
        let id = client::identity(crt_path, key)?;
        let (ca, _) = client::connect(&a.ca, Some(id))?;
        ca.post("/1.0/renew", &json!({}), None)?
    } else {
        let (ca, _) = client::connect(&a.ca, None)?;
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let token = renew_token(&chain, key, &cn, &format!("{}/1.0/renew", ca.url()))?;
        ca.post("/1.0/renew", &json!({}), Some(&token))?
    };
    let pem = client::chain_pem(answer.json("POST /renew")?)?;
    let new = crate::pki::der_input::parse_certificates(pem.as_bytes())?;
    let (_, leaf) =
        X509Certificate::from_der(&new[0]).map_err(|e| UserError::unavailable(format!("renewed certificate: {e}")))?;
    if leaf.public_key().raw != key.spki_der().as_slice() {
        return Err(UserError::unavailable("the CA renewed the certificate with a different key").into());
    }
    let mut out = OutputSet::new(true);
    out.stage(Path::new(out_path), pem.as_bytes(), PUBLIC_MODE)?;
    out.commit()?;
    Ok(leaf.serial.to_str_radix(10))
}

/// step's renewal token: signed with the certificate's key, the chain in `x5cInsecure`, iss step-ca-client/1.0,
/// sub = the CN, aud = the renew URL, valid five minutes.
fn renew_token(chain: &[Vec<u8>], key: &PrivateKey, cn: &str, aud: &str) -> Result<String> {
    let jwk = Jwk::from_private_key(key)?;
    let alg = Alg::parse(jwk.default_alg()?)?;
    let signer = SigningKey::from_jwk(jwk)?;
    let now = crate::cmd::crypto::now_unix();
    let x5c: Vec<Value> = chain
        .iter()
        .map(|c| Value::String(base64::engine::general_purpose::STANDARD.encode(c)))
        .collect();
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("x5cInsecure".into(), Value::Array(x5c));
    let claims = json!({
        "iss": RENEW_TOKEN_ISSUER, "sub": cn, "aud": aud,
        "jti": hex::encode(crate::jose::random(32)?),
        "iat": now, "nbf": now, "exp": now + 300,
    });
    Ok(jws::sign_compact(&signer, alg, header, &serde_json::to_vec(&claims)?)?)
}

/// --exec, then --pid/--pid-file with --signal. Failures are warnings: the certificate is already written.
/// Runs `--exec` and signals `--pid`/`--pid-file` (after a renewal or a rekey).
pub(crate) fn after_renewal(a: &crate::cli::ca::AfterArgs, signal: i32) {
    if let Some(cmd) = &a.exec {
        match std::process::Command::new("sh").arg("-c").arg(cmd).status() {
            Ok(s) if s.success() => {}
            Ok(s) => crate::cmd::warn(&format!("--exec {cmd:?} exited with {s}")),
            Err(e) => crate::cmd::warn(&format!("--exec {cmd:?}: {e}")),
        }
    }
    let pid = match (&a.pid, &a.pid_file) {
        (Some(p), _) => Some(*p),
        (None, Some(f)) => match std::fs::read_to_string(f).map(|s| s.trim().parse::<i32>()) {
            Ok(Ok(p)) => Some(p),
            _ => {
                crate::cmd::warn(&format!("--pid-file {f}: no PID in it"));
                None
            }
        },
        _ => None,
    };
    if let Some(pid) = pid.filter(|p| *p > 0) {
        let sent = match (
            rustix::process::Pid::from_raw(pid),
            rustix::process::Signal::from_named_raw(signal),
        ) {
            (Some(p), Some(s)) => rustix::process::kill_process(p, s).map_err(|e| e.to_string()),
            _ => Err("not a valid PID or signal".into()),
        };
        if let Err(e) = sent {
            crate::cmd::warn(&format!("signalling PID {pid}: {e}"));
        }
    }
}

/// HUP, SIGHUP, hup or a number (Linux numbering).
pub(crate) fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    Ok(match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "KILL" => 9,
        "USR1" => 10,
        "USR2" => 12,
        "TERM" => 15,
        "CONT" => 18,
        "WINCH" => 28,
        _ => return Err(UserError::usage(format!("--signal {s:?} is not a signal name or number")).into()),
    })
}

/// A random duration in [0, max).
fn jitter(max: Duration) -> Duration {
    let r = crate::jose::random(8)
        .ok()
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    let ms = max.as_millis() as u64;
    if ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(r % ms)
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

enum Event {
    RenewNow,
    Stop,
}

/// When the next renewal is due: after --renew-period, else once 2/3 of the lifetime has passed, minus a jitter of
/// up to 1/20 of the lifetime.
fn next_due(crt: &str, period: Option<Duration>) -> Result<Instant> {
    if let Some(p) = period {
        return Ok(Instant::now() + p);
    }
    let (nb, na) = validity(crt)?;
    let life = (na - nb).max(0) as u64;
    let at = nb + (life * 2 / 3) as i64;
    let wait = Duration::from_secs((at - crate::cmd::crypto::now_unix()).max(0) as u64);
    Ok(Instant::now() + wait.saturating_sub(jitter(Duration::from_secs(life / 20))))
}

/// The daemon: renew when due, on SIGHUP at once; stop on SIGINT/SIGTERM.
fn daemon(a: &RenewArgs, key: &PrivateKey, out_path: &str, signal: i32) -> Result<u8> {
    let period = a
        .renew_period
        .as_deref()
        .map(|p| {
            crate::pki::validity::parse_duration(p)
                .map_err(|e| UserError::usage(format!("--renew-period: {e}")))
                .and_then(|d| {
                    if d.whole_seconds() < 1 {
                        Err(UserError::usage("--renew-period must be at least 1s"))
                    } else {
                        Ok(Duration::from_secs(d.whole_seconds() as u64))
                    }
                })
        })
        .transpose()?;
    let (send, events) = mpsc::channel();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::hangup()),
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            loop {
                let ev = tokio::select! {
                    _ = hup.recv() => Event::RenewNow,
                    _ = term.recv() => Event::Stop,
                    _ = int.recv() => Event::Stop,
                };
                let stop = matches!(ev, Event::Stop);
                if send.send(ev).is_err() || stop {
                    return;
                }
            }
        });
    });
    let mut current = a.crt_file.clone();
    let mut due = next_due(&current, period)?;
    let mut failures = 0u32;
    eprintln!(
        "ferrica ca renew: daemon started for {current}; next renewal in {}",
        human(due.saturating_duration_since(Instant::now()))
    );
    loop {
        match events.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(Event::Stop) => {
                eprintln!("ferrica ca renew: stopping");
                return Ok(0);
            }
            Ok(Event::RenewNow) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        }
        match renew_once(a, &current, key, out_path) {
            Ok(serial) => {
                failures = 0;
                current = out_path.to_string();
                due = next_due(&current, period)?;
                eprintln!(
                    "ferrica ca renew: renewed {out_path} (serial {serial}); next renewal in {}",
                    human(due.saturating_duration_since(Instant::now()))
                );
                after_renewal(&a.after, signal);
            }
            Err(e) => {
                failures += 1;
                let backoff = Duration::from_secs(1u64 << failures.min(6).saturating_sub(1)).min(MAX_BACKOFF);
                eprintln!(
                    "warning: renewing {current} failed: {e:#}; retrying in {}",
                    human(backoff)
                );
                due = Instant::now() + backoff;
            }
        }
    }
}
