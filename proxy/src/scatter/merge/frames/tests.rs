//! Unit tests of `frames`.

use super::*;

fn field(name: &str, type_oid: u32) -> Field {
    Field {
        name: Bytes::copy_from_slice(name.as_bytes()),
        table_oid: 16384,
        column_number: 1,
        type_oid,
        type_size: 4,
        type_modifier: -1,
        format: 0,
    }
}

#[test]
fn row_description_round_trips() {
    let fields = vec![field("id", 23), field("name", 25)];
    let mut out = BytesMut::new();
    encode_row_description(&fields, &mut out);
    let frame = out.freeze();
    assert_eq!(frame[0], b'T');
    assert_eq!(parse_row_description(&frame).unwrap(), fields);
}

#[test]
fn data_row_round_trips_with_nulls() {
    let fields = vec![Some(Bytes::from_static(b"42")), None, Some(Bytes::new())];
    let mut out = BytesMut::new();
    encode_data_row(&fields, &mut out);
    let frame = out.freeze();
    assert_eq!(
        &frame[..],
        b"D\0\0\0\x14\0\x03\0\0\0\x0242\xff\xff\xff\xff\0\0\0\0"
    );
    assert_eq!(parse_data_row(&frame, 3).unwrap(), fields);
}

#[test]
fn command_complete_bytes() {
    let mut out = BytesMut::new();
    encode_command_complete("SELECT 3", &mut out);
    assert_eq!(&out[..], b"C\0\0\0\x0dSELECT 3\0");
}

#[test]
fn rejects_bad_frames() {
    let row = |b: &'static [u8]| parse_data_row(&Bytes::from_static(b), 1);
    assert!(row(b"").is_err());
    assert!(row(b"D\0\0").is_err());
    assert!(row(b"T\0\0\0\x06\0\0").is_err(), "wrong tag");
    assert!(row(b"D\0\0\0\x07\0\x01").is_err(), "length word too big");
    assert!(row(b"D\0\0\0\x06\0\x01").is_err(), "field missing");
    assert!(
        row(b"D\0\0\0\x0a\0\x01\0\0\0\x05").is_err(),
        "value cut short"
    );
    assert!(
        row(b"D\0\0\0\x0a\0\x01\xff\xff\xff\xfe").is_err(),
        "length -2"
    );
    assert!(
        row(b"D\0\0\0\x0b\0\x01\xff\xff\xff\xffx").is_err(),
        "trailing byte"
    );
    assert!(row(b"D\0\0\0\x06\0\x02").is_err(), "field count mismatch");
    assert!(row(b"D\0\0\0\x0a\0\x01\xff\xff\xff\xff").is_ok());
    let desc = |b: &'static [u8]| parse_row_description(&Bytes::from_static(b));
    assert!(desc(b"T\0\0\0\x09\0\x01abc").is_err(), "unterminated name");
    assert!(desc(b"T\0\0\0\x06\xff\xff").is_err(), "negative count");
    assert_eq!(desc(b"T\0\0\0\x06\0\0").unwrap(), vec![]);
}
