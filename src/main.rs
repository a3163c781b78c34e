#![forbid(unsafe_code)]
//! The `ferrica` binary: parse, run, report. Nothing else.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc (without transparent huge pages, which doubled idle memory): `serve` spent a tenth of its time in glibc
/// malloc under load; see scripts/bench-serve.sh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (this is a bug in ferrica): {info}");
        eprintln!("hint: please report it with the command you ran (without secrets)");
    }));
    let cli = ferrica::cli::Cli::parse_from(ferrica::cli::args_for_invocation(std::env::args_os()));
    match ferrica::cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            if let Some(h) = ferrica::error::hint(&err) {
                eprintln!("hint: {h}");
            }
            if std::env::var_os("FERRICA_DEBUG").is_some_and(|v| v == "1") {
                eprintln!("debug: {err:?}");
            }
            ExitCode::from(ferrica::error::exit_code(&err))
        }
    }
}
