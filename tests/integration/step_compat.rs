//! step's command lines and names: `ca provisioner add NAME JWK_FILE`, `STEPPATH`, and the binary invoked as
//! `step-ca`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::*;
use crate::serve::{client, curl, init_pki, start};

#[test]
fn provisioner_add_takes_a_jwk_file_as_step_does() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    let ca = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap()
    };
    // An encrypted private JWK made by ferrica: its public part registered, the encrypted one served to clients.
    pw_file(dir, "puppet.pw", "puppet-secret\n");
    ferrica(dir)
        .args([
            "crypto",
            "jwk",
            "create",
            "puppet.pub.json",
            "puppet.key.json",
            "--password-file",
            "puppet.pw",
        ])
        .assert()
        .success();
    let out = ca(&[
        "ca",
        "provisioner",
        "add",
        "puppet",
        "puppet.key.json",
        "--password-file",
        "puppet.pw",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // step's own encrypted JWK (JSON serialization), and a public JWK alone.
    let out = ca(&[
        "ca",
        "provisioner",
        "add",
        "stepkey",
        &step("jwk.priv.json").to_string_lossy(),
        "--password-file",
        &step("pw.txt").to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = ca(&[
        "ca",
        "provisioner",
        "add",
        "pubonly",
        &step("jwk.pub.json").to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = ca(&[
        "ca",
        "provisioner",
        "add",
        "wrongpw",
        "puppet.key.json",
        "--password-file",
        "pw",
    ]);
    assert_clean_error(&out, 3, "JWK_FILE");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pki/config/ca.json")).unwrap()).unwrap();
    let by_name = |n: &str| {
        cfg["authority"]["provisioners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap()
    };
    assert!(by_name("puppet")["encryptedKey"].is_string());
    assert!(
        by_name("puppet")["key"]["d"].is_null(),
        "only the public part is registered"
    );
    assert!(by_name("pubonly")["encryptedKey"].is_null());

    // Tokens from the step key verify with step's public JWK; the puppet provisioner gets certificates.
    let out = ca(&[
        "ca",
        "token",
        "svc.lab.test",
        "--offline",
        "--provisioner",
        "stepkey",
        "--password-file",
        &step("pw.txt").to_string_lossy(),
        "--ca-url",
        "https://127.0.0.1",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let token = String::from_utf8(out.stdout).unwrap();
    ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "verify",
            "--key",
            &step("jwk.pub.json").to_string_lossy(),
        ])
        .args(["--iss", "stepkey", "--aud", "https://127.0.0.1/1.0/sign"])
        .write_stdin(token)
        .assert()
        .success();
    let server = start(dir);
    client(dir, &server.url)
        .args([
            "ca",
            "certificate",
            "p.lab.test",
            "p.crt",
            "p.key",
            "--provisioner",
            "puppet",
        ])
        .args(["--provisioner-password-file", "puppet.pw"])
        .assert()
        .success();
}

#[test]
fn steppath_names_the_tree_and_step_ca_is_serve() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    // STEPPATH counts when FERRICA_PATH is unset.
    let out = ferrica(dir)
        .env_remove("FERRICA_PATH")
        .env("STEPPATH", dir.join("pki"))
        .arg("path")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.join("pki").to_string_lossy()
    );
    let out = ferrica(dir)
        .env_remove("FERRICA_PATH")
        .env("STEPPATH", dir.join("pki"))
        .args(["ca", "provisioner", "list"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ci@lab.test"),
        "{}",
        stderr_of(&out)
    );

    // Invoked as step-ca: `step-ca CA_JSON --password-file F` serves.
    let link = dir.join("step-ca");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let port = free_port();
    let path = dir.join("pki/config/ca.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    cfg["address"] = serde_json::json!(format!("127.0.0.1:{port}"));
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let mut child = Command::new(&link)
        .arg(&path)
        .args(["--password-file", "pw"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("listening on"), "{first}");
    let (code, body) = curl(dir, &[&format!("https://127.0.0.1:{port}/health")]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    // step-ca's flags without a meaning here are refused with the reason, not as unknown arguments.
    let out = Command::new(&link)
        .arg(&path)
        .args(["--password-file", "pw", "--issuer-password-file", "pw"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_clean_error(
        &out,
        2,
        "--issuer-password-file is step-ca's, and ferrica has no registration-authority mode",
    );
}

/// Runs `args` under a pseudo-terminal (util-linux `script`), answering each prompt once it shows; returns the exit
/// status and what the terminal showed.
fn on_a_terminal(dir: &std::path::Path, args: &str, answers: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    use std::io::{Read, Write};
    let mut child = Command::new("script")
        .args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is required by the tests");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    for (prompt, answer) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut last = String::new();
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no prompt {prompt:?} within 20 s; the terminal showed: {last}"
            );
            if let Ok(seen) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
                if seen.contains(prompt) {
                    break;
                }
                last = seen;
            }
        }
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    (status, reader.join().unwrap())
}

#[test]
fn on_a_terminal_an_existing_file_is_replaced_only_after_a_yes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let create = "certificate create --profile root-ca Root ca.crt ca.key --no-password --insecure";
    ferrica(dir).args(create.split(' ')).assert().success();
    let first = std::fs::read(dir.join("ca.crt")).unwrap();
    let (crt_q, key_q) = (
        "Would you like to overwrite ca.crt [y/n]",
        "Would you like to overwrite ca.key [y/n]",
    );
    let (status, shown) = on_a_terminal(dir, create, &[(crt_q, "n")]);
    assert!(!status.success(), "{shown}");
    assert!(shown.contains("refusing to overwrite ca.crt"), "{shown}");
    assert_eq!(
        std::fs::read(dir.join("ca.crt")).unwrap(),
        first,
        "a no leaves the file"
    );
    let (status, shown) = on_a_terminal(dir, create, &[(crt_q, "y"), (key_q, "yes")]);
    assert!(status.success(), "{shown}");
    assert_ne!(std::fs::read(dir.join("ca.crt")).unwrap(), first, "a yes replaces it");
    // Without a terminal nothing is asked: the refusal names --force at once.
    let out = ferrica(dir).args(create.split(' ')).output().unwrap();
    assert_clean_error(&out, 3, "refusing to overwrite");
    assert!(stderr_of(&out).contains("--force"), "{}", stderr_of(&out));
}

#[test]
fn on_a_terminal_several_provisioners_are_a_choice() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "ops",
            "--type",
            "JWK",
            "--create",
            "--password-file",
            "pw",
        ])
        .assert()
        .success();
    let token = "ca token svc.lab.test --offline --ca-config pki/config/ca.json --password-file pw";
    // Without a terminal nothing is asked: a usage error names the flag and the choices.
    let out = ferrica(dir).args(token.split(' ')).output().unwrap();
    assert_clean_error(&out, 2, "choose a provisioner with --provisioner: ci@lab.test, ops");
    let issuer = |shown: &str| {
        let jwt = shown
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("eyJ"))
            .unwrap_or_else(|| panic!("{shown}"));
        let out = ferrica(dir)
            .args(["crypto", "jwt", "inspect", "--insecure"])
            .write_stdin(jwt)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["payload"]["iss"].as_str().unwrap().to_string()
    };
    let question = "What provisioner key do you want to use?";
    // The arrow key moves to the second entry and Enter picks it; a digit picks at once.
    let (status, shown) = on_a_terminal(dir, token, &[(question, "\x1b[B")]);
    assert!(status.success(), "{shown}");
    assert!(shown.contains("ops (JWK) [kid: "), "{shown}");
    assert!(shown.contains("✔ Provisioner: ops (JWK)"), "{shown}");
    assert_eq!(issuer(&shown), "ops");
    let (status, shown) = on_a_terminal(dir, token, &[(question, "1")]);
    assert!(status.success(), "{shown}");
    assert_eq!(issuer(&shown), "ci@lab.test");
    // Esc cancels: an error, no token.
    let (status, shown) = on_a_terminal(dir, token, &[(question, "q")]);
    assert!(!status.success(), "{shown}");
    assert!(shown.contains("no Provisioner chosen"), "{shown}");

    // Online too (`ca certificate` asks the CA for its provisioners), with --provisioner still skipping the question.
    let server = start(dir);
    let url = server.url.clone();
    let cert = format!(
        "ca certificate svc.lab.test svc.crt svc.key --ca-url {url} --root pki/certs/root_ca.crt --provisioner-password-file pw --kty EC"
    );
    let (status, shown) = on_a_terminal(dir, &cert, &[(question, "2")]);
    assert!(status.success(), "{shown}");
    assert!(shown.contains("✔ Provisioner: ops (JWK)"), "{shown}");
    assert!(dir.join("svc.crt").exists());
    let out = client(dir, &url)
        .args([
            "ca",
            "certificate",
            "b.lab.test",
            "b.crt",
            "b.key",
            "--provisioner",
            "ops",
            "--provisioner-password-file",
            "pw",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn ca_init_takes_every_step_flag_and_refuses_what_it_cannot_do_by_name() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "ca-secret\n");
    let init = |tree: &str, extra: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join(tree))
            .args([
                "ca",
                "init",
                "--name",
                "Lab",
                "--dns",
                "ca.lab.test",
                "--provisioner",
                "ops",
            ])
            .args(["--password-file", "pw"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = init(
        "a",
        &[
            "--deployment-type",
            "standalone",
            "--address",
            ":9443",
            "--with-ca-url",
            "https://ca.lab.internal:9443",
            "--acme",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let defaults: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/config/defaults.json")).unwrap()).unwrap();
    assert_eq!(defaults["ca-url"], "https://ca.lab.internal:9443");
    // --pki: the certificates and keys only.
    let out = ferrica(dir)
        .env("FERRICA_PATH", dir.join("b"))
        .args(["ca", "init", "--pki", "--name", "Lab", "--password-file", "pw"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(files(&dir.join("b")), ["certs", "secrets"]);
    assert_eq!(files(&dir.join("b/certs")), ["intermediate_ca.crt", "root_ca.crt"]);
    assert_eq!(files(&dir.join("b/secrets")), ["intermediate_ca_key", "root_ca_key"]);
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            "b/certs/root_ca.crt",
            "b/certs/intermediate_ca.crt",
        ],
    );
    // The rest parse and are refused with the reason, before anything is written.
    for (flags, why) in [
        (&["--deployment-type", "hosted"][..], "smallstep's hosted service"),
        (&["--remote-management"][..], "no admin API"),
        (&["--admin-subject", "me@lab.test"][..], "no admin API"),
        (&["--ra", "StepCAS"][..], "registration-authority"),
        (&["--kms", "azurekms"][..], "KMS"),
        (&["--helm"][..], "Helm"),
        (&["--context", "lab"][..], "contexts"),
        (&["--profile", "p"][..], "contexts"),
        (&["--authority", "x"][..], "contexts"),
        (&["--with-ca-url", "ca.lab.test"][..], "not an https:// URL"),
    ] {
        let out = init("c", flags);
        assert_clean_error(&out, 2, why);
        assert!(!dir.join("c").exists(), "{flags:?} wrote files");
    }
}

#[test]
fn steps_offline_client_mode_is_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    for args in [
        &["ca", "certificate", "a.lab.test", "a.crt", "a.key", "--offline"][..],
        &["ca", "sign", "a.csr", "a.crt", "--offline"][..],
        &["ca", "renew", "a.crt", "a.key", "--offline"][..],
        &["ca", "revoke", "123", "--offline"][..],
    ] {
        let out = ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap();
        assert_clean_error(&out, 2, "--offline is step's in-process CA");
        assert!(!dir.join("a.crt").exists());
    }
}
