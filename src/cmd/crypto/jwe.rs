//! `ferrica crypto jwe encrypt|decrypt`

use anyhow::Result;

use crate::cli::crypto::JweCommand;
use crate::error::UserError;
use crate::io::password::{self, PasswordNeed, Purpose, Stdin};
use crate::jose::jwe::{self, Enc, EncryptOptions, KeyAlg};

/// Runs a `jwe` subcommand.
pub fn run(cmd: JweCommand) -> Result<u8> {
    let mut stdin = Stdin::default();
    match cmd {
        JweCommand::Encrypt(a) => {
            let opts = EncryptOptions {
                alg: KeyAlg::parse(&a.alg).map_err(|e| UserError::usage(format!("--alg: {e}")))?,
                enc: Enc::parse(&a.enc).map_err(|e| UserError::usage(format!("--enc: {e}")))?,
                p2c: a.p2c,
                cty: a.cty.clone(),
                typ: a.typ.clone(),
            };
            if !(jwe::MIN_P2C..=jwe::MAX_P2C).contains(&a.p2c) {
                return Err(UserError::usage(format!(
                    "--p2c {} is outside {}..={}",
                    a.p2c,
                    jwe::MIN_P2C,
                    jwe::MAX_P2C
                ))
                .into());
            }
            let data = super::read_data(Some(a.input.as_deref().unwrap_or("-")), "the data", &mut stdin)?;
            let pw = password(a.password_file, Purpose::Encrypt, &mut stdin)?;
            let out = jwe::encrypt(&data, &pw, &opts)?;
            let text = if a.json {
                out.json_pretty()
            } else {
                out.compact() + "\n"
            };
            crate::cmd::print_stdout(text.as_bytes())?;
            Ok(0)
        }
        JweCommand::Decrypt(a) => {
            let name = a.input.clone().unwrap_or_else(|| "stdin".into());
            let data = super::read_data(Some(a.input.as_deref().unwrap_or("-")), "the JWE", &mut stdin)?;
            let parsed = jwe::Jwe::parse(&data).map_err(|e| UserError::input(format!("{name}: {e}")))?;
            let pw = password(a.password_file, Purpose::Decrypt, &mut stdin)?;
            let plain = jwe::decrypt(&parsed, &pw).map_err(|e| {
                let u = UserError::input(format!("{name}: {e}"));
                if e == crate::jose::JoseError::DecryptFailed {
                    u.hint("check --password-file")
                } else {
                    u
                }
            })?;
            crate::cmd::print_stdout(&plain)?;
            Ok(0)
        }
    }
}

fn password(file: Option<String>, purpose: Purpose, stdin: &mut Stdin) -> Result<password::Secret> {
    let need = PasswordNeed {
        what: "the JWE".into(),
        flag: "--password-file",
        env: "FERRICA_PASSWORD_FILE",
        file,
        purpose,
    };
    Ok(password::resolve(&[need], stdin)?.remove(0))
}
