//! `ferrica crypto hash digest|compare`

use std::path::Path;

use anyhow::Result;
use aws_lc_rs::digest;

use crate::cli::crypto::{HashAlgArgs, HashCommand};
use crate::error::UserError;

/// Runs a `hash` subcommand.
pub fn run(cmd: HashCommand) -> Result<u8> {
    match cmd {
        HashCommand::Digest(a) => {
            let alg = Alg::from_args(&a.alg)?;
            let mut out = String::new();
            for p in &a.paths {
                out.push_str(&format!("{}  {p}\n", hex::encode(alg.path(p)?)));
            }
            crate::cmd::print_stdout(out.as_bytes())?;
            Ok(0)
        }
        HashCommand::Compare(a) => {
            let alg = Alg::from_args(&a.alg)?;
            let want = hex::decode(a.hash.trim().to_ascii_lowercase())
                .map_err(|_| UserError::usage(format!("{:?} is not a hex digest", a.hash)))?;
            let got = alg.path(&a.path)?;
            if aws_lc_rs::constant_time::verify_slices_are_equal(&want, &got).is_ok() {
                eprintln!("ok");
                Ok(0)
            } else {
                eprintln!("mismatch: {} has {}", a.path, hex::encode(got));
                Ok(1)
            }
        }
    }
}

enum Alg {
    Digest(&'static digest::Algorithm),
    Md5,
}

impl Alg {
    fn from_args(a: &HashAlgArgs) -> Result<Alg> {
        let alg = match a.alg.to_ascii_lowercase().as_str() {
            "sha256" => Alg::Digest(&digest::SHA256),
            "sha224" => Alg::Digest(&digest::SHA224),
            "sha384" => Alg::Digest(&digest::SHA384),
            "sha512" => Alg::Digest(&digest::SHA512),
            "sha512-256" => Alg::Digest(&digest::SHA512_256),
            "sha1" | "md5" if !a.insecure => {
                return Err(UserError::usage(format!("--alg {} requires --insecure", a.alg)).into());
            }
            "sha1" => Alg::Digest(&digest::SHA1_FOR_LEGACY_USE_ONLY),
            "md5" => Alg::Md5,
            other => {
                return Err(UserError::usage(format!(
                    "--alg {other} is not sha256, sha224, sha384, sha512, sha512-256, sha1 or md5"
                ))
                .into());
            }
        };
        Ok(alg)
    }

    fn bytes(&self, data: &[u8]) -> Vec<u8> {
        match self {
            Alg::Digest(d) => digest::digest(d, data).as_ref().to_vec(),
            Alg::Md5 => {
                use md5::Digest;
                md5::Md5::digest(data).to_vec()
            }
        }
    }

    /// A file's digest, or a directory's: the digest of `relpath NUL hex(file digest) LF` for every file, sorted.
    fn path(&self, p: &str) -> Result<Vec<u8>> {
        let path = Path::new(p);
        if p != "-" && path.is_dir() {
            let mut files = Vec::new();
            walk(path, path, &mut files)?;
            files.sort();
            let mut listing = Vec::new();
            for (rel, full) in files {
                listing.extend_from_slice(rel.as_bytes());
                listing.push(0);
                listing.extend_from_slice(hex::encode(self.bytes(&std::fs::read(&full)?)).as_bytes());
                listing.push(b'\n');
            }
            return Ok(self.bytes(&listing));
        }
        Ok(self.bytes(&crate::io::input::read_input(p, "file")?))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::path::PathBuf)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &p, out)?;
        } else if entry.file_type()?.is_file() {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().into_owned();
            out.push((rel, p));
        }
    }
    Ok(())
}
