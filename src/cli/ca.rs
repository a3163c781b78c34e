//! `ferrica ca ...`

use clap::{Args, Subcommand};

use super::{EXIT_CODES, KeyTypeArgs};

/// `ferrica ca` subcommands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a PKI for the online CA under $FERRICA_PATH: root, intermediate, a JWK provisioner, ca.json.
    Init(Box<InitArgs>),
    /// Mint a one-time token (OTT) for /sign, /revoke, /renew or /rekey with a JWK provisioner.
    Token(Box<TokenArgs>),
}

/// `ca token` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "CLAIMS (as step): iss = provisioner name, aud = https://<ca>/1.0/sign (or /revoke, /renew,\n\
/rekey), sub, sans (default [sub]), sha = root fingerprint, jti = 64 random hex, iat = nbf = now, exp = now+5m;\n\
header kid = the provisioner's kid.\n\n\
EXAMPLES:\n  $ TOKEN=$(ferrica ca token svc.lab.internal --offline --password-file prov.pw --san svc.lab.internal --san 10.0.0.5)\n  \
$ ferrica ca token 1234567890 --revoke --offline --provisioner ci@lab.internal --password-file prov.pw\n\n\
Only --offline works today: minting against a running CA needs `ferrica serve`, which is not built yet."
)]
pub struct TokenArgs {
    /// The subject: the certificate's common name (or the serial with --revoke).
    pub subject: String,
    /// Sign locally with the provisioner key from ca.json (or --key).
    #[arg(long)]
    pub offline: bool,
    /// The CA configuration (default: $FERRICA_PATH/config/ca.json).
    #[arg(long, value_name = "FILE")]
    pub ca_config: Option<String>,
    /// The provisioner name (default: the only JWK provisioner).
    #[arg(long, visible_alias = "issuer")]
    pub provisioner: Option<String>,
    /// A private JWK or PEM key to sign with instead of the provisioner's encryptedKey (with --kid and --issuer).
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// The key id for --key.
    #[arg(long)]
    pub kid: Option<String>,
    /// File with the provisioner key password (`-` = stdin).
    #[arg(
        long,
        visible_alias = "provisioner-password-file",
        value_name = "FILE",
        env = "FERRICA_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub password_file: Option<String>,
    /// A SAN the certificate may have (repeatable; default: the subject).
    #[arg(long)]
    pub san: Vec<String>,
    /// The CA URL (default: defaults.json's ca-url, else the first dnsName and the address port).
    #[arg(long, env = "FERRICA_CA_URL")]
    pub ca_url: Option<String>,
    /// The root certificate, for the sha claim (default: ca.json's root).
    #[arg(long, env = "FERRICA_ROOT", value_name = "FILE")]
    pub root: Option<String>,
    /// Token start: RFC 3339 or a duration from now (default: now).
    #[arg(long, allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// Token end: RFC 3339 or a duration from now (default: 5m; 10s to 1h after the start).
    #[arg(long, allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// A revocation token (subject = the serial).
    #[arg(long, conflicts_with_all = ["renew", "rekey"])]
    pub revoke: bool,
    /// A renewal token.
    #[arg(long, conflicts_with = "rekey")]
    pub renew: bool,
    /// A rekey token.
    #[arg(long)]
    pub rekey: bool,
    /// Write the token here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<String>,
    /// Overwrite --output-file.
    #[arg(short, long)]
    pub force: bool,
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
