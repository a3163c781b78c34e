//! Password sources. Never hangs: for each password a command needs, the source is, in order,
//! 1. its file flag (`--password-file F`, `--ca-password-file F`; `-` = stdin), which clap also fills from the
//!    matching env var (`FERRICA_PASSWORD_FILE`, `FERRICA_CA_PASSWORD_FILE`);
//! 2. piped stdin, when exactly one password is still needed and stdin is not a terminal;
//! 3. a prompt on the terminal (with confirmation for a new key), only when stdin is a terminal.
//!
//! With none of these, the command fails at once with an error naming the flags. Passwords are read as bytes,
//! a UTF-8 BOM is skipped and trailing whitespace is trimmed (as step does), and they are zeroed when dropped.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use anyhow::Result;
use zeroize::Zeroizing;

use crate::error::UserError;

/// A password, zeroed on drop.
pub type Secret = Zeroizing<Vec<u8>>;

/// How long piped stdin may take to deliver a password before we give up instead of hanging.
const STDIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the password decrypts an existing key or encrypts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Decrypt an existing key.
    Decrypt,
    /// Encrypt a new key (a prompt asks twice).
    Encrypt,
}

/// One password a command needs.
#[derive(Debug, Clone)]
pub struct PasswordNeed {
    /// What it is for, for prompts and errors ("the new key ca.key").
    pub what: String,
    /// The flag that supplies it (`--password-file`).
    pub flag: &'static str,
    /// The env var that supplies it (`FERRICA_PASSWORD_FILE`).
    pub env: &'static str,
    /// The value from the flag or env var.
    pub file: Option<String>,
    /// Decrypt or encrypt.
    pub purpose: Purpose,
}

/// Tracks stdin so that it is read at most once.
#[derive(Debug, Default)]
pub struct Stdin {
    used_by: Option<String>,
}

impl Stdin {
    /// Records that `what` consumes stdin; fails if something already did.
    pub fn claim(&mut self, what: &str) -> Result<()> {
        if let Some(prev) = &self.used_by {
            return Err(UserError::usage(format!("stdin is needed for both {prev} and {what}"))
                .hint("give one of them as a file")
                .into());
        }
        self.used_by = Some(what.to_string());
        Ok(())
    }

    fn is_free(&self) -> bool {
        self.used_by.is_none()
    }
}

/// Resolves every need, in order, and returns the passwords in the same order.
pub fn resolve(needs: &[PasswordNeed], stdin: &mut Stdin) -> Result<Vec<Secret>> {
    let mut out: Vec<Option<Secret>> = Vec::with_capacity(needs.len());
    for need in needs {
        out.push(match &need.file {
            Some(f) => Some(from_file(f, need, stdin)?),
            None => None,
        });
    }
    let missing: Vec<usize> = (0..needs.len()).filter(|i| out[*i].is_none()).collect();
    if !missing.is_empty() {
        let stdin_tty = std::io::stdin().is_terminal();
        if stdin_tty {
            for &i in &missing {
                out[i] = Some(prompt(&needs[i])?);
            }
        } else if missing.len() == 1 && stdin.is_free() {
            let need = &needs[missing[0]];
            stdin.claim(&format!("the password for {}", need.what))?;
            out[missing[0]] = Some(from_stdin(need)?);
        } else {
            let flags: Vec<String> = missing
                .iter()
                .map(|&i| format!("{} FILE (or {})", needs[i].flag, needs[i].env))
                .collect();
            let what: Vec<&str> = missing.iter().map(|&i| needs[i].what.as_str()).collect();
            let why = if missing.len() > 1 {
                format!(
                    "{} passwords are needed ({}) and piped stdin can supply only one",
                    missing.len(),
                    what.join(", ")
                )
            } else {
                format!(
                    "no password for {}: stdin is already used and is not a terminal",
                    what[0]
                )
            };
            return Err(UserError::usage(why)
                .hint(format!("pass {}", flags.join(" and ")))
                .into());
        }
    }
    Ok(out.into_iter().map(|p| p.expect("every need resolved")).collect())
}

/// Where a password file's name came from, for messages: the flag when it is on the command line, else the
/// environment variable that clap read it from.
fn source_name(need: &PasswordNeed) -> String {
    let on_command_line = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == need.flag || a.starts_with(&format!("{}=", need.flag))
    });
    if !on_command_line && std::env::var_os(need.env).is_some() {
        format!("{} from the environment", need.env)
    } else {
        need.flag.to_string()
    }
}

fn from_file(path: &str, need: &PasswordNeed, stdin: &mut Stdin) -> Result<Secret> {
    if path == "-" {
        stdin.claim(&format!("{} -", need.flag))?;
        return from_stdin(need);
    }
    let source = source_name(need);
    let data = Zeroizing::new(crate::io::input::read_input(
        path,
        &format!("password file ({source})"),
    )?);
    let pw = clean(&data);
    if pw.is_empty() {
        return Err(UserError::input(format!("password file {path} ({source}) is empty")).into());
    }
    Ok(pw)
}

fn from_stdin(need: &PasswordNeed) -> Result<Secret> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Zeroizing::new(Vec::new());
        let res = std::io::stdin().lock().read_until(b'\n', &mut line).map(|_| line);
        let _ = tx.send(res);
    });
    let hint = format!(
        "pass {} FILE (or set {}), or pipe the password into stdin",
        need.flag, need.env
    );
    let data = match rx.recv_timeout(STDIN_TIMEOUT) {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return Err(UserError::usage(format!("reading the password from stdin: {e}"))
                .hint(hint)
                .into());
        }
        Err(_) => {
            return Err(UserError::usage(format!(
                "no password for {} arrived on stdin within {} s (stdin is not a terminal)",
                need.what,
                STDIN_TIMEOUT.as_secs()
            ))
            .hint(hint)
            .into());
        }
    };
    let pw = clean(&data);
    if pw.is_empty() {
        return Err(UserError::usage(format!(
            "no password for {}: stdin is not a terminal and gave no password",
            need.what
        ))
        .hint(hint)
        .into());
    }
    Ok(pw)
}

fn prompt(need: &PasswordNeed) -> Result<Secret> {
    let read = |label: &str| -> Result<Secret> {
        let s = Zeroizing::new(rpassword::prompt_password(label).map_err(|e| {
            UserError::usage(format!("cannot prompt for the password of {}: {e}", need.what))
                .hint(format!("pass {} FILE", need.flag))
        })?);
        Ok(clean(s.as_bytes()))
    };
    for _ in 0..3 {
        let pw = match need.purpose {
            Purpose::Decrypt => read(&format!("Please enter the password to decrypt {}: ", need.what))?,
            Purpose::Encrypt => {
                let a = read(&format!("Please enter the password to encrypt {}: ", need.what))?;
                if a.is_empty() {
                    eprintln!("the password cannot be empty");
                    continue;
                }
                let b = read("Please confirm the password: ")?;
                if a != b {
                    eprintln!("the passwords do not match");
                    continue;
                }
                a
            }
        };
        if !pw.is_empty() {
            return Ok(pw);
        }
    }
    Err(UserError::usage(format!("no password entered for {}", need.what)).into())
}

/// Skips a UTF-8 BOM and trims trailing whitespace (`\n`, `\r\n`, spaces, tabs), as step does.
pub fn clean(data: &[u8]) -> Secret {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let end = match std::str::from_utf8(data) {
        Ok(s) => s.trim_end().len(),
        Err(_) => data.len() - data.iter().rev().take_while(|b| b.is_ascii_whitespace()).count(),
    };
    Zeroizing::new(data[..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_step() {
        assert_eq!(&clean(b"pass\n")[..], b"pass");
        assert_eq!(&clean(b"pass \t\r\n")[..], b"pass");
        assert_eq!(&clean(b"  lead\n")[..], b"  lead");
        assert_eq!(&clean(b"\xEF\xBB\xBFbom\n")[..], b"bom");
    }

    #[test]
    fn stdin_is_claimed_once() {
        let mut s = Stdin::default();
        s.claim("a").unwrap();
        assert!(s.claim("b").is_err());
    }
}
