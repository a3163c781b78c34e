//! Faults on the embedded store and on the CA's files: a full disk under `serve`, SIGKILL of `serve` under load,
//! and SIGKILL in the middle of `ca init` and `ca provisioner add`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use ferrica::ca::store::{RedbStore, Store, StoreError};

use crate::common::*;
use crate::serve::{curl, init_pki, sign_body, start_logged, token, wait_for_200};

/// A tmpfs of `size` mounted on `dir` for the test's life (root only: `mount` needs CAP_SYS_ADMIN).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` (with a note) when not root, outside CI; in CI the test fails instead.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        if !rustix::process::geteuid().is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the full-disk test mounts a tmpfs and needs root in CI"
            );
            eprintln!("note: skipping the full-disk test: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "mount: {}", stderr_of(&out));
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `file` until the file system is full.
fn fill(file: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// The store's key for a used token: its ID, `<iss>:<jti>`, and its exp.
fn token_key(ott: &str) -> (String, i64) {
    let payload = ott.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    (
        format!(
            "{}:{}",
            claims["iss"].as_str().unwrap(),
            claims["jti"].as_str().unwrap()
        ),
        claims["exp"].as_i64().unwrap(),
    )
}

fn csr(dir: &Path, name: &str) -> String {
    let file = format!("{name}.csr");
    ferrica(dir)
        .args([
            "certificate",
            "create",
            name,
            &file,
            &format!("{name}.key"),
            "--csr",
            "--san",
            name,
        ])
        .args(["--no-password", "--insecure", "--force"])
        .assert()
        .success();
    file
}

/// POST /1.0/sign with a fresh CSR for `name` and `ott`: the status, the body, and the serial when issued.
fn sign(dir: &Path, url: &str, name: &str, ott: &str) -> (u16, String, Option<String>) {
    let body = sign_body(dir, &csr(dir, name), ott);
    let (code, text) = curl(
        dir,
        &[
            "--data-binary",
            &format!("@{}", body.display()),
            &format!("{url}/1.0/sign"),
        ],
    );
    let serial = (code == 201).then(|| {
        let crt = serde_json::from_str::<serde_json::Value>(&text).unwrap()["crt"]
            .as_str()
            .unwrap()
            .to_string();
        let der = pem::parse(crt).unwrap().into_contents();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        // Decimal, as the store keys serials (and step-ca does).
        cert.tbs_certificate.serial.to_string()
    });
    (code, text, serial)
}

#[test]
fn a_full_disk_makes_writes_503_and_the_ca_recovers_with_nothing_lost_when_space_returns() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let db_dir = dir.join("pki/db");
    let _ = std::fs::remove_dir_all(&db_dir);
    let Some(_tmpfs) = Tmpfs::mount(&db_dir, "4m") else {
        return;
    };
    let server = start_logged(dir, "serve.log", &[]);
    let url = server.url.clone();

    let before = token(dir, &url, "before.lab", &["before.lab"]);
    let (code, text, first) = sign(dir, &url, "before.lab", &before);
    assert_eq!(code, 201, "{text}");

    fill(&db_dir.join("filler"));
    let during = token(dir, &url, "during.lab", &["during.lab"]);
    let (code, text, _) = sign(dir, &url, "during.lab", &during);
    assert_eq!(code, 503, "a write on a full disk: {text}");
    assert!(text.contains("No space left on device"), "{text}");
    let (code, text) = curl(dir, &[&format!("{url}/health")]);
    assert_eq!(code, 503, "/health on a full disk: {text}");
    // Reads still work, and the server keeps serving.
    assert_eq!(curl(dir, &[&format!("{url}/roots.pem")]).0, 200);

    std::fs::remove_file(db_dir.join("filler")).unwrap();
    wait_for_200(
        dir,
        &format!("{url}/health"),
        15,
        "/health stayed 503 after space returned",
    );
    // The refused request did not use up its token: the client's retry works.
    let (code, text, retried) = sign(dir, &url, "during.lab", &during);
    assert_eq!(code, 201, "the retry after space returned: {text}");
    let after = token(dir, &url, "after.lab", &["after.lab"]);
    let (code, text, last) = sign(dir, &url, "after.lab", &after);
    assert_eq!(code, 201, "{text}");
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(
        log.contains("reopened") && log.contains("writes succeed again"),
        "{log}"
    );

    // Stopped, the file is whole and holds every acknowledged certificate and used token.
    let mut server = server;
    crate::serve::signal(server.child.id(), "-TERM");
    assert!(server.child.wait().unwrap().success());
    let file = db_dir.join("ferrica.redb");
    let mut db = redb::Database::open(&file).unwrap();
    assert!(db.check_integrity().unwrap(), "redb's integrity check failed");
    drop(db);
    let store = RedbStore::open(&file).unwrap();
    for serial in [first, retried, last] {
        let serial = serial.unwrap();
        assert!(store.certificate(&serial).unwrap().is_some(), "serial {serial} lost");
    }
    for ott in [&before, &during, &after] {
        let (id, exp) = token_key(ott);
        assert!(
            matches!(store.use_token(&id, exp), Err(StoreError::TokenReused)),
            "a token that was answered 201 is not recorded as used"
        );
    }
}

/// Spawns `ferrica args` in `dir`, SIGKILLs it after `after` (if still running); whether it had finished.
fn run_and_kill(dir: &Path, pki: &Path, args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("FERRICA_PATH", pki)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    child.wait().unwrap();
    finished
}

fn timed(dir: &Path, pki: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("FERRICA_PATH", pki)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    start.elapsed()
}

fn provisioner_names(ca_json: &[u8]) -> Vec<String> {
    let cfg = ferrica::ca::config::CaConfig::from_json(ca_json).expect("a torn ca.json");
    cfg.authority
        .provisioners
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigkill_during_ca_provisioner_add_leaves_the_old_or_the_new_ca_json() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let pki = dir.join("pki");
    let ca_json = pki.join("config/ca.json");
    let add = |name: &str| {
        [
            "ca",
            "provisioner",
            "add",
            name,
            "--type",
            "JWK",
            "--create",
            "--password-file",
            "pw",
        ]
        .map(str::to_string)
        .to_vec()
    };
    let full = timed(
        dir,
        &pki,
        &add("warm-up").iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let runs = 24u32;
    let (mut old, mut new) = (0, 0);
    for i in 0..runs {
        let before = provisioner_names(&std::fs::read(&ca_json).unwrap());
        let name = format!("p{i}");
        // Kill points spread from the start to a little past a whole run.
        let after = full * (i * 5) / (runs * 4);
        let args = add(&name);
        run_and_kill(dir, &pki, &args.iter().map(String::as_str).collect::<Vec<_>>(), after);
        let now = provisioner_names(&std::fs::read(&ca_json).unwrap());
        if now == before {
            old += 1;
        } else {
            let mut want = before.clone();
            want.push(name.clone());
            assert_eq!(now, want, "killed after {after:?}: neither the old nor the new ca.json");
            new += 1;
        }
    }
    eprintln!(
        "ca provisioner add killed {runs} times (a run takes {full:?}): {old} left the old ca.json, {new} the new"
    );
    // The CA still works from what is there.
    ferrica(dir)
        .env("FERRICA_PATH", &pki)
        .args(["ca", "provisioner", "list"])
        .assert()
        .success();
}

#[test]
fn sigkill_during_ca_init_leaves_no_ca_json_or_a_complete_pki() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "ca-secret\n");
    let args = [
        "ca",
        "init",
        "--name",
        "Lab",
        "--dns",
        "localhost",
        "--provisioner",
        "ci@lab.test",
        "--password-file",
        "pw",
        "--ssh",
    ];
    let full = timed(dir, &dir.join("warm"), &args);
    let runs = 12u32;
    let (mut absent, mut complete) = (0, 0);
    for i in 0..runs {
        let pki = dir.join(format!("pki{i}"));
        let after = full * (i * 5) / (runs * 4);
        run_and_kill(dir, &pki, &args, after);
        let ca_json = pki.join("config/ca.json");
        match std::fs::read(&ca_json) {
            Err(_) => {
                absent += 1;
                // What a killed run left is refused without --force, and replaced with it.
                let out = Command::new(BIN)
                    .args(args)
                    .arg("--force")
                    .current_dir(dir)
                    .env("FERRICA_PATH", &pki)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "ca init --force after a kill: {}",
                    stderr_of(&out)
                );
            }
            Ok(data) => {
                complete += 1;
                ferrica::ca::config::CaConfig::from_json(&data)
                    .unwrap_or_else(|e| panic!("killed after {after:?}: a torn ca.json: {e}"));
                let cfg: serde_json::Value = serde_json::from_slice(&data).unwrap();
                let named = [
                    &cfg["root"],
                    &cfg["crt"],
                    &cfg["key"],
                    &cfg["ssh"]["hostKey"],
                    &cfg["ssh"]["userKey"],
                ]
                .map(|v| v.as_str().expect("a file named in ca.json").to_string());
                for f in named {
                    let text = std::fs::read_to_string(&f)
                        .unwrap_or_else(|e| panic!("killed after {after:?}: ca.json names {f}, which is missing: {e}"));
                    assert!(text.starts_with("-----BEGIN"), "{f} is not whole");
                }
            }
        }
    }
    eprintln!(
        "ca init killed {runs} times (a run takes {full:?}): {absent} left no ca.json, {complete} a complete PKI"
    );
}

#[test]
fn sigkill_of_serve_under_load_loses_no_acknowledged_certificate_in_the_embedded_store() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let mut server = start_logged(dir, "serve.log", &[]);
    // 64 connections signing; SIGKILL two seconds in, in the middle of batched commits.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (dir, urls, stop) = (dir.to_path_buf(), vec![server.url.clone()], stop.clone());
        std::thread::spawn(move || crate::load::sign_load(&dir, &urls, 64, stop, Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_secs(2));
    crate::serve::signal(server.child.id(), "-KILL");
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    let outcome = load.join().unwrap();
    assert!(
        outcome.acked.len() > 100,
        "too little load to mean anything: {}",
        outcome.acked.len()
    );
    assert!(
        outcome.refused.is_empty(),
        "only 201s before the kill: {:?} {:?}",
        outcome.refused,
        outcome.samples
    );

    // A restart opens the file; every acknowledged certificate is there, once, with its token used.
    let again = start_logged(dir, "again.log", &[]);
    assert_eq!(curl(dir, &[&format!("{}/health", again.url)]).0, 200);
    drop(again);
    let file = dir.join("pki/db/ferrica.redb");
    let mut db = redb::Database::open(&file).unwrap();
    assert!(db.check_integrity().unwrap(), "redb's integrity check failed");
    drop(db);
    let store = RedbStore::open(&file).unwrap();
    let mut seen = std::collections::HashSet::new();
    for a in &outcome.acked {
        assert!(seen.insert(&a.serial), "serial {} acknowledged twice", a.serial);
        assert!(
            store.certificate(&a.serial).unwrap().is_some(),
            "acknowledged serial {} is not in the store",
            a.serial
        );
        assert!(
            matches!(store.use_token(&a.jti, a.exp), Err(StoreError::TokenReused)),
            "the token of acknowledged serial {} is not recorded as used",
            a.serial
        );
    }
    eprintln!(
        "SIGKILL under load: {} acknowledged certificates, all in the store",
        outcome.acked.len()
    );
}

#[test]
fn with_a_database_a_token_used_before_a_restart_stays_used_and_an_unused_one_still_works() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let mut server = start_logged(dir, "a.log", &[]);
    let used = token(dir, &server.url, "used.lab", &["used.lab"]);
    let unused = token(dir, &server.url, "unused.lab", &["unused.lab"]);
    assert_eq!(sign(dir, &server.url, "used.lab", &used).0, 201);
    crate::serve::signal(server.child.id(), "-TERM");
    server.child.wait().unwrap();
    // Both tokens were issued before the new start; the database decides, not the clock.
    std::thread::sleep(Duration::from_millis(1100));
    let server = start_logged(dir, "b.log", &[]);
    let (code, text, _) = sign(dir, &server.url, "used.lab", &used);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("token already used"), "{text}");
    let (code, text, _) = sign(dir, &server.url, "unused.lab", &unused);
    assert_eq!(code, 201, "a token minted before a restart, never used: {text}");
}
