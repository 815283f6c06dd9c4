//! Unit tests of `frame`.

use super::*;

#[test]
fn incomplete_header_is_none() {
    assert_eq!(peek_header(b"Q\0\0", 100), Ok(None));
}

#[test]
fn decodes_query_header() {
    let h = peek_header(b"Q\0\0\0\x0dSELECT 1;\0", 100)
        .unwrap()
        .unwrap();
    assert_eq!(h.tag, b'Q');
    assert_eq!(h.frame_len, 14);
}

#[test]
fn rejects_short_length() {
    assert!(matches!(
        peek_header(b"Q\0\0\0\x02", 100),
        Err(FrameError::BadLength { .. })
    ));
}

#[test]
fn rejects_oversized() {
    assert!(matches!(
        peek_header(b"Q\0\0\x10\0", 100),
        Err(FrameError::TooLarge { .. })
    ));
}
