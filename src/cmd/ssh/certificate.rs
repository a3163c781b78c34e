//! `ferrica ssh certificate KEY_ID KEY_FILE`: online through `/ssh/sign` with a JWK token carrying step's SSH
//! claims, or `--offline` with the CA keys in ca.json and the same rules (`ca::ssh`).

use std::path::PathBuf;

use anyhow::Result;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use ssh_key::certificate::CertType;

use super::{SshKeyPassword, load_ssh_ca};
use crate::ca::config::CaConfig;
use crate::ca::ssh as rules;
use crate::cli::ssh::SshCertificateArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::keys::{KeySpec, PrivateKey};
use crate::ssh::cert::{self, CertSpec};

/// The serial of a certificate the online CA issues at `now` (unix seconds): the seconds in the high 32 bits and
/// 32 random bits below. The store's index then grows at its end instead of taking each certificate at a random
/// place: with random serials every `/ssh/sign` dirtied (and synced) a page of its own. The low half stays
/// unpredictable; two certificates of the same second share a serial with a chance of 2^-32 per pair, which the
/// store refuses (`DuplicateSerial`) and the caller answers with a fresh serial. Never zero.
pub fn time_ordered_serial(now: i64) -> u64 {
    let high = (now.clamp(1, i64::from(u32::MAX)) as u64) << 32;
    let mut b = [0u8; 4];
    aws_lc_rs::rand::fill(&mut b).expect("the system random generator works");
    high | u64::from(u32::from_be_bytes(b))
}

/// A random non-zero serial.
pub fn random_serial() -> u64 {
    loop {
        let mut b = [0u8; 8];
        aws_lc_rs::rand::fill(&mut b).expect("the system random generator works");
        let s = u64::from_be_bytes(b);
        if s != 0 {
            return s;
        }
    }
}

/// `KEY_FILE-cert.pub` for `KEY_FILE` (or for `KEY_FILE.pub` with --sign), as ssh looks for it.
fn cert_path(key_file: &str) -> String {
    format!("{}-cert.pub", key_file.strip_suffix(".pub").unwrap_or(key_file))
}

fn time_arg(v: Option<&str>, flag: &str, now: time::OffsetDateTime) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => Ok(Some(
            crate::pki::validity::parse_time_or_duration(s, now)
                .map_err(|e| UserError::usage(format!("{flag} {s:?}: {e}")))?
                .unix_timestamp(),
        )),
    }
}

/// Runs `ssh certificate`.
pub fn run(a: SshCertificateArgs) -> Result<u8> {
    let cert_type = if a.host { CertType::Host } else { CertType::User };
    if a.key_id.trim().is_empty() {
        return Err(UserError::usage("KEY_ID is empty").into());
    }
    let principals = if a.principal.is_empty() {
        rules::default_principals(cert_type, &a.key_id)
    } else {
        a.principal.clone()
    };
    let now = crate::cmd::ca::token::now();
    let not_before = time_arg(a.not_before.as_deref(), "--not-before", now)?;
    let not_after = time_arg(a.not_after.as_deref(), "--not-after", now)?;

    // Outputs, checked before any work.
    let crt_file = cert_path(&a.key_file);
    let mut out = OutputSet::new(a.force);
    if a.sign {
        out.input(Some(&a.key_file), "KEY_FILE");
    }
    let mut files = vec![crt_file.clone()];
    if !a.sign {
        files.push(a.key_file.clone());
        files.push(format!("{}.pub", a.key_file));
    }
    for f in &files {
        out.check(
            std::path::Path::new(f),
            if f == &crt_file { "the certificate" } else { "KEY_FILE" },
        )?;
    }

    // The key to certify.
    let (subject, new_key) = if a.sign {
        let text = crate::io::input::read_input(&a.key_file, "KEY_FILE")?;
        let text = String::from_utf8_lossy(&text);
        let key =
            cert::parse_public_key(&text).map_err(|e| UserError::input(format!("KEY_FILE {}: {e}", a.key_file)))?;
        (key, None)
    } else {
        let spec = KeySpec::from_flags(
            a.key_type.kty.as_deref(),
            a.key_type.crv.as_deref(),
            a.key_type.size,
            a.insecure,
        )
        .map_err(|e| UserError::usage(e.to_string()))?;
        let key = PrivateKey::generate(spec)?;
        let public = cert::key_data_of_spki(&key.spki_der()).map_err(|e| UserError::usage(e.to_string()))?;
        (public, Some(key))
    };
    let key_password = match (&new_key, a.no_password) {
        (Some(_), false) => Some(
            password::resolve(
                &[PasswordNeed {
                    what: format!("the new key {}", a.key_file),
                    flag: "--password-file",
                    env: "FERRICA_PASSWORD_FILE",
                    file: a.password_file.clone(),
                    purpose: Purpose::Encrypt,
                }],
                &mut Stdin::default(),
            )?
            .remove(0),
        ),
        _ => None,
    };

    let certificate = if a.offline {
        offline(&a, cert_type, &principals, &subject, (not_before, not_after), now)?
    } else {
        online(&a, cert_type, &principals, &subject, (not_before, not_after))?
    };

    let line = cert::certificate_line(&certificate);
    if let Some(key) = &new_key {
        let private = crate::ssh::keys::openssh_private(key, &a.key_id, key_password.as_deref().map(|p| &p[..]))
            .map_err(|e| UserError::input(e.to_string()))?;
        out.stage(std::path::Path::new(&a.key_file), private.as_bytes(), KEY_MODE)?;
        let public = format!("{}\n", cert::public_line(&subject, &a.key_id));
        out.stage(
            std::path::Path::new(&format!("{}.pub", a.key_file)),
            public.as_bytes(),
            PUBLIC_MODE,
        )?;
    }
    out.stage(
        std::path::Path::new(&crt_file),
        format!("{line}\n").as_bytes(),
        PUBLIC_MODE,
    )?;
    out.commit()?;
    if new_key.is_some() {
        eprintln!("✔ Private Key: {}", a.key_file);
        eprintln!("✔ Public Key: {}.pub", a.key_file);
    }
    eprintln!("✔ Certificate: {crt_file}");
    // A user certificate goes into the ssh-agent too, key and certificate, for the certificate's lifetime.
    if let (Some(key), CertType::User, false) = (&new_key, cert_type, a.no_agent)
        && let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty())
    {
        let lifetime = certificate
            .valid_before()
            .saturating_sub(now.unix_timestamp().max(0) as u64);
        let lifetime = u32::try_from(lifetime).unwrap_or(u32::MAX).max(1);
        let added = [None, Some(&certificate)].into_iter().try_for_each(|c| {
            let req = crate::ssh::keys::agent_add_request(key, c, &a.key_id, lifetime).map_err(|e| e.to_string())?;
            crate::io::agent::send(std::path::Path::new(&sock), &req)
        });
        match added {
            Ok(()) => eprintln!("✔ SSH Agent: yes (for {lifetime} s)"),
            Err(e) => eprintln!("warning: SSH Agent: {e}"),
        }
    }
    Ok(0)
}

/// Signs with the CA key in ca.json, under the provisioner's SSH rules.
fn offline(
    a: &SshCertificateArgs,
    t: CertType,
    principals: &[String],
    subject: &ssh_key::public::KeyData,
    (not_before, not_after): (Option<i64>, Option<i64>),
    now: time::OffsetDateTime,
) -> Result<ssh_key::Certificate> {
    let path = match &a.ca_config {
        Some(p) => PathBuf::from(p),
        None => crate::cmd::ca::ferrica_path()?.join("config/ca.json"),
    };
    let data = crate::io::input::read_input(&path.to_string_lossy(), "--ca-config")?;
    let config = CaConfig::from_json(&data).map_err(|e| UserError::input(format!("{}: {e}", path.display())))?;
    let entry = ssh_provisioner(&config, a.provisioner.as_deref())?;
    let refused = |e: crate::ca::authorize::AuthError| UserError::refused(e.to_string());
    rules::check_enabled(&entry, &config, t).map_err(refused)?;
    rules::check_policy(&entry, t, principals).map_err(refused)?;
    let window =
        rules::window(Some(&entry), &config, t, not_before, not_after, now.unix_timestamp()).map_err(refused)?;
    let which = match t {
        CertType::User => "userKey",
        CertType::Host => "hostKey",
    };
    let pw = SshKeyPassword {
        file: a.ca_password_file.clone(),
        flag: "--ca-password-file",
        env: "FERRICA_CA_PASSWORD_FILE",
        fallback: None,
    };
    let ca = load_ssh_ca(&config, which, &pw)?.expect("check_enabled found the key");
    let spec = CertSpec::new(t, &a.key_id, principals.to_vec(), window, random_serial());
    let nonce = crate::jose::random(32)?;
    Ok(cert::sign(&spec, subject, &nonce, &ca).map_err(|e| UserError::input(e.to_string()))?)
}

/// The provisioner that vouches offline: `--provisioner`, else the only JWK one with enableSSHCA.
fn ssh_provisioner(config: &CaConfig, name: Option<&str>) -> Result<Map<String, Value>> {
    let ssh_jwks: Vec<&Map<String, Value>> = config
        .authority
        .provisioners
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("JWK"))
        .filter(|p| crate::ca::authorize::claim(Some(p), config, "enableSSHCA").and_then(Value::as_bool) == Some(true))
        .collect();
    let names: Vec<String> = ssh_jwks
        .iter()
        .map(|p| p.get("name").and_then(Value::as_str).unwrap_or_default().to_string())
        .collect();
    match name {
        Some(n) => config
            .provisioner(n)
            .cloned()
            .ok_or_else(|| UserError::input(format!("ca.json has no provisioner {n:?}")).into()),
        None if ssh_jwks.len() == 1 => Ok(ssh_jwks[0].clone()),
        None if ssh_jwks.is_empty() => Err(UserError::input("no JWK provisioner in ca.json signs SSH certificates")
            .hint("`ferrica ca init --ssh` sets enableSSHCA, or `ferrica ca provisioner update NAME --ssh`")
            .into()),
        None => {
            let labels: Vec<String> = ssh_jwks
                .iter()
                .map(|p| crate::cmd::ca::client::provisioner_label(&Value::Object((*p).clone())))
                .collect();
            Ok(ssh_jwks[crate::cmd::ca::client::choose_provisioner(&names, &labels)?].clone())
        }
    }
}

/// Asks the CA's `/ssh/sign`, with `--token` or a token minted with the provisioner.
fn online(
    a: &SshCertificateArgs,
    t: CertType,
    principals: &[String],
    subject: &ssh_key::public::KeyData,
    (not_before, not_after): (Option<i64>, Option<i64>),
) -> Result<ssh_key::Certificate> {
    use crate::cmd::ca::client;
    let (ca, roots) = super::connect(&a.ca)?;
    let mut stdin = Stdin::default();
    let token = match &a.token {
        Some(t) => t.trim().to_string(),
        None => {
            let key = client::provisioner_key(
                &ca,
                a.provisioner.as_deref(),
                a.provisioner_password_file.clone(),
                &mut stdin,
            )?;
            let now = crate::cmd::ca::token::now();
            let sha = crate::pki::fingerprint::fingerprint(
                &roots[0],
                crate::pki::fingerprint::FingerprintHash::Sha256,
                crate::pki::fingerprint::FingerprintFormat::Hex,
            );
            let mut extra = Map::new();
            extra.insert(
                "step".into(),
                json!({"ssh": ssh_claims(t, &a.key_id, principals, not_before, not_after)}),
            );
            crate::cmd::ca::token::mint_with(
                &key,
                &format!("{}/1.0/ssh/sign", ca.url()),
                &a.key_id,
                None,
                Some(&sha),
                (now, now + time::Duration::minutes(5)),
                extra,
            )?
        }
    };
    let mut blob = Vec::new();
    ssh_encoding::Encode::encode(subject, &mut blob).map_err(|e| UserError::input(e.to_string()))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut body = json!({
        "publicKey": b64.encode(&blob),
        "ott": token,
        "certType": rules::cert_type_name(t),
        "keyID": a.key_id,
        "principals": principals,
    });
    if let Some(nb) = not_before {
        body["validAfter"] = json!(rfc3339(nb));
    }
    if let Some(na) = not_after {
        body["validBefore"] = json!(rfc3339(na));
    }
    let answer = ca.post("/1.0/ssh/sign", &body, None)?.json("POST /ssh/sign")?;
    let crt = answer
        .get("crt")
        .and_then(Value::as_str)
        .ok_or_else(|| UserError::input("the CA's /ssh/sign answer has no crt"))?;
    let der = b64
        .decode(crt)
        .map_err(|_| UserError::input("the CA's SSH certificate is not base64"))?;
    let certificate = ssh_key::Certificate::from_bytes(&der)
        .map_err(|e| UserError::input(format!("the CA's SSH certificate: {e}")))?;
    Ok(certificate)
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::pki::issue::fmt_time)
        .unwrap_or_default()
}

/// step's `step.ssh` token claims.
pub fn ssh_claims(t: CertType, key_id: &str, principals: &[String], nb: Option<i64>, na: Option<i64>) -> Value {
    json!({
        "certType": rules::cert_type_name(t),
        "keyID": key_id,
        "principals": principals,
        "validAfter": nb.map(rfc3339).unwrap_or_default(),
        "validBefore": na.map(rfc3339).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_serials_grow_with_time_and_keep_32_random_bits() {
        let now = 1_796_601_600; // 2026-12-07
        let (a, b) = (time_ordered_serial(now), time_ordered_serial(now));
        assert_eq!(a >> 32, now as u64);
        assert_ne!(a, b, "the low half is random");
        assert!(time_ordered_serial(now + 1) > a.max(b), "a later second sorts after");
        // As the store keys them: decimal strings of one length sort as the numbers do.
        assert!(time_ordered_serial(now + 1).to_string() > a.to_string());
        assert_ne!(time_ordered_serial(0), 0, "never zero, even with a clock at the epoch");
    }
}
