//! The seed suite: `tests/seeds/*.sh` hold step command lines as step's documentation and its users' scripts write
//! them, run verbatim by bash (`set -euo pipefail`), so that any line that fails, or any judge (openssl, curl, jq)
//! that disagrees, fails the test. Each script runs through the `step` name (ferrica linked as `step` and `step-ca`)
//! and through `ferrica` (shell functions `step` and `step-ca` calling `ferrica` and `ferrica serve`); the online
//! one also with the real step 0.15 as the client of `ferrica serve`, and ferrica's client against the real
//! step-ca 0.19.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// How `step` and `step-ca` resolve in a run.
#[derive(Clone, Copy, Debug)]
enum Names {
    /// ferrica linked as `step` and `step-ca`.
    Linked,
    /// Shell functions calling `ferrica` and `ferrica serve`.
    Functions,
    /// The real step as the client, ferrica as `step-ca`.
    RealStep,
    /// ferrica as `step`, the real step-ca as the server.
    RealStepCa,
}

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds").join(name)
}

/// Runs `script` in a fresh directory the way `names` says; panics with the trace of the failing line.
fn run(script: &str, names: Names) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let link = |name: &str| std::os::unix::fs::symlink(BIN, bin.join(name)).unwrap();
    let (client, server) = match names {
        Names::Linked => {
            link("step");
            link("step-ca");
            ("ferrica", "ferrica")
        }
        Names::Functions => {
            link("ferrica");
            ("ferrica", "ferrica")
        }
        Names::RealStep => {
            link("step-ca");
            ("step", "ferrica")
        }
        Names::RealStepCa => {
            link("step");
            ("ferrica", "step-ca")
        }
    };
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    let body = match names {
        Names::Functions => format!(
            "step() {{ ferrica \"$@\"; }}\nstep-ca() {{ ferrica serve \"$@\"; }}\nsource {}\n",
            seed(script).display()
        ),
        _ => format!("source {}\n", seed(script).display()),
    };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("timeout")
        .args(["300", "bash", "-euxo", "pipefail", "-c", &body])
        .current_dir(&work)
        .env("PATH", path)
        .env("SEED_PORT", free_port().to_string())
        .env("SEED_CLIENT", client)
        .env("SEED_SERVER", server)
        .env_remove("FERRICA_PATH")
        .env_remove("STEPPATH")
        .env_remove("FERRICA_PASSWORD_FILE")
        .env_remove("FERRICA_CA_URL")
        .env_remove("FERRICA_ROOT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Its own process group, so that whatever the script left running goes with it: a `step-ca ... &` that is a
        // shell function gives `$!` the subshell's PID, and the script's `kill $!` leaves `ferrica serve` behind.
        .process_group(0)
        .spawn()
        .unwrap();
    let group = rustix::process::Pid::from_child(&out);
    let out = out.wait_with_output().unwrap();
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    if !out.status.success() {
        let trace = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = trace.lines().rev().take(40).collect();
        let log = std::fs::read_to_string(work.join("step-ca.log")).unwrap_or_default();
        panic!(
            "{script} ({names:?}) failed ({}); the last lines:\n{}\nserver log:\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn offline_seeds_run_verbatim_as_step_and_as_ferrica() {
    run("offline.sh", Names::Linked);
    run("offline.sh", Names::Functions);
}

#[test]
fn online_seeds_run_verbatim_as_step_and_as_ferrica() {
    run("online.sh", Names::Linked);
    run("online.sh", Names::Functions);
}

#[test]
fn online_seeds_run_with_the_real_step_against_ferrica_and_ferrica_against_the_real_step_ca() {
    if step_tool("step").is_some() {
        run("online.sh", Names::RealStep);
    }
    if step_tool("step-ca").is_some() {
        run("online.sh", Names::RealStepCa);
    }
}
