//! Unit tests of `bind`.

use super::*;

fn body(formats: &[i16], params: &[Option<&[u8]>]) -> Vec<u8> {
    let mut b = b"p\0s\0".to_vec();
    b.extend_from_slice(&(formats.len() as i16).to_be_bytes());
    for f in formats {
        b.extend_from_slice(&f.to_be_bytes());
    }
    b.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        match p {
            Some(v) => {
                b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                b.extend_from_slice(v);
            }
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    b.extend_from_slice(&0i16.to_be_bytes());
    b
}

#[test]
fn decodes_text_binary_and_null_params() {
    let b = body(&[0, 1, 0], &[Some(b"42"), Some(&7i64.to_be_bytes()), None]);
    let bind = decode(&b).unwrap();
    assert_eq!(bind.portal, b"p");
    assert_eq!(bind.statement, b"s");
    assert_eq!(bind.statement_at, 2);
    assert_eq!(bind.params.len(), 3);
    assert!(!bind.params[0].binary && bind.params[1].binary);
    assert_eq!(bind.params[2].value, None);
}

#[test]
fn one_format_applies_to_all() {
    let b = body(&[1], &[Some(b"ab"), Some(b"cd")]);
    assert!(decode(&b).unwrap().params.iter().all(|p| p.binary));
}

#[test]
fn refuses_malformed() {
    assert!(decode(b"p\0s\0\0\x02\0\0").is_none());
    let mut b = body(&[], &[Some(b"42")]);
    b.truncate(b.len() - 4);
    assert!(decode(&b).is_none());
    let b = body(&[0, 0], &[Some(b"1")]);
    assert!(decode(&b).is_none());
}
