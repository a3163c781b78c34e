//! `ferrica crypto ...`

use clap::{Args, Subcommand, ValueEnum};

use super::{EXIT_CODES, KeyTypeArgs};
use crate::pki::fingerprint::FingerprintFormat;

/// `ferrica crypto` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CryptoCommand {
    /// Create a key pair: PUB_FILE (PEM public key) and PRIV_FILE (encrypted PKCS#8).
    Keypair(KeypairArgs),
    /// Change the password of a PEM key or an encrypted JWK.
    ChangePass(ChangePassArgs),
    /// Convert keys, print public keys and fingerprints.
    #[command(subcommand)]
    Key(KeyCommand),
    /// JSON Web Keys: create, public, thumbprint, keyset.
    #[command(subcommand)]
    Jwk(JwkCommand),
    /// JSON Web Tokens: sign, verify, inspect.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// JSON Web Signatures over arbitrary payloads: sign, verify, inspect.
    #[command(subcommand)]
    Jws(JwsCommand),
    /// Password-based JSON Web Encryption (PBES2): encrypt, decrypt.
    #[command(subcommand)]
    Jwe(JweCommand),
    /// Hash files and directories: digest, compare.
    #[command(subcommand)]
    Hash(HashCommand),
    /// Print random bytes.
    Rand(RandArgs),
}

// Flags for a new private key's password.
#[derive(Debug, Clone, Args)]
pub struct NewKeyPasswordArgs {
    /// File with the password that encrypts the new key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Write the private key unencrypted (requires --insecure).
    #[arg(long)]
    pub no_password: bool,
    /// Allow insecure choices (--no-password).
    #[arg(long)]
    pub insecure: bool,
    /// Overwrite existing files.
    #[arg(short, long)]
    pub force: bool,
}

// `crypto keypair` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ ferrica crypto keypair key.pub key.priv --password-file pw\n  $ ferrica crypto keypair key.pub key.priv --kty OKP --crv Ed25519 --no-password --insecure\n\n{EXIT_CODES}"))]
pub struct KeypairArgs {
    /// Where to write the public key (PEM).
    pub pub_file: String,
    /// Where to write the private key (PKCS#8 PEM, encrypted unless --no-password).
    pub priv_file: String,
    /// Key type.
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Password flags.
    #[command(flatten)]
    pub pw: NewKeyPasswordArgs,
}

// `crypto change-pass` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ ferrica crypto change-pass key.priv --password-file old.pw --new-password-file new.pw --force\n  $ ferrica crypto change-pass jwk.priv.json --out new.json --password-file old.pw --new-password-file new.pw\n\n{EXIT_CODES}"))]
pub struct ChangePassArgs {
    /// The key: PEM/DER private key or an encrypted JWK.
    pub key_file: String,
    /// Write here instead of replacing KEY_FILE (replacing it needs --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// File with the current password (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// File with the new password (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_NEW_PASSWORD_FILE", hide_env_values = true)]
    pub new_password_file: Option<String>,
    /// Write the key unencrypted (requires --insecure).
    #[arg(long)]
    pub no_password: bool,
    /// Allow insecure choices (--no-password).
    #[arg(long)]
    pub insecure: bool,
    /// Overwrite existing files (also needed to replace KEY_FILE in place).
    #[arg(short, long)]
    pub force: bool,
}

// Where a key is read from, and how to decrypt it.
#[derive(Debug, Clone, Args)]
pub struct KeyInputArgs {
    /// The key: PEM/DER (private, public or a certificate), a JWK, an encrypted JWK, or a JWK Set (with --kid).
    pub key_file: String,
    /// File with the password of an encrypted key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
}

/// `crypto key` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KeyCommand {
    /// Convert a key between PEM, DER, PKCS#8, SEC1/PKCS#1, JWK and OpenSSH (public).
    Format(KeyFormatArgs),
    /// Print the public key of a private key, certificate or JWK.
    Public(KeyPublicArgs),
    /// Print the SHA-256 fingerprint of a public key (SubjectPublicKeyInfo), or its JWK thumbprint.
    Fingerprint(KeyFingerprintArgs),
}

/// Output form of `crypto key format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyForm {
    /// PEM (default): PKCS#8 or SEC1/PKCS#1 for private keys, SubjectPublicKeyInfo for public keys.
    Pem,
    /// DER of the same structures.
    Der,
    /// A JWK (private JWKs are encrypted unless --no-password --insecure).
    Jwk,
    /// An OpenSSH public key line.
    Ssh,
}

// `crypto key format` flags.
#[derive(Debug, Args)]
pub struct KeyFormatArgs {
    /// The key to read.
    #[command(flatten)]
    pub input: KeyInputArgs,
    /// Output form.
    #[arg(long, value_enum, default_value = "pem")]
    pub to: KeyForm,
    /// For private keys: PKCS#8 (default for encrypted output and Ed25519) instead of SEC1/PKCS#1.
    #[arg(long)]
    pub pkcs8: bool,
    /// Write only the public key.
    #[arg(long)]
    pub public: bool,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// File with the password that encrypts the output private key.
    #[arg(long, value_name = "FILE", env = "FERRICA_NEW_PASSWORD_FILE", hide_env_values = true)]
    pub new_password_file: Option<String>,
    /// Write a private key unencrypted (requires --insecure).
    #[arg(long)]
    pub no_password: bool,
    /// Allow insecure choices.
    #[arg(long)]
    pub insecure: bool,
    /// Overwrite --out.
    #[arg(short, long)]
    pub force: bool,
}

// `crypto key public` flags.
#[derive(Debug, Args)]
pub struct KeyPublicArgs {
    /// The key to read.
    #[command(flatten)]
    pub input: KeyInputArgs,
}

// `crypto key fingerprint` flags.
#[derive(Debug, Args)]
pub struct KeyFingerprintArgs {
    /// The key to read.
    #[command(flatten)]
    pub input: KeyInputArgs,
    /// Encoding of the SHA-256 fingerprint.
    #[arg(long, value_enum, default_value = "hex")]
    pub format: FingerprintFormat,
    /// Print the RFC 7638 JWK thumbprint (base64url) instead.
    #[arg(long)]
    pub thumbprint: bool,
}

/// `crypto jwk` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum JwkCommand {
    /// Create a JWK pair: PUB_FILE (public JWK) and PRIV_FILE (private JWK, encrypted as a JWE).
    Create(Box<JwkCreateArgs>),
    /// Read a JWK on stdin and print its public part.
    Public(JwkStdinArgs),
    /// Read a JWK on stdin and print its RFC 7638 thumbprint.
    Thumbprint(JwkStdinArgs),
    /// Manage a JWK Set file.
    #[command(subcommand)]
    Keyset(KeysetCommand),
}

// `crypto jwk create` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ ferrica crypto jwk create jwk.pub.json jwk.priv.json --password-file pw\n  $ ferrica crypto jwk create hs.pub.json hs.json --kty oct --size 256 --no-password --insecure\n  $ ferrica crypto jwk create k.pub.json k.json --from-pem key.pem --password-file pw\n\n{EXIT_CODES}"))]
pub struct JwkCreateArgs {
    /// Where to write the public JWK (for oct keys: the key id only is not useful, so it holds the same key).
    pub pub_file: String,
    /// Where to write the private JWK.
    pub priv_file: String,
    /// Key type: EC (default), OKP, RSA or oct.
    #[arg(long, value_name = "KTY")]
    pub kty: Option<String>,
    /// Curve: P-256 (default), P-384, P-521, Ed25519.
    #[arg(long, visible_alias = "curve", value_name = "CURVE")]
    pub crv: Option<String>,
    /// Size in bits: RSA 2048 (default), 3072, 4096; oct 256 (default) or more.
    #[arg(long, value_name = "BITS")]
    pub size: Option<usize>,
    /// The alg member (default: ES256/ES384/ES512, EdDSA, RS256 or HS256 by key type).
    #[arg(long)]
    pub alg: Option<String>,
    /// The use member: sig (default) or enc.
    #[arg(long = "use", value_name = "USE", default_value = "sig")]
    pub use_: String,
    /// The kid member (default: the RFC 7638 thumbprint).
    #[arg(long, allow_hyphen_values = true)]
    pub kid: Option<String>,
    /// Make the JWK from this PEM/DER private key instead of generating one.
    #[arg(long, value_name = "FILE")]
    pub from_pem: Option<String>,
    /// File with the password of --from-pem, when it is encrypted.
    #[arg(long, value_name = "FILE")]
    pub from_pem_password_file: Option<String>,
    /// Password flags.
    #[command(flatten)]
    pub pw: NewKeyPasswordArgs,
}

// Flags of the JWK commands that read stdin.
#[derive(Debug, Args)]
pub struct JwkStdinArgs {
    /// File with the password, when the JWK on stdin is encrypted (a file, never stdin: stdin holds the JWK).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
}

/// `crypto jwk keyset` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KeysetCommand {
    /// Add the JWK on stdin to JWKS_FILE (created if missing).
    Add(KeysetFileArgs),
    /// Remove the key with --kid from JWKS_FILE.
    Remove(KeysetKidArgs),
    /// List the key ids in JWKS_FILE.
    List(KeysetFileArgs),
    /// Print the key with --kid from JWKS_FILE.
    Find(KeysetKidArgs),
}

// A JWK Set file.
#[derive(Debug, Args)]
pub struct KeysetFileArgs {
    /// The JWK Set file.
    pub jwks_file: String,
}

// A JWK Set file and a kid.
#[derive(Debug, Args)]
pub struct KeysetKidArgs {
    /// The JWK Set file.
    pub jwks_file: String,
    /// The key id.
    #[arg(long, allow_hyphen_values = true)]
    pub kid: String,
}

/// `crypto jwt` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum JwtCommand {
    /// Sign a JWT.
    Sign(JwtSignArgs),
    /// Verify a JWT and print its payload.
    Verify(JwtVerifyArgs),
    /// Print a JWT's header, payload and signature without verifying (requires --insecure).
    Inspect(InspectTokenArgs),
}

// The signing key (`--key` or `--jwks` + `--kid`).
#[derive(Debug, Clone, Args)]
pub struct SignKeyArgs {
    /// The signing key: PEM/DER private key, JWK or encrypted JWK.
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// A JWK Set to take the key from (with --kid).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<String>,
    /// The key id (selects from --jwks; sets the kid header).
    #[arg(long, allow_hyphen_values = true)]
    pub kid: Option<String>,
    /// The algorithm (default: the key's alg, else its type's default).
    #[arg(long)]
    pub alg: Option<String>,
    /// File with the password of an encrypted key.
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
}

// `crypto jwt sign` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ TOKEN=$(ferrica crypto jwt sign --key jwk.json --iss ci@example.test --aud https://ca/1.0/sign \\\n      --sub svc.example.test --exp $(( $(date +%s) + 300 )))\n  $ echo '{{\"role\":\"ci\"}}' | ferrica crypto jwt sign - --key key.pem --subtle\n\n{EXIT_CODES}"))]
pub struct JwtSignArgs {
    /// Extra claims as a JSON object: a file, or `-` for stdin (stdin is not read otherwise, so that it can carry
    /// the key password).
    pub payload: Option<String>,
    /// The signing key.
    #[command(flatten)]
    pub key: SignKeyArgs,
    /// Issuer (iss).
    #[arg(long)]
    pub iss: Option<String>,
    /// Audience (aud), repeatable.
    #[arg(long)]
    pub aud: Vec<String>,
    /// Subject (sub).
    #[arg(long)]
    pub sub: Option<String>,
    /// Expiry (exp): unix seconds, or a duration from now (`5m`).
    #[arg(long, allow_hyphen_values = true)]
    pub exp: Option<String>,
    /// Not before (nbf): unix seconds or a duration from now. Default: now.
    #[arg(long, allow_hyphen_values = true)]
    pub nbf: Option<String>,
    /// Issued at (iat): unix seconds or a duration from now. Default: now.
    #[arg(long, allow_hyphen_values = true)]
    pub iat: Option<String>,
    /// Token id (jti). Default: 64 random hex characters.
    #[arg(long)]
    pub jti: Option<String>,
    /// An extra header member `name=value` (repeatable; JSON values are parsed).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// A certificate (chain) to put in the x5c header; sign with --x5c-key.
    #[arg(long, value_name = "FILE")]
    pub x5c_cert: Option<String>,
    /// The private key of --x5c-cert.
    #[arg(long, value_name = "FILE")]
    pub x5c_key: Option<String>,
    /// Do not put the key's kid in the header.
    #[arg(long)]
    pub no_kid: bool,
    /// Allow tokens without iss, aud, sub or a future exp.
    #[arg(long)]
    pub subtle: bool,
}

// The verifying key.
#[derive(Debug, Clone, Args)]
pub struct VerifyKeyArgs {
    /// The key: a public or private key in PEM/DER, a certificate, a JWK or an encrypted JWK.
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// A JWK Set (the token's kid, or --kid, selects the key).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<String>,
    /// The key id to use from --jwks.
    #[arg(long, allow_hyphen_values = true)]
    pub kid: Option<String>,
    /// The only algorithm to accept.
    #[arg(long)]
    pub alg: Option<String>,
    /// File with the password of an encrypted key.
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
}

// `crypto jwt verify` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXIT CODES:\n  0  the token is valid (its payload is printed)\n  1  the token is invalid (bad signature, claims or algorithm)\n  2/3 usage or input errors\n\nEXAMPLES:\n  $ echo $TOKEN | ferrica crypto jwt verify --key jwk.pub.json --iss ci@example.test --aud https://ca/1.0/sign\n"))]
pub struct JwtVerifyArgs {
    /// The token: a file, or `-` / nothing for stdin.
    pub token: Option<String>,
    /// The key.
    #[command(flatten)]
    pub key: VerifyKeyArgs,
    /// Required issuer.
    #[arg(long)]
    pub iss: Option<String>,
    /// Accepted audience (repeatable).
    #[arg(long)]
    pub aud: Vec<String>,
    /// Do not check exp.
    #[arg(long)]
    pub no_exp_check: bool,
    /// Allow verifying without --iss and --aud.
    #[arg(long)]
    pub subtle: bool,
}

// `jwt inspect` / `jws inspect` flags.
#[derive(Debug, Args)]
pub struct InspectTokenArgs {
    /// The token: a file, or `-` / nothing for stdin.
    pub token: Option<String>,
    /// Acknowledge that nothing is verified (required).
    #[arg(long)]
    pub insecure: bool,
}

/// `crypto jws` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum JwsCommand {
    /// Sign a payload (file or stdin) into a compact JWS.
    Sign(JwsSignArgs),
    /// Verify a compact JWS and print its payload.
    Verify(JwsVerifyArgs),
    /// Print a JWS's header, payload and signature without verifying (requires --insecure).
    Inspect(InspectTokenArgs),
}

// `crypto jws sign` flags.
#[derive(Debug, Args)]
pub struct JwsSignArgs {
    /// The payload: a file, or `-` / nothing for stdin.
    pub payload: Option<String>,
    /// The signing key.
    #[command(flatten)]
    pub key: SignKeyArgs,
    /// An extra header member `name=value` (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// The typ header.
    #[arg(long)]
    pub typ: Option<String>,
    /// Do not put the key's kid in the header.
    #[arg(long)]
    pub no_kid: bool,
}

// `crypto jws verify` flags.
#[derive(Debug, Args)]
pub struct JwsVerifyArgs {
    /// The JWS: a file, or `-` / nothing for stdin.
    pub token: Option<String>,
    /// The key.
    #[command(flatten)]
    pub key: VerifyKeyArgs,
}

/// `crypto jwe` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum JweCommand {
    /// Encrypt data (a file or stdin) with a password.
    Encrypt(JweEncryptArgs),
    /// Decrypt a JWE (compact or JSON; a file or stdin) with a password.
    Decrypt(JweDecryptArgs),
}

// `crypto jwe encrypt` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:\n  $ echo secret | ferrica crypto jwe encrypt --password-file pw > secret.jwe\n  $ ferrica crypto jwe decrypt secret.jwe --password-file pw\n\n{EXIT_CODES}"))]
pub struct JweEncryptArgs {
    /// The data: a file, or `-` / nothing for stdin.
    pub input: Option<String>,
    /// File with the password (not stdin when the data comes from stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Key management: PBES2-HS256+A128KW (default), PBES2-HS384+A192KW, PBES2-HS512+A256KW.
    #[arg(long, default_value = "PBES2-HS256+A128KW")]
    pub alg: String,
    /// Content encryption: A256GCM (default), A128GCM, A192GCM, A128CBC-HS256, A192CBC-HS384, A256CBC-HS512.
    #[arg(long, default_value = "A256GCM")]
    pub enc: String,
    /// PBKDF2 iterations (1000..=1000000).
    #[arg(long, default_value_t = crate::jose::jwe::DEFAULT_P2C)]
    pub p2c: u32,
    /// The cty header.
    #[arg(long)]
    pub cty: Option<String>,
    /// The typ header.
    #[arg(long)]
    pub typ: Option<String>,
    /// Write the JSON serialization instead of the compact one.
    #[arg(long)]
    pub json: bool,
}

// `crypto jwe decrypt` flags.
#[derive(Debug, Args)]
pub struct JweDecryptArgs {
    /// The JWE: a file, or `-` / nothing for stdin.
    pub input: Option<String>,
    /// File with the password (not stdin when the JWE comes from stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
}

/// `crypto hash` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum HashCommand {
    /// Print the digest of files and directories (`HASH  PATH` lines).
    Digest(HashDigestArgs),
    /// Check a file or directory against a digest: exit 0 if it matches, 1 if not.
    Compare(HashCompareArgs),
}

// Hash algorithm flags.
#[derive(Debug, Clone, Args)]
pub struct HashAlgArgs {
    /// sha256 (default), sha224, sha384, sha512, sha512-256; sha1 and md5 need --insecure.
    #[arg(long, default_value = "sha256")]
    pub alg: String,
    /// Allow sha1 and md5.
    #[arg(long)]
    pub insecure: bool,
}

// `crypto hash digest` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "A directory's digest is the hash of, for every file below it in byte order of the\n\
relative path: the path, a NUL byte, the file's digest (hex) and a newline.\n\nEXAMPLES:\n  $ ferrica crypto hash digest ca.crt certs/\n"
)]
pub struct HashDigestArgs {
    /// Files or directories (`-` = stdin).
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// The algorithm.
    #[command(flatten)]
    pub alg: HashAlgArgs,
}

// `crypto hash compare` flags.
#[derive(Debug, Args)]
pub struct HashCompareArgs {
    /// The expected digest (hex).
    pub hash: String,
    /// The file or directory.
    pub path: String,
    /// The algorithm.
    #[command(flatten)]
    pub alg: HashAlgArgs,
}

/// Output encoding of `crypto rand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RandFormat {
    /// Lowercase hex.
    Hex,
    /// Standard base64.
    Base64,
    /// URL-safe base64 without padding.
    Base64UrlRaw,
    /// Letters and digits.
    Alphanumeric,
}

// `crypto rand` flags.
#[derive(Debug, Args)]
pub struct RandArgs {
    /// How many random bytes (characters for alphanumeric).
    #[arg(default_value_t = 32)]
    pub size: usize,
    /// Output encoding.
    #[arg(long, value_enum, default_value = "hex")]
    pub format: RandFormat,
}
