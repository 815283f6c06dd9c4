//! `shardwire hash-password`: prints a SCRAM-SHA-256 verifier of the
//! password read on stdin, with a fresh salt each time, that the config
//! accepts as `scram_verifier`.

use shardwire::auth::scram::ScramVerifier;
use std::io::Write;
use std::process::{Command, Stdio};

fn hash(password: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardwire"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shardwire");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_a_verifier_of_the_password() {
    let (ok, first, err) = hash("s3cret pass\n");
    assert!(ok, "{err}");
    let parsed = ScramVerifier::parse(&first).expect("a valid verifier");
    // Same password, same salt and iterations → the same verifier.
    let (salt, iterations) = {
        let head = first.split('$').nth(1).expect("iterations:salt");
        let (iter, salt) = head.split_once(':').expect("iter:salt");
        (salt.to_owned(), iter.parse::<u32>().expect("iterations"))
    };
    use base64::Engine;
    let salt = base64::engine::general_purpose::STANDARD
        .decode(salt)
        .expect("salt");
    let again = ScramVerifier::from_password_with("s3cret pass", salt, iterations);
    assert_eq!(again.to_text(), first);
    assert_eq!(parsed.to_text(), first);
    let (_, second, _) = hash("s3cret pass\n");
    assert_ne!(first, second, "a fresh salt each time");
    let config = format!(
        "[[users]]\nname = \"app\"\nscram_verifier = \"{first}\"\nserver_password = \"x\"\n\n[[shards]]\nprimary = {{ host = \"127.0.0.1\", port = 5432 }}\n"
    );
    shardwire::config::parse_str(&config).expect("the config accepts it");
}

#[test]
fn refuses_an_empty_password() {
    let (ok, out, err) = hash("\n");
    assert!(!ok);
    assert!(out.is_empty());
    assert!(err.contains("empty password"), "{err}");
}
