//! Unit tests of `decimal`.

use super::*;

fn d(text: &str) -> Decimal {
    Decimal::parse(text.as_bytes()).unwrap()
}

fn avg(sum: &str, count: i128) -> String {
    Numeric::parse(sum.as_bytes())
        .unwrap()
        .average(&Decimal::from_i128(count))
        .unwrap()
        .to_text()
}

#[test]
fn parse_and_print_round_trip() {
    for text in [
        "0",
        "-1",
        "12.340",
        "0.001",
        "-0.5",
        "123456789012345678901234567890.123",
    ] {
        assert_eq!(d(text).to_text(), text);
    }
    assert_eq!(d("-0").to_text(), "0");
    assert_eq!(d("+007").to_text(), "7");
    assert_eq!(d(".5").to_text(), "0.5");
    assert!(Decimal::parse(b"").is_none());
    assert!(Decimal::parse(b"-").is_none());
    assert!(Decimal::parse(b".").is_none());
    assert!(Decimal::parse(b"1e5").is_none());
    assert!(Decimal::parse(b"1.2.3").is_none());
}

#[test]
fn compares_by_value_not_text() {
    assert_eq!(d("1.50").cmp_value(&d("1.5")), Ordering::Equal);
    assert_eq!(
        d("-12345678901234567890.123").cmp_value(&d("-12345678901234567890.12")),
        Ordering::Less
    );
    assert_eq!(d("9").cmp_value(&d("10")), Ordering::Less);
    assert_eq!(d("-9").cmp_value(&d("-10")), Ordering::Greater);
    assert_eq!(d("0").cmp_value(&d("-0.0")), Ordering::Equal);
    assert_eq!(d("-0.001").cmp_value(&d("0")), Ordering::Less);
}

#[test]
fn adds_exactly_with_max_scale() {
    assert_eq!(d("1.5").add(&d("2.25")).to_text(), "3.75");
    assert_eq!(
        d("99999999999999999999").add(&d("1")).to_text(),
        "100000000000000000000"
    );
    assert_eq!(d("1.50").add(&d("-1.5")).to_text(), "0.00");
    assert_eq!(d("-5").add(&d("3.1")).to_text(), "-1.9");
    assert_eq!(d("5").add(&d("-7")).to_text(), "-2");
}

#[test]
fn divides_with_rounding_half_away_from_zero() {
    assert_eq!(d("1").div_round(&d("3"), 4).unwrap().to_text(), "0.3333");
    assert_eq!(d("2").div_round(&d("3"), 4).unwrap().to_text(), "0.6667");
    assert_eq!(d("-2").div_round(&d("3"), 4).unwrap().to_text(), "-0.6667");
    assert_eq!(d("0.5").div_round(&d("1"), 0).unwrap().to_text(), "1");
    assert_eq!(d("-0.5").div_round(&d("1"), 0).unwrap().to_text(), "-1");
    assert_eq!(d("1.25").div_round(&d("0.5"), 1).unwrap().to_text(), "2.5");
    assert!(d("1").div_round(&d("0.00"), 2).is_none());
}

#[test]
fn average_uses_postgres_result_scale() {
    // Values checked against PostgreSQL's avg().
    assert_eq!(avg("3", 2), "1.5000000000000000");
    assert_eq!(avg("6", 2), "3.0000000000000000");
    assert_eq!(avg("2", 2), "1.00000000000000000000");
    assert_eq!(avg("0", 2), "0.00000000000000000000");
    assert_eq!(avg("10", 3), "3.3333333333333333");
    assert_eq!(avg("20", 3), "6.6666666666666667");
    assert_eq!(avg("-20", 3), "-6.6666666666666667");
    // Equal leading digits: PostgreSQL assumes a quotient below 1 and
    // gives 20 digits, as in `SELECT avg(1)` = 1.00000000000000000000.
    assert_eq!(avg("1.50", 1), "1.50000000000000000000");
    assert_eq!(avg("1", 1), "1.00000000000000000000");
    assert_eq!(avg("100000", 2), "50000.000000000000");
    assert_eq!(avg("1.123456789012345678901", 1), "1.123456789012345678901");
    assert_eq!(avg("Infinity", 3), "Infinity");
    assert_eq!(avg("NaN", 3), "NaN");
    assert!(Numeric::parse(b"3")
        .unwrap()
        .average(&Decimal::from_i128(0))
        .is_none());
}

#[test]
fn numeric_special_values_order_and_add() {
    let n = |t: &str| Numeric::parse(t.as_bytes()).unwrap();
    assert!(n("-Infinity") < n("-99999999999999999999"));
    assert!(n("99999999999999999999") < n("Infinity"));
    assert!(n("Infinity") < n("NaN"));
    assert_eq!(n("Infinity").add(&n("-Infinity")), Numeric::NaN);
    assert_eq!(n("Infinity").add(&n("5")), Numeric::Infinity);
    assert_eq!(n("1.1").add(&n("2")).to_text(), "3.1");
}
