//! Distribution: `version`, `completions`, `man`, and the installer and GitHub Action scripts run against a
//! loopback HTTP server that serves release assets built here.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::*;

#[test]
fn version_completions_and_man_pages() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let line = |args: &[&str]| {
        let out = ferrica(dir).args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    // step prints `Smallstep CLI/0.15.16 (linux/amd64)` for `step version` and `step -v`.
    let v = line(&["version"]);
    assert!(
        v.starts_with(&format!("ferrica/{} (linux/", env!("CARGO_PKG_VERSION"))) && v.ends_with(")\n"),
        "{v}"
    );
    assert_eq!(line(&["-v"]), v);
    assert_eq!(line(&["--version"]), v);
    // Completions for each shell; bash's loads and registers the command.
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(line(&["completions", shell]).contains("ferrica"), "{shell}");
    }
    std::fs::write(dir.join("c.bash"), line(&["completions", "bash"])).unwrap();
    let out = tool(dir, "bash", &["-c", "source ./c.bash && complete -p ferrica"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ferrica"),
        "{}",
        stderr_of(&out)
    );
    let bad = ferrica(dir).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr_of(&bad).contains("'tcsh'"), "{}", stderr_of(&bad));
    // Man pages: one per command, each with the exit codes.
    std::fs::create_dir(dir.join("man")).unwrap();
    line(&["man", "--out", "man"]);
    let pages = files(&dir.join("man"));
    for p in [
        "ferrica.1",
        "ferrica-certificate-create.1",
        "ferrica-ca-init.1",
        "ferrica-ssh-certificate.1",
        "ferrica-serve.1",
    ] {
        assert!(pages.iter().any(|f| f == p), "{p} missing: {pages:?}");
    }
    assert!(pages.len() > 60, "{}", pages.len());
    for p in &pages {
        let text = std::fs::read_to_string(dir.join("man").join(p)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{p}");
        assert!(text.contains("EXIT"), "{p} has no exit codes");
        assert!(text.contains("EXAMPLES"), "{p} has no examples");
    }
    assert!(line(&["man"]).contains(".TH ferrica 1"));
}

/// A directory served over HTTP on 127.0.0.1 (python3's http.server); killed on drop.
struct Served(Child, u16);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_dir(root: &Path) -> Served {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "python3 -m http.server");
    Served(child, port)
}

/// Release assets as the release workflow names them, built from this binary.
fn release_assets(dir: &Path) -> std::path::PathBuf {
    let rel = dir.join("release");
    std::fs::create_dir_all(rel.join("stage")).unwrap();
    // A stand-in that runs this build (the debug binary is too large to pack quickly in every test run).
    std::fs::write(rel.join("stage/ferrica"), format!("#!/bin/sh\nexec '{BIN}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(
        rel.join("stage/ferrica"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let arch = if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        "x86_64"
    };
    let asset = format!("ferrica-{arch}-linux.tar.gz");
    let out = tool(&rel, "tar", &["-czf", &asset, "-C", "stage", "ferrica"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sum = tool(&rel, "sha256sum", &[&asset]);
    std::fs::write(rel.join(format!("{asset}.sha256")), sum.stdout).unwrap();
    rel
}

/// Where the recipes download release assets from.
const RELEASES: &str = "https://github.com/ferrica/ferrica/releases/latest/download";

fn recipe(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ci").join(name)
}

/// A YAML file as JSON, read by PyYAML from the test venv.
fn yaml(path: &Path) -> serde_json::Value {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let out = Command::new(&py)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("the test venv (bash scripts/install-test-deps.sh)");
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name)
}

#[test]
fn the_installer_checks_the_checksum_and_asks_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let rel = release_assets(dir);
    let http = serve_dir(&rel);
    let install = |bin: &str| {
        Command::new("sh")
            .arg(script("install.sh"))
            .env("FERRICA_BASE_URL", format!("http://127.0.0.1:{}", http.1))
            .env("FERRICA_INSTALL_DIR", dir.join(bin))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = install("bin");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v = Command::new(dir.join("bin/ferrica")).arg("version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("ferrica/"),
        "{}",
        stderr_of(&v)
    );
    // A version beside a base URL would be ignored: refused.
    let out = Command::new("sh")
        .arg(script("install.sh"))
        .env("FERRICA_BASE_URL", format!("http://127.0.0.1:{}", http.1))
        .env("FERRICA_VERSION", "v1.2.3")
        .env("FERRICA_INSTALL_DIR", dir.join("bin3"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!dir.join("bin3/ferrica").exists());
    // A checksum that does not match: refused, nothing installed.
    let sum = files(&rel).into_iter().find(|f| f.ends_with(".sha256")).unwrap();
    std::fs::write(rel.join(&sum), format!("{}  x\n", "0".repeat(64))).unwrap();
    let out = install("bin2");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("checksum mismatch"), "{}", stderr_of(&out));
    assert!(!dir.join("bin2/ferrica").exists());
}

#[test]
fn the_action_installs_puts_ferrica_on_path_and_bootstraps_a_ca() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let rel = release_assets(dir);
    let http = serve_dir(&rel);
    crate::serve::init_pki(dir);
    let server = crate::serve::start(dir);
    let fp = String::from_utf8(
        ferrica(dir)
            .args(["certificate", "fingerprint", "pki/certs/root_ca.crt"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let (gh_path, gh_out) = (dir.join("github_path"), dir.join("github_output"));
    let out = Command::new("bash")
        .arg(script("action.sh"))
        .current_dir(dir)
        .env("INPUT_BASE_URL", format!("http://127.0.0.1:{}", http.1))
        .env("INPUT_CA_URL", &server.url)
        .env("INPUT_FINGERPRINT", fp.trim())
        .env("RUNNER_TEMP", dir.join("runner"))
        .env("GITHUB_PATH", &gh_path)
        .env("GITHUB_OUTPUT", &gh_out)
        .env("FERRICA_PATH", dir.join("client"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let bin_dir = dir.join("runner/ferrica-bin");
    assert_eq!(
        std::fs::read_to_string(&gh_path).unwrap().trim(),
        bin_dir.display().to_string()
    );
    assert_eq!(
        std::fs::read_to_string(&gh_out).unwrap().trim(),
        format!("path={}", bin_dir.join("ferrica").display())
    );
    assert!(dir.join("client/certs/root_ca.crt").exists() && dir.join("client/config/defaults.json").exists());
    // A wrong fingerprint fails the step.
    let out = Command::new("bash")
        .arg(script("action.sh"))
        .env("INPUT_BASE_URL", format!("http://127.0.0.1:{}", http.1))
        .env("INPUT_CA_URL", &server.url)
        .env("INPUT_FINGERPRINT", "00".repeat(32))
        .env("RUNNER_TEMP", dir.join("runner2"))
        .env("FERRICA_PATH", dir.join("client2"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.join("client2/certs/root_ca.crt").exists());
    // Inputs that would be ignored are refused: install without a CA, a version beside base-url.
    for (k, v) in [("INPUT_INSTALL", "true"), ("INPUT_VERSION", "v1.2.3")] {
        let out = Command::new("bash")
            .arg(script("action.sh"))
            .env("INPUT_BASE_URL", format!("http://127.0.0.1:{}", http.1))
            .env(k, v)
            .env("RUNNER_TEMP", dir.join("runner4"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{k}: {}", stderr_of(&out));
        assert!(!dir.join("runner4/ferrica-bin/ferrica").exists());
    }
    // A version that is neither latest nor vX.Y.Z.
    let out = Command::new("bash")
        .arg(script("action.sh"))
        .env("INPUT_VERSION", "1.2")
        .env("RUNNER_TEMP", dir.join("runner3"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    drop(server);
}

#[test]
fn the_debian_package_installs_works_and_removes_cleanly() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("note: not root; skipping the dpkg -i test (CI runs as root)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The package of this build (the release workflow packs the stripped static binary the same way).
    let deb = dir.join("ferrica_test.deb");
    let out = Command::new("timeout")
        .args(["300", "bash"])
        .arg(script("build-deb.sh"))
        .args(["--profile", "dev", "--output"])
        .arg(&deb)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "build-deb.sh: {}", stderr_of(&out));
    let list = String::from_utf8(tool(dir, "dpkg-deb", &["-c", deb.to_str().unwrap()]).stdout).unwrap();
    for path in [
        "./usr/bin/ferrica",
        "./usr/share/man/man1/ferrica.1.gz",
        "./usr/share/man/man1/ferrica-ca-init.1.gz",
        "./usr/share/bash-completion/completions/ferrica",
        "./usr/share/zsh/vendor-completions/_ferrica",
        "./usr/share/fish/vendor_completions.d/ferrica.fish",
        "./usr/share/doc/ferrica/copyright",
    ] {
        assert!(list.contains(path), "{path} not in the package:\n{list}");
    }
    let info = String::from_utf8(
        tool(
            dir,
            "dpkg-deb",
            &["-f", deb.to_str().unwrap(), "Package", "License", "Depends"],
        )
        .stdout,
    )
    .unwrap();
    assert!(info.contains("Package: ferrica"), "{info}");
    // ci/travis.yml as written: download the .deb and its checksum, check, `sudo dpkg -i`, use it.
    let rel = dir.join("release");
    std::fs::create_dir(&rel).unwrap();
    std::fs::copy(&deb, rel.join("ferrica_amd64.deb")).unwrap();
    let sum = tool(&rel, "sha256sum", &["ferrica_amd64.deb"]);
    std::fs::write(rel.join("ferrica_amd64.deb.sha256"), sum.stdout).unwrap();
    let http = serve_dir(&rel);
    let travis = yaml(&recipe("travis.yml"));
    let work = dir.join("travis");
    std::fs::create_dir(&work).unwrap();
    for section in ["before_install", "script"] {
        for line in travis[section].as_array().unwrap() {
            let line = line
                .as_str()
                .unwrap()
                .replace(RELEASES, &format!("http://127.0.0.1:{}", http.1))
                .replace("sudo ", "");
            let out = Command::new("bash")
                .args(["-eo", "pipefail", "-c", &line])
                .current_dir(&work)
                .env("CA_PASS", "travis-secret")
                .env(
                    "PATH",
                    format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default()),
                )
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "travis.yml {section}: {line}\n{}",
                stderr_of(&out)
            );
        }
    }
    openssl_ok(&work, &["verify", "-CAfile", "ca.crt", "tls.crt"]);
    let v = tool(dir, "/usr/bin/ferrica", &["version"]);
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("ferrica/"),
        "{}",
        stderr_of(&v)
    );
    let out = Command::new("/usr/bin/ferrica")
        .args([
            "certificate",
            "create",
            "--profile",
            "root-ca",
            "Deb Root",
            "ca.crt",
            "ca.key",
            "--no-password",
            "--insecure",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    openssl_ok(dir, &["x509", "-in", "ca.crt", "-noout", "-subject"]);
    let out = tool(dir, "dpkg", &["-r", "ferrica"]);
    assert!(out.status.success(), "dpkg -r: {}", stderr_of(&out));
    assert!(!Path::new("/usr/bin/ferrica").exists());
    assert!(!Path::new("/usr/share/man/man1/ferrica.1.gz").exists());
    let status = tool(dir, "dpkg", &["-s", "ferrica"]);
    assert!(!status.status.success() || String::from_utf8_lossy(&status.stdout).contains("deinstall"));
}

#[test]
fn workflows_and_the_action_match_githubs_schemas_and_the_actions_recipe_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = root.join(".venv-test/bin/check-jsonschema");
    let mut workflows: Vec<String> = files(&root.join(".github/workflows"))
        .into_iter()
        .map(|f| root.join(".github/workflows").join(f).display().to_string())
        .collect();
    workflows.push(recipe("github-actions.yml").display().to_string());
    for (schema, paths) in [
        ("vendor.github-workflows", workflows),
        (
            "vendor.github-actions",
            vec![root.join("action.yml").display().to_string()],
        ),
    ] {
        let out = Command::new(&check)
            .args(["--builtin-schema", schema])
            .args(&paths)
            .output()
            .expect("check-jsonschema (bash scripts/install-test-deps.sh)");
        assert!(
            out.status.success(),
            "{schema}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
    }
    // The action's inputs in action.yml are the ones scripts/action.sh reads.
    let action = yaml(&root.join("action.yml"));
    let sh = std::fs::read_to_string(script("action.sh")).unwrap();
    for i in action["inputs"].as_object().unwrap().keys() {
        let var = format!("INPUT_{}", i.to_uppercase().replace('-', "_"));
        assert!(sh.contains(&var), "action.sh does not read {var}");
    }

    // ci/github-actions.yml as written: the action step (through its script), then the run steps on its PATH.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let rel = release_assets(dir);
    let http = serve_dir(&rel);
    let wf = yaml(&recipe("github-actions.yml"));
    let steps = wf["jobs"]["test"]["steps"].as_array().unwrap();
    let uses = steps
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("ferrica/ferrica@")))
        .unwrap();
    let gh_path = dir.join("github_path");
    let mut action = Command::new("bash");
    action
        .arg(script("action.sh"))
        .env("INPUT_BASE_URL", format!("http://127.0.0.1:{}", http.1))
        .env("RUNNER_TEMP", dir.join("runner"))
        .env("GITHUB_PATH", &gh_path)
        .stdin(Stdio::null());
    for (k, v) in uses["with"].as_object().unwrap() {
        action.env(
            format!("INPUT_{}", k.to_uppercase().replace('-', "_")),
            v.as_str().unwrap(),
        );
    }
    let out = action.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let bin_dir = std::fs::read_to_string(&gh_path).unwrap().trim().to_string();
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    for step in steps.iter().filter(|s| s["run"].is_string()) {
        let out = Command::new("bash")
            .args(["-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
            .current_dir(&work)
            .env("CA_PASS", "actions-secret")
            .env(
                "PATH",
                format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", step["name"], stderr_of(&out));
    }
    openssl_ok(&work, &["verify", "-CAfile", "ca.crt", "tls.crt"]);
}

#[test]
fn serve_runs_on_mimalloc_and_other_commands_on_the_system_allocator() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // mimalloc prints its statistics at exit when asked; the "reserved" line appears once it has reserved an
    // arena, which it does at its first allocation.
    let stats = |args: &[&str]| {
        let out = ferrica(dir)
            .env("MIMALLOC_SHOW_STATS", "1")
            .env("FERRICA_PATH", dir.join("no-pki"))
            .args(args)
            .output()
            .unwrap();
        stderr_of(&out)
    };
    for args in [
        &["--version"][..],
        &["certificate", "inspect", "missing.crt"],
        &["ca", "health"],
    ] {
        let err = stats(args);
        assert!(!err.contains("reserved"), "{args:?} allocated with mimalloc: {err}");
    }
    let err = stats(&["serve"]);
    assert!(err.contains("error:"), "serve without a PKI fails: {err}");
    assert!(err.contains("reserved"), "serve did not allocate with mimalloc: {err}");
}
