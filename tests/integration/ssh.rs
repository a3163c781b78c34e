//! SSH certificates judged by OpenSSH: `sshd` on 127.0.0.1 trusts ferrica's user CA (TrustedUserCAKeys) and
//! presents a host certificate from its host CA; `ssh` logs in with StrictHostKeyChecking and an
//! `@cert-authority` known_hosts line. `ssh-keygen -L` reads what ferrica writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;
use crate::serve::init_pki_with;

/// An sshd for one test; killed on drop.
pub(crate) struct Sshd {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd_binary() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/sshd");
    assert!(
        p.exists(),
        "sshd is required (openssh-server): bash scripts/install-test-deps.sh"
    );
    p
}

pub(crate) fn user() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

/// Starts sshd with the host key and certificate `host` (`host`, `host-cert.pub`), trusting `user_ca` (a .pub), and
/// `extra` config lines.
pub(crate) fn start_sshd(dir: &Path, host: &str, user_ca: &str, extra: &[String]) -> Sshd {
    // As root, sshd needs its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let abs = |f: &str| dir.join(f).display().to_string();
    let mut config = vec![
        format!("Port {port}"),
        "ListenAddress 127.0.0.1".into(),
        format!("HostKey {}", abs(host)),
        format!("HostCertificate {}", abs(&format!("{host}-cert.pub"))),
        format!("TrustedUserCAKeys {}", abs(user_ca)),
        "AuthorizedKeysFile none".into(),
        "PasswordAuthentication no".into(),
        "KbdInteractiveAuthentication no".into(),
        "PubkeyAuthentication yes".into(),
        "PermitRootLogin prohibit-password".into(),
        "UsePAM no".into(),
        "StrictModes no".into(),
        format!("PidFile {}", abs("sshd.pid")),
        "LogLevel VERBOSE".into(),
    ];
    config.extend(extra.iter().cloned());
    std::fs::write(dir.join("sshd_config"), config.join("\n") + "\n").unwrap();
    let check = Command::new(sshd_binary())
        .args(["-t", "-f"])
        .arg(dir.join("sshd_config"))
        .output()
        .unwrap();
    assert!(check.status.success(), "sshd -t: {}", stderr_of(&check));
    let child = Command::new(sshd_binary())
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let sshd = Sshd { child, port };
    wait_for_port(port, "sshd");
    sshd
}

/// `ssh` as `user` with `key` (and its `-cert.pub` if `cert`), trusting host certificates from `host_ca` only.
pub(crate) fn ssh_login(dir: &Path, sshd: &Sshd, key: &str, cert: Option<&str>, host_ca: &str) -> std::process::Output {
    let ca = std::fs::read_to_string(dir.join(host_ca)).unwrap();
    std::fs::write(dir.join("known_hosts"), format!("@cert-authority * {ca}")).unwrap();
    let mut c = Command::new("ssh");
    c.current_dir(dir)
        .args(["-F", "/dev/null", "-p", &sshd.port.to_string(), "-i", key])
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=known_hosts",
        ])
        .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"])
        .args(["-o", "LogLevel=ERROR"]);
    match cert {
        Some(crt) => c.args(["-o", &format!("CertificateFile={crt}")]),
        None => c.args(["-o", "CertificateFile=/dev/null"]),
    };
    c.arg(format!("{}@127.0.0.1", user()))
        .arg("echo logged-in-as-$(id -un)")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn offline_cert(dir: &Path, args: &[&str]) -> std::process::Output {
    ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args(["ssh", "certificate"])
        .args(args)
        .args(["--offline", "--ca-password-file", "pw"])
        .output()
        .unwrap()
}

/// What `ssh-keygen -L` says, as (field, value) lines, principals and extensions gathered.
fn keygen_list(dir: &Path, crt: &str) -> serde_json::Value {
    let out = tool(dir, "ssh-keygen", &["-L", "-f", crt]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut v = serde_json::json!({"principals": [], "extensions": []});
    let mut section = "";
    for line in text.lines().skip(1) {
        let t = line.trim();
        if let Some((k, val)) = t.split_once(": ").or_else(|| t.strip_suffix(':').map(|k| (k, "")))
            && line.starts_with("        ")
            && !line.starts_with("                ")
        {
            section = match k {
                "Principals" => "principals",
                "Extensions" => "extensions",
                _ => "",
            };
            v[k] = serde_json::json!(val);
            continue;
        }
        if !section.is_empty() && !t.is_empty() && t != "(none)" {
            v[section].as_array_mut().unwrap().push(serde_json::json!(t));
        }
    }
    v
}

#[test]
fn sshd_accepts_ferricas_user_and_host_certificates_and_refuses_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let me = user();
    // A host certificate for the address ssh connects to, and a user certificate for this user.
    let out = offline_cert(
        dir,
        &[
            "localhost",
            "host_key",
            "--host",
            "--principal",
            "127.0.0.1",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = offline_cert(
        dir,
        &[
            &format!("{me}@lab.test"),
            "id_user",
            "--principal",
            &me,
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sshd = start_sshd(dir, "host_key", "pki/certs/ssh_user_ca_key.pub", &[]);
    let host_ca = "pki/certs/ssh_host_ca_key.pub";

    let ok = ssh_login(dir, &sshd, "id_user", Some("id_user-cert.pub"), host_ca);
    assert!(
        ok.status.success(),
        "{}\nsshd: {}",
        stderr_of(&ok),
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), format!("logged-in-as-{me}"));

    // The plain key without its certificate.
    assert!(!ssh_login(dir, &sshd, "id_user", None, host_ca).status.success());
    // A certificate for another principal.
    let out = offline_cert(dir, &["bob@lab.test", "id_bob", "--no-password", "--insecure"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        !ssh_login(dir, &sshd, "id_bob", Some("id_bob-cert.pub"), host_ca)
            .status
            .success()
    );
    // A certificate not valid yet.
    let out = offline_cert(
        dir,
        &[
            "later@lab.test",
            "id_later",
            "--principal",
            &me,
            "--not-before",
            "2h",
            "--not-after",
            "4h",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        !ssh_login(dir, &sshd, "id_later", Some("id_later-cert.pub"), host_ca)
            .status
            .success()
    );
    // An expired one from the same CA key (signed by ssh-keygen: ferrica refuses to issue it).
    openssl_ok(
        dir,
        &[
            "pkey",
            "-in",
            "pki/secrets/ssh_user_ca_key",
            "-passin",
            "file:pw",
            "-out",
            "user_ca.pem",
        ],
    );
    std::fs::set_permissions(
        dir.join("user_ca.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::copy(dir.join("id_user.pub"), dir.join("id_old.pub")).unwrap();
    let out = tool(
        dir,
        "ssh-keygen",
        &[
            "-s",
            "user_ca.pem",
            "-I",
            "old",
            "-n",
            &me,
            "-V",
            "20200101:20200102",
            "id_old.pub",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        !ssh_login(dir, &sshd, "id_user", Some("id_old-cert.pub"), host_ca)
            .status
            .success()
    );
    // A host certificate from another CA is not trusted (StrictHostKeyChecking): the user CA is no host CA.
    assert!(
        !ssh_login(
            dir,
            &sshd,
            "id_user",
            Some("id_user-cert.pub"),
            "pki/certs/ssh_user_ca_key.pub"
        )
        .status
        .success()
    );

    // ssh-keygen -L and ferrica ssh inspect agree.
    let k = keygen_list(dir, "id_user-cert.pub");
    let out = ferrica(dir)
        .args(["ssh", "inspect", "id_user-cert.pub", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(k["Key ID"], format!("\"{}\"", f["keyID"].as_str().unwrap()));
    assert_eq!(k["Serial"], f["serial"]);
    assert_eq!(k["principals"], f["principals"]);
    assert_eq!(k["extensions"], f["extensions"]);
    assert!(k["Type"].as_str().unwrap().contains("user certificate"), "{k}");
    assert!(
        k["Signing CA"]
            .as_str()
            .unwrap()
            .contains(f["signingCA"]["fingerprint"].as_str().unwrap()),
        "{k} {f}"
    );
    let host = keygen_list(dir, "host_key-cert.pub");
    assert!(host["Type"].as_str().unwrap().contains("host certificate"), "{host}");
    assert_eq!(host["principals"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(host["extensions"], serde_json::json!([]));
}

#[test]
fn bad_ssh_input_is_refused_clearly_and_nothing_is_issued() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    // A malformed public key, a DSA key, a 1024-bit RSA key.
    std::fs::write(dir.join("junk.pub"), "ssh-ed25519 not-base64!!\n").unwrap();
    assert_clean_error(&offline_cert(dir, &["a", "junk.pub", "--sign"]), 3, "junk.pub");
    let out = tool(
        dir,
        "ssh-keygen",
        &["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", "weak"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_clean_error(&offline_cert(dir, &["a", "weak.pub", "--sign"]), 3, "at least 2048");
    std::fs::write(
        dir.join("dsa.pub"),
        "ssh-dss AAAAB3NzaC1kc3MAAACBAPLNoS5nsXiBQ5K4O0M9YaUVk1y8F6ZKwVtL8g6XhIGWE1YqaN0UGdoErNTnE7dUbkqD5qV0v3XzHEdBfYZL8eXbO5hrVQ== x\n",
    )
    .unwrap();
    let out = offline_cert(dir, &["a", "dsa.pub", "--sign"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(!dir.join("weak-cert.pub").exists() && !dir.join("dsa-cert.pub").exists());
    // A principal outside the provisioner's SSH policy.
    let cfg = dir.join("pki/config/ca.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["authority"]["provisioners"][0]["policy"] =
        serde_json::json!({"ssh": {"user": {"allow": {"principal": ["alice"]}}}});
    std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    assert_clean_error(
        &offline_cert(dir, &["mallory", "id_m", "--no-password", "--insecure"]),
        4,
        "principal \"mallory\" is not allowed",
    );
    assert!(!dir.join("id_m").exists() && !dir.join("id_m-cert.pub").exists());
    // A lifetime over the maximum.
    assert_clean_error(
        &offline_cert(
            dir,
            &["alice", "id_a", "--not-after", "48h", "--no-password", "--insecure"],
        ),
        4,
        "more than the provisioner's maximum",
    );
    // Flags of the other mode are refused, not ignored: a token offline, a ca.json online.
    let out = offline_cert(
        dir,
        &["alice", "id_t", "--token", "x.y.z", "--no-password", "--insecure"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let out = ferrica(dir)
        .env("FERRICA_PATH", dir.join("pki"))
        .args([
            "ssh",
            "certificate",
            "alice",
            "id_t",
            "--ca-config",
            "pki/config/ca.json",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!dir.join("id_t").exists());
    // A CA without SSH keys.
    let d2 = tempfile::tempdir().unwrap();
    init_pki_with(d2.path(), &[]);
    assert_clean_error(
        &offline_cert(d2.path(), &["alice", "id_a", "--no-password", "--insecure"]),
        3,
        "signs SSH",
    );
}

fn online(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    crate::serve::client(dir, url).args(args).output().unwrap()
}

fn serial_of(dir: &Path, crt: &str) -> String {
    let out = ferrica(dir)
        .args(["ssh", "inspect", crt, "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["serial"].as_str().unwrap().to_string()
}

#[test]
fn the_online_ca_signs_over_ssh_sign_and_a_revocation_reaches_sshd_through_the_krl() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let server = crate::serve::start(dir);
    let url = server.url.clone();
    let me = user();
    // A user certificate with the provisioner's password; a host certificate with a token minted first.
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            &format!("{me}@lab.test"),
            "id_user",
            "--principal",
            &me,
            "--provisioner-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let token = online(
        dir,
        &url,
        &[
            "ca",
            "token",
            "localhost",
            "--ssh",
            "--host",
            "-n",
            "127.0.0.1",
            "--password-file",
            "pw",
        ],
    );
    assert!(token.status.success(), "{}", stderr_of(&token));
    let token = String::from_utf8(token.stdout).unwrap();
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            "localhost",
            "host_key",
            "--host",
            "--token",
            token.trim(),
            "--principal",
            "127.0.0.1",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    // The token was used once.
    let again = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            "localhost",
            "host2",
            "--host",
            "--token",
            token.trim(),
            "-n",
            "127.0.0.1",
            "--no-password",
            "--insecure",
        ],
    );
    assert_clean_error(&again, 4, "token already used");
    // /ssh/roots has both CA keys in step-ca's shape (base64 wire encoding).
    let (code, body) = crate::serve::curl(dir, &[&format!("{url}/ssh/roots")]);
    assert_eq!(code, 200, "{body}");
    let roots: serde_json::Value = serde_json::from_str(&body).unwrap();
    let user_ca = std::fs::read_to_string(dir.join("pki/certs/ssh_user_ca_key.pub")).unwrap();
    assert!(user_ca.contains(roots["userKey"][0].as_str().unwrap()), "{body}");

    // sshd with the CA's KRL as RevokedKeys: the user logs in until the certificate is revoked.
    let out = online(dir, &url, &["ssh", "krl", "revoked.krl"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sshd = start_sshd(
        dir,
        "host_key",
        "pki/certs/ssh_user_ca_key.pub",
        &[format!("RevokedKeys {}", dir.join("revoked.krl").display())],
    );
    let host_ca = "pki/certs/ssh_host_ca_key.pub";
    let ok = ssh_login(dir, &sshd, "id_user", Some("id_user-cert.pub"), host_ca);
    assert!(ok.status.success(), "{}", stderr_of(&ok));
    let serial = serial_of(dir, "id_user-cert.pub");
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "revoke",
            &serial,
            "--provisioner-password-file",
            "pw",
            "--reason",
            "left",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_clean_error(
        &online(
            dir,
            &url,
            &["ssh", "revoke", &serial, "--provisioner-password-file", "pw"],
        ),
        4,
        "already revoked",
    );
    let out = online(dir, &url, &["ssh", "krl", "revoked.krl", "--force"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let q = tool(
        dir,
        "ssh-keygen",
        &["-Q", "-f", "revoked.krl", "id_user-cert.pub", "host_key-cert.pub"],
    );
    let shown = String::from_utf8_lossy(&q.stdout);
    assert!(
        shown.contains("id_user-cert.pub (id_user-cert.pub): REVOKED"),
        "{shown}"
    );
    assert!(shown.contains("host_key-cert.pub (host_key-cert.pub): ok"), "{shown}");
    let refused = ssh_login(dir, &sshd, "id_user", Some("id_user-cert.pub"), host_ca);
    assert!(!refused.status.success(), "a revoked certificate logged in");
    // A new certificate for the same user works again (the KRL lists serials, not keys).
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            &format!("{me}@lab.test"),
            "id_new",
            "--principal",
            &me,
            "--provisioner-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        ssh_login(dir, &sshd, "id_new", Some("id_new-cert.pub"), host_ca)
            .status
            .success()
    );

    // /ssh/hosts and /ssh/check-host know the host.
    let (_, body) = crate::serve::curl(dir, &[&format!("{url}/ssh/hosts")]);
    assert!(body.contains("\"hostname\":\"127.0.0.1\""), "{body}");
    let (_, body) = crate::serve::curl(
        dir,
        &[
            "-d",
            r#"{"type":"host","principal":"127.0.0.1"}"#,
            &format!("{url}/ssh/check-host"),
        ],
    );
    assert_eq!(body, r#"{"exists":true}"#);

    // Tokens for something else are refused, and nothing is issued: an X.509 token, a host token for a user.
    std::fs::copy(dir.join("id_user.pub"), dir.join("k.pub")).unwrap();
    let x509 = online(dir, &url, &["ca", "token", "x.lab.test", "--password-file", "pw"]);
    let x509 = String::from_utf8(x509.stdout).unwrap();
    assert_clean_error(
        &online(
            dir,
            &url,
            &[
                "ssh",
                "certificate",
                "x.lab.test",
                "k.pub",
                "--sign",
                "--token",
                x509.trim(),
            ],
        ),
        4,
        "invalid audience",
    );
    let host_token = online(
        dir,
        &url,
        &["ca", "token", "h.lab.test", "--ssh", "--host", "--password-file", "pw"],
    );
    let host_token = String::from_utf8(host_token.stdout).unwrap();
    assert_clean_error(
        &online(
            dir,
            &url,
            &[
                "ssh",
                "certificate",
                "h.lab.test",
                "k.pub",
                "--sign",
                "--token",
                host_token.trim(),
            ],
        ),
        4,
        "is not the token's",
    );
    assert!(!dir.join("k-cert.pub").exists());
    drop(server);
}

#[test]
fn step_ssh_certificate_works_against_ferrica_and_ferricas_against_step_ca() {
    let (Some(step), Some(step_ca)) = (step_tool("step"), step_tool("step-ca")) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let url = format!("https://127.0.0.1:{port}");
    init_pki_with(dir, &["--ssh", "--address", &address]);
    let step_cmd = |args: &[&str]| {
        Command::new(&step)
            .args(args)
            .current_dir(dir)
            .env("STEPPATH", dir.join("step"))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let me = user();
    {
        // step 0.15 as the client of ferrica serve, with a token from `ferrica ca token --ssh`.
        let _server = crate::serve::start_at(dir, &address);
        let token = online(dir, &url, &["ca", "token", &me, "--ssh", "--password-file", "pw"]);
        assert!(token.status.success(), "{}", stderr_of(&token));
        let token = String::from_utf8(token.stdout).unwrap();
        let out = step_cmd(&[
            "ssh",
            "certificate",
            &me,
            "id_step",
            "--token",
            token.trim(),
            "--ca-url",
            &url,
            "--root",
            "pki/certs/root_ca.crt",
            "--no-password",
            "--insecure",
        ]);
        assert!(dir.join("id_step-cert.pub").exists(), "step: {}", stderr_of(&out));
        let host = online(
            dir,
            &url,
            &[
                "ssh",
                "certificate",
                "localhost",
                "host_key",
                "--host",
                "-n",
                "127.0.0.1",
                "--provisioner-password-file",
                "pw",
                "--no-password",
                "--insecure",
            ],
        );
        assert!(host.status.success(), "{}", stderr_of(&host));
        let sshd = start_sshd(dir, "host_key", "pki/certs/ssh_user_ca_key.pub", &[]);
        let login = ssh_login(
            dir,
            &sshd,
            "id_step",
            Some("id_step-cert.pub"),
            "pki/certs/ssh_host_ca_key.pub",
        );
        assert!(login.status.success(), "{}", stderr_of(&login));
        // And step's `ssh inspect` reads ferrica's certificate.
        let out = step_cmd(&["ssh", "inspect", "host_key-cert.pub"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("host certificate"),
            "{}",
            stderr_of(&out)
        );
    }
    // step-ca 0.19 serving the PKI ferrica made (its SSH keys included), ferrica's client against it.
    let _ca = crate::hostile::start_step_ca(&step_ca, dir);
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            &format!("{me}@lab.test"),
            "id_ref",
            "-n",
            &me,
            "--provisioner-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let k = keygen_list(dir, "id_ref-cert.pub");
    assert_eq!(k["principals"], serde_json::json!([me]));
    let host = online(
        dir,
        &url,
        &[
            "ssh",
            "certificate",
            "localhost",
            "host_ref",
            "--host",
            "-n",
            "127.0.0.1",
            "--provisioner-password-file",
            "pw",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(host.status.success(), "{}", stderr_of(&host));
    let sshd = start_sshd(dir, "host_ref", "pki/certs/ssh_user_ca_key.pub", &[]);
    let login = ssh_login(
        dir,
        &sshd,
        "id_ref",
        Some("id_ref-cert.pub"),
        "pki/certs/ssh_host_ca_key.pub",
    );
    assert!(login.status.success(), "{}", stderr_of(&login));
}

#[test]
fn provisioner_flags_turn_ssh_on_and_set_its_lifetimes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let ca = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = ca(&[
        "ca",
        "provisioner",
        "add",
        "ops",
        "--type",
        "JWK",
        "--create",
        "--password-file",
        "pw",
        "--ssh",
        "--ssh-user-max-dur",
        "48h",
        "--ssh-user-default-dur",
        "40h",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = offline_cert(
        dir,
        &["alice", "id_a", "--provisioner", "ops", "--no-password", "--insecure"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let f: serde_json::Value = serde_json::from_slice(
        &ferrica(dir)
            .args(["ssh", "inspect", "id_a-cert.pub", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let t = |k: &str| {
        time::OffsetDateTime::parse(f[k].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!((t("validBefore") - t("validAfter")).whole_hours(), 40);
    // min <= default <= max is checked; --ssh=false turns SSH off again.
    assert_clean_error(
        &ca(&["ca", "provisioner", "update", "ops", "--ssh-user-default-dur", "72h"]),
        2,
        "min <= default <= max",
    );
    let out = ca(&["ca", "provisioner", "update", "ops", "--ssh=false"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_clean_error(
        &offline_cert(
            dir,
            &["alice", "id_b", "--provisioner", "ops", "--no-password", "--insecure"],
        ),
        4,
        "lack enableSSHCA",
    );
}

#[test]
fn a_host_certificate_renews_and_rekeys_with_sshpop_and_a_user_certificate_cannot() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let server = crate::serve::start(dir);
    let url = server.url.clone();
    let me = user();
    let cert = |args: &[&str]| {
        let mut full = vec!["ssh", "certificate"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--provisioner-password-file", "pw", "--no-password", "--insecure"]);
        let out = online(dir, &url, &full);
        assert!(out.status.success(), "{}", stderr_of(&out));
    };
    cert(&["localhost", "host_key", "--host", "-n", "127.0.0.1"]);
    cert(&[&me, "id_user", "-n", &me]);
    let first = serial_of(dir, "host_key-cert.pub");
    let fp =
        |f: &str| String::from_utf8(ferrica(dir).args(["ssh", "fingerprint", f]).output().unwrap().stdout).unwrap();

    // Renew in place: only with --force; a new serial, the same key and principals.
    assert_clean_error(
        &online(dir, &url, &["ssh", "renew", "host_key-cert.pub", "host_key"]),
        3,
        "--force",
    );
    let out = online(dir, &url, &["ssh", "renew", "host_key-cert.pub", "host_key", "--force"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_ne!(serial_of(dir, "host_key-cert.pub"), first);
    assert_eq!(fp("host_key-cert.pub"), fp("host_key.pub"));
    assert_eq!(
        keygen_list(dir, "host_key-cert.pub")["principals"],
        serde_json::json!(["127.0.0.1"])
    );

    // Rekey to a new key pair; sshd serves it and ssh trusts it.
    let out = online(
        dir,
        &url,
        &[
            "ssh",
            "rekey",
            "host_key-cert.pub",
            "host_key",
            "--out",
            "host_new",
            "--no-password",
            "--insecure",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_ne!(fp("host_new-cert.pub"), fp("host_key.pub"));
    assert_eq!(fp("host_new-cert.pub"), fp("host_new.pub"));
    let sshd = start_sshd(dir, "host_new", "pki/certs/ssh_user_ca_key.pub", &[]);
    let login = ssh_login(
        dir,
        &sshd,
        "id_user",
        Some("id_user-cert.pub"),
        "pki/certs/ssh_host_ca_key.pub",
    );
    assert!(login.status.success(), "{}", stderr_of(&login));

    // A user certificate does not renew (as with step-ca), nor does a revoked host certificate.
    assert_clean_error(
        &online(dir, &url, &["ssh", "renew", "id_user-cert.pub", "id_user", "--force"]),
        4,
        "must be a host certificate",
    );
    let serial = serial_of(dir, "host_new-cert.pub");
    let out = online(
        dir,
        &url,
        &["ssh", "revoke", &serial, "--provisioner-password-file", "pw"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_clean_error(
        &online(dir, &url, &["ssh", "renew", "host_new-cert.pub", "host_new", "--force"]),
        4,
        "revoked",
    );
    // A key that is not the certificate's.
    assert_clean_error(
        &online(
            dir,
            &url,
            &["ssh", "renew", "host_key-cert.pub", "id_user", "--out", "x-cert.pub"],
        ),
        2,
        "is not the key of",
    );
    drop(server);
}

#[test]
fn ssh_config_makes_ssh_trust_the_host_ca_and_tells_sshd_what_to_trust() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let server = crate::serve::start(dir);
    let url = server.url.clone();
    let me = user();
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/config"), "Host old\n\tUser someone\n").unwrap();
    let with_home = |args: &[&str]| {
        crate::serve::client(dir, &url)
            .env("HOME", &home)
            .args(args)
            .output()
            .unwrap()
    };
    // The user side, written twice: the include is added once.
    for _ in 0..2 {
        let out = with_home(&["ssh", "config"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let ssh_config = std::fs::read_to_string(home.join(".ssh/config")).unwrap();
    assert!(ssh_config.starts_with("Host old\n"), "{ssh_config}");
    assert_eq!(ssh_config.matches("Include").count(), 1, "{ssh_config}");
    let known = std::fs::read_to_string(dir.join("pki/ssh/known_hosts")).unwrap();
    let host_ca = std::fs::read_to_string(dir.join("pki/certs/ssh_host_ca_key.pub")).unwrap();
    let host_ca_key = host_ca.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(known.trim(), format!("@cert-authority * {host_ca_key}"));

    // With it, plain `ssh -F ~/.ssh/config` trusts ferrica's host certificate under StrictHostKeyChecking.
    for args in [
        &[
            "ssh",
            "certificate",
            "localhost",
            "host_key",
            "--host",
            "-n",
            "127.0.0.1",
        ][..],
        &["ssh", "certificate", &me, "id_user", "-n", &me][..],
    ] {
        let out = with_home(
            &[
                args,
                &["--provisioner-password-file", "pw", "--no-password", "--insecure"],
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let sshd = start_sshd(dir, "host_key", "pki/certs/ssh_user_ca_key.pub", &[]);
    let out = Command::new("ssh")
        .current_dir(dir)
        .env("HOME", &home)
        .args([
            "-F",
            &home.join(".ssh/config").display().to_string(),
            "-p",
            &sshd.port.to_string(),
        ])
        .args([
            "-i",
            "id_user",
            "-o",
            "CertificateFile=id_user-cert.pub",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args([
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .arg(format!("{me}@127.0.0.1"))
        .arg("echo via-config")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via-config");

    // The host side, as a dry run: sshd_config lines with the --set names, the user CA key, the KRL.
    let out = with_home(&[
        "ssh",
        "config",
        "--host",
        "--dry-run",
        "--set",
        "Certificate=h-cert.pub",
        "--set",
        "Key=h",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "TrustedUserCAKeys /etc/ssh/ca.pub",
        "HostCertificate /etc/ssh/h-cert.pub",
        "HostKey /etc/ssh/h",
        "RevokedKeys /etc/ssh/revoked.krl",
        "# /etc/ssh/revoked.krl",
    ] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    let user_ca = std::fs::read_to_string(dir.join("pki/certs/ssh_user_ca_key.pub")).unwrap();
    let user_ca_key = user_ca.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert!(shown.contains(&user_ca_key), "{shown}");
    // --roots prints the keys to trust.
    let out = with_home(&["ssh", "config", "--roots"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), host_ca_key);
    let out = with_home(&["ssh", "config", "--roots", "--host"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), user_ca_key);

    // hosts, check-host, needs-renewal.
    let out = with_home(&["ssh", "hosts"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "127.0.0.1");
    assert_eq!(with_home(&["ssh", "check-host", "127.0.0.1"]).status.code(), Some(0));
    assert_eq!(
        with_home(&["ssh", "check-host", "elsewhere.lab.test"]).status.code(),
        Some(1)
    );
    let needs = |args: &[&str]| {
        ferrica(dir)
            .args([&["ssh", "needs-renewal", "id_user-cert.pub"][..], args].concat())
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(needs(&[]), Some(1));
    assert_eq!(needs(&["--expires-in", "100%"]), Some(0));
    assert_eq!(needs(&["--expires-in", "1h"]), Some(1));
    assert_eq!(needs(&["--expires-in", "48h"]), Some(0));
    drop(server);
}

#[test]
fn with_an_ssh_agent_the_user_key_and_certificate_land_in_it_and_log_in() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let me = user();
    let sock = dir.join("agent.sock");
    let agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = crate::hostile::Killed(agent);
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let issue = |args: &[&str]| {
        ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .env("SSH_AUTH_SOCK", &sock)
            .args(["ssh", "certificate"])
            .args(args)
            .args(["--offline", "--ca-password-file", "pw", "--no-password", "--insecure"])
            .output()
            .unwrap()
    };
    let listed = || {
        let out = Command::new("ssh-add")
            .arg("-L")
            .env("SSH_AUTH_SOCK", &sock)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // --no-agent leaves it empty; host certificates never go in.
    assert!(issue(&[&me, "id_quiet", "-n", &me, "--no-agent"]).status.success());
    assert!(
        issue(&["localhost", "host_key", "--host", "-n", "127.0.0.1"])
            .status
            .success()
    );
    assert!(!listed().contains("cert-v01"), "{}", listed());
    let out = issue(&[&me, "id_agent", "-n", &me, "--kty", "OKP"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("SSH Agent: yes"), "{}", stderr_of(&out));
    let keys = listed();
    let cert = std::fs::read_to_string(dir.join("id_agent-cert.pub")).unwrap();
    let cert_blob = cert.split_whitespace().nth(1).unwrap();
    assert!(keys.contains(cert_blob), "{keys}");
    // ssh finds the identity in the agent alone.
    let sshd = start_sshd(dir, "host_key", "pki/certs/ssh_user_ca_key.pub", &[]);
    std::fs::write(
        dir.join("known_hosts"),
        format!(
            "@cert-authority * {}",
            std::fs::read_to_string(dir.join("pki/certs/ssh_host_ca_key.pub")).unwrap()
        ),
    )
    .unwrap();
    let out = Command::new("ssh")
        .current_dir(dir)
        .env("SSH_AUTH_SOCK", &sock)
        .args(["-F", "/dev/null", "-p", &sshd.port.to_string(), "-o", "BatchMode=yes"])
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=known_hosts",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ])
        .arg(format!("{me}@127.0.0.1"))
        .arg("echo from-agent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from-agent");
}

#[test]
fn add_user_public_key_gets_steps_provisioner_certificate_beside_the_users() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init_pki_with(dir, &["--ssh"]);
    let server = crate::serve::start(dir);
    let url = server.url.clone();
    for k in ["alice", "adder"] {
        let out = tool(dir, "ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", k]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let blob = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let token = online(
        dir,
        &url,
        &["ca", "token", "alice", "--ssh", "-n", "alice", "--password-file", "pw"],
    );
    let token = String::from_utf8(token.stdout).unwrap();
    let body = serde_json::json!({"publicKey": blob("alice.pub"), "ott": token.trim(), "certType": "user",
        "keyID": "alice", "principals": ["alice"], "addUserPublicKey": blob("adder.pub")});
    std::fs::write(dir.join("req.json"), body.to_string()).unwrap();
    let (code, answer) = crate::serve::curl(dir, &["-d", "@req.json", &format!("{url}/1.0/ssh/sign")]);
    assert_eq!(code, 201, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    std::fs::write(
        dir.join("adder-cert.pub"),
        format!(
            "ssh-ed25519-cert-v01@openssh.com {}\n",
            v["addUserCrt"].as_str().unwrap()
        ),
    )
    .unwrap();
    let k = keygen_list(dir, "adder-cert.pub");
    assert_eq!(k["Key ID"], "\"alice-provisioner\"");
    assert_eq!(k["principals"], serde_json::json!(["provisioner"]));
    let text = String::from_utf8_lossy(&tool(dir, "ssh-keygen", &["-L", "-f", "adder-cert.pub"]).stdout).to_string();
    assert!(
        text.contains("force-command sudo useradd -m alice; nc -q0 localhost 22"),
        "{text}"
    );
    // The same token again: refused, whatever it asks for.
    let (code, _) = crate::serve::curl(dir, &["-d", "@req.json", &format!("{url}/1.0/ssh/sign")]);
    assert_eq!(code, 401);
    drop(server);
}
