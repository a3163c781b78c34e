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
    /// List, add, update and remove provisioners in ca.json.
    #[command(subcommand)]
    Provisioner(ProvisionerCommand),
}

/// `ca provisioner` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProvisionerCommand {
    /// Print the provisioners as JSON.
    List(ConfigArg),
    /// Add a provisioner.
    Add(Box<ProvisionerAddArgs>),
    /// Change a provisioner's claims or policy.
    Update(Box<ProvisionerUpdateArgs>),
    /// Remove a provisioner.
    Remove(ProvisionerRemoveArgs),
}

/// Where ca.json is.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The CA configuration (default: $FERRICA_PATH/config/ca.json).
    #[arg(long, value_name = "FILE")]
    pub ca_config: Option<String>,
}

/// Claims and policy flags for `provisioner add|update`.
#[derive(Debug, Clone, Args)]
pub struct ProvisionerOptions {
    /// Shortest certificate lifetime allowed (e.g. 5m).
    #[arg(long, value_name = "DURATION")]
    pub x509_min_dur: Option<String>,
    /// Longest certificate lifetime allowed (e.g. 720h).
    #[arg(long, value_name = "DURATION")]
    pub x509_max_dur: Option<String>,
    /// Lifetime when the request names none.
    #[arg(long, value_name = "DURATION")]
    pub x509_default_dur: Option<String>,
    /// Refuse renewals of this provisioner's certificates (`--disable-renewal=false` to allow again).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub disable_renewal: Option<bool>,
    /// Allow renewing expired certificates (`=false` to turn off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_renewal_after_expiry: Option<bool>,
    /// Policy: allow DNS names matching this (e.g. *.lab.internal; repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub allow_dns: Vec<String>,
    /// Policy: deny DNS names matching this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_dns: Vec<String>,
    /// Policy: allow IPs in this range.
    #[arg(long, value_name = "CIDR")]
    pub allow_ip: Vec<String>,
    /// Policy: deny IPs in this range.
    #[arg(long, value_name = "CIDR")]
    pub deny_ip: Vec<String>,
    /// Policy: allow emails matching this (e.g. @lab.internal).
    #[arg(long, value_name = "PATTERN")]
    pub allow_email: Vec<String>,
    /// Policy: deny emails matching this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_email: Vec<String>,
    /// Policy: allow URIs whose host matches this.
    #[arg(long, value_name = "PATTERN")]
    pub allow_uri: Vec<String>,
    /// Policy: deny URIs whose host matches this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_uri: Vec<String>,
    /// Policy: allow wildcard DNS names (`=false` to forbid).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_wildcard_names: Option<bool>,
}

/// `ca provisioner add` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "EXAMPLES:\n  $ ferrica ca provisioner add ci@lab.internal --type JWK --create --password-file prov.pw \\\n      \
--x509-max-dur 720h --allow-dns '*.lab.internal'\n  $ ferrica ca provisioner add acme --type ACME\n  \
$ ferrica ca provisioner add hosts --type X5C --x5c-roots host-roots.crt"
)]
pub struct ProvisionerAddArgs {
    /// The provisioner name.
    pub name: String,
    /// JWK, ACME or X5C.
    #[arg(long = "type", value_name = "TYPE", default_value = "JWK")]
    pub kind: String,
    /// JWK: create a new key pair (the private key is stored encrypted as encryptedKey).
    #[arg(long, conflicts_with = "public_key")]
    pub create: bool,
    /// JWK: use this public key (JWK or PEM); tokens are signed with its private key elsewhere.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<String>,
    /// JWK --create: file with the password of the new key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// X5C: the roots that client certificates must chain to.
    #[arg(long, value_name = "FILE")]
    pub x5c_roots: Option<String>,
    /// Claims and policy.
    #[command(flatten)]
    pub opts: ProvisionerOptions,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `ca provisioner update` flags.
#[derive(Debug, Args)]
pub struct ProvisionerUpdateArgs {
    /// The provisioner name.
    pub name: String,
    /// Claims and policy.
    #[command(flatten)]
    pub opts: ProvisionerOptions,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `ca provisioner remove` flags.
#[derive(Debug, Args)]
pub struct ProvisionerRemoveArgs {
    /// The provisioner name.
    pub name: String,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
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
