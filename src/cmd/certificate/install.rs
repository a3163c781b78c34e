//! `ferrica certificate install|uninstall ROOT_CRT`: system store, NSS databases and the Java trust store.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cli::certificate::TrustArgs;
use crate::error::UserError;
use crate::pki::der_input::parse_certificates;
use crate::pki::fingerprint::{FingerprintFormat, FingerprintHash, fingerprint};

struct Root {
    der: Vec<u8>,
    pem: String,
    /// `ferrica-<first 16 hex of the SHA-256>`: the name in every store.
    alias: String,
}

/// Installs, uninstalls, or (`--check`) reports.
pub fn run(a: TrustArgs, install: bool) -> Result<u8> {
    let data = crate::io::input::read_input(&a.crt_file, "CRT_FILE")?;
    let der = parse_certificates(&data)
        .map_err(|e| UserError::input(format!("{}: {e}", a.crt_file)))?
        .remove(0);
    let fp = fingerprint(&der, FingerprintHash::Sha256, FingerprintFormat::Hex);
    let root = Root {
        pem: super::create::pem_block("CERTIFICATE", der.clone()),
        der,
        alias: format!("ferrica-{}", &fp[..16]),
    };

    let java = a.all || a.java || a.java_keystore.is_some();
    let mut nss: Vec<PathBuf> = a.nss_db.iter().map(PathBuf::from).collect();
    if a.all || a.firefox {
        nss.extend(user_nss_dbs());
    }
    let system = !a.no_system && (a.all || (!java && nss.is_empty() && !a.firefox));
    let mut all_trusted = true;
    let mut report = |store: String, trusted: bool| {
        all_trusted &= trusted;
        eprintln!("{store}: {}", if trusted { "trusted" } else { "not trusted" });
    };

    if system {
        let s = SystemStore::detect(a.prefix.as_deref())?;
        if a.check {
            report(format!("system ({})", s.anchor_dir.display()), s.contains(&root)?);
        } else if install {
            s.install(&root)?;
            eprintln!(
                "installed {} in the system store ({})",
                root.alias,
                s.anchor_dir.display()
            );
        } else {
            s.uninstall(&root)?;
            eprintln!("removed {} from the system store", root.alias);
        }
    }
    for db in &nss {
        let dbarg = format!("sql:{}", db.display());
        if a.check {
            let out = tool("certutil", &["-L", "-d", &dbarg, "-n", &root.alias])?;
            report(format!("nss {}", db.display()), out.status.success());
        } else if install {
            let tmp = write_temp(&root.pem)?;
            run_ok(
                "certutil",
                &[
                    "-A",
                    "-d",
                    &dbarg,
                    "-t",
                    "C,,",
                    "-n",
                    &root.alias,
                    "-i",
                    &tmp.path().to_string_lossy(),
                ],
            )?;
            eprintln!("installed {} in NSS database {}", root.alias, db.display());
        } else {
            run_ok("certutil", &["-D", "-d", &dbarg, "-n", &root.alias])?;
            eprintln!("removed {} from NSS database {}", root.alias, db.display());
        }
    }
    if java {
        let ks = match &a.java_keystore {
            Some(k) => PathBuf::from(k),
            None => java_cacerts()?,
        };
        let pass = match &a.java_storepass_file {
            Some(f) => String::from_utf8_lossy(&crate::io::password::clean(&crate::io::input::read_input(
                f,
                "--java-storepass-file",
            )?))
            .into_owned(),
            None => "changeit".to_string(),
        };
        let ks_s = ks.to_string_lossy().into_owned();
        // keytool reads the password from an env var, never from argv.
        let base = [
            "-keystore",
            ks_s.as_str(),
            "-storepass:env",
            "FERRICA_JAVA_STOREPASS",
            "-noprompt",
        ];
        if a.check {
            let out = keytool(&pass, &[&["-list", "-alias", &root.alias], &base[..]].concat())?;
            report(format!("java {}", ks.display()), out.status.success());
        } else if install {
            let tmp = write_temp(&root.pem)?;
            let out = keytool(
                &pass,
                &[
                    &[
                        "-importcert",
                        "-trustcacerts",
                        "-alias",
                        &root.alias,
                        "-file",
                        &tmp.path().to_string_lossy(),
                    ],
                    &base[..],
                ]
                .concat(),
            )?;
            check_out("keytool", &out)?;
            eprintln!("installed {} in Java keystore {}", root.alias, ks.display());
        } else {
            let out = keytool(&pass, &[&["-delete", "-alias", &root.alias], &base[..]].concat())?;
            check_out("keytool", &out)?;
            eprintln!("removed {} from Java keystore {}", root.alias, ks.display());
        }
    }
    if a.check && !all_trusted {
        return Ok(1);
    }
    Ok(0)
}

struct SystemStore {
    /// Where our anchor file goes.
    anchor_dir: PathBuf,
    debian: bool,
    prefix: Option<PathBuf>,
}

impl SystemStore {
    fn detect(prefix: Option<&str>) -> Result<SystemStore> {
        // update-ca-certificates changes directory while it works: relative paths would break.
        let prefix = match prefix {
            Some(p) => {
                std::fs::create_dir_all(p).with_context(|| format!("creating --prefix {p}"))?;
                Some(std::fs::canonicalize(p).with_context(|| format!("--prefix {p}"))?)
            }
            None => None,
        };
        let root = prefix.clone().unwrap_or_else(|| PathBuf::from("/"));
        if which("update-ca-certificates") {
            return Ok(SystemStore {
                anchor_dir: root.join("usr/local/share/ca-certificates"),
                debian: true,
                prefix,
            });
        }
        if which("update-ca-trust") {
            return Ok(SystemStore {
                anchor_dir: root.join("etc/pki/ca-trust/source/anchors"),
                debian: false,
                prefix,
            });
        }
        Err(
            UserError::usage("no system trust store tool (update-ca-certificates or update-ca-trust) was found")
                .hint("install ca-certificates, or use --nss-db/--java")
                .into(),
        )
    }

    fn file(&self, root: &Root) -> PathBuf {
        self.anchor_dir.join(format!("{}.crt", root.alias))
    }

    fn contains(&self, root: &Root) -> Result<bool> {
        if !self.file(root).exists() {
            return Ok(false);
        }
        // Installed is not enough: the generated bundle must hold it.
        let bundle = match (&self.prefix, self.debian) {
            (p, true) => p
                .clone()
                .unwrap_or_else(|| "/".into())
                .join("etc/ssl/certs/ca-certificates.crt"),
            (p, false) => p
                .clone()
                .unwrap_or_else(|| "/".into())
                .join("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
        };
        let Ok(data) = std::fs::read(&bundle) else {
            return Ok(false);
        };
        Ok(parse_certificates(&data).is_ok_and(|certs| certs.contains(&root.der)))
    }

    fn install(&self, root: &Root) -> Result<()> {
        std::fs::create_dir_all(&self.anchor_dir).with_context(|| format!("creating {}", self.anchor_dir.display()))?;
        std::fs::write(self.file(root), &root.pem).with_context(|| format!("writing {}", self.file(root).display()))?;
        self.update()
    }

    fn uninstall(&self, root: &Root) -> Result<()> {
        match std::fs::remove_file(self.file(root)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UserError::input(format!(
                    "{} is not installed in {}",
                    root.alias,
                    self.anchor_dir.display()
                ))
                .into());
            }
            Err(e) => return Err(e).with_context(|| format!("removing {}", self.file(root).display())),
        }
        self.update()
    }

    fn update(&self) -> Result<()> {
        if !self.debian {
            return run_ok("update-ca-trust", &["extract"]);
        }
        let Some(p) = &self.prefix else {
            return run_ok("update-ca-certificates", &[]);
        };
        // A private tree: point every directory of update-ca-certificates into it.
        let d = |s: &str| p.join(s);
        for dir in [
            "usr/share/ca-certificates",
            "etc/ssl/certs",
            "etc/ca-certificates/update.d",
        ] {
            std::fs::create_dir_all(d(dir))?;
        }
        let conf = d("etc/ca-certificates.conf");
        if !conf.exists() {
            std::fs::write(&conf, "")?;
        }
        let args: Vec<String> = [
            ("--certsconf", "etc/ca-certificates.conf"),
            ("--certsdir", "usr/share/ca-certificates"),
            ("--localcertsdir", "usr/local/share/ca-certificates"),
            ("--etccertsdir", "etc/ssl/certs"),
            ("--hooksdir", "etc/ca-certificates/update.d"),
        ]
        .iter()
        .flat_map(|(f, v)| [f.to_string(), d(v).to_string_lossy().into_owned()])
        .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok("update-ca-certificates", &[&["--fresh"], &refs[..]].concat())
    }
}

fn user_nss_dbs() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for base in [
        home.join(".mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
    ] {
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                if e.path().join("cert9.db").exists() {
                    out.push(e.path());
                }
            }
        }
    }
    let chromium = home.join(".pki/nssdb");
    if chromium.join("cert9.db").exists() {
        out.push(chromium);
    }
    out
}

fn java_cacerts() -> Result<PathBuf> {
    let home = match std::env::var_os("JAVA_HOME") {
        Some(h) => PathBuf::from(h),
        None => {
            let kt = which_path("keytool").ok_or_else(|| {
                UserError::usage("keytool was not found").hint("install a JDK or JRE, or set JAVA_HOME")
            })?;
            let real = std::fs::canonicalize(kt)?;
            real.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_default()
        }
    };
    Ok(home.join("lib/security/cacerts"))
}

fn which(prog: &str) -> bool {
    which_path(prog).is_some()
}

fn which_path(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

fn tool(prog: &str, args: &[&str]) -> Result<std::process::Output> {
    let path = which_path(prog).ok_or_else(|| {
        let pkg = match prog {
            "certutil" => "libnss3-tools",
            "keytool" => "a JDK or JRE",
            _ => "ca-certificates",
        };
        UserError::usage(format!("{prog} was not found")).hint(format!("install {pkg}"))
    })?;
    Command::new(path)
        .args(args)
        .output()
        .with_context(|| format!("running {prog}"))
}

fn keytool(pass: &str, args: &[&str]) -> Result<std::process::Output> {
    let path =
        which_path("keytool").ok_or_else(|| UserError::usage("keytool was not found").hint("install a JDK or JRE"))?;
    Command::new(path)
        .args(args)
        .env("FERRICA_JAVA_STOREPASS", pass)
        .output()
        .context("running keytool")
}

fn run_ok(prog: &str, args: &[&str]) -> Result<()> {
    check_out(prog, &tool(prog, args)?)
}

fn check_out(prog: &str, out: &std::process::Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    let msg2 = String::from_utf8_lossy(&out.stdout);
    let text = format!("{} {}", msg.trim(), msg2.trim());
    Err(UserError::input(format!("{prog} failed: {}", text.trim().lines().next().unwrap_or(""))).into())
}

fn write_temp(pem: &str) -> Result<tempfile::NamedTempFile> {
    let mut f = tempfile::NamedTempFile::new()?;
    std::io::Write::write_all(&mut f, pem.as_bytes())?;
    Ok(f)
}
