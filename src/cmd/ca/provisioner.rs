//! `ferrica ca provisioner list|add|update|remove`: edits ca.json in place (atomically).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::Value;

use crate::ca::config::CaConfig;
use crate::ca::provisioner::{self, ClaimsUpdate, PolicyUpdate};
use crate::cli::ca::{ConfigArg, ProvisionerCommand, ProvisionerOptions};
use crate::error::UserError;
use crate::io::output::{OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::jose::jwk::Jwk;
use crate::pki::keys::{KeySpec, PrivateKey};

/// Runs a `provisioner` subcommand.
pub fn run(cmd: ProvisionerCommand) -> Result<u8> {
    match cmd {
        ProvisionerCommand::List(l) => {
            // The running CA when asked for one (flag or FERRICA_CA_URL), or when there is no local ca.json but
            // `ca bootstrap` recorded a CA; else the local ca.json.
            let local = super::ferrica_path()?.join("config/ca.json").exists();
            let online = match &l.ca_url {
                _ if l.config.ca_config.is_some() => None,
                Some(url) => Some(url.clone()),
                None if local => None,
                None => {
                    super::client::defaults()?.and_then(|d| d.get("ca-url").and_then(Value::as_str).map(str::to_string))
                }
            };
            let list = match online {
                Some(url) => {
                    let args = crate::cli::ca::CaClientArgs {
                        ca_url: Some(url),
                        root: l.root.clone(),
                        offline: false,
                    };
                    let (ca, _) = super::client::connect(&args, None)?;
                    let v = ca.get("/1.0/provisioners")?.json("GET /provisioners")?;
                    v.get("provisioners").cloned().unwrap_or(Value::Array(Vec::new()))
                }
                None => {
                    let (_, cfg) = load(&l.config)?;
                    Value::Array(cfg.authority.provisioners.into_iter().map(Value::Object).collect())
                }
            };
            crate::cmd::print_stdout((serde_json::to_string_pretty(&list)? + "\n").as_bytes())?;
            Ok(0)
        }
        ProvisionerCommand::Add(a) => {
            if a.name.trim().is_empty() || a.name.trim() != a.name {
                return Err(UserError::usage(format!(
                    "provisioner name {:?} is empty or has leading or trailing spaces",
                    a.name
                ))
                .into());
            }
            let (path, mut cfg) = load(&a.config)?;
            if cfg.provisioner(&a.name).is_some() {
                return Err(UserError::input(format!(
                    "{} already has a provisioner named {:?}",
                    path.display(),
                    a.name
                ))
                .into());
            }
            let mut p = match a.kind.to_ascii_uppercase().as_str() {
                "JWK" => {
                    let (public, encrypted) = match (&a.public_key, a.create) {
                        (None, false) if a.jwk_file.is_some() => {
                            let f = a.jwk_file.as_deref().unwrap_or_default();
                            let data = crate::io::input::read_input(f, "JWK_FILE")?;
                            match crate::jose::jwe::Jwe::parse(&data) {
                                Ok(jwe) => {
                                    let pw = crate::cmd::crypto::decrypt_password(
                                        &format!("the key of provisioner {:?} ({f})", a.name),
                                        a.password_file.clone(),
                                        &mut Stdin::default(),
                                    )?;
                                    let plain = crate::jose::jwe::decrypt(&jwe, &pw).map_err(|e| {
                                        UserError::input(format!("JWK_FILE {f}: {e}"))
                                            .hint("check the key's password (--password-file)")
                                    })?;
                                    let private = Jwk::from_json(&plain)
                                        .map_err(|e| UserError::input(format!("JWK_FILE {f}: {e}")))?;
                                    (private.public()?, Some(jwe.compact()))
                                }
                                Err(_) => {
                                    let loaded = crate::cmd::crypto::load_key(f, None, &mut Stdin::default())?;
                                    (crate::cmd::crypto::key::public_jwk(&loaded)?, None)
                                }
                            }
                        }
                        (Some(f), _) => {
                            let loaded = crate::cmd::crypto::load_key(f, None, &mut Stdin::default())?;
                            (crate::cmd::crypto::key::public_jwk(&loaded)?, None)
                        }
                        (None, true) => {
                            let key = PrivateKey::generate(KeySpec::P256)?;
                            let mut jwk = Jwk::from_private_key(&key)?;
                            jwk.use_ = Some("sig".into());
                            jwk.alg = Some("ES256".into());
                            jwk.kid = Some(jwk.thumbprint()?);
                            let pw = crate::cmd::crypto::new_password(
                                &format!("the key of provisioner {:?}", a.name),
                                &crate::cli::crypto::NewKeyPasswordArgs {
                                    password_file: a.password_file.clone(),
                                    no_password: false,
                                    insecure: false,
                                    force: false,
                                },
                                &mut Stdin::default(),
                            )?
                            .expect("a password is always asked for");
                            let opts = crate::jose::jwe::EncryptOptions {
                                cty: Some("jwk+json".into()),
                                ..Default::default()
                            };
                            let enc = crate::jose::jwe::encrypt(&serde_json::to_vec(&jwk)?, &pw, &opts)?;
                            (jwk.public()?, Some(enc.compact()))
                        }
                        (None, false) => {
                            return Err(UserError::usage(
                                "a JWK provisioner needs a JWK_FILE, --create or --public-key FILE",
                            )
                            .into());
                        }
                    };
                    let mut public = public;
                    if public.kid.is_none() {
                        public.kid = Some(public.thumbprint()?);
                    }
                    provisioner::jwk(&a.name, &public, encrypted)
                }
                "ACME" => provisioner::acme(&a.name),
                "X5C" => {
                    let f = a
                        .x5c_roots
                        .as_deref()
                        .ok_or_else(|| UserError::usage("an X5C provisioner needs --x5c-roots FILE"))?;
                    let data = crate::io::input::read_input(f, "--x5c-roots")?;
                    let certs = crate::pki::der_input::parse_certificates(&data)
                        .map_err(|e| UserError::input(format!("--x5c-roots {f}: {e}")))?;
                    let pem: String = certs
                        .into_iter()
                        .map(|c| crate::cmd::certificate::create::pem_block("CERTIFICATE", c))
                        .collect();
                    provisioner::x5c(&a.name, pem.as_bytes())
                }
                other => return Err(UserError::usage(format!("--type {other} is not JWK, ACME or X5C")).into()),
            };
            apply_options(&mut p, &a.opts)?;
            cfg.authority.provisioners.push(p);
            save(&path, &cfg)?;
            eprintln!("Added provisioner {:?} to {}.", a.name, path.display());
            Ok(0)
        }
        ProvisionerCommand::Update(a) => {
            let (path, mut cfg) = load(&a.config)?;
            let p = find_mut(&mut cfg, &a.name, &path)?;
            apply_options(p, &a.opts)?;
            save(&path, &cfg)?;
            eprintln!("Updated provisioner {:?}.", a.name);
            Ok(0)
        }
        ProvisionerCommand::Remove(a) => {
            let (path, mut cfg) = load(&a.config)?;
            find_mut(&mut cfg, &a.name, &path)?;
            cfg.authority
                .provisioners
                .retain(|p| p.get("name").and_then(Value::as_str) != Some(&a.name));
            save(&path, &cfg)?;
            eprintln!("Removed provisioner {:?}.", a.name);
            Ok(0)
        }
    }
}

fn apply_options(p: &mut serde_json::Map<String, Value>, o: &ProvisionerOptions) -> Result<()> {
    let mut claims = ClaimsUpdate::default();
    if let Some(text) = &o.claims {
        let v: serde_json::Map<String, Value> =
            serde_json::from_str(text).map_err(|e| UserError::usage(format!("--claims is not a JSON object: {e}")))?;
        for (k, v) in v {
            let s = || {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| UserError::usage(format!("--claims {k} must be a duration string such as \"720h\"")))
            };
            let b = || {
                v.as_bool()
                    .ok_or_else(|| UserError::usage(format!("--claims {k} must be true or false")))
            };
            match k.as_str() {
                "minTLSCertDuration" => claims.min = Some(s()?),
                "maxTLSCertDuration" => claims.max = Some(s()?),
                "defaultTLSCertDuration" => claims.default = Some(s()?),
                "disableRenewal" => claims.disable_renewal = Some(b()?),
                "allowRenewalAfterExpiry" => claims.allow_renewal_after_expiry = Some(b()?),
                "enableSSHCA" => claims.enable_ssh_ca = Some(b()?),
                k if crate::ca::provisioner::SSH_CLAIMS.iter().any(|(n, _)| *n == k) => {
                    let name = crate::ca::provisioner::SSH_CLAIMS
                        .iter()
                        .find(|(n, _)| *n == k)
                        .expect("found")
                        .0;
                    claims.ssh.push((name, s()?));
                }
                other => {
                    return Err(UserError::usage(format!("--claims {other:?} is not a claim ferrica applies"))
                        .hint("minTLSCertDuration, maxTLSCertDuration, defaultTLSCertDuration, disableRenewal, allowRenewalAfterExpiry, enableSSHCA, {min,max,default}{User,Host}SSHCertDuration")
                        .into());
                }
            }
        }
    }
    let or = |flag: &Option<String>, json: Option<String>| flag.clone().or(json);
    let claims = ClaimsUpdate {
        min: or(&o.x509_min_dur, claims.min),
        max: or(&o.x509_max_dur, claims.max),
        default: or(&o.x509_default_dur, claims.default),
        disable_renewal: o.disable_renewal.or(claims.disable_renewal),
        allow_renewal_after_expiry: o.allow_renewal_after_expiry.or(claims.allow_renewal_after_expiry),
        enable_ssh_ca: o.ssh.or(claims.enable_ssh_ca),
        ssh: {
            let mut ssh = claims.ssh;
            for (name, flag) in [
                ("minUserSSHCertDuration", &o.ssh_user_min_dur),
                ("maxUserSSHCertDuration", &o.ssh_user_max_dur),
                ("defaultUserSSHCertDuration", &o.ssh_user_default_dur),
                ("minHostSSHCertDuration", &o.ssh_host_min_dur),
                ("maxHostSSHCertDuration", &o.ssh_host_max_dur),
                ("defaultHostSSHCertDuration", &o.ssh_host_default_dur),
            ] {
                if let Some(v) = flag {
                    ssh.retain(|(n, _)| *n != name);
                    ssh.push((name, v.clone()));
                }
            }
            ssh
        },
    };
    if !o.key_type.is_empty() {
        p.insert("keyTypes".into(), serde_json::json!(o.key_type));
        crate::ca::provisioner::check_key_types(p).map_err(|e| UserError::usage(format!("--key-type: {e}")))?;
    }
    if let Some(b) = o.require_eab {
        if p.get("type").and_then(Value::as_str) != Some("ACME") {
            return Err(UserError::usage("--require-eab applies to ACME provisioners").into());
        }
        p.insert("requireEAB".into(), serde_json::json!(b));
    }
    if !o.challenge.is_empty() {
        if p.get("type").and_then(Value::as_str) != Some("ACME") {
            return Err(UserError::usage("--challenge applies to ACME provisioners").into());
        }
        let mut list = Vec::new();
        for c in &o.challenge {
            let c = c.to_ascii_lowercase();
            if !["http-01", "dns-01", "tls-alpn-01"].contains(&c.as_str()) {
                return Err(
                    UserError::usage(format!("--challenge {c:?} is not http-01, dns-01 or tls-alpn-01")).into(),
                );
            }
            if !list.contains(&c) {
                list.push(c);
            }
        }
        p.insert("challenges".into(), serde_json::json!(list));
    }
    provisioner::apply_claims(p, &claims).map_err(|e| UserError::usage(format!("claims: {e}")))?;
    let policy = PolicyUpdate {
        allow: vec![
            ("dns", o.allow_dns.clone()),
            ("ip", o.allow_ip.clone()),
            ("email", o.allow_email.clone()),
            ("uri", o.allow_uri.clone()),
        ],
        deny: vec![
            ("dns", o.deny_dns.clone()),
            ("ip", o.deny_ip.clone()),
            ("email", o.deny_email.clone()),
            ("uri", o.deny_uri.clone()),
        ],
        allow_wildcard_names: o.allow_wildcard_names,
    };
    provisioner::apply_policy(p, &policy).map_err(|e| UserError::usage(format!("policy: {e}")))?;
    Ok(())
}

fn find_mut<'a>(cfg: &'a mut CaConfig, name: &str, path: &Path) -> Result<&'a mut serde_json::Map<String, Value>> {
    cfg.authority
        .provisioners
        .iter_mut()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| UserError::input(format!("{} has no provisioner named {name:?}", path.display())).into())
}

pub(crate) fn load(c: &ConfigArg) -> Result<(PathBuf, CaConfig)> {
    let path = match &c.ca_config {
        Some(p) => PathBuf::from(p),
        None => super::ferrica_path()?.join("config/ca.json"),
    };
    let data = crate::io::input::read_input(&path.to_string_lossy(), "ca.json")
        .map_err(|e| {
            e.context("run `ferrica ca init` first, pass --ca-config, or name a running CA with --ca-url (or `ferrica ca bootstrap`)")
        })?;
    let cfg = CaConfig::from_json(&data).map_err(|e| UserError::input(format!("{}: {e}", path.display())))?;
    Ok((path, cfg))
}

fn save(path: &Path, cfg: &CaConfig) -> Result<()> {
    let mut out = OutputSet::new(true);
    out.stage(path, cfg.to_json_pretty().as_bytes(), PUBLIC_MODE)?;
    out.commit()
}
