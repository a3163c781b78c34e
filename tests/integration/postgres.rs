//! The PostgreSQL store on a real PostgreSQL (Debian's server binaries): a throwaway cluster per test, on a unix
//! socket in a temporary directory, started with `initdb` and `pg_ctl` (as the `postgres` user when the tests run as
//! root, since PostgreSQL refuses root) and stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A running PostgreSQL cluster.
pub(crate) struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// `postgresql://postgres@localhost/ferrica?host=<socket dir>`.
    pub(crate) url: String,
    /// The server's `-c` options.
    opts: String,
    /// Its port (of the socket, and on TCP when it listens there).
    port: u16,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL's server binaries are required (scripts/install-test-deps.sh installs postgresql)")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs a PostgreSQL tool, as `postgres` when we are root.
fn pg(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    let out = c
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    /// A cluster on a unix socket only.
    pub(crate) fn start() -> Postgres {
        Postgres::start_with(5432, |_| (String::new(), None))
    }

    /// A cluster on `port` whose extra `-c` options and pg_hba.conf (if any) `setup` returns, given the cluster's
    /// directory (where it may put files the server reads; they are handed to `postgres` before the start).
    pub(crate) fn start_with(port: u16, setup: impl FnOnce(&Path) -> (String, Option<String>)) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("ferrica-pg").tempdir().unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        let data = format!("{path}/data");
        let (extra, hba) = setup(dir.path());
        if is_root() {
            let st = Command::new("chown").args(["-R", "postgres:", &path]).status().unwrap();
            assert!(st.success());
        }
        pg(
            &bin,
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        );
        if let Some(hba) = hba {
            std::fs::write(format!("{data}/pg_hba.conf"), hba).unwrap();
        }
        let listen = if extra.contains("listen_addresses") {
            ""
        } else {
            "-c listen_addresses='' "
        };
        let opts = format!("{listen}-c unix_socket_directories='{path}' -c port={port} -c max_connections=200 {extra}");
        let url = format!("postgresql://postgres@localhost/ferrica?host={path}&port={port}");
        let pg = Postgres {
            dir,
            bin,
            url,
            opts,
            port,
        };
        pg.restart();
        pg
    }

    /// The socket directory (the `host` of the URL).
    pub(crate) fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `pg_ctl stop` (fast) and `start` again, e.g. after a pause.
    pub(crate) fn stop(&self) {
        let data = format!("{}/data", self.dir.path().display());
        pg(&self.bin, "pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    pub(crate) fn restart(&self) {
        let path = self.dir.path().display().to_string();
        let data = format!("{path}/data");
        pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &data,
                "-o",
                &self.opts,
                "-l",
                &format!("{path}/log"),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// Runs SQL with psql on database `db`; returns its unaligned output.
    pub(crate) fn psql(&self, db: &str, sql: &str) -> String {
        let host = self.dir.path().display().to_string();
        let out = pg(
            &self.bin,
            "psql",
            &[
                "-h",
                &host,
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-Atc",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = format!("{}/data", self.dir.path().display());
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

#[test]
fn the_postgres_store_passes_the_conformance_suite_and_refuses_a_newer_schema() {
    use ferrica::ca::store::postgres::{PgOptions, PgStore};
    let pg = Postgres::start();
    // The database does not exist yet: the store creates it and its schema.
    let store = PgStore::connect(&pg.url, None, &PgOptions::default()).unwrap();
    ferrica::ca::store::conformance::run(Arc::new(store));
    assert_eq!(pg.psql("ferrica", "SELECT version FROM ferrica_schema"), "3");
    // The purges of expired tokens and nonces go through an index, not a scan of the table.
    let purges_by_index = || {
        ["used_tokens", "acme_nonces"].map(|t| {
            let plan = pg.psql(
                "ferrica",
                &format!("SET enable_seqscan = off; EXPLAIN DELETE FROM {t} WHERE expires < 0"),
            );
            plan.contains(&format!("Index Scan on {t}_by_expires")) || plan.contains(&format!("using {t}_by_expires"))
        })
    };
    assert_eq!(purges_by_index(), [true, true]);
    // A database at schema 2 (ferrica before the indexes) gets them on connect.
    pg.psql(
        "ferrica",
        "DROP INDEX used_tokens_by_expires; DROP INDEX acme_nonces_by_expires; UPDATE ferrica_schema SET version = 2",
    );
    assert_eq!(purges_by_index(), [false, false]);
    drop(PgStore::connect(&pg.url, None, &PgOptions::default()).unwrap());
    assert_eq!(pg.psql("ferrica", "SELECT version FROM ferrica_schema"), "3");
    assert_eq!(purges_by_index(), [true, true]);
    // A second connection (another instance starting) sees the same data and migrates nothing.
    let again = PgStore::connect(&pg.url, None, &PgOptions::default()).unwrap();
    assert_eq!(again.certificate("42").unwrap().unwrap().provisioner, "p");
    // A nonce handed out through one connection (instance) is consumed once, through another.
    use ferrica::ca::store::AcmeStore as _;
    let third = PgStore::connect(&pg.url, None, &PgOptions::default()).unwrap();
    again.acme_new_nonce("cross", i64::MAX).unwrap();
    assert!(third.acme_use_nonce("cross", 0).unwrap());
    assert!(!again.acme_use_nonce("cross", 0).unwrap());
    // One leader among several sessions; the next takes over when it goes.
    use ferrica::ca::store::Store as _;
    assert!(again.lead().unwrap());
    assert!(!third.lead().unwrap(), "two leaders");
    drop(again);
    let start = std::time::Instant::now();
    while !third.lead().unwrap() {
        assert!(start.elapsed().as_secs() < 10, "no takeover");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(third);
    // step-ca's shape: the database named apart from the URL.
    let url = format!("postgresql://postgres@localhost/?host={}", pg.socket_dir().display());
    let other = PgStore::connect(&url, Some("step_ca"), &PgOptions::default()).unwrap();
    assert!(other.certificate("42").unwrap().is_none());
    // A schema from a newer ferrica is refused, with what to do.
    pg.psql("ferrica", "UPDATE ferrica_schema SET version = 99");
    let err = PgStore::connect(&pg.url, None, &PgOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("version 99") && err.contains("upgrade ferrica"), "{err}");
}

/// Points ca.json's `db` at `url`, as step-ca's ca.json does for PostgreSQL.
pub(crate) fn use_postgres(dir: &Path, url: &str) {
    let path = dir.join("pki/config/ca.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["db"] = serde_json::json!({"type": "postgresql", "dataSource": url, "poolSize": 8});
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

#[test]
fn two_instances_on_one_database_share_certificates_tokens_and_revocations() {
    use crate::common::*;
    use crate::serve::{client, curl, serial, sign_body, token};
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::serve::init_pki(dir);
    use_postgres(dir, &pg.url);
    let (a, a_http) = crate::ocsp::start_with_plain(dir);
    let (b, _) = crate::ocsp::start_with_plain(dir);

    // Issued on A, renewed on B (mTLS with the certificate A issued).
    client(dir, &a.url)
        .args([
            "ca",
            "certificate",
            "svc.lab",
            "svc.crt",
            "svc.key",
            "--provisioner-password-file",
            "pw",
        ])
        .assert()
        .success();
    let first = serial(dir, "svc.crt");
    client(dir, &b.url)
        .args(["ca", "renew", "svc.crt", "svc.key", "--out", "renewed.crt"])
        .assert()
        .success();
    let renewed = serial(dir, "renewed.crt");
    assert_ne!(first, renewed);
    let in_db = pg.psql(
        "ferrica",
        &format!("SELECT count(*) FROM x509_certs WHERE serial IN ('{first}', '{renewed}')"),
    );
    assert_eq!(in_db, "2", "both certificates are in the shared database");

    // Revoked on B: A refuses to renew it, and A's OCSP says revoked within a second.
    client(dir, &b.url)
        .args([
            "ca",
            "revoke",
            &renewed,
            "--reason-code",
            "4",
            "--provisioner-password-file",
            "pw",
        ])
        .assert()
        .success();
    let out = client(dir, &a.url)
        .args(["ca", "renew", "renewed.crt", "svc.key", "--out", "again.crt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let start = std::time::Instant::now();
    loop {
        let o = tool(
            dir,
            "openssl",
            &[
                "ocsp",
                "-url",
                &format!("{a_http}/ocsp"),
                "-issuer",
                "pki/certs/intermediate_ca.crt",
                "-CAfile",
                "pki/certs/root_ca.crt",
                "-cert",
                "renewed.crt",
            ],
        );
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        if text.contains("renewed.crt: revoked") {
            assert!(text.contains("Reason: superseded"), "{text}");
            break;
        }
        assert!(
            start.elapsed().as_millis() < 1000,
            "A's OCSP did not see B's revocation within 1 s: {text}"
        );
    }

    // A token used on A is refused on B.
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "t.lab",
            "t.csr",
            "t.key",
            "--csr",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let ott = token(dir, &a.url, "t.lab", &["t.lab"]);
    let body = sign_body(dir, "t.csr", &ott);
    let (code, resp) = curl(
        dir,
        &["-d", &format!("@{}", body.display()), &format!("{}/sign", a.url)],
    );
    assert_eq!(code, 201, "{resp}");
    let (code, resp) = curl(
        dir,
        &["-d", &format!("@{}", body.display()), &format!("{}/sign", b.url)],
    );
    assert_eq!(code, 401, "{resp}");
    assert!(resp.contains("token already used"), "{resp}");

    // A CRL from either lists the serial; their CRL numbers come from one sequence.
    let mut numbers = Vec::new();
    for url in [&a.url, &b.url] {
        let out = tool(
            dir,
            "curl",
            &[
                "-s",
                "--cacert",
                "pki/certs/root_ca.crt",
                "-o",
                "x.crl",
                &format!("{url}/crl"),
            ],
        );
        assert!(out.status.success());
        let text = openssl_ok(dir, &["crl", "-inform", "DER", "-in", "x.crl", "-noout", "-text"]);
        let hex = format!("{:X}", renewed.parse::<u128>().unwrap());
        assert!(
            text.to_uppercase().replace(':', "").contains(&hex),
            "{hex} missing from\n{text}"
        );
        let n = text
            .lines()
            .skip_while(|l| !l.contains("X509v3 CRL Number"))
            .nth(1)
            .unwrap()
            .trim()
            .to_string();
        numbers.push(n);
    }
    assert_eq!(numbers[0], numbers[1], "both serve the one stored CRL: {numbers:?}");
    // A revocation on A makes the CRL that B serves next a newer one, with a higher number, listing it.
    client(dir, &a.url)
        .args(["ca", "revoke", &first, "--provisioner-password-file", "pw"])
        .assert()
        .success();
    let out = tool(
        dir,
        "curl",
        &[
            "-s",
            "--cacert",
            "pki/certs/root_ca.crt",
            "-o",
            "y.crl",
            &format!("{}/crl", b.url),
        ],
    );
    assert!(out.status.success());
    let text = openssl_ok(dir, &["crl", "-inform", "DER", "-in", "y.crl", "-noout", "-text"]);
    let hex = format!("{:X}", first.parse::<u128>().unwrap());
    assert!(
        text.to_uppercase().replace(':', "").contains(&hex),
        "{hex} missing from\n{text}"
    );
    let n: u64 = text
        .lines()
        .skip_while(|l| !l.contains("X509v3 CRL Number"))
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(n > numbers[0].parse::<u64>().unwrap(), "{n} after {numbers:?}");
}

#[test]
fn the_server_answers_503_while_postgres_is_down_and_recovers_by_itself() {
    use crate::common::*;
    use crate::serve::{client, curl};
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::serve::init_pki(dir);
    use_postgres(dir, &pg.url);
    let srv = crate::serve::start(dir);
    let issue = |name: &str| {
        client(dir, &srv.url)
            .args([
                "ca",
                "certificate",
                name,
                &format!("{name}.crt"),
                &format!("{name}.key"),
            ])
            .args(["--provisioner-password-file", "pw"])
            .output()
            .unwrap()
    };
    assert!(issue("before.lab").status.success());
    assert_eq!(curl(dir, &[&format!("{}/health", srv.url)]).0, 200);

    pg.stop();
    let (code, body) = curl(dir, &[&format!("{}/health", srv.url)]);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("database unavailable"), "{body}");
    let out = issue("during.lab");
    assert_eq!(
        out.status.code(),
        Some(5),
        "signing without the database is a retry: {}",
        stderr_of(&out)
    );
    assert!(stderr_of(&out).contains("503"), "{}", stderr_of(&out));
    assert!(!dir.join("during.lab.crt").exists());

    pg.restart();
    let start = std::time::Instant::now();
    while curl(dir, &[&format!("{}/health", srv.url)]).0 != 200 {
        assert!(
            start.elapsed().as_secs() < 20,
            "the server did not see the database come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = issue("after.lab");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let serial = crate::serve::serial(dir, "after.lab.crt");
    assert_eq!(
        pg.psql(
            "ferrica",
            &format!("SELECT count(*) FROM x509_certs WHERE serial = '{serial}'")
        ),
        "1"
    );
    // Nothing acknowledged before the outage was lost.
    let before = crate::serve::serial(dir, "before.lab.crt");
    assert_eq!(
        pg.psql(
            "ferrica",
            &format!("SELECT count(*) FROM x509_certs WHERE serial = '{before}'")
        ),
        "1"
    );
}

#[test]
fn db_copy_moves_the_embedded_store_into_postgres_and_back() {
    use crate::common::*;
    use crate::serve::{client, serial};
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::serve::init_pki(dir);
    // Certificates and a revocation in the embedded store.
    let revoked = {
        let srv = crate::serve::start(dir);
        for name in ["a.lab", "b.lab"] {
            client(dir, &srv.url)
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
        let s = serial(dir, "b.lab.crt");
        client(dir, &srv.url)
            .args(["ca", "revoke", &s, "--provisioner-password-file", "pw"])
            .assert()
            .success();
        s
    };
    let redb = dir.join("pki/db/ferrica.redb");
    let out = ferrica(dir)
        .args([
            "ca",
            "db",
            "copy",
            "--from",
            redb.to_str().unwrap(),
            "--to",
            &pg.url,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["x509_certs"], 2, "{v}");
    assert_eq!(v["counts"]["x509_revocations"], 1, "{v}");
    assert_eq!(
        v["counts"]["used_tokens"], 3,
        "two certificate tokens and a revoke token: {v}"
    );
    assert_eq!(pg.psql("ferrica", "SELECT count(*) FROM x509_certs"), "2");

    // A second copy into the same (now full) database is refused, and so is a target file that exists.
    let out = ferrica(dir)
        .args(["ca", "db", "copy", "--from", redb.to_str().unwrap(), "--to", &pg.url])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "not empty");
    let out = ferrica(dir)
        .args(["ca", "db", "copy", "--from", &pg.url, "--to", redb.to_str().unwrap()])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "exists");

    // serve on PostgreSQL knows what the embedded store knew: b is revoked (its renewal refused) and a renews.
    use_postgres(dir, &pg.url);
    {
        let srv = crate::serve::start(dir);
        let out = client(dir, &srv.url)
            .args(["ca", "renew", "b.lab.crt", "b.lab.key", "--out", "b2.crt"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
        client(dir, &srv.url)
            .args(["ca", "renew", "a.lab.crt", "a.lab.key", "--out", "a2.crt"])
            .assert()
            .success();
    }
    assert_eq!(
        pg.psql(
            "ferrica",
            &format!("SELECT reason_code FROM x509_revocations WHERE serial = '{revoked}'")
        ),
        "0"
    );

    // And back into a new embedded store, counts checked by the command itself.
    let back = dir.join("back.redb");
    let out = ferrica(dir)
        .args([
            "ca",
            "db",
            "copy",
            "--from",
            &pg.url,
            "--to",
            back.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["x509_certs"], 3, "{v}");
    assert_eq!(v["counts"]["x509_revocations"], 1, "{v}");
}

#[test]
fn one_leader_runs_the_periodic_jobs_and_another_takes_over_when_it_dies() {
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::serve::init_pki(dir);
    use_postgres(dir, &pg.url);
    let mut a = crate::serve::start_logged(dir, "a.log", &["--jobs-interval", "1s"]);
    crate::serve::wait_for_log(dir, "a.log", "leader: this instance runs the periodic jobs", 10);
    let b = crate::serve::start_logged(dir, "b.log", &["--jobs-interval", "1s"]);
    // B checks the lock a few times and stays a follower.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let text = std::fs::read_to_string(dir.join("b.log")).unwrap();
    assert!(!text.contains("leader: this instance"), "two leaders:\n{text}");
    // A expired token ID is purged by the leader only.
    pg.psql("ferrica", "INSERT INTO used_tokens VALUES ('old-jti', 1)");
    crate::serve::wait_for_log(dir, "a.log", "purged expired token IDs", 10);
    assert_eq!(
        pg.psql("ferrica", "SELECT count(*) FROM used_tokens WHERE jti = 'old-jti'"),
        "0"
    );
    // A dies without a word: its session ends, the lock with it, and B leads within a few intervals.
    crate::serve::signal(a.child.id(), "-KILL");
    let _ = a.child.wait();
    crate::serve::wait_for_log(dir, "b.log", "leader: this instance runs the periodic jobs", 10);
    assert_eq!(crate::serve::curl(dir, &[&format!("{}/health", b.url)]).0, 200);
}

#[test]
fn sigkill_under_load_and_a_database_restart_lose_no_acknowledged_certificate() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::serve::init_pki(dir);
    use_postgres(dir, &pg.url);
    let mut a = crate::serve::start_logged(dir, "a.log", &[]);
    let b = crate::serve::start_logged(dir, "b.log", &[]);

    // Phase 1: 64 connections over A and B; A is SIGKILLed a second in.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (dir, urls, stop) = (dir.to_path_buf(), vec![a.url.clone(), b.url.clone()], stop.clone());
        std::thread::spawn(move || crate::load::sign_load(&dir, &urls, 64, stop, std::time::Duration::from_secs(30)))
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    crate::serve::signal(a.child.id(), "-KILL");
    let _ = a.child.wait();
    let killed_at = pg.psql("ferrica", "SELECT count(*) FROM x509_certs");
    std::thread::sleep(std::time::Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let one = load.join().unwrap();
    let after: i64 = pg.psql("ferrica", "SELECT count(*) FROM x509_certs").parse().unwrap();
    assert!(
        after > killed_at.parse::<i64>().unwrap(),
        "B kept signing after A died ({killed_at} -> {after})"
    );
    assert!(one.broken > 0, "the kill broke connections to A: {:?}", one.refused);

    // Phase 2: PostgreSQL restarted mid-load: 503s, then 201s again, without restarting B.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (dir, urls, stop) = (dir.to_path_buf(), vec![b.url.clone()], stop.clone());
        std::thread::spawn(move || crate::load::sign_load(&dir, &urls, 16, stop, std::time::Duration::from_secs(60)))
    };
    std::thread::sleep(std::time::Duration::from_millis(700));
    pg.stop();
    std::thread::sleep(std::time::Duration::from_secs(1));
    pg.restart();
    let resumed = std::time::Instant::now();
    let before_resume: i64 = pg.psql("ferrica", "SELECT count(*) FROM x509_certs").parse().unwrap();
    loop {
        let n: i64 = pg.psql("ferrica", "SELECT count(*) FROM x509_certs").parse().unwrap();
        if n > before_resume + 50 {
            break;
        }
        assert!(
            resumed.elapsed().as_secs() < 20,
            "signing did not resume after the restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let two = load.join().unwrap();
    assert!(
        two.refused.get(&503).copied().unwrap_or(0) > 0,
        "no 503 while the database was down: {:?}",
        two.refused
    );
    assert!(
        two.refused.keys().all(|&s| s == 503),
        "only 503s while the database was away: {:?} {:?}",
        two.refused,
        two.samples
    );

    // Every acknowledged certificate is in the database, once, with its token used.
    let acked: Vec<_> = one.acked.iter().chain(&two.acked).collect();
    assert!(acked.len() > 100, "too little load to mean anything: {}", acked.len());
    let serials: std::collections::HashSet<String> = pg
        .psql("ferrica", "SELECT serial FROM x509_certs")
        .lines()
        .map(str::to_string)
        .collect();
    let tokens: std::collections::HashSet<String> = pg
        .psql("ferrica", "SELECT jti FROM used_tokens")
        .lines()
        .map(str::to_string)
        .collect();
    let mut seen = std::collections::HashSet::new();
    for a in &acked {
        assert!(seen.insert(&a.serial), "serial {} acknowledged twice", a.serial);
        assert!(
            serials.contains(&a.serial),
            "acknowledged serial {} is not in the database",
            a.serial
        );
        assert!(
            tokens.contains(&a.jti),
            "the token {} of an acknowledged certificate is not used",
            a.jti
        );
    }
    assert_eq!(
        pg.psql("ferrica", "SELECT count(*) = count(DISTINCT serial) FROM x509_certs"),
        "t"
    );
    eprintln!(
        "load: {} acknowledged ({} then {}), phase 1 {:?} broken {}, phase 2 {:?} broken {}",
        acked.len(),
        one.acked.len(),
        two.acked.len(),
        one.refused,
        one.broken,
        two.refused,
        two.broken
    );
}

#[test]
fn certbot_gets_a_certificate_from_one_instance_and_revokes_it_through_another() {
    use crate::acme::{certbot, challtestsrv};
    use crate::common::*;
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cts = challtestsrv();
    let http_port = free_port().to_string();
    crate::serve::init_pki(dir);
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args(["ca", "provisioner", "add", "acme", "--type", "ACME"])
        .assert()
        .success();
    use_postgres(dir, &pg.url);
    let resolver = format!("127.0.0.1:{}", cts.dns);
    let flags = [
        "--acme-http-port",
        &http_port,
        "--resolver",
        &resolver,
        "--insecure-address",
        "127.0.0.1:0",
    ];
    let a = crate::serve::start_logged(dir, "a.log", &flags);
    let b = crate::serve::start_logged(dir, "b.log", &flags);
    let out = certbot(
        dir,
        &[
            "certonly",
            "--standalone",
            "--http-01-port",
            &http_port,
            "-d",
            "svc.lab.test",
            "--server",
            &format!("{}/acme/acme/directory", a.url),
            "--agree-tos",
            "--register-unsafely-without-email",
        ],
    );
    assert!(out.status.success(), "certbot on A:\n{}", stderr_of(&out));
    assert!(
        pg.psql("ferrica", "SELECT count(*) FROM acme_records WHERE kind = 1") == "1",
        "the account is in PostgreSQL"
    );
    // Revoked through B with the certificate's own key; A's OCSP and CRL agree at once.
    let live = dir.join("cb/config/live/svc.lab.test");
    let out = certbot(
        dir,
        &[
            "revoke",
            "--server",
            &format!("{}/acme/acme/directory", b.url),
            "--cert-path",
            &live.join("cert.pem").to_string_lossy(),
            "--key-path",
            &live.join("privkey.pem").to_string_lossy(),
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        ],
    );
    assert!(out.status.success(), "certbot revoke on B:\n{}", stderr_of(&out));
    let http = crate::serve::plain_url(dir, "a.log");
    let o = tool(
        dir,
        "openssl",
        &[
            "ocsp",
            "-url",
            &format!("{http}/ocsp"),
            "-issuer",
            "pki/certs/intermediate_ca.crt",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-cert",
            &live.join("cert.pem").to_string_lossy(),
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(": revoked") && text.contains("keyCompromise"),
        "{text}{}",
        stderr_of(&o)
    );
}

/// TLS to PostgreSQL as libpq's parameters in the data source ask, against a server whose certificate ferrica
/// issued, which takes only TLS connections and authenticates `postgres` by client certificate.
#[test]
fn the_store_speaks_tls_to_postgres_as_libpq_sslmode_sslrootcert_and_sslcert_ask() {
    use crate::common::*;
    use ferrica::ca::store::postgres::{PgOptions, PgStore};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_ca(dir);
    // The server's certificate names db.lab.internal only (not 127.0.0.1); the client's CN is the role it logs in as.
    leaf_of_ca(dir, "db.lab.internal", "server");
    leaf_of_ca(dir, "postgres", "client");
    leaf_of_another_ca(dir, "other", "db.lab.internal", "other");
    let port = free_port();
    let pg = Postgres::start_with(port, |pgdir| {
        for f in ["server.crt", "server.key", "root.crt"] {
            std::fs::copy(dir.join(f), pgdir.join(f)).unwrap();
        }
        let p = pgdir.display();
        (
            format!(
                "-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={p}/server.crt \
                 -c ssl_key_file={p}/server.key -c ssl_ca_file={p}/root.crt"
            ),
            // No hostnossl line: a connection without TLS is refused.
            Some(
                "local all all trust\nhostssl all postgres 127.0.0.1/32 cert\nhostssl all ca 127.0.0.1/32 trust\n"
                    .into(),
            ),
        )
    });
    pg.psql("postgres", "CREATE ROLE ca LOGIN CREATEDB");
    let root = dir.join("root.crt").display().to_string();
    let connect = |source: &str| PgStore::connect(source, None, &PgOptions::default());
    let fails = |source: &str, needle: &str| {
        let e = connect(source)
            .err()
            .unwrap_or_else(|| panic!("{source} connected"))
            .to_string();
        assert!(e.contains(needle), "{source}: {e}");
    };
    let tcp = format!("postgresql://ca@127.0.0.1:{port}/ferrica");
    let encrypted = || {
        pg.psql(
            "postgres",
            "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'ferrica'",
        )
    };

    // verify-full: the chain and the name. By IP the name does not match; by name (hostaddr for the address) it
    // does, in libpq's key=value form. The database is created over TLS.
    fails(
        &format!("{tcp}?sslmode=verify-full&sslrootcert={root}"),
        "not valid for name",
    );
    let by_name = format!(
        "host=db.lab.internal hostaddr=127.0.0.1 port={port} user=ca dbname=ferrica sslmode=verify-full sslrootcert='{root}'"
    );
    let store = connect(&by_name).unwrap();
    use ferrica::ca::store::Store as _;
    store.ping().unwrap();
    assert!(store.certificate("1").unwrap().is_none());
    let seen = encrypted();
    assert!(
        seen.split('/').next() == seen.split('/').nth(1) && seen != "0/0",
        "connections with TLS/all: {seen}"
    );
    drop(store);
    // verify-ca: the chain, not the name. Another CA's root is refused.
    connect(&format!("{tcp}?sslmode=verify-ca&sslrootcert={root}")).unwrap();
    let other = dir.join("other/root.crt").display().to_string();
    fails(
        &format!("{tcp}?sslmode=verify-ca&sslrootcert={other}"),
        "invalid peer certificate",
    );
    fails(
        &format!("{tcp}?sslmode=require&sslrootcert={other}"),
        "invalid peer certificate",
    );
    // verify-full without a root file, and a bad sslmode, fail before connecting, naming the parameter.
    fails(&format!("{tcp}?sslmode=verify-full"), "needs sslrootcert");
    fails(&format!("{tcp}?sslmode=verify"), "sslmode \"verify\"");
    // require and the default (prefer) encrypt without a root file; disable is refused by this server.
    connect(&format!("{tcp}?sslmode=require")).unwrap();
    connect(&tcp).unwrap();
    fails(&format!("{tcp}?sslmode=disable"), "no encryption");

    // A client certificate for pg_hba's `cert`: postgres logs in with it and is refused without it. Its key must
    // be private.
    let client = format!(
        "postgresql://postgres@127.0.0.1:{port}/ferrica?sslmode=verify-ca&sslrootcert={root}&sslcert={}&sslkey={}",
        dir.join("client.crt").display(),
        dir.join("client.key").display()
    );
    connect(&client).unwrap().ping().unwrap();
    fails(
        &format!("postgresql://postgres@127.0.0.1:{port}/ferrica?sslmode=verify-ca&sslrootcert={root}"),
        "valid client certificate",
    );
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.join("client.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(&client, "readable by group or others");
    std::fs::set_permissions(dir.join("client.key"), std::fs::Permissions::from_mode(0o600)).unwrap();

    // serve with ca.json's dataSource in the verify-full form: healthy, and it signs.
    let ca = tmp.path().join("ca");
    std::fs::create_dir(&ca).unwrap();
    crate::serve::init_pki(&ca);
    use_postgres(&ca, &by_name);
    let srv = crate::serve::start(&ca);
    assert_eq!(crate::serve::curl(&ca, &[&format!("{}/health", srv.url)]).0, 200);
    crate::serve::client(&ca, &srv.url)
        .args([
            "ca",
            "certificate",
            "svc.lab",
            "svc.crt",
            "svc.key",
            "--provisioner-password-file",
            "pw",
        ])
        .assert()
        .success();
    let serial = crate::serve::serial(&ca, "svc.crt");
    assert_eq!(
        pg.psql(
            "ferrica",
            &format!("SELECT count(*) FROM x509_certs WHERE serial = '{serial}'")
        ),
        "1"
    );
}
