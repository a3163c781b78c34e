//! `ferrica crypto keypair PUB_FILE PRIV_FILE`

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::crypto::KeypairArgs;
use crate::error::UserError;
use crate::io::output::{KEY_MODE, OutputSet, PUBLIC_MODE};
use crate::io::password::Stdin;
use crate::pki::keys::{KeySpec, PrivateKey};

/// Creates a key pair.
pub fn run(a: KeypairArgs) -> Result<u8> {
    let spec = KeySpec::from_flags(
        a.key_type.kty.as_deref(),
        a.key_type.crv.as_deref(),
        a.key_type.size,
        a.pw.insecure,
    )
    .map_err(|e| UserError::usage(e.to_string()))?;
    let mut out = OutputSet::new(a.pw.force);
    out.check(Path::new(&a.pub_file), "PUB_FILE")?;
    out.check(Path::new(&a.priv_file), "PRIV_FILE")?;
    let pw = super::new_password(&format!("the new key {}", a.priv_file), &a.pw, &mut Stdin::default())?;
    let key = PrivateKey::generate(spec).context("generating the key")?;
    out.stage(Path::new(&a.pub_file), key.public_pem().as_bytes(), PUBLIC_MODE)?;
    out.stage(
        Path::new(&a.priv_file),
        key.to_pem(pw.as_deref().map(|p| &p[..]))?.as_bytes(),
        KEY_MODE,
    )?;
    out.commit()?;
    eprintln!("Your public key has been saved in {}.", a.pub_file);
    eprintln!(
        "Your private key has been saved in {}{}.",
        a.priv_file,
        if pw.is_none() { " (unencrypted)" } else { "" }
    );
    Ok(0)
}
