//! Unit tests of `scram`.

use super::*;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

fn run(client_password: &str, verifier: ScramVerifier) -> Result<(), ScramError> {
    let mut client = ScramSha256::new(client_password.as_bytes(), ChannelBinding::unsupported());
    let (exchange, server_first) = ScramExchange::start(verifier, client.message())?;
    client
        .update(server_first.as_bytes())
        .map_err(|_| ScramError::WrongProof)?;
    let (server_final, _client_key) = exchange.finish(client.message())?;
    client
        .finish(server_final.as_bytes())
        .map_err(|_| ScramError::WrongProof)
}

#[test]
fn accepts_right_password_and_client_verifies_server() {
    assert_eq!(
        run("s3cret", ScramVerifier::from_password("s3cret")),
        Ok(())
    );
}

#[test]
fn refuses_wrong_password() {
    assert_eq!(
        run("guess", ScramVerifier::from_password("s3cret")),
        Err(ScramError::WrongProof)
    );
}

#[test]
fn mock_verifier_is_stable_per_user_and_never_matches() {
    let a = ScramVerifier::mock("ghost", b"secret");
    let b = ScramVerifier::mock("ghost", b"secret");
    let c = ScramVerifier::mock("other", b"secret");
    assert_eq!(a.salt, b.salt);
    assert_ne!(a.salt, c.salt);
    assert_eq!(run("", a), Err(ScramError::WrongProof));
}

#[test]
fn verifier_text_round_trips() {
    let v = ScramVerifier::from_password("pw");
    let parsed = ScramVerifier::parse(&v.to_text()).unwrap();
    assert_eq!(run("pw", parsed), Ok(()));
    assert!(ScramVerifier::parse("md5abc").is_err());
}

#[test]
fn refuses_channel_binding_and_garbage() {
    let v = ScramVerifier::from_password("pw");
    assert_eq!(
        ScramExchange::start(v.clone(), b"p=tls-server-end-point,,n=,r=abc").err(),
        Some(ScramError::ChannelBindingUnsupported)
    );
    assert!(ScramExchange::start(v, b"\xff\xfe").is_err());
}
