//! Secrets stay secret: a running `serve` holds no copy of the CA password in its memory, argv, environment or log,
//! answers and logs no token; every key file is 0600 whatever the umask.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::serve::{curl, init_pki_as, sign_body, start_logged, token};

/// Where `needle` occurs in the writable memory of process `pid` (heap, stacks, anonymous maps): a map line per
/// occurrence. Only pages present in memory are read (`/proc/PID/pagemap`): the allocator reserves gigabytes it
/// never touches.
fn found_in_memory(pid: u32, needle: &[u8]) -> Vec<String> {
    const PAGE: u64 = 4096;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut pagemap = std::fs::File::open(format!("/proc/{pid}/pagemap")).unwrap();
    let mut hits = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (range, perms) = (parts.next().unwrap(), parts.next().unwrap());
        if !perms.starts_with("rw") {
            continue;
        }
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (
            u64::from_str_radix(lo, 16).unwrap(),
            u64::from_str_radix(hi, 16).unwrap(),
        );
        let pages = ((hi - lo) / PAGE) as usize;
        let mut entries = vec![0u8; pages * 8];
        if pagemap.seek(SeekFrom::Start(lo / PAGE * 8)).is_err() || pagemap.read_exact(&mut entries).is_err() {
            continue;
        }
        // Runs of present (bit 63) or swapped (bit 62) pages, read whole so that a needle across pages is found.
        let present = |i: usize| u64::from_le_bytes(entries[i * 8..i * 8 + 8].try_into().unwrap()) >> 62 != 0;
        let mut i = 0;
        while i < pages {
            if !present(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < pages && present(i) {
                i += 1;
            }
            let mut buf = vec![0u8; (i - start) * PAGE as usize];
            if mem.seek(SeekFrom::Start(lo + start as u64 * PAGE)).is_ok() && mem.read_exact(&mut buf).is_ok() {
                let n = buf.windows(needle.len()).filter(|w| *w == needle).count();
                hits.extend(std::iter::repeat_n(line.to_string(), n));
            }
        }
    }
    hits
}

#[test]
fn a_running_serve_keeps_no_password_in_memory_argv_environment_or_log_and_echoes_no_token() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // A password no other process or file of the test carries but `pw`.
    let password = format!(
        "pw-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    init_pki_as(dir, &password, &["--ssh"]);
    let server = start_logged(dir, "serve.log", &[]);
    let url = server.url.clone();
    let pid = server.child.id();

    // Work that touches every secret path: a certificate from a token, a refused token, a revocation.
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc.lab",
            "svc.csr",
            "svc.key",
            "--csr",
            "--san",
            "svc.lab",
        ])
        .args(["--no-password", "--insecure"])
        .assert()
        .success();
    let ott = token(dir, &url, "svc.lab", &["svc.lab"]);
    let body = sign_body(dir, "svc.csr", &ott);
    assert_eq!(
        curl(
            dir,
            &["--data-binary", &format!("@{}", body.display()), &format!("{url}/sign")]
        )
        .0,
        201
    );
    let (code, answer) = curl(
        dir,
        &["--data-binary", &format!("@{}", body.display()), &format!("{url}/sign")],
    );
    assert_eq!(code, 401);
    let signature = ott.rsplit('.').next().unwrap();
    assert!(!answer.contains(signature), "the refusal echoes the token: {answer}");

    for (what, path) in [("argv", "cmdline"), ("environment", "environ")] {
        let data = std::fs::read(format!("/proc/{pid}/{path}")).unwrap();
        assert!(
            !data.windows(password.len()).any(|w| w == password.as_bytes()),
            "the password is in serve's {what}"
        );
    }
    let hits = found_in_memory(pid, password.as_bytes());
    assert!(
        hits.is_empty(),
        "the CA password is still in serve's memory:\n{}",
        hits.join("\n")
    );
    // The intermediate key's private scalar (big-endian, as in its DER): only the signer's own copy may remain, not
    // the decrypted buffers it was read from. aws-lc keeps its working copy in little-endian words.
    let data = std::fs::read(dir.join("pki/secrets/intermediate_ca_key")).unwrap();
    let key = ferrica::pki::keys::PrivateKey::parse(&data, &mut || Ok(password.as_bytes().to_vec())).unwrap();
    let jwk: serde_json::Value = serde_json::from_str(
        &ferrica::jose::jwk::Jwk::from_private_key(&key)
            .unwrap()
            .to_json_pretty(),
    )
    .unwrap();
    use base64::Engine;
    let scalar = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwk["d"].as_str().unwrap())
        .unwrap();
    let copies = found_in_memory(pid, &scalar);
    assert!(
        copies.len() <= 1,
        "{} copies of the intermediate key in serve's memory:\n{}",
        copies.len(),
        copies.join("\n")
    );
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    for (what, secret) in [
        ("password", password.as_str()),
        ("token", signature),
        ("token", ott.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} is in serve's log:\n{log}");
    }
}

/// Runs `ferrica args` in `dir` under `umask`.
fn under_umask(dir: &Path, umask: &str, args: &[&str]) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("sh")
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umask {umask} ferrica {args:?}: {}",
        stderr_of(&out)
    );
}

#[test]
fn key_files_are_0600_whatever_the_umask() {
    for umask in ["000", "022", "077"] {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        pw_file(dir, "pw", "ca-secret\n");
        under_umask(
            dir,
            umask,
            &[
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
            ],
        );
        under_umask(
            dir,
            umask,
            &[
                "certificate",
                "create",
                "a.lab",
                "a.crt",
                "a.key",
                "--profile",
                "self-signed",
                "--subtle",
                "--no-password",
                "--insecure",
            ],
        );
        under_umask(
            dir,
            umask,
            &[
                "certificate",
                "create",
                "b.lab",
                "b.csr",
                "b.key",
                "--csr",
                "--password-file",
                "pw",
            ],
        );
        under_umask(
            dir,
            umask,
            &["crypto", "keypair", "k.pub", "k.key", "--password-file", "pw"],
        );
        under_umask(
            dir,
            umask,
            &[
                "crypto",
                "jwk",
                "create",
                "j.pub.json",
                "j.json",
                "--password-file",
                "pw",
            ],
        );
        under_umask(
            dir,
            umask,
            &[
                "ssh",
                "certificate",
                "alice",
                "id_ecdsa",
                "--offline",
                "--provisioner-password-file",
                "pw",
                "--ca-password-file",
                "pw",
                "--no-agent",
                "--no-password",
                "--insecure",
            ],
        );
        let keys = [
            "pki/secrets/root_ca_key",
            "pki/secrets/intermediate_ca_key",
            "pki/secrets/ssh_host_ca_key",
            "pki/secrets/ssh_user_ca_key",
            "a.key",
            "b.key",
            "k.key",
            "j.json",
            "id_ecdsa",
        ];
        for k in keys {
            let mode = std::fs::metadata(dir.join(k))
                .unwrap_or_else(|e| panic!("{k}: {e}"))
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "umask {umask}: {k} is {mode:o}");
        }
    }
}
