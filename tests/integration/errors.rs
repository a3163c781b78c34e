//! Bad input: one `error:` line naming the file, exit 3, never a panic.

use crate::common::*;

fn create_with_ca(dir: &std::path::Path, ca: &str, ca_key: &str) -> std::process::Output {
    ferrica(dir)
        .args([
            "certificate",
            "create",
            "svc",
            "l.crt",
            "l.key",
            "--ca",
            ca,
            "--ca-key",
            ca_key,
        ])
        .args(["--ca-password-file", "pw", "--no-password", "--insecure"])
        .output()
        .unwrap()
}

#[test]
fn bad_inputs_give_clean_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    make_ca(dir);
    let random: Vec<u8> = (0..777u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(dir.join("random.bin"), &random).unwrap();
    let root = std::fs::read_to_string(dir.join("root.crt")).unwrap();
    std::fs::write(dir.join("truncated.crt"), &root[..root.len() / 2]).unwrap();
    let key = std::fs::read_to_string(dir.join("int.key")).unwrap();
    std::fs::write(dir.join("truncated.key"), &key[..key.len() / 2]).unwrap();
    std::fs::create_dir(dir.join("adir")).unwrap();

    assert_clean_error(&create_with_ca(dir, "random.bin", "int.key"), 3, "random.bin");
    assert_clean_error(&create_with_ca(dir, "truncated.crt", "int.key"), 3, "truncated PEM");
    assert_clean_error(&create_with_ca(dir, "int.crt", "truncated.key"), 3, "truncated PEM");
    assert_clean_error(&create_with_ca(dir, "int.crt", "random.bin"), 3, "random.bin");
    assert_clean_error(&create_with_ca(dir, "adir", "int.key"), 3, "is a directory");
    assert_clean_error(
        &create_with_ca(dir, "missing.crt", "int.key"),
        3,
        "missing.crt does not exist",
    );
    assert_clean_error(&create_with_ca(dir, "int.key", "int.key"), 3, "private key");
    assert_clean_error(&create_with_ca(dir, "int.crt", "int.crt"), 3, "not a private key");
    assert!(!dir.join("l.crt").exists() && !dir.join("l.key").exists());

    for (file, needle) in [
        ("random.bin", "random.bin"),
        ("truncated.crt", "truncated PEM"),
        ("adir", "is a directory"),
        ("missing.crt", "does not exist"),
        ("int.key", "private key"),
    ] {
        let out = ferrica(dir).args(["certificate", "inspect", file]).output().unwrap();
        assert_clean_error(&out, 3, needle);
        let out = ferrica(dir)
            .args(["certificate", "fingerprint", file])
            .output()
            .unwrap();
        assert_clean_error(&out, 3, needle);
    }
    let out = ferrica(dir)
        .args(["certificate", "inspect", "-"])
        .write_stdin(random)
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "stdin");
}

#[test]
fn missing_output_directory() {
    let d = tempfile::tempdir().unwrap();
    let out = ferrica(d.path())
        .args([
            "certificate",
            "create",
            "x",
            "nodir/x.crt",
            "x.key",
            "--profile",
            "self-signed",
        ])
        .args(["--no-password", "--insecure"])
        .output()
        .unwrap();
    assert_clean_error(&out, 3, "directory nodir does not exist");
    assert!(files(d.path()).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let out = ferrica(d.path())
        .args([
            "certificate",
            "create",
            "x",
            "x.crt",
            "x.key",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--ca FILE and --ca-key FILE");
    let out = ferrica(d.path())
        .args([
            "certificate",
            "create",
            "x",
            "x.crt",
            "--profile",
            "self-signed",
            "--no-password",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "missing KEY_FILE");
    let out = ferrica(d.path())
        .args(["certificate", "fingerprint", "x.crt", "--sha1"])
        .output()
        .unwrap();
    assert_clean_error(&out, 2, "--sha1 requires --insecure");
}
