//! `ferrica certificate ...`

use clap::{Args, Subcommand, ValueEnum};

use super::{EXIT_CODES, ExtensionArgs, KeyTypeArgs, RemoteArgs};
use crate::pki::fingerprint::FingerprintFormat;
use crate::pki::profile::Profile;

/// `ferrica certificate` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CertificateCommand {
    /// Create a certificate or CSR and its private key.
    Create(Box<CreateArgs>),
    /// Print a certificate, chain or CSR (file, `-`, or https://host[:port]).
    Inspect(InspectArgs),
    /// Print the SHA-256 fingerprint of a certificate or CSR.
    Fingerprint(FingerprintArgs),
    /// Sign a CSR with a CA certificate and key.
    Sign(Box<SignArgs>),
    /// Verify a certificate chain (file or https://host): exit 0 valid, 1 invalid.
    Verify(VerifyArgs),
    /// Check whether a certificate needs renewal: exit 0 yes, 1 no, 2 missing file, 255 error.
    NeedsRenewal(NeedsRenewalArgs),
    /// Write a certificate followed by its CA certificate(s) to OUT_FILE.
    Bundle(BundleArgs),
    /// Convert a certificate, CSR or key between PEM and DER.
    Format(FormatArgs),
    /// Print the public key of a certificate, CSR or key (PEM).
    Key(KeyArgs),
    /// Package a certificate, its key and CA certificates as PKCS#12 (.p12/.pfx).
    P12(P12Args),
    /// Check a certificate against RFC 5280 and CA/Browser Forum basics: exit 1 on errors.
    Lint(LintArgs),
    /// Add a root certificate to trust stores (system, NSS/Firefox/Chromium, Java); --check only reports.
    Install(TrustArgs),
    /// Remove a root certificate from trust stores.
    Uninstall(TrustArgs),
}

// `certificate install|uninstall` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "STORES:\n  system   Debian/Ubuntu: update-ca-certificates (PREFIX/usr/local/share/ca-certificates);\n           \
Fedora/RHEL: update-ca-trust (PREFIX/etc/pki/ca-trust/source/anchors)\n  nss      certutil on --nss-db DIR, or with --firefox every Firefox profile and ~/.pki/nssdb (Chromium)\n  \
java     keytool on --java-keystore (default $JAVA_HOME/lib/security/cacerts), password --java-storepass-file\n           \
(default changeit)\n\nWith no store flag, the system store is used. --check exits 0 if the root is trusted in every selected\n\
store, 1 if not, and changes nothing (step has no such check; mkcert does).\n\n\
EXAMPLES:\n  $ sudo ferrica certificate install root_ca.crt --all\n  $ ferrica certificate install root_ca.crt --nss-db ~/.pki/nssdb --check"
)]
pub struct TrustArgs {
    /// The root certificate.
    pub crt_file: String,
    /// Report whether the root is trusted; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Every store: system, NSS (Firefox/Chromium) and Java.
    #[arg(long)]
    pub all: bool,
    /// Skip the system store.
    #[arg(long)]
    pub no_system: bool,
    /// The Firefox profiles and the Chromium NSS database of the current user.
    #[arg(long)]
    pub firefox: bool,
    /// An NSS database directory (repeatable).
    #[arg(long, value_name = "DIR")]
    pub nss_db: Vec<String>,
    /// The Java trust store.
    #[arg(long)]
    pub java: bool,
    /// The Java keystore file (implies --java).
    #[arg(long, value_name = "FILE")]
    pub java_keystore: Option<String>,
    /// File with the Java keystore password (default: changeit).
    #[arg(long, value_name = "FILE")]
    pub java_storepass_file: Option<String>,
    /// Root directory for the system store (for tests and images).
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<String>,
}

// `certificate lint` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "Prints one line per finding: SEVERITY CODE MESSAGE (error, warning or notice).\n\n\
EXIT CODES:\n  0  no error (warnings and notices may be printed)\n  1  at least one error\n  2, 3, 5  usage, input or network errors"
)]
pub struct LintArgs {
    /// A certificate file (PEM/DER; `-` = stdin) or https://host[:port].
    pub input: String,
    /// Lint every certificate in the file.
    #[arg(long)]
    pub bundle: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LintFormat,
    /// Remote inputs: accept a chain that does not verify.
    #[arg(long)]
    pub insecure: bool,
    /// Remote input options.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// One line per finding.
    Text,
    /// A JSON array of {file_index, severity, code, message}.
    Json,
}

// `certificate p12` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ ferrica certificate p12 svc.p12 svc.crt svc.key --ca int.crt --password-file p12.pw\n  \
$ openssl pkcs12 -in svc.p12 -passin file:p12.pw -noout    # OpenSSL 3, no -legacy needed\n  \
$ ferrica certificate inspect svc.p12 --password-file p12.pw --bundle\n\n\
The default encryption is PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC; --legacy writes\n\
3DES with a SHA-1 MAC for old Java and Windows.\n\n{EXIT_CODES}"))]
pub struct P12Args {
    /// Where to write the PKCS#12 file.
    pub p12_file: String,
    /// The certificate (its chain may follow it in the file).
    pub crt_file: Option<String>,
    /// The certificate's private key.
    pub key_file: Option<String>,
    /// CA certificates to add (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<String>,
    /// File with the password that protects the .p12 (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// File with the password of KEY_FILE, when it is encrypted.
    #[arg(long, value_name = "FILE")]
    pub key_password_file: Option<String>,
    /// Use an empty .p12 password (requires --insecure).
    #[arg(long)]
    pub no_password: bool,
    /// Allow --no-password.
    #[arg(long)]
    pub insecure: bool,
    /// 3DES and a SHA-1 MAC, for old Java and Windows.
    #[arg(long)]
    pub legacy: bool,
    /// Overwrite P12_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `certificate verify` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "EXIT CODES:\n  0  the chain is valid\n  1  the chain is invalid (the reason is printed)\n  2, 3, 5  usage, input or network errors\n\n\
EXAMPLES:\n  $ ferrica certificate verify chain.crt --roots root_ca.crt --host svc.example.internal\n  \
$ ferrica certificate verify https://svc.example.internal --roots root_ca.crt\n\n\
The chain is built from the file's certificates (leaf first) and --roots (default: the system store), and checked\n\
for validity dates, signatures, basicConstraints and path length, name constraints, key usage and serverAuth EKU."
)]
pub struct VerifyArgs {
    /// The certificate (PEM/DER, with intermediates after it) or https://host[:port].
    pub input: String,
    /// Trusted roots: a PEM file or a directory of them (default: the system store).
    #[arg(long, value_name = "FILE|DIR")]
    pub roots: Option<String>,
    /// The DNS name or IP address the certificate must be valid for.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Remote inputs: the TLS server name to send.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Print the verified chain.
    #[arg(long)]
    pub verbose: bool,
}

// `certificate needs-renewal` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "EXIT CODES (step's):\n  0    the certificate needs renewal\n  1    it does not\n  2    the file does not exist\n  255  any other error\n\n\
EXAMPLES:\n  $ ferrica certificate needs-renewal svc.crt && renew-it\n  $ ferrica certificate needs-renewal svc.crt --expires-in 8h\n  \
$ ferrica certificate needs-renewal svc.crt --expires-in 75%"
)]
pub struct NeedsRenewalArgs {
    /// The certificate file or https://host[:port].
    pub input: String,
    /// Needs renewal when the time left is under this: a duration (`8h`) or a percentage of the lifetime (`75%`:
    /// less than 75% of the lifetime left). Default: more than 2/3 of the lifetime has elapsed.
    #[arg(long, value_name = "DURATION|PERCENT")]
    pub expires_in: Option<String>,
    /// Check every certificate in the file (renewal is needed if any needs it).
    #[arg(long)]
    pub bundle: bool,
    /// Say why.
    #[arg(long)]
    pub verbose: bool,
    /// Remote inputs: trusted roots.
    #[arg(long, value_name = "FILE|DIR")]
    pub roots: Option<String>,
    /// Remote inputs: the TLS server name.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
}

// `certificate bundle` flags.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The certificate.
    pub crt_file: String,
    /// The CA certificate(s).
    pub ca_file: String,
    /// Where to write the bundle.
    pub out_file: String,
    /// Overwrite OUT_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `certificate format` flags.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// A certificate, CSR or key in PEM or DER (`-` = stdin).
    pub input: String,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Overwrite --out.
    #[arg(short, long)]
    pub force: bool,
}

// `certificate key` flags.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// A certificate, CSR or key (`-` = stdin).
    pub input: String,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// File with the password, when the input is an encrypted private key.
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Overwrite --out.
    #[arg(short, long)]
    pub force: bool,
}

/// What `certificate sign` makes of a CSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignProfile {
    /// A TLS leaf (the default): digitalSignature (+keyEncipherment for RSA), serverAuth + clientAuth.
    Leaf,
    /// An intermediate CA (pathlen 0 unless --path-len).
    IntermediateCa,
    /// The CSR's own subject, SANs and requested key usages, but never a CA and never keyCertSign/cRLSign.
    Csr,
}

const SIGN_EXAMPLES: &str = "\
EXAMPLES:
  Sign a CSR as a TLS leaf valid for 90 days:
    $ ferrica certificate sign svc.csr int.crt int.key --password-file int.pw --not-after 90d > svc.crt

  Sign a sub-CA limited to one domain and a private network:
    $ ferrica certificate sign sub.csr root.crt root.key --profile intermediate-ca \\
        --permit-dns .lab.example --permit-ip 10.20.0.0/16 --out sub.crt

  Use a template with variables:
    $ ferrica certificate sign svc.csr int.crt int.key --template templates/leaf-with-ou.json \\
        --set team=payments --out svc.crt

What the CSR asks for is never trusted: its subject and SANs are copied (to a template's variables as well),
but the CA flag, key usages and extensions come from the profile or the template.
";

// `certificate sign` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("{SIGN_EXAMPLES}\n{EXIT_CODES}"))]
pub struct SignArgs {
    /// The certificate signing request (PEM or DER; `-` = stdin).
    pub csr_file: String,
    /// The issuer certificate.
    pub crt_file: String,
    /// The issuer private key.
    pub key_file: String,
    /// The kind of certificate.
    #[arg(long, value_enum, default_value = "leaf")]
    pub profile: SignProfile,
    /// Start of validity (RFC 3339 or a duration from now). Default: now.
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// End of validity. Default: 24h for leafs, 10 years for CAs; never after the issuer's notAfter.
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// File with the password of the issuer key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Do not add the subject common name to the SANs.
    #[arg(long)]
    pub omit_cn_san: bool,
    /// A JSON certificate template (see templates/README.md).
    #[arg(long, value_name = "FILE")]
    pub template: Option<String>,
    /// A template variable `key=value`, available as .Insecure.User.key (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A JSON object of template variables.
    #[arg(long, value_name = "FILE")]
    pub set_file: Option<String>,
    /// Write the certificate here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Append the issuer certificate.
    #[arg(long)]
    pub bundle: bool,
    /// Overwrite --out.
    #[arg(short, long)]
    pub force: bool,
    /// CA shape and extension flags.
    #[command(flatten)]
    pub ext: ExtensionArgs,
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

// `certificate create` flags.
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
    /// CA shape and extension flags.
    #[command(flatten)]
    pub ext: ExtensionArgs,
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

// `certificate inspect` flags.
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
    /// File with the password of a PKCS#12 input.
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
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

// `certificate fingerprint` flags.
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
