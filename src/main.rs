#![deny(unsafe_code)]
//! The `ferrica` binary: parse, run, report. Nothing else.

use std::process::ExitCode;

use clap::Parser;

#[allow(unsafe_code)]
mod alloc {
    //! The allocator, chosen per process before the first allocation: mimalloc for `serve` (it spent a tenth of
    //! its time in glibc malloc under load; see scripts/bench-serve.sh; built without transparent huge pages,
    //! which doubled idle memory), glibc's malloc for every other command. mimalloc's start-up (its arena's
    //! bitmaps and first pages) costs a short command about 95 page faults, a fifth of `certificate inspect`'s
    //! time, and a command that runs for milliseconds gains nothing from it.
    //!
    //! Safety: [`MIMALLOC`] is written once, by [`pick`], which glibc runs from `.init_array` with the process's
    //! arguments before `main` and before any Rust code allocates (std's own `.init_array` entry, at priority 99,
    //! only records the arguments). It never changes afterwards, so every block is freed by the allocator that
    //! gave it out. Where nothing runs `pick` (not Linux with glibc), the flag's initial value holds throughout.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, Ordering};

    static MIMALLOC: AtomicBool = AtomicBool::new(!cfg!(all(target_os = "linux", target_env = "gnu")));

    pub struct PerCommand;

    fn mi() -> bool {
        MIMALLOC.load(Ordering::Relaxed)
    }

    unsafe impl GlobalAlloc for PerCommand {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe {
                if mi() {
                    mimalloc::MiMalloc.alloc(layout)
                } else {
                    System.alloc(layout)
                }
            }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            unsafe {
                if mi() {
                    mimalloc::MiMalloc.alloc_zeroed(layout)
                } else {
                    System.alloc_zeroed(layout)
                }
            }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe {
                if mi() {
                    mimalloc::MiMalloc.dealloc(ptr, layout)
                } else {
                    System.dealloc(ptr, layout)
                }
            }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            unsafe {
                if mi() {
                    mimalloc::MiMalloc.realloc(ptr, layout, new_size)
                } else {
                    System.realloc(ptr, layout, new_size)
                }
            }
        }
    }

    /// True for the arguments of a `serve` process: `ferrica serve ...` (global flags may come first) or a binary
    /// invoked as `step-ca` (the rule [`ferrica::cli::args_for_invocation`] applies). Allocates nothing.
    pub fn is_serve<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> bool {
        use std::os::unix::ffi::OsStrExt;
        args.next()
            .is_some_and(|a| ferrica::cli::invoked_as_step_ca(std::ffi::OsStr::from_bytes(a)))
            || args.find(|a| !a.starts_with(b"-")) == Some(&b"serve"[..])
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    extern "C" fn pick(
        argc: std::ffi::c_int,
        argv: *const *const std::ffi::c_char,
        _env: *const *const std::ffi::c_char,
    ) {
        if argv.is_null() || argc <= 0 {
            return;
        }
        // SAFETY: glibc passes main's argc and argv, argc NUL-terminated strings.
        let args = (0..argc as usize).map(|i| unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) }.to_bytes());
        if is_serve(args) {
            MIMALLOC.store(true, Ordering::Relaxed);
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[used]
    #[unsafe(link_section = ".init_array.00100")]
    static PICK: extern "C" fn(std::ffi::c_int, *const *const std::ffi::c_char, *const *const std::ffi::c_char) = pick;

    #[cfg(test)]
    mod tests {
        #[test]
        fn serve_and_step_ca_get_mimalloc_and_other_commands_do_not() {
            let is = |args: &[&str]| super::is_serve(args.iter().map(|a| a.as_bytes()));
            assert!(is(&["ferrica", "serve", "--password-file", "pw"]));
            assert!(is(&["/usr/bin/step-ca", "ca.json"]));
            assert!(is(&["ferrica", "-v", "serve"]));
            assert!(!is(&["ferrica", "certificate", "inspect", "serve"]));
            assert!(!is(&["ferrica", "--version"]));
            assert!(!is(&["/opt/serve/ferrica", "ssh", "inspect"]));
            assert!(!is(&["ferrica"]));
        }
    }
}

#[global_allocator]
static GLOBAL: alloc::PerCommand = alloc::PerCommand;

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
