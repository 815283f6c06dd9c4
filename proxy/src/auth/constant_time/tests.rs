//! Constant-time equality.

use super::equal;

#[test]
fn compares_contents_and_lengths() {
    assert!(equal(b"md5abc", b"md5abc"));
    assert!(!equal(b"md5abc", b"md5abd"));
    assert!(!equal(b"md5abc", b"md5ab"));
    assert!(!equal(b"", b"x"));
    assert!(equal(b"", b""));
}
