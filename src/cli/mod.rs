//! Command-line definitions (clap derive) only: no behaviour lives here.
//!
//! The subcommands' arguments are defined lazily (`#[command(defer = true)]`): a run builds only the command it runs,
//! which cut `ferrica --version`'s start-up by more than half. So the `Args` structs carry `//` comments rather than
//! doc comments: clap would show a struct's doc comment as the command's about, over the one its subcommand variant
//! gives. `tests::every_command_and_argument_has_help` checks what `missing_docs` would have.
#![allow(missing_docs)]

pub mod ca;
pub mod certificate;
pub mod crypto;
pub mod examples;
pub mod ssh;

use clap::{Args, Parser, Subcommand};

/// The exit-code table shown in every long `--help`.
pub const EXIT_CODES: &str = "\
EXIT CODES:
  0  success (for checks: the check is positive)
  1  check negative (only predicate commands such as `verify` and `needs-renewal`)
  2  usage error: bad or conflicting flags, no password source without a terminal
  3  input error: missing or malformed file, wrong password, refusal to overwrite
  4  refused by policy
  5  network or TLS failure, timeout (safe to retry)";

/// ferrica: a private certificate authority in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "ferrica",
    version,
    about,
    propagate_version = true,
    disable_version_flag = true,
    arg_required_else_help = true,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// Print the version as `ferrica version` does (step's `-v`).
    #[arg(short = 'v', short_alias = 'V', long = "version")]
    pub version: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level command groups.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create, inspect and fingerprint X.509 certificates, keys and CSRs.
    #[command(subcommand)]
    Certificate(certificate::CertificateCommand),
    /// Keys, JSON Web Keys, tokens (JWT/JWS), password-based JWE, hashes and random bytes.
    #[command(subcommand)]
    Crypto(Box<crypto::CryptoCommand>),
    /// The online CA: `ca init`, provisioners, tokens, and the client commands for `ferrica serve` (or step-ca).
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// SSH user and host certificates from the CA's SSH keys (`ca init --ssh`).
    #[command(subcommand)]
    Ssh(ssh::SshCommand),
    /// Print $FERRICA_PATH (default ~/.ferrica), where `ca init` writes.
    Path,
    /// Run the online CA: step-ca's HTTPS API (sign, renew, rekey, revoke, CRL, roots, provisioners), ACME and SSH.
    Serve(Box<ServeArgs>),
    /// Print the version as step does (`ferrica/X.Y.Z (linux/amd64)`).
    Version,
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(
        after_long_help = "EXAMPLES:\n  $ ferrica completions bash > /etc/bash_completion.d/ferrica\n  $ ferrica completions zsh > \"${fpath[1]}/_ferrica\""
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages: ferrica(1) and one per subcommand (ferrica-certificate-create(1), ...).
    #[command(
        after_long_help = "Without --out, ferrica(1) goes to stdout.\n\nEXAMPLES:\n  $ ferrica man --out /usr/local/share/man/man1\n  $ ferrica man | man -l -"
    )]
    Man {
        /// The directory to write the pages into.
        #[arg(long, value_name = "DIR")]
        out: Option<String>,
    },
}

// `ferrica serve` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "The intermediate key's password comes from --password-file (or FERRICA_PASSWORD_FILE), else\n\
\"password\" in ca.json, else piped stdin or a prompt on a terminal. The first stderr line says where it listens.\n\
SIGTERM and SIGINT stop accepting, let open requests finish (10 s at most) and exit 0; SIGHUP re-reads ca.json.\n\n\
Routes (under / and /1.0/): GET /health /version /root/{sha} /roots(.pem) /intermediates(.pem) /federation\n\
/provisioners /provisioners/{kid}/encrypted-key /crl; POST /sign /renew /rekey /revoke (tokens or mTLS); ACME\n\
under /acme/{provisioner}/; SSH under /ssh/ (sign, renew, rekey, revoke, roots, federation, hosts, check-host,\n\
config, krl) with ca.json's ssh keys.\n\nEXAMPLES:\n  $ ferrica serve --password-file pw\n  $ ferrica serve /etc/ferrica/ca.json --address 127.0.0.1:9443"
)]
pub struct ServeArgs {
    /// The CA configuration (default: $FERRICA_PATH/config/ca.json).
    pub ca_config: Option<String>,
    /// File with the intermediate key's password (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Listen here instead of ca.json's address (e.g. 127.0.0.1:0 for a free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// The PostgreSQL database to share with other instances (postgresql://user:password@host:5432/ferrica),
    /// instead of ca.json's db. A password here shows in `ps`: prefer FERRICA_DB or ca.json.
    #[arg(long, value_name = "URL", env = "FERRICA_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// How often the periodic jobs (ACME and used-token purges) run; with several instances on one database, only
    /// the leader runs them, and another takes over within this interval when it stops.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub jobs_interval: String,
    /// Also serve /crl, /ocsp, /roots.pem, /intermediate.crt and /health over plain HTTP here (step-ca's
    /// insecureAddress in ca.json); leaves then carry CRL and OCSP URLs on it.
    #[arg(long, value_name = "HOST:PORT")]
    pub insecure_address: Option<String>,
    /// ACME http-01: the port validation connects to (RFC 8555 says 80; another port for tests and labs).
    #[arg(long, value_name = "PORT", default_value_t = 80)]
    pub acme_http_port: u16,
    /// ACME tls-alpn-01: the port validation connects to (RFC 8737 says 443).
    #[arg(long, value_name = "PORT", default_value_t = 443)]
    pub acme_tls_port: u16,
    /// A DNS server (HOST:PORT) for ACME validation: names for http-01 and tls-alpn-01, TXT records for dns-01
    /// (default: the system resolver; step-ca's --resolver).
    #[arg(long, value_name = "HOST:PORT")]
    pub resolver: Option<String>,
    /// The URL clients reach this CA at, when it sits behind a proxy (ACME URLs and the JWS url check use it).
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
    /// File with the password of ca.json's ssh.hostKey (default: the intermediate key's password).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_SSH_HOST_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub ssh_host_password_file: Option<String>,
    /// File with the password of ca.json's ssh.userKey (default: the intermediate key's password).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_SSH_USER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub ssh_user_password_file: Option<String>,
    /// Timeouts and connection caps.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// step-ca's flags that have no meaning here yet: accepted by name so that the error says why (see `run`).
    #[command(flatten)]
    pub step_ca: StepCaFlags,
}

// `serve`'s limits on what one client may hold (see `server::listen`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Drop a connection whose TLS handshake takes longer.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub handshake_timeout: String,
    /// Close an HTTP/1.1 connection that takes longer to send a request's header section; also how long a
    /// keep-alive connection may wait for its next request.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub header_timeout: String,
    /// Close a connection on which no byte has moved for this long (HTTP/1.1 and HTTP/2).
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    pub idle_timeout: String,
    /// Answer 408 to a request that is not read and answered within this.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub request_timeout: String,
    /// Open connections over both listeners; more are closed as they arrive [default: 4096, or fewer when the
    /// file-descriptor limit is lower].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Open connections from one IP address (0: no cap).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections_per_address: usize,
    /// HTTP/2: streams a client may have open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub http2_max_streams: u32,
    /// HTTP/2: the flow-control window of each stream (SETTINGS_INITIAL_WINDOW_SIZE).
    #[arg(long, value_name = "BYTES", default_value = "256KiB", value_parser = bytes)]
    pub http2_stream_window: u64,
    /// HTTP/2: the flow-control window of a whole connection.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = bytes)]
    pub http2_connection_window: u64,
    /// HTTP/2: the largest frame a client may send (SETTINGS_MAX_FRAME_SIZE, 16KiB to 16MiB less one byte).
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = bytes)]
    pub http2_max_frame: u64,
    /// HTTP/2: the largest header list a client may send (SETTINGS_MAX_HEADER_LIST_SIZE); a stream over it is
    /// refused without an answer, so it must be at least --max-header-bytes, which answers 431.
    #[arg(long, value_name = "BYTES", default_value = "256KiB", value_parser = bytes)]
    pub http2_max_header_list: u64,
    /// HTTP/2: streams a client may open and reset before they are answered; one more closes the connection
    /// (the "rapid reset" attack).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub http2_max_pending_resets: usize,
    /// HTTP/1.1: the most a connection buffers of a request head (at least 8KiB and --max-header-bytes).
    #[arg(long, value_name = "BYTES", default_value = "128KiB", value_parser = bytes)]
    pub http1_max_buffer: u64,
    /// A request's header fields, names and values together; more gets 431 (HTTP/1.1 and HTTP/2).
    #[arg(long, value_name = "BYTES", default_value = "32KiB", value_parser = bytes)]
    pub max_header_bytes: u64,
    /// The body of a REST or SSH request (/sign, /revoke, /ssh/sign, ...); more gets 413.
    #[arg(long, value_name = "BYTES", default_value = "64KiB", value_parser = bytes)]
    pub max_body: u64,
    /// The body of an OCSP request (POST /ocsp); more gets 413.
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = bytes)]
    pub max_ocsp_body: u64,
    /// The JWS of an ACME request; more gets 413 with an ACME problem document.
    #[arg(long, value_name = "BYTES", default_value = "64KiB", value_parser = bytes)]
    pub max_acme_body: u64,
}

/// A size in bytes: a number, optionally with a binary unit (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`; `B` for bytes).
pub fn bytes(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("{v:?}: a number of bytes, such as 65536, 64KiB or 1MiB")),
    };
    n.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{v:?}: a number of bytes, such as 65536, 64KiB or 1MiB"))
}

// step-ca 0.19's `serve` flags without a ferrica counterpart yet. Each is refused with the reason, never as an
// unknown argument.
#[derive(Debug, Clone, Default, Args)]
pub struct StepCaFlags {
    /// step-ca: the password of the intermediate key in RA mode (ferrica has no RA mode).
    #[arg(long, value_name = "FILE", hide = true)]
    pub issuer_password_file: Option<String>,
    /// step-ca: a registration token for linked (hosted) CAs.
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub token: Option<String>,
    /// step-ca: the step context to use.
    #[arg(long, value_name = "NAME", hide = true)]
    pub context: Option<String>,
}

impl StepCaFlags {
    /// The first flag given, with why ferrica cannot honour it.
    pub fn refusal(&self) -> Option<(&'static str, &'static str)> {
        [
            (
                self.issuer_password_file.is_some(),
                "--issuer-password-file",
                "ferrica has no registration-authority mode",
            ),
            (self.token.is_some(), "--token", "ferrica does not link to a hosted CA"),
            (
                self.context.is_some(),
                "--context",
                "ferrica has no step contexts: set FERRICA_PATH (or STEPPATH)",
            ),
        ]
        .into_iter()
        .find(|(given, _, _)| *given)
        .map(|(_, flag, why)| (flag, why))
    }
}

// Key type flags shared by every command that generates a key (step's `--kty/--crv/--size`).
#[derive(Debug, Clone, Args)]
pub struct KeyTypeArgs {
    /// Key type: EC (default), OKP (Ed25519) or RSA.
    #[arg(long, value_name = "KTY")]
    pub kty: Option<String>,
    /// Curve: P-256 (default for EC), P-384, P-521, or Ed25519 (OKP).
    #[arg(long, visible_alias = "curve", value_name = "CURVE")]
    pub crv: Option<String>,
    /// RSA key size in bits: 2048 (default), 3072 or 4096.
    #[arg(long, value_name = "BITS")]
    pub size: Option<usize>,
}

// Flags for fetching a remote certificate chain (`https://host[:port]` inputs).
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Trusted roots for a remote server: a PEM file or a directory of them (default: the system store).
    #[arg(long, value_name = "FILE|DIR")]
    pub roots: Option<String>,
    /// The TLS server name (SNI) to send and verify (default: the URL's host).
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
}

// Extension flags shared by `certificate create` and `certificate sign` (step needs a template for these).
#[derive(Debug, Clone, Default, Args)]
pub struct ExtensionArgs {
    /// Path length constraint of a CA (-1: unlimited). Default: 1 for root-ca, 0 for intermediate-ca.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub path_len: Option<i32>,
    /// Name constraints (CA profiles): permit this DNS suffix (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub permit_dns: Vec<String>,
    /// Name constraints: exclude this DNS suffix (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub exclude_dns: Vec<String>,
    /// Name constraints: permit this IP range, e.g. 10.0.0.0/8 (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub permit_ip: Vec<String>,
    /// Name constraints: exclude this IP range (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub exclude_ip: Vec<String>,
    /// Name constraints: permit this email domain or address (repeatable).
    #[arg(long, value_name = "EMAIL")]
    pub permit_email: Vec<String>,
    /// Name constraints: exclude this email domain or address (repeatable).
    #[arg(long, value_name = "EMAIL")]
    pub exclude_email: Vec<String>,
    /// Name constraints: permit URIs with this host (repeatable).
    #[arg(long, value_name = "HOST")]
    pub permit_uri: Vec<String>,
    /// Name constraints: exclude URIs with this host (repeatable).
    #[arg(long, value_name = "HOST")]
    pub exclude_uri: Vec<String>,
    /// Add a CRL distribution point (repeatable).
    #[arg(long, value_name = "URL")]
    pub crl_url: Vec<String>,
    /// Add an OCSP responder to authorityInfoAccess (repeatable).
    #[arg(long, value_name = "URL")]
    pub ocsp_url: Vec<String>,
    /// Add a CA-issuers URL to authorityInfoAccess (repeatable).
    #[arg(long, value_name = "URL")]
    pub issuer_url: Vec<String>,
}

/// Whether `arg0` (the program's path as invoked) names `step-ca`, which runs `serve`.
pub fn invoked_as_step_ca(arg0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(arg0).file_name().is_some_and(|n| n == "step-ca")
}

/// The command line as ferrica parses it, given how it was invoked: as `step-ca` (a link or copy so named) it is
/// `ferrica serve` with step-ca's arguments; as `step` or `ferrica`, unchanged.
pub fn args_for_invocation(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if args.first().is_some_and(|a| invoked_as_step_ca(a)) {
        args.insert(1, "serve".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                if a.get_help().is_none() && !["help", "version"].contains(&a.get_id().as_str()) {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{name} (about)"));
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&crate::cmd::full_command(), "ferrica", &mut missing);
        assert!(missing.is_empty(), "no help for: {missing:?}");
    }

    /// The about a subcommand's variant gives is the one `--help` shows, not the comment on its arguments' struct.
    #[test]
    fn a_commands_help_shows_its_own_about() {
        let mut cmd = crate::cmd::full_command();
        let serve = cmd.find_subcommand_mut("serve").unwrap();
        let about = serve.get_about().unwrap().to_string();
        assert!(about.starts_with("Run the online CA"), "{about}");
        let help = serve.render_long_help().to_string();
        assert!(help.contains("--max-body"), "{help}");
    }

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        assert_eq!(bytes("65536"), Ok(65536));
        assert_eq!(bytes("64KiB"), Ok(64 << 10));
        assert_eq!(bytes("16k"), Ok(16 << 10));
        assert_eq!(bytes("1MiB"), Ok(1 << 20));
        assert_eq!(bytes("2 M"), Ok(2 << 20));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("12B"), Ok(12));
        for bad in [
            "",
            "KiB",
            "64KB",
            "1.5MiB",
            "-1",
            "lots",
            "99999999999999999999",
            "17179869184GiB",
        ] {
            assert!(bytes(bad).is_err(), "{bad:?} was taken");
        }
    }
}
