//! How an error becomes one `error:` line, an optional `hint:` line and an exit code.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success / check positive |
//! | 1 | check negative (predicate commands only) |
//! | 2 | usage error (bad or conflicting flags, no password source) |
//! | 3 | input error (missing or malformed file, wrong password, overwrite refused) |
//! | 4 | refused by policy |
//! | 5 | unavailable: network/TLS failure or timeout (safe to retry) |

use std::fmt;

/// The class of a user-facing error; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A check came out negative (a token that does not verify): exit 1.
    Negative,
    /// Bad or conflicting flags, missing password source: exit 2.
    Usage,
    /// Missing, unreadable or malformed input, wrong password, refusal to overwrite: exit 3.
    Input,
    /// A policy refused the operation: exit 4.
    Refused,
    /// Network or TLS failure, timeout: exit 5 (retry-safe).
    Unavailable,
}

impl ErrorKind {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Negative => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Input => 3,
            ErrorKind::Refused => 4,
            ErrorKind::Unavailable => 5,
        }
    }
}

/// An error meant for the user, with a class and an optional hint.
#[derive(Debug)]
pub struct UserError {
    /// The class.
    pub kind: ErrorKind,
    /// The message (no trailing period).
    pub msg: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl UserError {
    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        UserError {
            kind: ErrorKind::Usage,
            msg: msg.into(),
            hint: None,
        }
    }
    /// An input error.
    pub fn input(msg: impl Into<String>) -> Self {
        UserError {
            kind: ErrorKind::Input,
            msg: msg.into(),
            hint: None,
        }
    }
    /// A negative check (exit 1).
    pub fn negative(msg: impl Into<String>) -> Self {
        UserError {
            kind: ErrorKind::Negative,
            msg: msg.into(),
            hint: None,
        }
    }
    /// A refusal by a remote server (exit 4).
    pub fn refused(msg: impl Into<String>) -> Self {
        UserError {
            kind: ErrorKind::Refused,
            msg: msg.into(),
            hint: None,
        }
    }
    /// A network error.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        UserError {
            kind: ErrorKind::Unavailable,
            msg: msg.into(),
            hint: None,
        }
    }
    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for UserError {}

/// The exit code for an error chain: the first classified error in the chain decides.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(u) = cause.downcast_ref::<UserError>() {
            return u.kind.exit_code();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::NotFound | K::PermissionDenied | K::IsADirectory | K::AlreadyExists | K::InvalidData => 3,
                K::ConnectionRefused
                | K::ConnectionReset
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable => 5,
                _ => 2,
            };
        }
        if cause.downcast_ref::<crate::pki::keys::KeyError>().is_some()
            || cause.downcast_ref::<crate::pki::der_input::InputError>().is_some()
            || cause.downcast_ref::<crate::pki::issue::IssueError>().is_some()
            || cause.downcast_ref::<crate::pki::inspect::InspectError>().is_some()
            || cause.downcast_ref::<crate::jose::JoseError>().is_some()
        {
            return 3;
        }
    }
    2
}

/// The hint for an error chain, if any error in it carries one.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(u) = cause.downcast_ref::<UserError>()
            && u.hint.is_some()
        {
            return u.hint.clone();
        }
        if let Some(k) = cause.downcast_ref::<crate::pki::keys::KeyError>() {
            use crate::pki::keys::KeyError as E;
            return match k {
                E::WrongPassword => Some("check the password file (trailing whitespace is trimmed)".into()),
                E::NotAKey(_) => Some("pass a private key in PEM or DER (PKCS#8, SEC1 or PKCS#1)".into()),
                _ => None,
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::IsADirectory
        {
            return Some("pass a file, not a directory".into());
        }
    }
    None
}
