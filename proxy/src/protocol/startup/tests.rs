//! Unit tests of `startup`.

use super::*;
use crate::protocol::builder;
use bytes::BytesMut;

#[test]
fn parses_startup_params() {
    let mut b = BytesMut::new();
    builder::startup_message(&mut b, &[("user", "app"), ("database", "db")]);
    let p = parse(&b).unwrap();
    assert_eq!(
        p,
        StartupPacket::Startup(vec![
            ("user".into(), "app".into()),
            ("database".into(), "db".into())
        ])
    );
}

#[test]
fn parses_ssl_and_cancel() {
    assert_eq!(
        parse(&[0, 0, 0, 8, 4, 210, 22, 47]).unwrap(),
        StartupPacket::SslRequest
    );
    let mut b = BytesMut::new();
    builder::cancel_request(&mut b, 7, 9);
    assert_eq!(
        parse(&b).unwrap(),
        StartupPacket::Cancel { pid: 7, secret: 9 }
    );
}

#[test]
fn refuses_garbage() {
    assert!(packet_length(*b"GET ").is_err());
    assert!(matches!(
        parse(&[0, 0, 0, 8, 0, 2, 0, 0]),
        Err(StartupError::UnsupportedVersion(_))
    ));
    assert!(parse(&[0, 0, 0, 10, 0, 3, 0, 0, b'u', b's']).is_err());
}
