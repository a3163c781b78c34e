//! Safe output: every file is written to a temporary file in its target directory, then renamed into place.
//!
//! A [`OutputSet`] stages all files of a command first and commits them together, so a command that fails leaves
//! no new or half-written file. Existing files are never replaced without `--force` or, on a terminal, a yes to
//! step's "Would you like to overwrite ... [y/n]" (the check happens before any work, and again atomically at the
//! rename with `persist_noclobber`). Keys are created 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

use crate::error::UserError;

/// File mode for private keys.
pub const KEY_MODE: u32 = 0o600;
/// File mode for certificates and other public material.
pub const PUBLIC_MODE: u32 = 0o644;

/// Files staged for writing.
pub struct OutputSet {
    force: bool,
    staged: Vec<(PathBuf, NamedTempFile)>,
    /// The command's inputs: no output may be one of them, `--force` or not.
    inputs: Vec<(PathBuf, String)>,
    /// Existing files the user agreed on the terminal to replace.
    approved: std::cell::RefCell<Vec<PathBuf>>,
}

/// Asks on the terminal whether to replace `path` (step's question), when stdin and stderr are a terminal; `None`
/// without one (the caller then refuses, naming `--force`).
fn ask_overwrite(path: &Path) -> Option<bool> {
    use std::io::{BufRead, IsTerminal};
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return None;
    }
    for _ in 0..3 {
        eprint!("Would you like to overwrite {} [y/n]: ", path.display());
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
            return Some(false);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Some(true),
            "n" | "no" => return Some(false),
            _ => eprintln!("please answer y or n"),
        }
    }
    Some(false)
}

/// The path `p` names once symlinks are followed: the file itself when it exists, else its canonical directory and
/// its name (so `./x`, `dir/../x` and a symlinked directory all resolve alike).
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let name = p.file_name()?;
    let dir = std::fs::canonicalize(parent_dir(p)).ok()?;
    Some(dir.join(name))
}

/// Whether two paths are the same file: the same resolved path, or (hard links) the same device and inode.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Some(x), Some(y)) = (resolved(a), resolved(b))
        && x == y
    {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

impl OutputSet {
    /// A new, empty set. With `force`, existing files are replaced.
    pub fn new(force: bool) -> OutputSet {
        OutputSet {
            force,
            staged: Vec::new(),
            inputs: Vec::new(),
            approved: Default::default(),
        }
    }

    /// Declares an input of the command (`-` and absent values are ignored): [`OutputSet::check`] then refuses any
    /// output that is the same file, even with `--force`. Declare inputs before checking outputs.
    pub fn input(&mut self, path: Option<&str>, flag: &str) -> &mut OutputSet {
        if let Some(p) = path.filter(|p| !p.is_empty() && *p != "-") {
            self.inputs.push((PathBuf::from(p), flag.to_string()));
        }
        self
    }

    /// Fails early if `path` cannot be written: it exists without `--force`, is a directory, or its directory is
    /// missing. Call for every output before doing expensive work.
    pub fn check(&self, path: &Path, flag: &str) -> Result<()> {
        if let Some((input, what)) = self.inputs.iter().find(|(i, _)| same_file(i, path)) {
            return Err(UserError::usage(format!(
                "{flag} {} is also the input {what} {}: refusing to overwrite an input, even with --force",
                path.display(),
                input.display()
            ))
            .hint("write the output to another file")
            .into());
        }
        if path.is_dir() {
            return Err(UserError::input(format!("{flag} {} is a directory", path.display()))
                .hint("pass a file name")
                .into());
        }
        if path.symlink_metadata().is_ok() && !self.force {
            if ask_overwrite(path) == Some(true) {
                self.approved.borrow_mut().push(path.to_path_buf());
                return Ok(());
            }
            return Err(
                UserError::input(format!("refusing to overwrite {} ({flag})", path.display()))
                    .hint("pass --force to replace it")
                    .into(),
            );
        }
        let dir = parent_dir(path);
        if !dir.is_dir() {
            return Err(UserError::input(format!(
                "cannot write {}: directory {} does not exist",
                path.display(),
                dir.display()
            ))
            .into());
        }
        Ok(())
    }

    /// Whether the user agreed on the terminal to replace `path` (asked by [`OutputSet::check`]).
    pub fn approved(&self, path: &Path) -> bool {
        self.approved.borrow().iter().any(|p| p == path)
    }

    /// Stages `data` for `path` with `mode`.
    pub fn stage(&mut self, path: &Path, data: &[u8], mode: u32) -> Result<()> {
        let dir = parent_dir(path);
        let mut tmp = tempfile::Builder::new()
            .prefix(".ferrica-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(data)
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("writing {}", path.display()))?;
        self.staged.push((path.to_path_buf(), tmp));
        Ok(())
    }

    /// Renames every staged file into place. If one fails, the files this set already created are removed.
    pub fn commit(self) -> Result<()> {
        let mut created: Vec<PathBuf> = Vec::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (path, tmp) in self.staged {
            let existed = path.symlink_metadata().is_ok();
            let res = if self.force || self.approved.borrow().iter().any(|p| p == &path) {
                tmp.persist(&path).map(|_| ())
            } else {
                tmp.persist_noclobber(&path).map(|_| ())
            };
            if let Err(e) = res {
                for p in &created {
                    let _ = std::fs::remove_file(p);
                }
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    return Err(UserError::input(format!("refusing to overwrite {}", path.display()))
                        .hint("pass --force to replace it")
                        .into());
                }
                return Err(e.error).with_context(|| format!("writing {}", path.display()));
            }
            if !dirs.iter().any(|d| d == parent_dir(&path)) {
                dirs.push(parent_dir(&path).to_path_buf());
            }
            if !existed {
                created.push(path);
            }
        }
        // The renames themselves survive a power cut once their directories are synced.
        for d in dirs {
            if let Ok(f) = std::fs::File::open(&d) {
                let _ = f.sync_all();
            }
        }
        Ok(())
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stage_commit_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        let mut set = OutputSet::new(false);
        set.check(&key, "KEY_FILE").unwrap();
        set.stage(&key, b"secret", KEY_MODE).unwrap();
        set.commit().unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let set = OutputSet::new(false);
        assert!(set.check(&key, "KEY_FILE").is_err());
        let mut set = OutputSet::new(false);
        set.stage(&key, b"other", KEY_MODE).unwrap();
        assert!(set.commit().is_err());
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
