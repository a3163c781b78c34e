//! `crypto ...`: step's JOSE files, jwcrypto and PyJWT as independent implementations, openssl and ssh-keygen.

use std::path::Path;

use crate::common::*;

const AUD: &str = "https://127.0.0.1:9443/1.0/sign";

/// The project's test venv python (scripts/install-test-deps.sh makes it).
fn python(dir: &Path, script: &str, args: &[&str]) -> std::process::Output {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        py.display()
    );
    std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn steps_token_and_keys() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Thumbprint equals step's.
    let out = ferrica(dir)
        .args(["crypto", "jwk", "thumbprint"])
        .write_stdin(std::fs::read(step("jwk-plain.pub.json")).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        std::fs::read_to_string(step("jwk-plain.thumbprint")).unwrap().trim()
    );

    let verify = |token: &[u8], iss: &str, aud: &str, extra: &[&str]| {
        ferrica(dir)
            .args(["crypto", "jwt", "verify", "--key"])
            .arg(step("jwk-plain.pub.json"))
            .args(["--iss", iss, "--aud", aud])
            .args(extra)
            .write_stdin(token.to_vec())
            .output()
            .unwrap()
    };
    let token = std::fs::read_to_string(step("token.jwt")).unwrap();
    let token = token.trim();
    let ok = verify(token.as_bytes(), "ci@example.test", AUD, &[]);
    assert!(ok.status.success(), "{}", stderr_of(&ok));
    // step's shape: the verified token's header, payload and signature.
    let shown: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(shown["payload"]["sub"], "svc.example.test");
    assert_eq!(shown["header"]["alg"], "ES256");
    assert_eq!(shown["signature"], token.rsplit('.').next().unwrap());

    assert_clean_error(
        &verify(token.as_bytes(), "other@example.test", AUD, &[]),
        1,
        "invalid issuer",
    );
    assert_clean_error(
        &verify(token.as_bytes(), "ci@example.test", "https://evil/1.0/sign", &[]),
        1,
        "invalid audience",
    );
    // A flipped signature byte.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    raw[10] ^= 0x01;
    let flipped = format!(
        "{head}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw)
    );
    assert_clean_error(
        &verify(flipped.as_bytes(), "ci@example.test", AUD, &[]),
        1,
        "signature does not verify",
    );
    // alg: none.
    let payload = token.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{payload}.",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT"}"#
        )
    );
    assert_clean_error(&verify(none.as_bytes(), "ci@example.test", AUD, &[]), 1, "none");
    // A truncated token is an input error.
    assert_clean_error(
        &verify(&token.as_bytes()[..40], "ci@example.test", AUD, &[]),
        3,
        "3 dot-separated parts",
    );

    // An expired token, signed by us with step's (encrypted, p2c 100000) JWK.
    let out = ferrica(dir)
        .args(["crypto", "jwt", "sign", "--key"])
        .arg(step("jwk.priv.json"))
        .arg("--password-file")
        .arg(step("pw.txt"))
        .args([
            "--iss",
            "ci@example.test",
            "--aud",
            AUD,
            "--sub",
            "svc",
            "--exp",
            "-10m",
            "--subtle",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let expired = stdout(&out);
    let v = ferrica(dir)
        .args(["crypto", "jwt", "verify", "--key"])
        .arg(step("jwk.pub.json"))
        .args(["--iss", "ci@example.test", "--aud", AUD])
        .write_stdin(expired.clone())
        .output()
        .unwrap();
    assert_clean_error(&v, 1, "expired");
    ferrica(dir)
        .args(["crypto", "jwt", "verify", "--no-exp-check", "--key"])
        .arg(step("jwk.pub.json"))
        .args(["--iss", "ci@example.test", "--aud", AUD])
        .write_stdin(expired)
        .assert()
        .success();
    // HMAC with the public key as the secret is refused.
    let pubjwk = std::fs::read_to_string(step("jwk-plain.pub.json")).unwrap();
    let forged_head = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"alg":"HS256"}"#);
    let forged = format!("{forged_head}.{payload}.AAAA");
    assert_clean_error(
        &verify(forged.as_bytes(), "ci@example.test", AUD, &[]),
        1,
        "does not fit",
    );
    assert!(pubjwk.contains("ES256"));
}

#[test]
fn encrypted_jwk_decrypts_in_jwcrypto_and_back() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "jwk-secret\n");
    ferrica(dir)
        .args([
            "crypto",
            "jwk",
            "create",
            "k.pub.json",
            "k.priv.json",
            "--password-file",
            "pw",
        ])
        .assert()
        .success();
    let priv_text = std::fs::read_to_string(dir.join("k.priv.json")).unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::from_str::<serde_json::Value>(&priv_text).unwrap()["protected"]
                .as_str()
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "PBES2-HS256+A128KW");
    assert_eq!(header["enc"], "A256GCM");
    assert_eq!(header["cty"], "jwk+json");
    assert_eq!(header["p2c"], 600000);
    let script = r#"
import json, sys
import jwcrypto.jwa
from jwcrypto import jwe, jwk
jwcrypto.jwa.default_max_pbkdf2_iterations = 1000000
tok = jwe.JWE()
tok.deserialize(open(sys.argv[1]).read(), key=jwk.JWK.from_password("jwk-secret"))
key = jwk.JWK.from_json(tok.payload)
print(key.thumbprint())
"#;
    let out = python(dir, script, &["k.priv.json"]);
    assert!(
        out.status.success(),
        "jwcrypto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("k.pub.json")).unwrap()).unwrap();
    assert_eq!(
        stdout(&out).trim(),
        public["kid"].as_str().unwrap(),
        "kid is the RFC 7638 thumbprint"
    );
    // And the reverse: jwcrypto encrypts with a password, we decrypt.
    let script = r#"
from jwcrypto import jwe, jwk
from jwcrypto.common import json_encode
t = jwe.JWE(b"from jwcrypto", json_encode({"alg": "PBES2-HS512+A256KW", "enc": "A128CBC-HS256", "p2c": 4096}))
t.add_recipient(jwk.JWK.from_password("jwk-secret"))
print(t.serialize(compact=True))
"#;
    let out = python(dir, script, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("their.jwe"), out.stdout).unwrap();
    ferrica(dir)
        .args(["crypto", "jwe", "decrypt", "their.jwe", "--password-file", "pw"])
        .assert()
        .success()
        .stdout("from jwcrypto");
}

#[test]
fn tokens_verify_in_pyjwt_for_every_alg() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cases: &[(&str, &[&str])] = &[
        ("ES256", &["--kty", "EC", "--crv", "P-256"]),
        ("ES384", &["--kty", "EC", "--crv", "P-384"]),
        ("ES512", &["--kty", "EC", "--crv", "P-521"]),
        ("EdDSA", &["--kty", "OKP", "--crv", "Ed25519"]),
        ("RS256", &["--kty", "RSA"]),
        ("RS384", &["--kty", "RSA", "--alg", "RS384"]),
        ("RS512", &["--kty", "RSA", "--alg", "RS512"]),
        ("PS256", &["--kty", "RSA", "--alg", "PS256"]),
        ("PS384", &["--kty", "RSA", "--alg", "PS384"]),
        ("PS512", &["--kty", "RSA", "--alg", "PS512"]),
        ("HS256", &["--kty", "oct"]),
        ("HS384", &["--kty", "oct", "--size", "384", "--alg", "HS384"]),
        ("HS512", &["--kty", "oct", "--size", "512", "--alg", "HS512"]),
    ];
    let script = r#"
import json, sys, jwt
key = jwt.PyJWK(json.load(open(sys.argv[1])))
claims = jwt.decode(open(sys.argv[2]).read().strip(), key=key.key, algorithms=[sys.argv[3]],
                    audience="https://ca.test/1.0/sign", issuer="ci@example.test")
assert claims["sub"] == "svc.example.test" and len(claims["jti"]) == 64, claims
print("ok")
"#;
    for (alg, flags) in cases {
        let (pubf, privf, tok) = (format!("{alg}.pub.json"), format!("{alg}.json"), format!("{alg}.jwt"));
        ferrica(dir)
            .args(["crypto", "jwk", "create", &pubf, &privf, "--no-password", "--insecure"])
            .args(*flags)
            .assert()
            .success();
        let out = ferrica(dir)
            .args(["crypto", "jwt", "sign", "--key", &privf, "--iss", "ci@example.test"])
            .args([
                "--aud",
                "https://ca.test/1.0/sign",
                "--sub",
                "svc.example.test",
                "--exp",
                "5m",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{alg}: {}", stderr_of(&out));
        std::fs::write(dir.join(&tok), &out.stdout).unwrap();
        // PyJWT verifies with the public JWK (the secret one for HMAC).
        let key_for_pyjwt = if alg.starts_with("HS") { &privf } else { &pubf };
        let out = python(dir, script, &[key_for_pyjwt, &tok, alg]);
        assert!(
            out.status.success(),
            "PyJWT rejected our {alg} token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // And we verify our own, pinned to the alg.
        ferrica(dir)
            .args(["crypto", "jwt", "verify", &tok, "--key", key_for_pyjwt, "--alg", alg])
            .args(["--iss", "ci@example.test", "--aud", "https://ca.test/1.0/sign"])
            .assert()
            .success();
    }
    // A PEM key signs too, and PyJWT-made tokens verify with ferrica.
    let script = r#"
import jwt, time
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
k = ec.generate_private_key(ec.SECP256R1())
open("py.pub.pem", "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
print(jwt.encode({"iss": "py", "aud": "x", "sub": "s", "exp": int(time.time()) + 60}, k, algorithm="ES256"))
"#;
    let out = python(dir, script, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "verify",
            "--key",
            "py.pub.pem",
            "--iss",
            "py",
            "--aud",
            "x",
        ])
        .write_stdin(out.stdout)
        .assert()
        .success();
}

#[test]
fn jwe_round_trips_and_bad_inputs() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "pw", "jwe-secret\n");
    std::fs::write(dir.join("data"), "attack at dawn\n").unwrap();
    for json in [false, true] {
        let mut c = ferrica(dir);
        c.args([
            "crypto",
            "jwe",
            "encrypt",
            "data",
            "--password-file",
            "pw",
            "--p2c",
            "1000",
        ]);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        std::fs::write(dir.join("x.jwe"), &out.stdout).unwrap();
        ferrica(dir)
            .args(["crypto", "jwe", "decrypt", "--password-file", "pw"])
            .write_stdin(out.stdout.clone())
            .assert()
            .success()
            .stdout("attack at dawn\n");
        pw_file(dir, "bad", "nope\n");
        let out = ferrica(dir)
            .args(["crypto", "jwe", "decrypt", "x.jwe", "--password-file", "bad"])
            .output()
            .unwrap();
        assert_clean_error(&out, 3, "wrong password");
    }
    // The RFC 7517 Appendix C example decrypts.
    let rfc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc");
    let out = ferrica(dir)
        .args(["crypto", "jwe", "decrypt"])
        .arg(rfc.join("rfc7517-appendix-c.jwe"))
        .arg("--password-file")
        .arg(rfc.join("rfc7517-appendix-c.password"))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("juliet@capulet.lit"), "{}", stderr_of(&out));
    // p2c 10,000,000 is refused at once, both ways.
    let out = ferrica(dir)
        .args([
            "crypto",
            "jwe",
            "encrypt",
            "data",
            "--password-file",
            "pw",
            "--p2c",
            "10000000",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--p2c");
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":10000000,"p2s":"AAAAAAAAAAAAAAAAAAAAAA"}"#,
    );
    std::fs::write(
        dir.join("slow.jwe"),
        format!("{header}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = ferrica(dir)
        .args(["crypto", "jwe", "decrypt", "slow.jwe", "--password-file", "pw"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "p2c 10000000");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // A JWK that is not JSON.
    let out = ferrica(dir)
        .args(["crypto", "jwk", "thumbprint"])
        .write_stdin("not json")
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "not a JSON Web Key");
    let out = ferrica(dir)
        .args(["crypto", "jwt", "inspect"])
        .write_stdin("a.b.c")
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--insecure");
}

#[test]
fn keypair_change_pass_and_key_formats() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    pw_file(dir, "old", "old-secret\n");
    pw_file(dir, "new", "new-secret\n");
    ferrica(dir)
        .args(["crypto", "keypair", "k.pub", "k.key", "--password-file", "old"])
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "k.key", "-passin", "pass:old-secret", "-noout"]);
    let out = ferrica(dir)
        .args([
            "crypto",
            "change-pass",
            "k.key",
            "--password-file",
            "old",
            "--new-password-file",
            "new",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--force");
    ferrica(dir)
        .args([
            "crypto",
            "change-pass",
            "k.key",
            "--password-file",
            "old",
            "--new-password-file",
            "new",
            "--force",
        ])
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "k.key", "-passin", "pass:new-secret", "-noout"]);
    // An encrypted JWK: step's, re-encrypted under a new password.
    ferrica(dir)
        .args(["crypto", "change-pass"])
        .arg(step("jwk.priv.json"))
        .args(["--out", "j.json", "--new-password-file", "new", "--password-file"])
        .arg(step("pw.txt"))
        .assert()
        .success();
    ferrica(dir)
        .args(["crypto", "jwk", "public", "--password-file", "new"])
        .write_stdin(std::fs::read(dir.join("j.json")).unwrap())
        .assert()
        .success()
        .stdout(predicates_contains(
            std::fs::read_to_string(step("jwk.pub.json"))
                .unwrap()
                .lines()
                .nth(3)
                .unwrap(),
        ));

    // Public key, fingerprint and OpenSSH form agree with openssl and ssh-keygen.
    let pem = ferrica(dir)
        .args(["crypto", "key", "public", "k.key", "--password-file", "new"])
        .output()
        .unwrap();
    assert_eq!(stdout(&pem), std::fs::read_to_string(dir.join("k.pub")).unwrap());
    for (key, pw) in [("k.key", Some("new")), ("ed", None), ("rsa", None)] {
        if key == "ed" {
            openssl_ok(dir, &["genpkey", "-algorithm", "ED25519", "-out", "ed"]);
        }
        if key == "rsa" {
            openssl_ok(dir, &["genpkey", "-algorithm", "RSA", "-out", "rsa"]);
        }
        let mut c = ferrica(dir);
        c.args(["crypto", "key", "format", key, "--to", "ssh"]);
        if let Some(p) = pw {
            c.args(["--password-file", p]);
        }
        let ours = stdout(&c.output().unwrap());
        let mut args = vec!["pkey", "-in", key, "-pubout", "-out", "pub.pem"];
        if pw.is_some() {
            args.extend(["-passin", "pass:new-secret"]);
        }
        openssl_ok(dir, &args);
        if key == "ed" {
            // ssh-keygen cannot import Ed25519 from PKCS#8: it must parse our line, whose key is openssl's.
            std::fs::write(dir.join("ours.pub"), &ours).unwrap();
            assert!(
                tool(dir, "ssh-keygen", &["-l", "-f", "ours.pub"]).status.success(),
                "{ours}"
            );
            let der = openssl_ok(
                dir,
                &["pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der"],
            );
            let _ = der;
            let raw = std::fs::read(dir.join("pub.der")).unwrap();
            let blob = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                ours.split_whitespace().nth(1).unwrap(),
            )
            .unwrap();
            assert_eq!(&blob[blob.len() - 32..], &raw[raw.len() - 32..]);
            continue;
        }
        let theirs = tool(dir, "ssh-keygen", &["-i", "-m", "PKCS8", "-f", "pub.pem"]);
        assert_eq!(ours.trim(), String::from_utf8_lossy(&theirs.stdout).trim(), "{key}");
    }
    let fp = ferrica(dir)
        .args(["crypto", "key", "fingerprint", "k.pub"])
        .output()
        .unwrap();
    let der = openssl_ok(
        dir,
        &["pkey", "-pubin", "-in", "k.pub", "-outform", "DER", "-out", "k.pub.der"],
    );
    let _ = der;
    let want = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &std::fs::read(dir.join("k.pub.der")).unwrap(),
    ));
    assert_eq!(stdout(&fp).trim(), want);
    // SEC1 and PKCS#8 output read by openssl.
    ferrica(dir)
        .args([
            "crypto",
            "key",
            "format",
            "k.key",
            "--password-file",
            "new",
            "--no-password",
            "--insecure",
            "--out",
            "sec1.pem",
        ])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(dir.join("sec1.pem"))
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    openssl_ok(dir, &["ec", "-in", "sec1.pem", "-noout", "-check"]);
    ferrica(dir)
        .args([
            "crypto",
            "key",
            "format",
            "sec1.pem",
            "--to",
            "der",
            "--pkcs8",
            "--no-password",
            "--insecure",
            "--out",
            "p8.der",
        ])
        .assert()
        .success();
    openssl_ok(dir, &["pkey", "-in", "p8.der", "-inform", "DER", "-noout"]);
    // A PEM key as a JWK and back to PEM keeps the public key.
    ferrica(dir)
        .args([
            "crypto",
            "key",
            "format",
            "sec1.pem",
            "--to",
            "jwk",
            "--no-password",
            "--insecure",
            "--out",
            "k.jwk",
        ])
        .assert()
        .success();
    let back = ferrica(dir)
        .args(["crypto", "key", "public", "k.jwk"])
        .output()
        .unwrap();
    assert_eq!(stdout(&back), std::fs::read_to_string(dir.join("k.pub")).unwrap());
}

fn predicates_contains(s: &str) -> impl predicates::Predicate<str> {
    predicates::str::contains(s.trim().trim_end_matches(',').to_string())
}

#[test]
fn keysets_hashes_and_rand() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // A thumbprint starts with `-` one time in 64: such a kid is a value, not a flag.
    for (i, kid) in ["k0", "-Zk1"].iter().enumerate() {
        ferrica(dir)
            .args([
                "crypto",
                "jwk",
                "create",
                &format!("{i}.pub"),
                &format!("{i}.json"),
                "--kid",
                kid,
            ])
            .args(["--no-password", "--insecure"])
            .assert()
            .success();
        ferrica(dir)
            .args(["crypto", "jwk", "keyset", "add", "set.json"])
            .write_stdin(std::fs::read(dir.join(format!("{i}.pub"))).unwrap())
            .assert()
            .success();
    }
    ferrica(dir)
        .args(["crypto", "jwk", "keyset", "list", "set.json"])
        .assert()
        .success()
        .stdout("k0\n-Zk1\n");
    ferrica(dir)
        .args(["crypto", "jwk", "keyset", "find", "set.json", "--kid", "-Zk1"])
        .assert()
        .success();
    // Verify with the set: the token's kid picks the key.
    let tok = ferrica(dir)
        .args([
            "crypto", "jwt", "sign", "--key", "1.json", "--iss", "i", "--aud", "a", "--sub", "s", "--exp", "1m",
        ])
        .output()
        .unwrap();
    ferrica(dir)
        .args([
            "crypto", "jwt", "verify", "--jwks", "set.json", "--iss", "i", "--aud", "a",
        ])
        .write_stdin(tok.stdout)
        .assert()
        .success();
    ferrica(dir)
        .args(["crypto", "jwk", "keyset", "remove", "set.json", "--kid", "k0"])
        .assert()
        .success();
    ferrica(dir)
        .args(["crypto", "jwk", "keyset", "list", "set.json"])
        .assert()
        .success()
        .stdout("-Zk1\n");

    std::fs::write(dir.join("f"), "hello\n").unwrap();
    let sha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    ferrica(dir)
        .args(["crypto", "hash", "digest", "f"])
        .assert()
        .success()
        .stdout(format!("{sha}  f\n"));
    ferrica(dir)
        .args(["crypto", "hash", "compare", sha, "f"])
        .assert()
        .code(0);
    ferrica(dir)
        .args(["crypto", "hash", "compare", &sha.replace('5', "6"), "f"])
        .assert()
        .code(1);
    let out = ferrica(dir)
        .args(["crypto", "hash", "digest", "--alg", "md5", "f"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--insecure");
    ferrica(dir)
        .args(["crypto", "hash", "digest", "--alg", "md5", "--insecure", "f"])
        .assert()
        .success()
        .stdout("b1946ac92492d2347c6235b4d2611184  f\n");
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a"), "a").unwrap();
    let a = stdout(&ferrica(dir).args(["crypto", "hash", "digest", "sub"]).output().unwrap());
    std::fs::write(dir.join("sub/a"), "b").unwrap();
    let b = stdout(&ferrica(dir).args(["crypto", "hash", "digest", "sub"]).output().unwrap());
    assert_ne!(a, b, "a directory digest covers file contents");

    let r = stdout(&ferrica(dir).args(["crypto", "rand"]).output().unwrap());
    assert_eq!(r.trim().len(), 64);
    let r = stdout(
        &ferrica(dir)
            .args(["crypto", "rand", "20", "--format", "alphanumeric"])
            .output()
            .unwrap(),
    );
    assert!(r.trim().len() == 20 && r.trim().chars().all(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn jws_and_x5c_and_piped_key_password() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // JWS over arbitrary bytes with an Ed25519 PEM key.
    ferrica(dir)
        .args([
            "crypto",
            "keypair",
            "ed.pub",
            "ed.key",
            "--kty",
            "OKP",
            "--crv",
            "Ed25519",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let out = ferrica(dir)
        .args(["crypto", "jws", "sign", "--key", "ed.key"])
        .write_stdin("plain text payload")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let jws = stdout(&out);
    ferrica(dir)
        .args(["crypto", "jws", "verify", "--key", "ed.pub"])
        .write_stdin(jws.clone())
        .assert()
        .success()
        .stdout("plain text payload");
    let inspected = stdout(
        &ferrica(dir)
            .args(["crypto", "jws", "inspect", "--insecure"])
            .write_stdin(jws.clone())
            .output()
            .unwrap(),
    );
    let v: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(v["header"]["alg"], "EdDSA");
    assert_eq!(v["payload"], "plain text payload");
    // Change the payload, keeping it valid base64url: the signature no longer matches (exit 1, not an input error).
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let payload = parts[1].replacen('c', "d", 1);
    assert_ne!(payload, parts[1]);
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(
        ferrica(dir)
            .args(["crypto", "jws", "verify", "--key", "ed.pub"])
            .write_stdin(tampered)
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );

    // x5c: the chain goes in the header, the key must be the certificate's.
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "x5c.test",
            "x.crt",
            "x.key",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ])
        .assert()
        .success();
    let out = ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "sign",
            "--x5c-cert",
            "x.crt",
            "--x5c-key",
            "x.key",
            "--subtle",
            "--sub",
            "x5c.test",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(
        &ferrica(dir)
            .args(["crypto", "jwt", "inspect", "--insecure"])
            .write_stdin(out.stdout.clone())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    openssl_ok(dir, &["x509", "-in", "x.crt", "-outform", "DER", "-out", "x.der"]);
    let der = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(dir.join("x.der")).unwrap(),
    );
    assert_eq!(v["header"]["x5c"][0], der.as_str());
    ferrica(dir)
        .args(["crypto", "jwt", "verify", "--key", "x.crt", "--subtle"])
        .write_stdin(out.stdout)
        .assert()
        .success();
    let out = ferrica(dir)
        .args([
            "crypto",
            "jwt",
            "sign",
            "--x5c-cert",
            "x.crt",
            "--x5c-key",
            "ed.key",
            "--subtle",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "is not the key of");

    // The password of an encrypted JWK piped in, with no terminal.
    let mut child = std::process::Command::new("setsid")
        .args(["-w", BIN, "crypto", "jwt", "sign", "--key"])
        .arg(step("jwk.priv.json"))
        .args(["--iss", "i", "--aud", "a", "--sub", "s", "--exp", "5m"])
        .current_dir(dir)
        .env_remove("FERRICA_PASSWORD_FILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"password\n");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    ferrica(dir)
        .args(["crypto", "jwt", "verify", "--key"])
        .arg(step("jwk.pub.json"))
        .args(["--iss", "i", "--aud", "a"])
        .write_stdin(out.stdout)
        .assert()
        .success();
}
