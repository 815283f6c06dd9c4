//! Unit tests of `load`.

use super::*;

const MINIMAL: &str = r#"
    [[users]]
    name = "app"
    password = "secret"
    [[shards]]
    primary = { host = "127.0.0.1", port = 5432 }
"#;

#[test]
fn minimal_file_gets_defaults() {
    let c = parse_str(MINIMAL).unwrap();
    assert_eq!(c.pool.size, 20);
    assert_eq!(c.proxy.listen, "127.0.0.1:6432");
    assert_eq!(c.users[0].auth, AuthMethod::ScramSha256);
}

#[test]
fn errors_name_the_key() {
    let e = parse_str(&format!("[pool]\nsize = 0\n{MINIMAL}")).unwrap_err();
    assert!(e.to_string().starts_with("pool.size:"), "{e}");
    let e = parse_str(&format!(
        "[pool]\ncheckout_timeout = \"5 fortnights\"\n{MINIMAL}"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("checkout_timeout"), "{e}");
    let e = parse_str(&format!("[proxy]\nlisten_addr = \"x\"\n{MINIMAL}")).unwrap_err();
    assert!(e.to_string().contains("listen_addr"), "{e}");
    let e = parse_str(&format!("[proxy]\npool_mode = \"statement\"\n{MINIMAL}")).unwrap_err();
    assert!(e.to_string().contains("pool_mode"), "{e}");
}

#[test]
fn the_example_configuration_is_valid() {
    let text = include_str!("../../../../config.example.toml");
    let c = parse_str(text).unwrap();
    assert_eq!(c.shards.len(), 6);
    assert_eq!(c.shards[5].database.as_deref(), Some("app_shard5"));
}

#[test]
fn md5_needs_plain_password() {
    let e = parse_str(
        r#"
        [[users]]
        name = "a"
        scram_verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVkc3RvcmVkc3RvcmVkc3RvcmVkc3RvcmVkMTI=:c2VydmVyc2VydmVyc2VydmVyc2VydmVyc2VydmVyMTI="
        server_password = "x"
        auth = "md5"
        [[shards]]
        primary = { host = "h", port = 1 }
        "#,
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("users[0].password"), "{e}");
}

const CONTROL: &str = "[replication]\nuser = \"postgres\"\n";

#[test]
fn coordination_defaults_and_checks() {
    let c = parse_str(&format!(
        "{CONTROL}[coordination]\nendpoints = [\"http://127.0.0.1:2379\"]\n{MINIMAL}"
    ))
    .unwrap();
    let co = c.coordination.expect("section");
    assert_eq!(co.cluster, "default");
    assert!(co.coordination_timeout < co.lease_ttl);
    assert!(!co.failsafe);

    let e = parse_str(&format!(
        "{CONTROL}[coordination]\nendpoints = [\"http://x:2379\"]\nlease_ttl = \"3s\"\ncoordination_timeout = \"3s\"\n{MINIMAL}"
    ))
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("coordination.coordination_timeout:"),
        "{e}"
    );
    let e = parse_str(&format!(
        "{CONTROL}[coordination]\nendpoints = []\n{MINIMAL}"
    ))
    .unwrap_err();
    assert!(e.to_string().starts_with("coordination.endpoints:"), "{e}");
    let e = parse_str(&format!(
        "{CONTROL}[coordination]\nendpoints = [\"127.0.0.1:2379\"]\n{MINIMAL}"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("http://"), "{e}");
    let e = parse_str(&format!(
        "[coordination]\nendpoints = [\"http://x:2379\"]\n{MINIMAL}"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("[replication] user"), "{e}");
}
