//! Unit tests of `value`.

use super::*;

fn v(kind: ColumnKind, text: &str) -> Value {
    Value::parse(kind, &Bytes::copy_from_slice(text.as_bytes())).unwrap()
}

#[test]
fn integers_compare_numerically() {
    let k = ColumnKind::from_type_oid(oid::INT4);
    assert!(v(k, "9") < v(k, "10"));
    assert!(v(k, "-10") < v(k, "-9"));
    assert!(Value::parse(k, &Bytes::from_static(b"1.5")).is_none());
}

#[test]
fn floats_put_nan_last_and_zero_signless() {
    let k = ColumnKind::from_type_oid(oid::FLOAT8);
    assert!(v(k, "Infinity") < v(k, "NaN"));
    assert!(v(k, "-Infinity") < v(k, "-1e+300"));
    assert_eq!(v(k, "NaN"), v(k, "NaN"));
    assert_eq!(v(k, "-0"), v(k, "0"));
    assert!(v(k, "2.5") < v(k, "10"));
}

#[test]
fn numeric_compares_exactly() {
    let k = ColumnKind::from_type_oid(oid::NUMERIC);
    assert!(v(k, "12345678901234567890.12") < v(k, "12345678901234567890.123"));
    assert!(v(k, "-12345678901234567890.123") < v(k, "-12345678901234567890.12"));
    assert_eq!(v(k, "1.0"), v(k, "1"));
    assert!(v(k, "99") < v(k, "NaN"));
}

#[test]
fn bool_and_bytes() {
    let b = ColumnKind::from_type_oid(oid::BOOL);
    assert!(v(b, "f") < v(b, "t"));
    assert!(Value::parse(b, &Bytes::from_static(b"true")).is_none());
    let t = ColumnKind::from_type_oid(25);
    assert!(v(t, "B") < v(t, "a"));
    assert!(v(t, "ab") < v(t, "abc"));
    let date = ColumnKind::from_type_oid(1082);
    assert!(v(date, "2023-12-31") < v(date, "2024-01-01"));
}
