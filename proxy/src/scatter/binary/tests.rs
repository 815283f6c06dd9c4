use super::*;

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![tag];
    f.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// A RowDescription of (name, type oid, format code) fields.
fn row_desc(fields: &[(&str, u32, i16)]) -> Vec<u8> {
    let mut b = (fields.len() as i16).to_be_bytes().to_vec();
    for (i, (name, type_oid, format)) in fields.iter().enumerate() {
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.extend_from_slice(&16_384i32.to_be_bytes()); // table oid
        b.extend_from_slice(&(i as i16 + 1).to_be_bytes()); // attnum
        b.extend_from_slice(&type_oid.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes()); // type size
        b.extend_from_slice(&(-1i32).to_be_bytes()); // type modifier
        b.extend_from_slice(&format.to_be_bytes());
    }
    frame(b'T', &b)
}

fn data_row(values: &[Option<&[u8]>]) -> Vec<u8> {
    let mut b = (values.len() as i16).to_be_bytes().to_vec();
    for v in values {
        match v {
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                b.extend_from_slice(v);
            }
        }
    }
    frame(b'D', &b)
}

fn complete(tag: &str) -> Vec<u8> {
    let mut b = tag.as_bytes().to_vec();
    b.push(0);
    frame(b'C', &b)
}

/// A one-column text result of `type_oid` with one row per value.
fn one_column(type_oid: u32, values: &[&str]) -> Vec<u8> {
    let mut f = row_desc(&[("v", type_oid, 0)]);
    for v in values {
        f.extend(data_row(&[Some(v.as_bytes())]));
    }
    f.extend(complete(&format!("SELECT {}", values.len())));
    f
}

/// Converts `values` of `type_oid` to binary and returns each value's bytes.
fn binary_values(type_oid: u32, values: &[&str]) -> Vec<Vec<u8>> {
    let input = one_column(type_oid, values);
    let out = encode_formats(&input, &[1]).unwrap_or_else(|e| panic!("{e}"));
    let frames = split_frames(&out).unwrap();
    assert_eq!(frames.len(), values.len() + 2);
    assert_eq!(frames[0].0, b'T');
    assert_eq!(
        &frames[0].1[frames[0].1.len() - 2..],
        &[0, 1],
        "format code"
    );
    assert_eq!(frames.last().unwrap().0, b'C');
    frames[1..frames.len() - 1]
        .iter()
        .map(|(tag, body)| {
            assert_eq!(*tag, b'D');
            assert_eq!(&body[..2], &[0, 1]);
            let len = i32::from_be_bytes(body[2..6].try_into().unwrap());
            assert_eq!(len as usize, body.len() - 6);
            body[6..].to_vec()
        })
        .collect()
}

fn one(type_oid: u32, value: &str) -> Vec<u8> {
    binary_values(type_oid, &[value]).remove(0)
}

fn conversion_error(type_oid: u32, value: &str) -> String {
    match encode_formats(&one_column(type_oid, &[value]), &[1]) {
        Err(e @ FormatError::Malformed(_)) => e.to_string(),
        other => panic!("{value:?} as {type_oid}: expected Malformed, got {other:?}"),
    }
}

/// PostgreSQL binary numeric: ndigits, weight, sign, dscale, digits.
fn numeric_bytes(weight: i16, sign: u16, dscale: i16, digits: &[u16]) -> Vec<u8> {
    let mut b = (digits.len() as i16).to_be_bytes().to_vec();
    b.extend_from_slice(&weight.to_be_bytes());
    b.extend_from_slice(&sign.to_be_bytes());
    b.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn integers() {
    assert_eq!(one(21, "-2"), vec![0xff, 0xfe]);
    assert_eq!(one(21, "32767"), vec![0x7f, 0xff]);
    assert_eq!(one(23, "123456"), vec![0x00, 0x01, 0xe2, 0x40]);
    assert_eq!(one(23, "-2147483648"), vec![0x80, 0, 0, 0]);
    assert_eq!(one(20, "-1"), vec![0xff; 8]);
    assert_eq!(
        one(20, "9223372036854775807"),
        i64::MAX.to_be_bytes().to_vec()
    );
    assert_eq!(one(26, "4294967295"), vec![0xff; 4]);
    conversion_error(21, "32768");
    conversion_error(23, "1.5");
    conversion_error(23, "");
    conversion_error(26, "-1");
}

#[test]
fn floats() {
    assert_eq!(
        one(701, "1.5"),
        0x3FF8_0000_0000_0000u64.to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "-0"),
        0x8000_0000_0000_0000u64.to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "1e+100"),
        1e100f64.to_bits().to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "0.1"),
        0x3FB9_9999_9999_999Au64.to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "NaN"),
        0x7FF8_0000_0000_0000u64.to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "Infinity"),
        0x7FF0_0000_0000_0000u64.to_be_bytes().to_vec()
    );
    assert_eq!(
        one(701, "-Infinity"),
        0xFFF0_0000_0000_0000u64.to_be_bytes().to_vec()
    );
    assert_eq!(one(700, "1.5"), vec![0x3f, 0xc0, 0, 0]);
    assert_eq!(one(700, "0.1"), vec![0x3d, 0xcc, 0xcc, 0xcd]);
    assert_eq!(one(700, "NaN"), vec![0x7f, 0xc0, 0, 0]);
    assert_eq!(one(700, "-Infinity"), vec![0xff, 0x80, 0, 0]);
    conversion_error(701, "inf");
    conversion_error(701, "abc");
    conversion_error(700, "");
}

#[test]
fn bools_and_text_like() {
    assert_eq!(binary_values(16, &["t", "f"]), vec![vec![1], vec![0]]);
    conversion_error(16, "yes");
    for type_oid in [25, 1043, 1042, 19, 114, 705] {
        assert_eq!(
            one(type_oid, "héllo {\"a\": 1}"),
            "héllo {\"a\": 1}".as_bytes()
        );
        assert_eq!(one(type_oid, ""), b"");
    }
    assert_eq!(one(3802, "{\"a\": 1}"), b"\x01{\"a\": 1}");
}

#[test]
fn numerics() {
    let cases: &[(&str, Vec<u8>)] = &[
        ("12345.678", numeric_bytes(1, 0, 3, &[1, 2345, 6780])),
        ("-12345.678", numeric_bytes(1, 0x4000, 3, &[1, 2345, 6780])),
        ("0.001", numeric_bytes(-1, 0, 3, &[10])),
        ("0", numeric_bytes(0, 0, 0, &[])),
        ("0.00", numeric_bytes(0, 0, 2, &[])),
        ("-0.00", numeric_bytes(0, 0, 2, &[])),
        ("1", numeric_bytes(0, 0, 0, &[1])),
        ("1.10", numeric_bytes(0, 0, 2, &[1, 1000])),
        ("10000", numeric_bytes(1, 0, 0, &[1])),
        ("100000000.0000", numeric_bytes(2, 0, 4, &[1])),
        ("9999.9999", numeric_bytes(0, 0, 4, &[9999, 9999])),
        ("0.00000001", numeric_bytes(-2, 0, 8, &[1])),
        (
            "123456789012345678901234567890",
            numeric_bytes(7, 0, 0, &[12, 3456, 7890, 1234, 5678, 9012, 3456, 7890]),
        ),
        ("NaN", numeric_bytes(0, 0xC000, 0, &[])),
        ("Infinity", numeric_bytes(0, 0xD000, 32, &[])),
        ("-Infinity", numeric_bytes(0, 0xF000, 32, &[])),
    ];
    for (text, want) in cases {
        assert_eq!(&one(1700, text), want, "{text}");
    }
    for bad in ["", "-", ".", "1.2.3", "1e5", "abc", "- 1", "nan"] {
        conversion_error(1700, bad);
    }
}

#[test]
fn uuids_and_bytea() {
    assert_eq!(
        one(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        vec![
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11
        ]
    );
    conversion_error(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1");
    conversion_error(2950, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");

    assert_eq!(one(17, "\\xdeadBEEF"), vec![0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(one(17, "\\x"), Vec::<u8>::new());
    assert_eq!(one(17, "a\\\\b\\001\\377"), b"a\\b\x01\xff".to_vec());
    conversion_error(17, "\\xabc");
    conversion_error(17, "\\xzz");
    conversion_error(17, "\\400");
    conversion_error(17, "\\01");
}

/// Bytes a real PostgreSQL 15 server sent for these values, captured with
/// `COPY (SELECT '<text>'::<type>) TO STDOUT (FORMAT binary)` (binary COPY
/// uses the same send functions as binary result columns).
#[test]
fn matches_postgres_send_functions() {
    let cases: &[(u32, &str, &str)] = &[
        (21, "-2", "fffe"),
        (23, "123456", "0001e240"),
        (20, "-1", "ffffffffffffffff"),
        (26, "4294967295", "ffffffff"),
        (701, "1.5", "3ff8000000000000"),
        (701, "-0", "8000000000000000"),
        (701, "0.1", "3fb999999999999a"),
        (701, "NaN", "7ff8000000000000"),
        (701, "Infinity", "7ff0000000000000"),
        (701, "-Infinity", "fff0000000000000"),
        (700, "0.1", "3dcccccd"),
        (700, "NaN", "7fc00000"),
        (700, "-Infinity", "ff800000"),
        (16, "t", "01"),
        (3802, r#"{"a": 1}"#, "017b2261223a20317d"),
        (1700, "12345.678", "0003000100000003000109291a7c"),
        (1700, "-12345.678", "0003000140000003000109291a7c"),
        (1700, "0.001", "0001ffff00000003000a"),
        (1700, "0", "0000000000000000"),
        (1700, "0.00", "0000000000000002"),
        (1700, "-0.00", "0000000000000002"),
        (1700, "1.10", "0002000000000002000103e8"),
        (1700, "10000", "00010001000000000001"),
        (1700, "100000000.0000", "00010002000000040001"),
        (1700, "0.00000001", "0001fffe000000080001"),
        (
            1700,
            "123456789012345678901234567890",
            "0008000700000000000c0d801ed204d2162e23340d801ed2",
        ),
        (1700, "NaN", "00000000c0000000"),
        (1700, "Infinity", "00000000d0000020"),
        (1700, "-Infinity", "00000000f0000020"),
        (
            2950,
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        ),
        (17, "\\xdeadbeef", "deadbeef"),
        (1082, "2000-03-01", "0000003c"),
        (1082, "1999-12-31", "ffffffff"),
        (1082, "2024-02-29", "00002279"),
        (1082, "0001-01-01 BC", "fff4da8b"),
        (1082, "infinity", "7fffffff"),
        (1082, "-infinity", "80000000"),
        (1114, "1999-12-31 23:59:59.999999", "ffffffffffffffff"),
        (1114, "2000-01-02 00:00:00.5", "000000141ddf0120"),
        (1114, "infinity", "7fffffffffffffff"),
        (1184, "2000-01-01 05:30:00.25+05:30", "000000000003d090"),
        (1184, "2000-01-01 00:00:00+00:00:10", "ffffffffff676980"),
        (1184, "0001-01-01 00:00:00+00 BC", "ff1fc63d1bb12000"),
    ];
    for (type_oid, text, hex) in cases {
        let want: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(one(*type_oid, text), want, "{text:?} as type {type_oid}");
    }
}

fn i32_bytes(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn i64_bytes(v: i64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

#[test]
fn dates() {
    assert_eq!(one(1082, "2000-01-01"), i32_bytes(0));
    assert_eq!(one(1082, "1999-12-31"), i32_bytes(-1));
    assert_eq!(one(1082, "2000-03-01"), i32_bytes(60));
    assert_eq!(one(1082, "1970-01-01"), i32_bytes(-10_957));
    assert_eq!(one(1082, "2024-02-29"), i32_bytes(8_825));
    // 1 BC is year 0; 2000 Gregorian years are five 400-year cycles.
    assert_eq!(one(1082, "0001-01-01 BC"), i32_bytes(-730_485));
    assert_eq!(one(1082, "infinity"), i32_bytes(i32::MAX));
    assert_eq!(one(1082, "-infinity"), i32_bytes(i32::MIN));
    for bad in [
        "2001-02-29",
        "2000-13-01",
        "2000-1-01",
        "01/02/2000",
        "",
        "0000-01-01 BC",
    ] {
        conversion_error(1082, bad);
    }
}

#[test]
fn timestamps() {
    assert_eq!(one(1114, "2000-01-01 00:00:01"), i64_bytes(1_000_000));
    assert_eq!(one(1114, "2000-01-01 00:00:00"), i64_bytes(0));
    assert_eq!(one(1114, "1999-12-31 23:59:59.999999"), i64_bytes(-1));
    assert_eq!(
        one(1114, "2000-01-02 00:00:00.5"),
        i64_bytes(86_400_500_000)
    );
    assert_eq!(
        one(1114, "1970-01-01 00:00:00"),
        i64_bytes(-10_957 * 86_400_000_000)
    );
    assert_eq!(one(1114, "infinity"), i64_bytes(i64::MAX));
    assert_eq!(one(1114, "-infinity"), i64_bytes(i64::MIN));
    for bad in [
        "2000-01-01",
        "2000-01-01 25:00:00",
        "2000-01-01 00:60:00",
        "2000-01-01 00:00:00.1234567",
        "2000-01-01 00:00:00+00",
        "2000-01-01T00:00:00",
    ] {
        conversion_error(1114, bad);
    }

    assert_eq!(one(1184, "2000-01-01 01:00:00+01"), i64_bytes(0));
    assert_eq!(one(1184, "1999-12-31 19:00:00-05"), i64_bytes(0));
    assert_eq!(
        one(1184, "2000-01-01 05:30:00.25+05:30"),
        i64_bytes(250_000)
    );
    assert_eq!(
        one(1184, "2000-01-01 00:00:00+00:00:10"),
        i64_bytes(-10_000_000)
    );
    assert_eq!(
        one(1184, "2000-01-01 00:00:00-00:00:10"),
        i64_bytes(10_000_000)
    );
    assert_eq!(
        one(1184, "0001-01-01 00:00:00+00 BC"),
        i64_bytes(-730_485 * 86_400_000_000)
    );
    assert_eq!(one(1184, "infinity"), i64_bytes(i64::MAX));
    for bad in [
        "2000-01-01 00:00:00",
        "2000-01-01 00:00:00+1",
        "2000-01-01 00:00:00+01:60",
    ] {
        conversion_error(1184, bad);
    }
}

fn mixed_input() -> Vec<u8> {
    let mut input = row_desc(&[("id", 23, 0), ("name", 25, 0), ("amount", 1700, 0)]);
    input.extend(data_row(&[Some(b"1"), Some(b"ann"), Some(b"12345.678")]));
    input.extend(data_row(&[Some(b"2"), None, None]));
    input.extend(complete("SELECT 2"));
    input
}

#[test]
fn one_code_for_all_columns() {
    let out = encode_formats(&mixed_input(), &[1]).unwrap();
    let mut want = row_desc(&[("id", 23, 1), ("name", 25, 1), ("amount", 1700, 1)]);
    want.extend(data_row(&[
        Some(&[0, 0, 0, 1]),
        Some(b"ann"),
        Some(&numeric_bytes(1, 0, 3, &[1, 2345, 6780])),
    ]));
    want.extend(data_row(&[Some(&[0, 0, 0, 2]), None, None]));
    want.extend(complete("SELECT 2"));
    assert_eq!(&out[..], &want[..]);
}

#[test]
fn per_column_codes() {
    let out = encode_formats(&mixed_input(), &[1, 0, 0]).unwrap();
    let mut want = row_desc(&[("id", 23, 1), ("name", 25, 0), ("amount", 1700, 0)]);
    want.extend(data_row(&[
        Some(&[0, 0, 0, 1]),
        Some(b"ann"),
        Some(b"12345.678"),
    ]));
    want.extend(data_row(&[Some(&[0, 0, 0, 2]), None, None]));
    want.extend(complete("SELECT 2"));
    assert_eq!(&out[..], &want[..]);

    let out = encode_formats(&mixed_input(), &[0, 0, 1]).unwrap();
    let mut want = row_desc(&[("id", 23, 0), ("name", 25, 0), ("amount", 1700, 1)]);
    want.extend(data_row(&[
        Some(b"1"),
        Some(b"ann"),
        Some(&numeric_bytes(1, 0, 3, &[1, 2345, 6780])),
    ]));
    want.extend(data_row(&[Some(b"2"), None, None]));
    want.extend(complete("SELECT 2"));
    assert_eq!(&out[..], &want[..]);
}

#[test]
fn text_only_is_unchanged() {
    let input = mixed_input();
    for formats in [&[][..], &[0], &[0, 0, 0]] {
        assert_eq!(&encode_formats(&input, formats).unwrap()[..], &input[..]);
    }
    // Unsupported types are fine in text.
    let input = one_column(1186, &["1 day"]);
    assert_eq!(&encode_formats(&input, &[0]).unwrap()[..], &input[..]);
}

#[test]
fn no_row_description_is_unchanged() {
    let input = complete("INSERT 0 1");
    assert_eq!(&encode_formats(&input, &[1]).unwrap()[..], &input[..]);
    assert_eq!(&encode_formats(&[], &[1]).unwrap()[..], b"");
}

#[test]
fn zero_rows_and_other_frames() {
    let mut input = row_desc(&[("n", 20, 0)]);
    input.extend(frame(b'N', b"notice\0"));
    input.extend(complete("SELECT 0"));
    let out = encode_formats(&input, &[1]).unwrap();
    let mut want = row_desc(&[("n", 20, 1)]);
    want.extend(frame(b'N', b"notice\0"));
    want.extend(complete("SELECT 0"));
    assert_eq!(&out[..], &want[..]);
}

#[test]
fn unsupported_type() {
    let input = one_column(1186, &["1 day"]);
    match encode_formats(&input, &[1]) {
        Err(e @ FormatError::Unsupported { type_oid: 1186, .. }) => {
            assert_eq!(
                e.to_string(),
                "cannot send column \"v\" (type oid 1186) in binary format after a scatter-gather read"
            );
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // Only the binary columns matter.
    let mut input = row_desc(&[("a", 1186, 0), ("b", 23, 0)]);
    input.extend(data_row(&[Some(b"1 day"), Some(b"7")]));
    let out = encode_formats(&input, &[0, 1]).unwrap();
    let mut want = row_desc(&[("a", 1186, 0), ("b", 23, 1)]);
    want.extend(data_row(&[Some(b"1 day"), Some(&[0, 0, 0, 7])]));
    assert_eq!(&out[..], &want[..]);
}

fn assert_malformed(input: &[u8], formats: &[i16]) -> String {
    match encode_formats(input, formats) {
        Err(e @ FormatError::Malformed(_)) => e.to_string(),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_input() {
    let input = mixed_input();
    // Truncated anywhere inside a frame.
    for cut in 1..input.len() {
        let tail = &input[..cut];
        if split_frames(tail).is_err() {
            assert_malformed(tail, &[1]);
        }
    }
    assert_malformed(&input[..input.len() - 1], &[1]);
    // A length below 4.
    assert_malformed(b"T\0\0\0\x02", &[1]);
    assert_malformed(b"T\xff\xff\xff\xff", &[1]);
    // Wrong number of format codes, or a code that is neither 0 nor 1.
    let msg = assert_malformed(&input, &[1, 0]);
    assert!(msg.contains("2 result formats"), "{msg}");
    assert_malformed(&input, &[2]);
    assert_malformed(&input, &[-1]);
    // DataRow with the wrong column count.
    let mut bad = row_desc(&[("a", 23, 0)]);
    bad.extend(data_row(&[Some(b"1"), Some(b"2")]));
    assert_malformed(&bad, &[1]);
    // DataRow before RowDescription.
    let mut bad = data_row(&[Some(b"1")]);
    bad.extend(row_desc(&[("a", 23, 0)]));
    assert_malformed(&bad, &[1]);
    // A value length beyond the frame, and a negative one other than -1.
    let mut bad = row_desc(&[("a", 23, 0)]);
    bad.extend(frame(b'D', &[0, 1, 0, 0, 0, 9, b'1']));
    assert_malformed(&bad, &[1]);
    let mut bad = row_desc(&[("a", 23, 0)]);
    bad.extend(frame(b'D', &[0, 1, 0xff, 0xff, 0xff, 0xfe]));
    assert_malformed(&bad, &[1]);
    // Trailing bytes inside frames; unterminated name.
    let mut t = row_desc(&[("a", 23, 0)])[5..].to_vec();
    t.push(0);
    assert_malformed(&frame(b'T', &t), &[1]);
    assert_malformed(&frame(b'T', b"\0\x01abc"), &[1]);
    assert_malformed(&frame(b'T', b"\xff\xff"), &[1]);
    // A value that is not valid for its type names the column.
    let msg = conversion_error(23, "x1");
    assert!(
        msg.contains("column \"v\"") && msg.contains("int4"),
        "{msg}"
    );
    conversion_error(23, "\u{fffd}");
}

/// A small deterministic generator, so the fuzz tests need no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn never_panics_on_corrupted_frames() {
    let mut input = row_desc(&[
        ("a", 23, 0),
        ("b", 1700, 0),
        ("c", 1184, 0),
        ("d", 17, 0),
        ("e", 2950, 0),
    ]);
    input.extend(data_row(&[
        Some(b"1"),
        Some(b"-12.5"),
        Some(b"2000-01-01 00:00:00+02"),
        Some(b"\\x00ff"),
        Some(b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ]));
    input.extend(complete("SELECT 1"));
    assert!(encode_formats(&input, &[1]).is_ok());
    let mut rng = Lcg(42);
    for _ in 0..20_000 {
        let mut bad = input.clone();
        for _ in 0..1 + rng.next() % 3 {
            let i = (rng.next() as usize) % bad.len();
            bad[i] = rng.next() as u8;
        }
        let _ = encode_formats(&bad, &[1]);
        let _ = encode_formats(&bad, &[0, 1, 0, 1, 1]);
    }
}

#[test]
fn never_panics_on_odd_values() {
    let alphabet = b"0123456789+-.:eE xXaAfF\\ BCNnIi\xff";
    let mut rng = Lcg(7);
    let types = [
        21, 23, 20, 26, 700, 701, 16, 3802, 1700, 2950, 17, 1082, 1114, 1184,
    ];
    let mut out = Vec::new();
    for _ in 0..50_000 {
        let len = (rng.next() % 40) as usize;
        let text: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() as usize) % alphabet.len()])
            .collect();
        for &t in &types {
            if let Some(conv) = Conv::for_type(t) {
                out.clear();
                let _ = convert(conv, &text, &mut out);
            }
        }
    }
    for s in [
        "99999999999999999999999999999999999999999999999999",
        "5874897-12-31",
        "9999999-12-31 00:00:00",
        "9999999-12-31 00:00:00+15",
        "0.0000000000000000000000000000000000001",
    ] {
        for &t in &types {
            if let Some(conv) = Conv::for_type(t) {
                out.clear();
                let _ = convert(conv, s.as_bytes(), &mut out);
            }
        }
    }
}
