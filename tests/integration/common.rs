//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrica");

/// step's fixtures, copied from `../shared/fixtures/step/` (password `password`).
pub fn step(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/step").join(name)
}

/// A `ferrica` command in `dir`, stdin an empty pipe (assert_cmd closes it), no FERRICA_* variables inherited.
pub fn ferrica(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(BIN);
    c.current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .env_remove("FERRICA_CA_PASSWORD_FILE")
        .env_remove("STEPPATH");
    c
}

/// Runs a tool (openssl, ...) and returns its output; panics if the tool is missing.
pub fn tool(dir: &Path, prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{prog} is required by the tests (scripts/install-test-deps.sh): {e}"))
}

/// Runs openssl and asserts success, returning stdout as text.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = tool(dir, "openssl", args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a password file.
pub fn pw_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Creates root, intermediate (both encrypted with `pw`) and returns nothing; files root.crt/key, int.crt/key.
pub fn make_ca(dir: &Path) {
    pw_file(dir, "pw", "secret\n");
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Test Root CA",
            "root.crt",
            "root.key",
        ])
        .args(["--password-file", "pw"])
        .assert()
        .success();
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "--profile",
            "intermediate-ca",
            "Test Intermediate CA",
            "int.crt",
            "int.key",
        ])
        .args([
            "--ca",
            "root.crt",
            "--ca-key",
            "root.key",
            "--ca-password-file",
            "pw",
            "--password-file",
            "pw",
        ])
        .assert()
        .success();
}

/// The stderr of an assert as text.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks that an error is one clean `error:` line (plus an optional hint), with no panic.
pub fn assert_clean_error(out: &Output, code: i32, needle: &str) {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr:\n{err}");
    assert!(err.starts_with("error: "), "stderr must start with `error:`:\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "panic:\n{err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() <= 2, "one error line plus an optional hint:\n{err}");
    if lines.len() == 2 {
        assert!(lines[1].starts_with("hint: "), "{err}");
    }
    assert!(err.contains(needle), "stderr should mention {needle:?}:\n{err}");
}

/// Files in a directory, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// smallstep's `step` or `step-ca` (built by `../shared/peers/install-step.sh`, which `.ci/run` runs when it is
/// there). Without it the test skips with a note, unless `FERRICA_REQUIRE_STEP=1` (set by `.ci/run` after installing
/// it), where a missing tool is a failure.
pub fn step_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("FERRICA_REQUIRE_STEP").map_or(true, |v| v != "1"),
            "{name} is required (FERRICA_REQUIRE_STEP=1) but not on PATH: bash ../shared/peers/install-step.sh"
        );
        eprintln!(
            "note: {name} is not installed; skipping the step interop part (bash ../shared/peers/install-step.sh)"
        );
    }
    found
}

/// A free port on 127.0.0.1 (for servers that take their address from a config file).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on 127.0.0.1:`port` (a helper server just started), or panics naming it.
pub fn wait_for_port(port: u16, what: &str) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 10,
            "{what} did not start listening on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A second CA in `dir/sub` ([`make_ca`]) and a leaf for `name` from its intermediate: `sub/<file>.crt` (leaf and
/// intermediate) and `sub/<file>.key` (unencrypted).
pub fn leaf_of_another_ca(dir: &Path, sub: &str, name: &str, file: &str) {
    let other = dir.join(sub);
    std::fs::create_dir(&other).unwrap();
    make_ca(&other);
    leaf_of_ca(&other, name, file);
}

/// A leaf for `name` from the intermediate [`make_ca`] made in `dir`: `<file>.crt` (leaf and intermediate) and
/// `<file>.key` (unencrypted).
pub fn leaf_of_ca(dir: &Path, name: &str, file: &str) {
    ferrica(dir)
        .args([
            "certificate",
            "create",
            name,
            &format!("{file}.crt"),
            &format!("{file}.key"),
        ])
        .args(["--ca", "int.crt", "--ca-key", "int.key", "--ca-password-file", "pw"])
        .args(["--bundle", "--no-password", "--insecure"])
        .assert()
        .success();
}

/// A pkilint linter (`lint_pkix_cert`, `lint_crl`, ...) at WARNING on `file`: clean or the test fails.
pub fn pkilint(dir: &Path, linter: &str, file: &str) {
    pkilint_with(dir, linter, &[file]);
}

/// A pkilint linter at WARNING with more arguments (`-t CRL -p PKIX FILE`, `ISSUER SUBJECT`): clean or the test fails.
pub fn pkilint_with(dir: &Path, linter: &str, args: &[&str]) {
    let file = args.join(" ");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv-test/bin")
        .join(linter);
    let out = Command::new(&bin)
        .args(["lint", "-s", "WARNING"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} is required (scripts/install-test-deps.sh): {e}", bin.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{linter} {file}: {text}{}",
        stderr_of(&out)
    );
}
