//! `ferrica certificate ...`

use clap::{Args, Subcommand, ValueEnum};

use super::{EXIT_CODES, KeyTypeArgs, RemoteArgs};
use crate::pki::fingerprint::FingerprintFormat;
use crate::pki::profile::Profile;

/// `ferrica certificate` subcommands.
#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Create a certificate or CSR and its private key.
    Create(Box<CreateArgs>),
    /// Print a certificate, chain or CSR (file, `-`, or https://host[:port]).
    Inspect(InspectArgs),
    /// Print the SHA-256 fingerprint of a certificate or CSR.
    Fingerprint(FingerprintArgs),
}

const CREATE_EXAMPLES: &str = "\
EXAMPLES:
  Create a root CA, reading the key password from a pipe (no prompt, no TTY needed):
    $ echo \"$PASS\" | ferrica certificate create --profile root-ca \"Example Root CA\" root_ca.crt root_ca.key

  Create an intermediate CA signed by the root:
    $ ferrica certificate create --profile intermediate-ca \"Example Intermediate CA\" int.crt int.key \\
        --ca root_ca.crt --ca-key root_ca.key --ca-password-file root.pw --password-file int.pw

  Create a one-year leaf for a service, with DNS and IP SANs and an unencrypted key:
    $ ferrica certificate create svc.example.internal svc.crt svc.key --ca int.crt --ca-key int.key \\
        --ca-password-file int.pw --san svc.example.internal --san 10.0.0.5 --not-after 8760h \\
        --no-password --insecure

  Create a CSR and its key:
    $ ferrica certificate create svc.example.internal svc.csr svc.key --csr --password-file pw

PASSWORDS:
  A key password comes from --password-file / --ca-password-file (`-` = stdin), from
  FERRICA_PASSWORD_FILE / FERRICA_CA_PASSWORD_FILE, from piped stdin when exactly one password is
  needed, or from a prompt when stdin is a terminal. Otherwise the command fails at once.
  New keys are written as PKCS#8 encrypted with PBES2 (PBKDF2-HMAC-SHA256, 600000 rounds,
  AES-256-CBC), mode 0600, which `openssl pkey` reads.
";

/// `certificate create` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("{CREATE_EXAMPLES}\n{EXIT_CODES}"))]
pub struct CreateArgs {
    /// The subject common name (also the default SAN of a leaf).
    pub subject: String,
    /// Where to write the certificate (or the CSR with --csr).
    pub crt_file: String,
    /// Where to write the new private key (not needed with --key).
    pub key_file: Option<String>,
    /// The kind of certificate.
    #[arg(long, value_enum, default_value = "leaf")]
    pub profile: Profile,
    /// Write a certificate signing request instead of a certificate.
    #[arg(long)]
    pub csr: bool,
    /// The issuer certificate (for leaf and intermediate-ca).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<String>,
    /// The issuer private key.
    #[arg(long, value_name = "FILE")]
    pub ca_key: Option<String>,
    /// File with the password of --ca-key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_CA_PASSWORD_FILE", hide_env_values = true)]
    pub ca_password_file: Option<String>,
    /// Use this existing private key instead of generating one.
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// Key type of the new key.
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// A subject alternative name (repeatable): DNS name, IP, email or URI, typed automatically.
    #[arg(long, value_name = "SAN")]
    pub san: Vec<String>,
    /// Start of validity: RFC 3339 time or a duration from now (`-5m`). Default: now.
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// End of validity: RFC 3339 time or a duration from now (`8760h`, `90d`). Default: 24h for leafs, 10 years
    /// for CAs. A leaf never outlives its issuer: a later value is clamped, with a warning.
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// Append the issuer certificate to the certificate file.
    #[arg(long)]
    pub bundle: bool,
    /// Overwrite existing files.
    #[arg(short, long)]
    pub force: bool,
    /// File with the password for the new key, or for --key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Write the new key unencrypted (requires --insecure).
    #[arg(long)]
    pub no_password: bool,
    /// Allow insecure choices (--no-password).
    #[arg(long)]
    pub insecure: bool,
    /// Accepted for step compatibility (step needs it for --profile self-signed); has no effect.
    #[arg(long, hide = true)]
    pub subtle: bool,
}

/// Output format of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// A readable full dump.
    Text,
    /// The JSON model (see docs/inspect-json.md).
    Json,
    /// PEM.
    Pem,
}

const INSPECT_EXAMPLES: &str = "\
EXAMPLES:
  $ ferrica certificate inspect root_ca.crt
  $ ferrica certificate inspect --short leaf.crt
  $ ferrica certificate inspect --format json --bundle chain.crt | jq '.[].subject.dn'
  $ cat svc.csr | ferrica certificate inspect -
  $ ferrica certificate inspect https://ca.internal:9000 --roots root_ca.crt --bundle
";

/// `certificate inspect` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("{INSPECT_EXAMPLES}\n{EXIT_CODES}"))]
pub struct InspectArgs {
    /// A certificate, chain or CSR file (PEM or DER), `-` for stdin, or https://host[:port].
    #[arg(default_value = "-")]
    pub input: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: InspectFormat,
    /// Print a one-block summary.
    #[arg(long)]
    pub short: bool,
    /// Show every certificate of a chain, not only the first.
    #[arg(long)]
    pub bundle: bool,
    /// Remote inputs: accept a chain that does not verify.
    #[arg(long)]
    pub insecure: bool,
    /// Remote input options.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

const FINGERPRINT_EXAMPLES: &str = "\
EXAMPLES:
  $ ferrica certificate fingerprint root_ca.crt
  86c543800062b7ded40e4d09b71b93128e6aad2d3b525272a07d39d2fdaf1a27
  $ ferrica certificate fingerprint --format base64-url-raw --bundle chain.crt
  $ ferrica certificate fingerprint https://ca.internal:9000 --roots root_ca.crt
";

/// `certificate fingerprint` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("{FINGERPRINT_EXAMPLES}\n{EXIT_CODES}"))]
pub struct FingerprintArgs {
    /// A certificate or CSR file (PEM or DER), `-` for stdin, or https://host[:port].
    #[arg(default_value = "-")]
    pub input: String,
    /// Encoding of the fingerprint.
    #[arg(long, value_enum, default_value = "hex")]
    pub format: FingerprintFormat,
    /// Use SHA-1 instead of SHA-256 (requires --insecure).
    #[arg(long)]
    pub sha1: bool,
    /// Print one line per certificate of a chain.
    #[arg(long)]
    pub bundle: bool,
    /// Allow --sha1; for remote inputs, accept a chain that does not verify.
    #[arg(long)]
    pub insecure: bool,
    /// Remote input options.
    #[command(flatten)]
    pub remote: RemoteArgs,
}
