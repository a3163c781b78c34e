//! X5C provisioners end to end: tokens signed by a certificate's key, its chain in the `x5c` header, verified to the
//! provisioner's roots; minted by ferrica (`ca token --x5c-cert`, inline in `ca certificate`) and by step 0.15.

use std::process::Command;

use crate::common::*;
use crate::serve::{client, init_pki, start};

#[test]
fn x5c_tokens_from_ferrica_and_step_get_certificates_and_revoke() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki(dir);
    // Another CA issues the host certificates that vouch for their names.
    leaf_of_another_ca(dir, "hosts", "host1.lab.test", "leaf");
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "provisioner",
            "add",
            "hosts",
            "--type",
            "X5C",
            "--x5c-root",
            "hosts/root.crt",
        ])
        .assert()
        .success();
    let server = start(dir);
    let url = server.url.clone();
    let x5c = ["--x5c-cert", "hosts/leaf.crt", "--x5c-key", "hosts/leaf.key"];

    // A token from `ca token --x5c-cert`, then `ca certificate --token`.
    let out = client(dir, &url)
        .args(["ca", "token", "host1.lab.test"])
        .args(x5c)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    client(dir, &url)
        .args([
            "ca",
            "certificate",
            "host1.lab.test",
            "a.crt",
            "a.key",
            "--token",
            &token,
        ])
        .assert()
        .success();
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-untrusted",
            "a.crt",
            "a.crt",
        ],
    );

    // Minted inline.
    client(dir, &url)
        .args(["ca", "certificate", "host1.lab.test", "b.crt", "b.key"])
        .args(x5c)
        .assert()
        .success();

    // A certificate of the CA itself does not lead to the provisioner's roots: refused (exit 4).
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ca",
            "certificate",
            "host1.lab.test",
            "own.crt",
            "own.key",
            "--provisioner",
            "ci@lab.test",
        ])
        .args([
            "--provisioner-password-file",
            "pw",
            "--ca-url",
            &url,
            "--root",
            "pki/certs/root_ca.crt",
        ])
        .assert()
        .success();
    let out = client(dir, &url)
        .args([
            "ca",
            "certificate",
            "host1.lab.test",
            "c.crt",
            "c.key",
            "--x5c-cert",
            "own.crt",
            "--x5c-key",
            "own.key",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 4, "does not lead to provisioner");

    // A revocation token signed the same way.
    let serial = crate::serve::serial(dir, "a.crt");
    let out = client(dir, &url)
        .args(["ca", "token", &serial, "--revoke"])
        .args(x5c)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    client(dir, &url)
        .args(["ca", "revoke", &serial, "--token", &token])
        .assert()
        .success();

    // step 0.15's X5C tokens.
    let Some(step) = step_tool("step") else {
        return;
    };
    let step_cmd = |args: &[&str]| {
        let out = Command::new(&step)
            .args(args)
            .args(["--ca-url", &url, "--root", "pki/certs/root_ca.crt"])
            .current_dir(dir)
            .env("STEPPATH", dir.join("step"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "step {args:?}: {}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let token = step_cmd(&[
        "ca",
        "token",
        "host1.lab.test",
        "--issuer",
        "hosts",
        "--x5c-cert",
        "hosts/leaf.crt",
        "--x5c-key",
        "hosts/leaf.key",
    ]);
    step_cmd(&[
        "ca",
        "certificate",
        "host1.lab.test",
        "s.crt",
        "s.key",
        "--token",
        &token,
    ]);
    openssl_ok(
        dir,
        &[
            "verify",
            "-CAfile",
            "pki/certs/root_ca.crt",
            "-untrusted",
            "s.crt",
            "s.crt",
        ],
    );
}
