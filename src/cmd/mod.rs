//! One module per subcommand; each `run` is thin: read inputs, call the domain, write outputs.
//! A `run` returns the exit code for success-like outcomes (0, or 1 for a negative check).

pub mod ca;
pub mod certificate;
pub mod crypto;
pub mod serve;
pub mod ssh;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<u8> {
    let command = match (cli.command, cli.version) {
        (_, true) => Command::Version,
        (Some(c), false) => c,
        (None, false) => {
            return Err(crate::error::UserError::usage("no command given")
                .hint("ferrica --help lists the commands")
                .into());
        }
    };
    match command {
        Command::Certificate(c) => certificate::run(c),
        Command::Crypto(c) => crypto::run(*c),
        Command::Ca(c) => ca::run(c),
        Command::Ssh(c) => ssh::run(c),
        Command::Serve(a) => serve::run(*a),
        Command::Path => {
            print_stdout(format!("{}\n", ca::ferrica_path()?.display()).as_bytes())?;
            Ok(0)
        }
        Command::Version => {
            print_stdout(version_line().as_bytes())?;
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut cmd = full_command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ferrica", &mut out);
            print_stdout(&out)?;
            Ok(0)
        }
        Command::Man { out } => man(out.as_deref()),
    }
}

/// Every command with all its arguments. The subcommands' arguments are defined lazily (`#[command(defer = true)]`,
/// so that a run builds only the command it runs: that halved `--version`'s start-up); whatever walks the whole tree
/// (completions, man pages, tests) builds it first.
pub fn full_command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    cmd
}

/// `ferrica/0.1.0 (linux/amd64)`, as step prints `Smallstep CLI/0.15.16 (linux/amd64)`.
pub fn version_line() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!(
        "ferrica/{} ({}/{arch})\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// Writes ferrica(1) and a page per subcommand into `dir`, or ferrica(1) to stdout.
fn man(dir: Option<&str>) -> Result<u8> {
    let cmd = full_command();
    let render = |c: &clap::Command| -> Result<Vec<u8>> {
        let mut page = Vec::new();
        clap_mangen::Man::new(c.clone()).render(&mut page)?;
        let examples = crate::cli::examples::for_page(c.get_name());
        if !examples.is_empty() && !String::from_utf8_lossy(&page).contains("EXAMPLES") {
            page.extend_from_slice(b".SH EXAMPLES\n");
            for ex in examples {
                page.extend_from_slice(format!(".PP\n\\fB$ {}\\fR\n", ex.replace('-', "\\-")).as_bytes());
            }
        }
        // Every page documents the exit codes, whether or not the command's help repeats them.
        if !String::from_utf8_lossy(&page).contains("EXIT CODES") {
            page.extend_from_slice(b".SH \"EXIT STATUS\"\n");
            for line in crate::cli::EXIT_CODES.lines().skip(1) {
                page.extend_from_slice(format!("{}\n.br\n", line.trim()).as_bytes());
            }
        }
        Ok(page)
    };
    let Some(dir) = dir else {
        print_stdout(&render(&cmd)?)?;
        return Ok(0);
    };
    let dir = std::path::Path::new(dir);
    if !dir.is_dir() {
        return Err(crate::error::UserError::input(format!("--out {}: not a directory", dir.display())).into());
    }
    // Every command, named by its path (`ferrica-certificate-create`), as man(1) looks for them.
    fn walk(c: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{prefix}-{}", sub.get_name());
            out.push((name.clone(), sub.clone().name(name.clone())));
            walk(sub, &name, out);
        }
    }
    let mut pages = vec![("ferrica".to_string(), cmd.clone())];
    walk(&cmd, "ferrica", &mut pages);
    let mut staged = crate::io::output::OutputSet::new(true);
    for (name, c) in &pages {
        staged.stage(
            &dir.join(format!("{name}.1")),
            &render(c)?,
            crate::io::output::PUBLIC_MODE,
        )?;
    }
    staged.commit()?;
    eprintln!("{} man pages written to {}", pages.len(), dir.display());
    Ok(0)
}

/// Writes data to stdout (data only; diagnostics go to stderr).
pub fn print_stdout(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

/// Prints a warning on stderr.
pub fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}
