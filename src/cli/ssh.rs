//! `ferrica ssh ...`: SSH user and host certificates, in step's grammar.

use clap::{Args, Subcommand};

use super::{EXIT_CODES, KeyTypeArgs};

/// `ssh` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SshCommand {
    /// Get an SSH certificate: make a key pair (or, with --sign, take a public key) and have the CA sign it.
    /// Writes KEY_FILE, KEY_FILE.pub and KEY_FILE-cert.pub.
    #[command(after_long_help = SSH_CERTIFICATE_HELP)]
    Certificate(Box<SshCertificateArgs>),
    /// Show an SSH certificate as `ssh-keygen -L` does (`--format json` for scripts).
    Inspect(SshInspectArgs),
    /// Print the SHA256 fingerprint of an SSH public key or of a certificate's key.
    Fingerprint(SshFingerprintArgs),
    /// Revoke an SSH certificate by serial: it is listed in the CA's KRL (`ssh krl`) and cannot renew.
    Revoke(SshRevokeArgs),
    /// Download the CA's KRL (OpenSSH's key revocation list) for sshd's RevokedKeys.
    Krl(SshKrlArgs),
    /// Renew a host certificate: an SSHPOP token signed by its key, the same key and principals, a fresh lifetime.
    Renew(SshRenewArgs),
    /// Rekey a host certificate: as renew, for a new key pair (written to --out, or over KEY_FILE with --force).
    Rekey(SshRenewArgs),
    /// Configure ssh (or with --host, sshd) to trust the CA: the CA's templates written (known_hosts
    /// `@cert-authority`, an ssh_config include; sshd_config lines, the user CA key, the KRL), or printed.
    Config(SshConfigArgs),
    /// Exit 0 if the certificate needs renewal (past --expires-in before its end, default 2/3 of its life), else 1.
    NeedsRenewal(SshNeedsRenewalArgs),
    /// List the hosts the CA has valid certificates for.
    Hosts(SshHostsArgs),
    /// Exit 0 if the CA has a valid host certificate for HOSTNAME, else 1.
    CheckHost(SshCheckHostArgs),
}

// `ssh config` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshConfigArgs {
    /// The host side: sshd_config lines, the user CA key and the KRL (default: the user side).
    #[arg(long)]
    pub host: bool,
    /// Only print the CA keys to trust (host CA keys for users; with --host, user CA keys).
    #[arg(long)]
    pub roots: bool,
    /// Template data, e.g. --set Certificate=ssh_host_ed25519_key-cert.pub --set Key=ssh_host_ed25519_key.
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print what would be written instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

// `ssh needs-renewal` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshNeedsRenewalArgs {
    /// The certificate (`-cert.pub`).
    pub crt_file: String,
    /// A duration (`4h`) or a percentage of the lifetime (`50%`) before the end.
    #[arg(long, value_name = "DURATION|PERCENT")]
    pub expires_in: Option<String>,
}

// `ssh hosts` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshHostsArgs {
    /// `text` (one host name per line) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

// `ssh check-host` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshCheckHostArgs {
    /// The host name.
    pub hostname: String,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

// `ssh renew` and `ssh rekey` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshRenewArgs {
    /// The host certificate (`-cert.pub`).
    pub crt_file: String,
    /// Its private key (OpenSSH or PEM).
    pub key_file: String,
    /// renew: where to write the new certificate (default: over CRT_FILE, with --force); rekey: the new private key
    /// (and OUT.pub, OUT-cert.pub; default: over KEY_FILE, with --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// File with KEY_FILE's password (`-` = stdin); rekey encrypts the new key with it too.
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// rekey: leave the new key unencrypted (with --insecure).
    #[arg(long, requires = "insecure")]
    pub no_password: bool,
    /// Allow --no-password.
    #[arg(long)]
    pub insecure: bool,
    /// The SSHPOP provisioner (default: the CA's only one).
    #[arg(long, value_name = "NAME")]
    pub provisioner: Option<String>,
    /// Replace existing files.
    #[arg(short, long)]
    pub force: bool,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

// Where the CA is (`ssh` client commands).
#[derive(Debug, Args)]
pub struct SshCaArgs {
    /// The CA URL (default: defaults.json's ca-url).
    #[arg(long, env = "FERRICA_CA_URL", value_name = "URL")]
    pub ca_url: Option<String>,
    /// The root the CA's TLS certificate must chain to (default: defaults.json's root).
    #[arg(long, env = "FERRICA_ROOT", value_name = "FILE")]
    pub root: Option<String>,
}

// `ssh revoke` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshRevokeArgs {
    /// The certificate's serial (decimal, as `ssh-keygen -L` shows it).
    pub serial: String,
    /// A revocation token from `ferrica ca token SERIAL --ssh --revoke` instead of --provisioner.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The JWK provisioner to mint the token with.
    #[arg(long, visible_alias = "issuer", value_name = "NAME")]
    pub provisioner: Option<String>,
    /// File with the provisioner key password (`-` = stdin).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_PROVISIONER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub provisioner_password_file: Option<String>,
    /// Why (free text).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// RFC 5280 reason code (0-10).
    #[arg(long = "reasonCode", visible_alias = "reason-code", default_value_t = 0)]
    pub reason_code: u8,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

// `ssh krl` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshKrlArgs {
    /// Where to write the KRL (`-` = stdout).
    pub file: String,
    /// Replace FILE.
    #[arg(short, long)]
    pub force: bool,
    /// The CA.
    #[command(flatten)]
    pub ca: SshCaArgs,
}

const SSH_CERTIFICATE_HELP: &str = "\
Online (default), a token for /ssh/sign is minted with --provisioner (its password from
--provisioner-password-file) unless --token is given. With --offline the CA keys in ca.json sign directly; their
password comes from --ca-password-file, else ca.json's \"password\".

Principals default to KEY_ID for a host, and for a user to KEY_ID's local part and KEY_ID (alice, alice@lab.test).
Lifetimes follow the provisioner's claims (user: default 16h, at most 24h; host: 30 days).

EXAMPLES:
  $ ferrica ssh certificate alice@lab.test id_ecdsa --provisioner ci@lab.test --provisioner-password-file pw
  $ ferrica ssh certificate web.lab.test ssh_host_ecdsa_key.pub --host --sign --offline --ca-password-file pw
";

// `ssh certificate` flags (its help text is SSH_CERTIFICATE_HELP, on the variant).
#[derive(Debug, Args)]
pub struct SshCertificateArgs {
    /// The key id (a user's email or name, a host's name); the default principal.
    pub key_id: String,
    /// The private key to write (or, with --sign, the public key to sign).
    pub key_file: String,
    /// A host certificate (default: user).
    #[arg(long)]
    pub host: bool,
    /// A principal (user or host name) the certificate is valid for (repeatable).
    #[arg(long, short = 'n', value_name = "NAME")]
    pub principal: Vec<String>,
    /// Sign the existing public key KEY_FILE instead of making a key pair.
    #[arg(long)]
    pub sign: bool,
    /// Start of validity: RFC 3339 or a duration from now (`-5m`).
    #[arg(long, value_name = "TIME|DURATION")]
    pub not_before: Option<String>,
    /// End of validity: RFC 3339 or a duration from now (`8h`).
    #[arg(long, value_name = "TIME|DURATION")]
    pub not_after: Option<String>,
    /// The JWK provisioner that vouches for the request (default: the only one that signs SSH).
    #[arg(long, visible_alias = "issuer", value_name = "NAME")]
    pub provisioner: Option<String>,
    /// File with the provisioner key password (`-` = stdin).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_PROVISIONER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub provisioner_password_file: Option<String>,
    /// A token from `ferrica ca token --ssh` instead of --provisioner (online only).
    #[arg(long, value_name = "TOKEN", conflicts_with = "offline")]
    pub token: Option<String>,
    /// File with the password that encrypts the new private key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Leave the new private key unencrypted (with --insecure).
    #[arg(long, requires = "insecure")]
    pub no_password: bool,
    /// Allow --no-password.
    #[arg(long)]
    pub insecure: bool,
    /// Key type of the new key pair.
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Sign with the CA keys named in ca.json instead of asking the CA.
    #[arg(long)]
    pub offline: bool,
    /// The CA configuration, for --offline (default: $FERRICA_PATH/config/ca.json).
    #[arg(long, value_name = "FILE", requires = "offline")]
    pub ca_config: Option<String>,
    /// With --offline: file with the SSH CA key's password (default: ca.json's "password").
    #[arg(long, value_name = "FILE", env = "FERRICA_CA_PASSWORD_FILE", hide_env_values = true)]
    pub ca_password_file: Option<String>,
    /// The CA (online).
    #[command(flatten)]
    pub ca: SshCaArgs,
    /// Do not add the key and certificate to the ssh-agent at $SSH_AUTH_SOCK.
    #[arg(long)]
    pub no_agent: bool,
    /// Replace existing files.
    #[arg(short, long)]
    pub force: bool,
}

// `ssh inspect` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshInspectArgs {
    /// The certificate (`-cert.pub`; `-` = stdin).
    pub crt_file: String,
    /// `text` (as `ssh-keygen -L`) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

// `ssh fingerprint` flags.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_CODES)]
pub struct SshFingerprintArgs {
    /// A public key (`.pub`) or certificate (`-cert.pub`); `-` = stdin.
    pub file: String,
}
