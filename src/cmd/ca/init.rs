//! `ferrica ca init`

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::ca::init::{InitParams, build};
use crate::cli::ca::InitArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::keys::{KeySpec, PrivateKey};

/// Creates the PKI.
pub fn run(a: InitArgs) -> Result<u8> {
    if let Some((flag, why)) = a.step.refusal() {
        return Err(UserError::usage(format!("{flag} is step's, and {why}")).into());
    }
    if a.deployment_type != "standalone" {
        return Err(UserError::usage(format!(
            "--deployment-type {} needs smallstep's hosted service; ferrica runs standalone",
            a.deployment_type
        ))
        .into());
    }
    let base = super::ferrica_path()?;
    let base = if base.is_absolute() {
        base
    } else {
        std::env::current_dir()?.join(base)
    };
    // Missing answers: asked on a terminal, an error naming the flags otherwise.
    let tty = std::io::stdin().is_terminal();
    let mut missing = Vec::new();
    let name = answer(
        a.name.clone(),
        "What would you like to name your new PKI?",
        "--name",
        tty,
        &mut missing,
    )?;
    // --pki writes no configuration, so neither names nor a provisioner are asked for.
    let dns = if a.pki && a.dns.is_empty() {
        vec!["localhost".to_string()]
    } else if a.dns.is_empty() {
        answer(
            None,
            "What DNS names or IP addresses will clients use (comma-separated)?",
            "--dns",
            tty,
            &mut missing,
        )?
        .map(|s| {
            s.split(',')
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect()
        })
        .unwrap_or_default()
    } else {
        // step takes `--dns a,b` as well as `--dns a --dns b`.
        a.dns
            .iter()
            .flat_map(|d| d.split(','))
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect()
    };
    let provisioner = answer(
        a.provisioner.clone().or_else(|| a.pki.then(|| "unused".to_string())),
        "What would you like to name the first provisioner?",
        "--provisioner",
        tty,
        &mut missing,
    )?;
    if !missing.is_empty() {
        return Err(UserError::usage(format!(
            "missing {} (stdin is not a terminal, so nothing is asked)",
            missing.join(", ")
        ))
        .hint("ferrica ca init --name NAME --dns HOST --provisioner NAME [--password-file FILE]")
        .into());
    }
    let (name, provisioner) = (name.expect("checked"), provisioner.expect("checked"));
    let key_spec = KeySpec::from_flags(
        a.key_type.kty.as_deref(),
        a.key_type.crv.as_deref(),
        a.key_type.size,
        false,
    )
    .map_err(|e| UserError::usage(e.to_string()))?;

    // Every output, checked before any work.
    let files: Vec<(&str, u32)> = [
        ("certs/root_ca.crt", PUBLIC_MODE),
        ("certs/intermediate_ca.crt", PUBLIC_MODE),
        ("secrets/root_ca_key", KEY_MODE),
        ("secrets/intermediate_ca_key", KEY_MODE),
        ("config/ca.json", PUBLIC_MODE),
        ("config/defaults.json", PUBLIC_MODE),
        ("secrets/ssh_host_ca_key", KEY_MODE),
        ("secrets/ssh_user_ca_key", KEY_MODE),
        ("certs/ssh_host_ca_key.pub", PUBLIC_MODE),
        ("certs/ssh_user_ca_key.pub", PUBLIC_MODE),
    ]
    .into_iter()
    .filter(|(f, _)| !(a.pki && f.starts_with("config/")))
    .filter(|(f, _)| a.ssh || !f.contains("ssh_"))
    .collect();
    for (f, _) in &files {
        if base.join(f).exists() && !a.force {
            return Err(UserError::input(format!(
                "{} already exists: a PKI is already set up there",
                base.join(f).display()
            ))
            .hint("pass --force to replace it, or set FERRICA_PATH to another directory")
            .into());
        }
    }

    // Passwords: the CA keys', the provisioner's (default: the same), the existing root key's.
    let existing_key = match &a.key {
        Some(k) => Some(crate::io::input::read_input(k, "--key file")?),
        None => None,
    };
    let mut needs = vec![PasswordNeed {
        what: "the CA keys".into(),
        flag: "--password-file",
        env: "FERRICA_PASSWORD_FILE",
        file: a.password_file.clone(),
        purpose: Purpose::Encrypt,
    }];
    if a.provisioner_password_file.is_some() && !a.pki {
        needs.push(PasswordNeed {
            what: "the provisioner key".into(),
            flag: "--provisioner-password-file",
            env: "FERRICA_PROVISIONER_PASSWORD_FILE",
            file: a.provisioner_password_file.clone(),
            purpose: Purpose::Encrypt,
        });
    }
    let root_encrypted = existing_key.as_deref().is_some_and(PrivateKey::is_encrypted);
    if root_encrypted {
        needs.push(PasswordNeed {
            what: format!("the root key {}", a.key.as_deref().unwrap_or_default()),
            flag: "--key-password-file",
            env: "FERRICA_KEY_PASSWORD_FILE",
            file: a.key_password_file.clone(),
            purpose: Purpose::Decrypt,
        });
    }
    let mut pws = password::resolve(&needs, &mut Stdin::default())?.into_iter();
    let ca_pw = pws.next().expect("always needed");
    let prov_pw = if a.provisioner_password_file.is_some() && !a.pki {
        pws.next().expect("needed")
    } else {
        ca_pw.clone()
    };
    let root_pw = if root_encrypted { pws.next() } else { None };

    let existing_root = match (&a.root, &existing_key) {
        (Some(r), Some(k)) => {
            let certs = crate::cmd::certificate::read_certs(r, "--root")?;
            let key = crate::cmd::certificate::parse_key(
                k,
                root_pw,
                a.key.as_deref().unwrap_or_default(),
                "--key-password-file",
            )?;
            Some((certs[0].clone(), key))
        }
        _ => None,
    };
    let params = InitParams {
        name: name.clone(),
        dns,
        address: a.address.clone(),
        provisioner: provisioner.clone(),
        acme: a.acme,
        no_db: a.no_db,
        ssh: a.ssh,
        key_spec,
        base: base.clone(),
    };
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let mut pki = build(&params, existing_root, &prov_pw, now).map_err(|e| UserError::input(e.to_string()))?;
    if let Some(url) = &a.with_ca_url {
        let host = url
            .strip_prefix("https://")
            .map(|r| r.split(['/', ':']).next().unwrap_or_default());
        if host.is_none_or(str::is_empty) || url.contains(char::is_whitespace) {
            return Err(
                UserError::usage(format!("--with-ca-url {url:?} is not an https:// URL"))
                    .hint("e.g. --with-ca-url https://ca.lab.internal:9000")
                    .into(),
            );
        }
        pki.defaults["ca-url"] = url.trim_end_matches('/').into();
    }

    // Write everything, or nothing.
    let dirs: &[&str] = if a.pki {
        &["certs", "secrets"]
    } else {
        &["certs", "secrets", "config"]
    };
    for dir in dirs {
        std::fs::create_dir_all(base.join(dir)).with_context(|| format!("creating {}", base.join(dir).display()))?;
    }
    std::fs::set_permissions(
        base.join("secrets"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    if !a.no_db && !a.pki {
        std::fs::create_dir_all(base.join("db"))?;
    }
    let pem = |der: &[u8]| crate::cmd::certificate::create::pem_block("CERTIFICATE", der.to_vec());
    let mut contents: Vec<(&str, Vec<u8>)> = vec![
        ("certs/root_ca.crt", pem(&pki.root_der).into_bytes()),
        ("certs/intermediate_ca.crt", pem(&pki.intermediate_der).into_bytes()),
        (
            "secrets/intermediate_ca_key",
            pki.intermediate_key.to_pem(Some(&ca_pw))?.into_bytes(),
        ),
        ("config/ca.json", pki.config.to_json_pretty().into_bytes()),
        (
            "config/defaults.json",
            (serde_json::to_string_pretty(&pki.defaults)? + "\n").into_bytes(),
        ),
    ];
    if let Some(k) = &pki.root_key {
        contents.push(("secrets/root_ca_key", k.to_pem(Some(&ca_pw))?.into_bytes()));
    }
    if let Some(ssh) = &pki.ssh_keys {
        for (which, key) in [("host", &ssh.host), ("user", &ssh.user)] {
            let public =
                crate::ssh::cert::key_data_of_spki(&key.spki_der()).map_err(|e| UserError::input(e.to_string()))?;
            let line = crate::ssh::cert::public_line(&public, &format!("{name} SSH {which} CA"));
            let (secret, public) = match which {
                "host" => ("secrets/ssh_host_ca_key", "certs/ssh_host_ca_key.pub"),
                _ => ("secrets/ssh_user_ca_key", "certs/ssh_user_ca_key.pub"),
            };
            contents.push((secret, key.to_pem(Some(&ca_pw))?.into_bytes()));
            contents.push((public, format!("{line}\n").into_bytes()));
        }
    }
    contents.retain(|(rel, _)| files.iter().any(|(f, _)| f == rel));
    // ca.json goes into place last: a kill part-way leaves no ca.json naming files that are not there yet.
    contents.sort_by_key(|(rel, _)| *rel == "config/ca.json");
    let mut out = OutputSet::new(a.force);
    for (rel, data) in &contents {
        let mode = files.iter().find(|(f, _)| f == rel).map_or(PUBLIC_MODE, |(_, m)| *m);
        out.stage(&base.join(rel), data, mode)?;
    }
    out.commit()?;
    let show = |rel: &str| base.join(rel).display().to_string();
    eprintln!("Your PKI is ready ({name}).");
    eprintln!("  root certificate:          {}", show("certs/root_ca.crt"));
    if pki.root_key.is_some() {
        eprintln!("  root private key:          {}", show("secrets/root_ca_key"));
    }
    eprintln!("  intermediate certificate:  {}", show("certs/intermediate_ca.crt"));
    eprintln!("  intermediate private key:  {}", show("secrets/intermediate_ca_key"));
    if a.ssh {
        eprintln!("  SSH user CA public key:    {}", show("certs/ssh_user_ca_key.pub"));
        eprintln!("  SSH host CA public key:    {}", show("certs/ssh_host_ca_key.pub"));
    }
    if !a.pki {
        eprintln!("  configuration:             {}", show("config/ca.json"));
        eprintln!("  JWK provisioner:           {provisioner}");
    }
    eprintln!("Root fingerprint (stdout):");
    crate::cmd::print_stdout(format!("{}\n", pki.root_fingerprint).as_bytes())?;
    Ok(0)
}

/// The flag's value, or an answer from the terminal, or a note that it is missing.
fn answer(
    value: Option<String>,
    question: &str,
    flag: &'static str,
    tty: bool,
    missing: &mut Vec<&'static str>,
) -> Result<Option<String>> {
    if value.is_some() {
        return Ok(value);
    }
    if !tty {
        missing.push(flag);
        return Ok(None);
    }
    eprint!("{question} ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim().to_string();
    if line.is_empty() {
        missing.push(flag);
        return Ok(None);
    }
    Ok(Some(line))
}
