//! `ferrica certificate p12 P12_FILE [CRT_FILE] [KEY_FILE]`, and reading PKCS#12 back for `inspect`.

use std::path::Path;

use anyhow::Result;
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12ImportPolicy, PrivateKeyChain,
};

use crate::cli::certificate::P12Args;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet};
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::pki::keys::PrivateKey;

/// Writes a PKCS#12 file.
pub fn run(a: P12Args) -> Result<u8> {
    let mut out = OutputSet::new(a.force);
    out.input(a.crt_file.as_deref(), "CRT_FILE")
        .input(a.key_file.as_deref(), "KEY_FILE");
    for ca in &a.ca {
        out.input(Some(ca), "--ca");
    }
    out.check(Path::new(&a.p12_file), "P12_FILE")?;
    if a.crt_file.is_none() && a.ca.is_empty() {
        return Err(UserError::usage("nothing to package: give CRT_FILE [KEY_FILE] and/or --ca FILE").into());
    }
    let mut stdin = Stdin::default();
    let mut needs = Vec::new();
    let key_data = match &a.key_file {
        Some(k) => Some(crate::io::input::read_input(k, "KEY_FILE")?),
        None => None,
    };
    let key_encrypted = key_data.as_deref().is_some_and(PrivateKey::is_encrypted);
    if key_encrypted {
        needs.push(PasswordNeed {
            what: format!("the key {}", a.key_file.as_deref().unwrap_or_default()),
            flag: "--key-password-file",
            env: "FERRICA_KEY_PASSWORD_FILE",
            file: a.key_password_file.clone(),
            purpose: Purpose::Decrypt,
        });
    }
    if a.no_password {
        if !a.insecure {
            return Err(UserError::usage("--no-password requires --insecure").into());
        }
    } else {
        needs.push(PasswordNeed {
            what: format!("the PKCS#12 file {}", a.p12_file),
            flag: "--password-file",
            env: "FERRICA_PASSWORD_FILE",
            file: a.password_file.clone(),
            purpose: Purpose::Encrypt,
        });
    }
    let mut pws = password::resolve(&needs, &mut stdin)?.into_iter();
    let key_pw = if key_encrypted { pws.next() } else { None };
    let p12_pw = match pws.next() {
        Some(p) => String::from_utf8(p.to_vec()).map_err(|_| UserError::input("the PKCS#12 password must be UTF-8"))?,
        None => String::new(),
    };

    let mut ks = KeyStore::new();
    let chain = match &a.crt_file {
        Some(c) => super::read_certs(c, "CRT_FILE")?,
        None => Vec::new(),
    };
    let p12err = |e: p12_keystore::error::Error| UserError::input(format!("PKCS#12: {e}"));
    match (&key_data, chain.is_empty()) {
        (Some(data), false) => {
            let key = super::parse_key(
                data,
                key_pw,
                a.key_file.as_deref().unwrap_or_default(),
                "--key-password-file",
            )?;
            let (_, cert) =
                x509_parser::parse_x509_certificate(&chain[0]).map_err(|e| UserError::input(e.to_string()))?;
            if cert.public_key().raw != key.spki_der().as_slice() {
                return Err(UserError::input("KEY_FILE is not the key of CRT_FILE").into());
            }
            let certs = chain
                .iter()
                .map(|c| Certificate::from_der(c).map_err(p12err))
                .collect::<Result<Vec<_>, _>>()?;
            let local_id = crate::pki::fingerprint::digest(&chain[0], crate::pki::fingerprint::FingerprintHash::Sha1);
            let pk = p12_keystore::PrivateKey::from_der(&key.pkcs8_der()).map_err(p12err)?;
            ks.add_entry(
                "1",
                KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_id, pk, certs)),
            );
        }
        (Some(_), true) => return Err(UserError::usage("KEY_FILE needs CRT_FILE").into()),
        (None, _) => {
            for (i, c) in chain.iter().enumerate() {
                ks.add_entry(
                    &format!("cert{i}"),
                    KeyStoreEntry::Certificate(Certificate::from_der(c).map_err(p12err)?),
                );
            }
        }
    }
    for (i, f) in a.ca.iter().enumerate() {
        for (j, c) in super::read_certs(f, "--ca")?.into_iter().enumerate() {
            ks.add_entry(
                &format!("ca{i}-{j}"),
                KeyStoreEntry::Certificate(Certificate::from_der(&c).map_err(p12err)?),
            );
        }
    }
    let writer = ks.writer(&p12_pw);
    let writer = if a.legacy {
        writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .encryption_iterations(2048)
            .mac_iterations(2048)
    } else {
        writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .encryption_iterations(10_000)
            .mac_iterations(10_000)
    };
    let der = writer.write().map_err(p12err)?;
    out.stage(Path::new(&a.p12_file), &der, KEY_MODE)?;
    out.commit()?;
    eprintln!("Your PKCS#12 file has been saved in {}.", a.p12_file);
    Ok(0)
}

/// Whether a file looks like PKCS#12 (by name, or a DER PFX with version 3).
pub fn looks_like_p12(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".p12") || lower.ends_with(".pfx") {
        return true;
    }
    std::fs::read(path).is_ok_and(|d| d.len() > 8 && d[0] == 0x30 && d.windows(3).take(8).any(|w| w == [2, 1, 3]))
}

/// The certificates of a PKCS#12 file: the key's chain first, then the others.
pub fn read_certs(path: &str, password_file: Option<String>) -> Result<Vec<Vec<u8>>> {
    let data = crate::io::input::read_input(path, "file")?;
    let need = PasswordNeed {
        what: format!("the PKCS#12 file {path}"),
        flag: "--password-file",
        env: "FERRICA_PASSWORD_FILE",
        file: password_file,
        purpose: Purpose::Decrypt,
    };
    let pw = password::resolve(&[need], &mut Stdin::default())?.remove(0);
    let pw = String::from_utf8(pw.to_vec()).map_err(|_| UserError::input("the PKCS#12 password must be UTF-8"))?;
    let ks = KeyStore::from_pkcs12(&data, &pw, Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| UserError::input(format!("{path}: PKCS#12: {e}")).hint("check --password-file"))?;
    let mut out: Vec<Vec<u8>> = Vec::new();
    if let Some((_, chain)) = ks.private_key_chain() {
        out.extend(chain.certs().iter().map(|c| c.as_der().to_vec()));
    }
    for (_, e) in ks.entries() {
        if let KeyStoreEntry::Certificate(c) = e
            && !out.iter().any(|d| d == c.as_der())
        {
            out.push(c.as_der().to_vec());
        }
    }
    if out.is_empty() {
        return Err(UserError::input(format!("{path}: the PKCS#12 file holds no certificate")).into());
    }
    Ok(out)
}
