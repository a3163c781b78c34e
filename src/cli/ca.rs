//! `ferrica ca ...`

use clap::{Args, Subcommand};

use super::{EXIT_CODES, KeyTypeArgs};

/// `ferrica ca` subcommands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a PKI for the online CA under $FERRICA_PATH: root, intermediate, a JWK provisioner, ca.json.
    Init(Box<InitArgs>),
}

/// `ca init` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("WRITES (under $FERRICA_PATH, default ~/.ferrica; see `ferrica path`):\n  \
certs/root_ca.crt  certs/intermediate_ca.crt  secrets/root_ca_key  secrets/intermediate_ca_key (0600, encrypted)\n  \
config/ca.json (step-ca's schema)  config/defaults.json (ca-url, fingerprint, root)  db/\n\n\
The root fingerprint is printed on stdout.\n\n\
EXAMPLES:\n  Non-interactive, as in CI (the password is piped in; the provisioner key reuses it):\n    \
$ echo \"$PASS\" | FERRICA_PATH=$PWD/pki ferrica ca init --name Lab --dns ca.lab.internal --address :9000 \\\n        \
--provisioner ci@lab.internal\n\n  An RSA PKI (step cannot):\n    \
$ ferrica ca init --name Lab --dns ca.lab.internal --provisioner ci --kty RSA --size 3072 --password-file pw\n\n  \
From an existing root:\n    $ ferrica ca init --name Lab --dns ca.lab.internal --provisioner ci --root root.crt --key root.key \\\n        \
--key-password-file root.pw --password-file pw\n\n{EXIT_CODES}"))]
pub struct InitArgs {
    /// The PKI name (root \"<name> Root CA\", intermediate \"<name> Intermediate CA\").
    #[arg(long)]
    pub name: Option<String>,
    /// A DNS name or IP of the CA (repeatable).
    #[arg(long)]
    pub dns: Vec<String>,
    /// The listen address of `ferrica serve`.
    #[arg(long, default_value = ":9000")]
    pub address: String,
    /// The name of the first JWK provisioner (e.g. an email).
    #[arg(long)]
    pub provisioner: Option<String>,
    /// File with the password that encrypts the root and intermediate keys (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// File with the password of the provisioner key (default: the CA key password).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_PROVISIONER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub provisioner_password_file: Option<String>,
    /// Use this existing root certificate (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub root: Option<String>,
    /// The key of --root.
    #[arg(long, value_name = "FILE", requires = "root")]
    pub key: Option<String>,
    /// File with the password of --key.
    #[arg(long, value_name = "FILE")]
    pub key_password_file: Option<String>,
    /// Key type of the new keys (RSA works too).
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Add an ACME provisioner named "acme".
    #[arg(long)]
    pub acme: bool,
    /// Write no db stanza.
    #[arg(long)]
    pub no_db: bool,
    /// Replace an existing PKI under $FERRICA_PATH.
    #[arg(short, long)]
    pub force: bool,
}
