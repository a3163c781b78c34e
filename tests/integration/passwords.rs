//! Password sources: never a hang, never a prompt without a terminal.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Runs ferrica in a new session (no controlling terminal) with `stdin_data` piped in (None = stdin closed).
fn run_detached(dir: &std::path::Path, args: &[&str], stdin_data: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new("setsid")
        .arg("-w")
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .env_remove("FERRICA_CA_PASSWORD_FILE")
        .stdin(if stdin_data.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid (util-linux) is required by the tests");
    if let Some(data) = stdin_data {
        let mut stdin = child.stdin.take().unwrap();
        // The child may refuse and exit before reading: a broken pipe here is fine.
        let _ = stdin.write_all(data);
    }
    child.wait_with_output().unwrap()
}

#[test]
fn piped_password_without_a_terminal() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = run_detached(
        dir,
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Piped Root",
            "ca.crt",
            "ca.key",
        ],
        Some(b"pipe-secret\n"),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    openssl_ok(dir, &["pkey", "-in", "ca.key", "-passin", "pass:pipe-secret", "-noout"]);
    assert!(!stderr_of(&out).contains("pipe-secret"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pipe-secret"));
}

#[test]
fn password_file_with_trailing_newline_is_trimmed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "file-secret \t\r\n");
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "ca.crt",
            "ca.key",
            "--password-file",
            "pw",
        ])
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "ca.key", "-passin", "pass:file-secret", "-noout"]);
}

#[test]
fn password_file_dash_and_env_var() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "ca.crt",
            "ca.key",
            "--password-file",
            "-",
        ])
        .write_stdin("dash-secret\n")
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "ca.key", "-passin", "pass:dash-secret", "-noout"]);
    pw_file(dir, "envpw", "env-secret\n");
    ferrica(dir)
        .env("FERRICA_PASSWORD_FILE", "envpw")
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "b.crt",
            "b.key",
        ])
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "b.key", "-passin", "pass:env-secret", "-noout"]);
    // The CA key password from its env var, the new key's from piped stdin.
    pw_file(dir, "capw", "dash-secret\n");
    let out = Command::new(BIN)
        .current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .env("FERRICA_CA_PASSWORD_FILE", "capw")
        .args([
            "certificate",
            "create",
            "svc",
            "l.crt",
            "l.key",
            "--ca",
            "ca.crt",
            "--ca-key",
            "ca.key",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"leaf-secret\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    openssl_ok(dir, &["pkey", "-in", "l.key", "-passin", "pass:leaf-secret", "-noout"]);
}

#[test]
fn no_password_requires_insecure_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = ferrica(d.path())
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "ca.crt",
            "ca.key",
            "--no-password",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--no-password requires --insecure");
    assert!(files(d.path()).is_empty());
}

#[test]
fn no_password_source_fails_at_once() {
    let d = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = run_detached(
        d.path(),
        &[
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Root",
            "ca.crt",
            "ca.key",
        ],
        None,
    );
    let took = start.elapsed();
    assert_clean_error(&out, 2, "no password");
    assert!(stderr_of(&out).contains("--password-file"), "{}", stderr_of(&out));
    // Not a benchmark: a hang would take the 10 s stdin timeout or forever.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(files(d.path()).is_empty());
}

#[test]
fn two_passwords_and_one_pipe_names_both_flags() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let out = run_detached(
        dir,
        &[
            "certificate",
            "create",
            "svc",
            "l.crt",
            "l.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
        ],
        Some(b"secret\n"),
    );
    assert_clean_error(&out, 2, "2 passwords are needed");
    let err = stderr_of(&out);
    assert!(
        err.contains("--ca-password-file") && err.contains("--password-file"),
        "{err}"
    );
    assert!(!dir.join("l.crt").exists() && !dir.join("l.key").exists());
}

#[test]
fn wrong_ca_password_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    pw_file(dir, "bad", "nope\n");
    let out = ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "l.crt",
            "l.key",
            "--ca",
            "int.crt",
            "--ca-key",
            "int.key",
        ])
        .args(["--ca-password-file", "bad", "--password-file", "pw"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "wrong password");
    assert!(!stderr_of(&out).contains("nope"));
    assert!(!dir.join("l.crt").exists() && !dir.join("l.key").exists());
    assert!(
        !files(dir).iter().any(|f| f.starts_with(".ferrica-")),
        "no temporary files left"
    );
}

/// With a terminal (a pty from util-linux `script`), a new key's password is asked for twice on the terminal.
#[test]
fn prompts_on_a_terminal_with_confirmation() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cmd = format!("{BIN} certificate create --profile root-ca TTYRoot ca.crt ca.key");
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is required by the tests");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut all = Vec::new();
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(all.clone());
        }
        all
    });
    // Answer each prompt once it is on the terminal (echo is off by then).
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(seen) = rx.recv_timeout(Duration::from_millis(100))
                && String::from_utf8_lossy(&seen).contains(needle)
            {
                return;
            }
        }
        panic!("no prompt {needle:?} within 20 s");
    };
    // rpassword prints the prompt and then turns echo off: give it a moment, as a person typing would.
    wait_for("Please enter the password");
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"tty-secret\n").unwrap();
    wait_for("Please confirm");
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"tty-secret\n").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let out = std::process::Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: Vec::new(),
    };
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("Please enter the password") && shown.contains("Please confirm"),
        "{shown}"
    );
    assert!(!shown.contains("tty-secret"), "the password is not echoed: {shown}");
    openssl_ok(dir, &["pkey", "-in", "ca.key", "-passin", "pass:tty-secret", "-noout"]);
}
