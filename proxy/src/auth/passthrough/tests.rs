//! SCRAM passthrough: a key learned from one client's proof logs in to a
//! server holding the same verifier, and only to such a server.

use super::*;
use crate::auth::scram::{ScramExchange, ScramVerifier};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use sha2::Digest;

/// A client with the password logs in against `verifier`; returns the key.
fn learn(password: &str, verifier: &ScramVerifier) -> ClientKey {
    let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    let (exchange, server_first) =
        ScramExchange::start(verifier.clone(), client.message()).expect("start");
    client.update(server_first.as_bytes()).expect("update");
    let (_, key) = exchange.finish(client.message()).expect("proof accepted");
    key
}

#[test]
fn learned_key_logs_in_to_a_server_with_the_same_verifier() {
    let verifier = ScramVerifier::from_password("s3cret");
    let key = learn("s3cret", &verifier);
    let stored: [u8; 32] = sha2::Sha256::digest(key.key).into();
    assert_eq!(&stored, verifier.stored_key());
    // The "server" holds the same verifier.
    let (mut client, client_first) = KeyedScram::start(key);
    let (exchange, server_first) =
        ScramExchange::start(verifier, client_first.as_bytes()).expect("server start");
    let client_final = client.respond(server_first.as_bytes()).expect("respond");
    let (server_final, _) = exchange
        .finish(client_final.as_bytes())
        .expect("the server accepts the keyed proof");
    client
        .finish(server_final.as_bytes())
        .expect("and the client accepts the server");
}

#[test]
fn a_server_with_another_verifier_is_refused_before_any_proof() {
    let ours = ScramVerifier::from_password("s3cret");
    let key = learn("s3cret", &ours);
    let theirs = ScramVerifier::from_password("s3cret"); // another salt
    let (mut client, client_first) = KeyedScram::start(key);
    let (_, server_first) =
        ScramExchange::start(theirs, client_first.as_bytes()).expect("server start");
    let e = client
        .respond(server_first.as_bytes())
        .expect_err("different salt");
    assert!(e.contains("different SCRAM verifier"), "{e}");
}

#[test]
fn a_forged_server_signature_is_refused() {
    let verifier = ScramVerifier::from_password("s3cret");
    let key = learn("s3cret", &verifier);
    let (mut client, client_first) = KeyedScram::start(key);
    let (_, server_first) =
        ScramExchange::start(verifier, client_first.as_bytes()).expect("server start");
    client.respond(server_first.as_bytes()).expect("respond");
    let e = client
        .finish(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .expect_err("forged");
    assert!(e.contains("signature"), "{e}");
}
