//! `ferrica crypto rand [SIZE]`

use anyhow::Result;
use base64::Engine;

use crate::cli::crypto::{RandArgs, RandFormat};
use crate::error::UserError;

/// Prints random bytes.
pub fn run(a: RandArgs) -> Result<u8> {
    if a.size == 0 || a.size > 1 << 20 {
        return Err(UserError::usage("SIZE must be between 1 and 1048576").into());
    }
    let out = match a.format {
        RandFormat::Alphanumeric => {
            const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            let mut s = String::with_capacity(a.size);
            while s.len() < a.size {
                for b in crate::jose::random(a.size)? {
                    // Rejection sampling keeps the distribution uniform (248 = 4 * 62).
                    if b < 248 && s.len() < a.size {
                        s.push(CHARS[usize::from(b) % 62] as char);
                    }
                }
            }
            s
        }
        f => {
            let bytes = crate::jose::random(a.size)?;
            match f {
                RandFormat::Hex => hex::encode(bytes),
                RandFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
                _ => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            }
        }
    };
    crate::cmd::print_stdout(format!("{out}\n").as_bytes())?;
    Ok(0)
}
