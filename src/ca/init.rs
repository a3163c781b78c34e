//! `ca init`: a root (or an existing one), an intermediate, a JWK provisioner and `ca.json`, built through the one
//! issuance path. Paths are data here; the command writes the files.

use std::path::Path;

use rcgen::DnType;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::jose::jwk::Jwk;
use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};
use crate::pki::issue::{CaIssuer, IssueRequest, issue};
use crate::pki::keys::{KeySpec, PrivateKey};
use crate::pki::profile::Profile;

use super::config::{Authority, CaConfig};

/// What the user chose.
#[derive(Debug, Clone)]
pub struct InitParams {
    /// The PKI name: "<name> Root CA", "<name> Intermediate CA", O=<name>.
    pub name: String,
    /// DNS names (or IPs) of the CA.
    pub dns: Vec<String>,
    /// Listen address, e.g. `:9000`.
    pub address: String,
    /// Name of the first JWK provisioner.
    pub provisioner: String,
    /// Add an ACME provisioner named `acme`.
    pub acme: bool,
    /// Leave out the `db` stanza.
    pub no_db: bool,
    /// Also make SSH host and user CA keys, ca.json's `ssh` section and an SSHPOP provisioner.
    pub ssh: bool,
    /// Key type of every new key.
    pub key_spec: KeySpec,
    /// `$FERRICA_PATH`, for the paths written into the config.
    pub base: std::path::PathBuf,
}

/// What `ca init` writes.
pub struct Pki {
    /// Root certificate (DER).
    pub root_der: Vec<u8>,
    /// The new root key, or None when an existing root was given.
    pub root_key: Option<PrivateKey>,
    /// Intermediate certificate (DER).
    pub intermediate_der: Vec<u8>,
    /// Intermediate key.
    pub intermediate_key: PrivateKey,
    /// `config/ca.json`.
    pub config: CaConfig,
    /// `config/defaults.json`.
    pub defaults: Value,
    /// SHA-256 of the root, hex.
    pub root_fingerprint: String,
    /// The SSH host and user CA keys (with `ssh`).
    pub ssh_keys: Option<SshKeys>,
}

/// The SSH CA keys `ca init --ssh` makes.
pub struct SshKeys {
    /// Signs host certificates (`secrets/ssh_host_ca_key`).
    pub host: PrivateKey,
    /// Signs user certificates (`secrets/ssh_user_ca_key`).
    pub user: PrivateKey,
}

/// Why init failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Issuance failed.
    #[error(transparent)]
    Issue(#[from] crate::pki::issue::IssueError),
    /// Key generation or encryption failed.
    #[error(transparent)]
    Key(#[from] crate::pki::keys::KeyError),
    /// JOSE failed.
    #[error(transparent)]
    Jose(#[from] crate::jose::JoseError),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

fn path_str(base: &Path, rel: &str) -> String {
    base.join(rel).to_string_lossy().into_owned()
}

/// Builds the PKI. `existing_root` is an existing root certificate (DER) and its key; `provisioner_password`
/// encrypts the provisioner's private JWK.
pub fn build(
    p: &InitParams,
    existing_root: Option<(Vec<u8>, PrivateKey)>,
    provisioner_password: &[u8],
    now: OffsetDateTime,
) -> Result<Pki, InitError> {
    if p.dns.is_empty() {
        return Err(InitError::Invalid("at least one --dns name is needed".into()));
    }
    let subject = |cn: String| vec![(DnType::OrganizationName, p.name.clone()), (DnType::CommonName, cn)];
    let ten_years = Profile::RootCa.default_lifetime();
    // Backdated like the certificates the CA will issue, so that the first ones (backdated a minute themselves) do
    // not start before their issuer.
    let now = now - super::authorize::BACKDATE;
    let (root_der, root_key, new_root_key) = match existing_root {
        Some((der, key)) => (der, key, false),
        None => {
            let key = PrivateKey::generate(p.key_spec)?;
            let mut req = IssueRequest::new(Profile::RootCa, "", vec![], now, now + ten_years);
            req.subject = subject(format!("{} Root CA", p.name));
            let root = issue(&req, key.key_pair(), key.kind(), None, Some(&key))?;
            (root.der, key, true)
        }
    };
    let int_key = PrivateKey::generate(p.key_spec)?;
    let mut req = IssueRequest::new(Profile::IntermediateCa, "", vec![], now, now + ten_years);
    req.subject = subject(format!("{} Intermediate CA", p.name));
    let int = {
        let issuer = CaIssuer::new(&root_der, &root_key)?;
        issue(&req, int_key.key_pair(), int_key.kind(), Some(&issuer), None)?
    };

    // The JWK provisioner: an EC P-256 key (step's default), kid = thumbprint, private part encrypted (compact).
    let prov_key = PrivateKey::generate(KeySpec::P256)?;
    let mut jwk = Jwk::from_private_key(&prov_key)?;
    jwk.use_ = Some("sig".into());
    jwk.alg = Some("ES256".into());
    jwk.kid = Some(jwk.thumbprint()?);
    let opts = crate::jose::jwe::EncryptOptions {
        cty: Some("jwk+json".into()),
        ..Default::default()
    };
    let encrypted = crate::jose::jwe::encrypt(
        &serde_json::to_vec(&jwk).expect("a JWK serializes"),
        provisioner_password,
        &opts,
    )?;
    let mut provisioners = Vec::new();
    let mut jwk_prov = Map::new();
    jwk_prov.insert("type".into(), json!("JWK"));
    jwk_prov.insert("name".into(), json!(p.provisioner));
    jwk_prov.insert(
        "key".into(),
        serde_json::to_value(jwk.public()?).expect("a JWK serializes"),
    );
    jwk_prov.insert("encryptedKey".into(), json!(encrypted.compact()));
    if p.ssh {
        jwk_prov.insert("claims".into(), json!({"enableSSHCA": true}));
    }
    provisioners.push(jwk_prov);
    if p.ssh {
        // Host certificates renew and rekey with a token signed by their own key (step's SSHPOP).
        let mut pop = Map::new();
        pop.insert("type".into(), json!("SSHPOP"));
        pop.insert("name".into(), json!("sshpop"));
        pop.insert("claims".into(), json!({"enableSSHCA": true}));
        provisioners.push(pop);
    }
    if p.acme {
        let mut acme = Map::new();
        acme.insert("type".into(), json!("ACME"));
        acme.insert("name".into(), json!("acme"));
        provisioners.push(acme);
    }

    let base = &p.base;
    let root_fingerprint = fingerprint(&root_der, FingerprintHash::Sha256, FingerprintFormat::Hex);
    let config = CaConfig {
        root: json!(path_str(base, "certs/root_ca.crt")),
        crt: path_str(base, "certs/intermediate_ca.crt"),
        key: path_str(base, "secrets/intermediate_ca_key"),
        address: p.address.clone(),
        insecure_address: String::new(),
        dns_names: p.dns.clone(),
        logger: Some(json!({"format": "text"})),
        // step-ca's own entry, so that step-ca and `step ca token --offline` load this ca.json unchanged; ferrica
        // keeps its embedded store in the same directory (`db/ferrica.redb`, see `embedded_store_path`).
        db: (!p.no_db)
            .then(|| json!({"type": "badgerv2", "dataSource": path_str(base, "db"), "badgerFileLoadingMode": ""})),
        tls: Some(json!({"minVersion": 1.2, "maxVersion": 1.3, "renegotiation": false})),
        common_name: Some("Ferrica Online CA".into()),
        crl: Some(json!({"enabled": true, "generateOnRevoke": true, "cacheDuration": "24h"})),
        authority: Authority {
            provisioners,
            claims: None,
            extra: Map::new(),
        },
        extra: Map::new(),
    };
    let mut config = config;
    let ssh_keys = if p.ssh {
        config.extra.insert(
            "ssh".into(),
            json!({
                "hostKey": path_str(base, "secrets/ssh_host_ca_key"),
                "userKey": path_str(base, "secrets/ssh_user_ca_key"),
            }),
        );
        Some(SshKeys {
            host: PrivateKey::generate(p.key_spec)?,
            user: PrivateKey::generate(p.key_spec)?,
        })
    } else {
        None
    };
    let port = p
        .address
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|s| !s.is_empty())
        .unwrap_or("443");
    let host = &p.dns[0];
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let ca_url = if port == "443" {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    };
    let defaults = json!({
        "ca-url": ca_url,
        "ca-config": path_str(base, "config/ca.json"),
        "fingerprint": root_fingerprint,
        "root": path_str(base, "certs/root_ca.crt"),
    });
    Ok(Pki {
        root_der,
        root_key: new_root_key.then_some(root_key),
        intermediate_der: int.der,
        intermediate_key: int_key,
        config,
        defaults,
        root_fingerprint,
        ssh_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_pki_whose_provisioner_key_decrypts() {
        let p = InitParams {
            name: "Lab".into(),
            dns: vec!["ca.lab.test".into()],
            address: ":9000".into(),
            provisioner: "ci@lab.test".into(),
            acme: true,
            no_db: false,
            ssh: false,
            key_spec: KeySpec::P256,
            base: "/tmp/x".into(),
        };
        let pki = build(&p, None, b"pw", OffsetDateTime::now_utc()).unwrap();
        assert_eq!(pki.defaults["ca-url"], "https://ca.lab.test:9000");
        assert_eq!(pki.config.authority.provisioners.len(), 2);
        assert!(pki.ssh_keys.is_none() && !pki.config.extra.contains_key("ssh"));
        let ssh = build(
            &InitParams { ssh: true, ..p.clone() },
            None,
            b"pw",
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        assert_eq!(ssh.config.extra["ssh"]["userKey"], "/tmp/x/secrets/ssh_user_ca_key");
        assert_eq!(ssh.config.authority.provisioners.len(), 3);
        assert_eq!(ssh.config.provisioner("sshpop").unwrap()["type"], "SSHPOP");
        assert_eq!(
            ssh.config.provisioner("ci@lab.test").unwrap()["claims"]["enableSSHCA"],
            true
        );
        let enc = pki.config.provisioner("ci@lab.test").unwrap()["encryptedKey"]
            .as_str()
            .unwrap();
        let jwe = crate::jose::jwe::Jwe::parse(enc.as_bytes()).unwrap();
        let jwk = Jwk::from_json(&crate::jose::jwe::decrypt(&jwe, b"pw").unwrap()).unwrap();
        let public: Jwk =
            serde_json::from_value(pki.config.provisioner("ci@lab.test").unwrap()["key"].clone()).unwrap();
        assert_eq!(jwk.thumbprint().unwrap(), public.kid.clone().unwrap());
        assert!(pki.root_key.is_some());
    }
}
