//! End-to-end tests of [`merge`](super::merge) on hand-built frames. The
//! decoder here is independent of `frames.rs`, so the output bytes are
//! checked against the wire format itself.

use bytes::{BufMut, Bytes, BytesMut};
use shardwire_router::{Aggregate, AggregateKind, MergeSpec, SortKey};

use super::{merge, MergeError, ShardResult};

const INT4: u32 = 23;
const INT8: u32 = 20;
const TEXT: u32 = 25;
const FLOAT8: u32 = 701;
const NUMERIC: u32 = 1700;

/// Marks SQL NULL in the row literals below.
const NULL: &str = "<null>";

fn row_description(columns: &[(&str, u32)]) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i16(columns.len() as i16);
    for (i, (name, type_oid)) in columns.iter().enumerate() {
        body.put_slice(name.as_bytes());
        body.put_u8(0);
        body.put_u32(16384);
        body.put_i16(i as i16 + 1);
        body.put_u32(*type_oid);
        body.put_i16(if *type_oid == TEXT || *type_oid == NUMERIC {
            -1
        } else {
            4
        });
        body.put_i32(-1);
        body.put_i16(0);
    }
    frame(b'T', &body)
}

fn data_row(values: &[&str]) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i16(values.len() as i16);
    for value in values {
        if *value == NULL {
            body.put_i32(-1);
        } else {
            body.put_i32(value.len() as i32);
            body.put_slice(value.as_bytes());
        }
    }
    frame(b'D', &body)
}

fn frame(tag: u8, body: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(tag);
    out.put_i32(body.len() as i32 + 4);
    out.put_slice(body);
    out.freeze()
}

fn shard(columns: &[(&str, u32)], rows: &[&[&str]]) -> ShardResult {
    ShardResult {
        row_description: Some(row_description(columns)),
        rows: rows.iter().map(|r| data_row(r)).collect(),
        command_tag: format!("SELECT {}", rows.len()),
    }
}

fn spec(output_columns: usize) -> MergeSpec {
    MergeSpec {
        order_by: Vec::new(),
        limit: None,
        offset: None,
        group_by: Vec::new(),
        aggregates: Vec::new(),
        output_columns,
    }
}

fn asc(column: usize) -> SortKey {
    SortKey {
        column,
        descending: false,
        nulls_first: false,
    }
}

fn desc(column: usize) -> SortKey {
    SortKey {
        column,
        descending: true,
        nulls_first: true,
    }
}

fn agg(column: usize, kind: AggregateKind) -> Aggregate {
    Aggregate { column, kind }
}

/// What the client would see.
#[derive(Debug)]
struct Decoded {
    columns: Vec<(String, u32)>,
    rows: Vec<Vec<String>>,
    tag: String,
}

/// Reads one frame body front to back.
struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.body[self.at..self.at + n];
        self.at += n;
        out
    }

    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    fn cstring(&mut self) -> String {
        let len = self.body[self.at..].iter().position(|&b| b == 0).unwrap();
        let out = String::from_utf8(self.take(len).to_vec()).unwrap();
        self.take(1);
        out
    }
}

fn decode(out: &[u8]) -> Decoded {
    let mut frames = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let len = i32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        frames.push((rest[0], &rest[5..1 + len]));
        rest = &rest[1 + len..];
    }
    let (tag, body) = frames.pop().expect("a CommandComplete");
    assert_eq!(tag, b'C');
    let tag = Cursor { body, at: 0 }.cstring();
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for (i, (tag, body)) in frames.into_iter().enumerate() {
        let mut cursor = Cursor { body, at: 0 };
        let count = cursor.i16() as usize;
        match tag {
            b'T' => {
                assert_eq!(i, 0, "RowDescription comes first");
                for _ in 0..count {
                    let name = cursor.cstring();
                    cursor.take(4 + 2);
                    let type_oid = cursor.i32() as u32;
                    cursor.take(2 + 4 + 2);
                    columns.push((name, type_oid));
                }
            }
            b'D' => {
                assert_eq!(count, columns.len(), "DataRow width matches RowDescription");
                let mut row = Vec::new();
                for _ in 0..count {
                    let len = cursor.i32();
                    row.push(if len < 0 {
                        NULL.to_owned()
                    } else {
                        String::from_utf8(cursor.take(len as usize).to_vec()).unwrap()
                    });
                }
                rows.push(row);
            }
            other => panic!("unexpected frame {}", char::from(other)),
        }
        assert_eq!(cursor.at, body.len(), "frame fully consumed");
    }
    assert_eq!(tag, format!("SELECT {}", rows.len()));
    Decoded { columns, rows, tag }
}

fn run(results: Vec<ShardResult>, spec: Option<&MergeSpec>) -> Decoded {
    decode(&merge(results, spec).unwrap())
}

/// The first column of every row.
fn first_column(decoded: &Decoded) -> Vec<&str> {
    decoded.rows.iter().map(|r| r[0].as_str()).collect()
}

// ---- concatenation ----

#[test]
fn concatenates_in_shard_order_without_spec() {
    let cols = [("id", INT4), ("name", TEXT)];
    let results = vec![
        shard(&cols, &[&["3", "c"], &["1", NULL]]),
        shard(&cols, &[]),
        shard(&cols, &[&["2", "b"]]),
    ];
    let expected_rows: Vec<Bytes> = results.iter().flat_map(|r| r.rows.clone()).collect();
    let out = merge(results, None).unwrap();
    let decoded = decode(&out);
    assert_eq!(
        decoded.columns,
        [("id".to_owned(), INT4), ("name".to_owned(), TEXT)]
    );
    assert_eq!(decoded.rows, [["3", "c"], ["1", NULL], ["2", "b"]]);
    assert_eq!(decoded.tag, "SELECT 3");
    // Unchanged rows are forwarded byte for byte.
    let t_len = row_description(&cols).len();
    assert_eq!(
        &out[t_len..t_len + expected_rows.concat().len()],
        &expected_rows.concat()[..]
    );
}

#[test]
fn spec_without_ordering_concatenates_then_limits() {
    let cols = [("id", INT4)];
    let results = vec![shard(&cols, &[&["5"], &["6"]]), shard(&cols, &[&["7"]])];
    let mut s = spec(1);
    s.offset = Some(1);
    s.limit = Some(1);
    assert_eq!(first_column(&run(results, Some(&s))), ["6"]);
}

#[test]
fn no_row_description_passes_shard_zero_tag() {
    let results = vec![
        ShardResult {
            row_description: None,
            rows: vec![],
            command_tag: "SELECT 0".to_owned(),
        },
        ShardResult {
            row_description: None,
            rows: vec![],
            command_tag: "SELECT 7".to_owned(),
        },
    ];
    let out = merge(results, None).unwrap();
    assert_eq!(&out[..], b"C\0\0\0\x0dSELECT 0\0");
}

// ---- ORDER BY ----

#[test]
fn orders_integers_ascending_nulls_last() {
    let cols = [("n", INT4)];
    let results = vec![
        shard(&cols, &[&["2"], &["10"], &[NULL]]),
        shard(&cols, &[&["-5"], &["9"]]),
        shard(&cols, &[&["3"], &[NULL]]),
    ];
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        ["-5", "2", "3", "9", "10", NULL, NULL]
    );
}

#[test]
fn orders_integers_descending_nulls_first() {
    let cols = [("n", INT8)];
    let results = vec![
        shard(&cols, &[&[NULL], &["10"], &["2"]]),
        shard(&cols, &[&["9"], &["-5"]]),
    ];
    let mut s = spec(1);
    s.order_by = vec![desc(0)];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        [NULL, "10", "9", "2", "-5"]
    );
}

#[test]
fn orders_integers_ascending_nulls_first_and_descending_nulls_last() {
    let cols = [("n", INT4)];
    let mut s = spec(1);
    s.order_by = vec![SortKey {
        column: 0,
        descending: false,
        nulls_first: true,
    }];
    let results = vec![
        shard(&cols, &[&[NULL], &["1"], &["4"]]),
        shard(&cols, &[&[NULL], &["2"]]),
    ];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        [NULL, NULL, "1", "2", "4"]
    );

    s.order_by = vec![SortKey {
        column: 0,
        descending: true,
        nulls_first: false,
    }];
    let results = vec![
        shard(&cols, &[&["4"], &["1"], &[NULL]]),
        shard(&cols, &[&["2"], &[NULL]]),
    ];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        ["4", "2", "1", NULL, NULL]
    );
}

#[test]
fn orders_text_bytewise() {
    let cols = [("s", TEXT)];
    let results = vec![
        shard(&cols, &[&["B"], &["ab"], &["b"]]),
        shard(&cols, &[&[""], &["a"], &["abc"], &["é"]]),
    ];
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        ["", "B", "a", "ab", "abc", "b", "é"]
    );
}

#[test]
fn orders_numeric_exactly() {
    let cols = [("x", NUMERIC)];
    let results = vec![
        shard(
            &cols,
            &[
                &["-12345678901234567890.123"],
                &["9.5"],
                &["12345678901234567890.000000000000000001"],
            ],
        ),
        shard(
            &cols,
            &[
                &["-12345678901234567890.12"],
                &["10"],
                &["12345678901234567890"],
                &["NaN"],
            ],
        ),
    ];
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        [
            "-12345678901234567890.123",
            "-12345678901234567890.12",
            "9.5",
            "10",
            "12345678901234567890",
            "12345678901234567890.000000000000000001",
            "NaN"
        ]
    );
}

#[test]
fn orders_floats_with_nan_last_ascending_first_descending() {
    let cols = [("f", FLOAT8)];
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    let results = vec![
        shard(&cols, &[&["-Infinity"], &["1e-05"], &["NaN"]]),
        shard(&cols, &[&["-3.5"], &["2"], &["Infinity"], &[NULL]]),
    ];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        ["-Infinity", "-3.5", "1e-05", "2", "Infinity", "NaN", NULL]
    );

    s.order_by = vec![desc(0)];
    let results = vec![
        shard(&cols, &[&["NaN"], &["1e+20"], &["-1"]]),
        shard(&cols, &[&[NULL], &["NaN"], &["3"]]),
    ];
    assert_eq!(
        first_column(&run(results, Some(&s))),
        [NULL, "NaN", "NaN", "1e+20", "3", "-1"]
    );
}

#[test]
fn multi_key_sort_is_stable_across_shards() {
    // ORDER BY grp, n DESC; column 2 tags the row's origin.
    let cols = [("grp", TEXT), ("n", INT4), ("origin", TEXT)];
    let results = vec![
        shard(
            &cols,
            &[
                &["a", "2", "s0r0"],
                &["a", "1", "s0r1"],
                &["b", "5", "s0r2"],
            ],
        ),
        shard(
            &cols,
            &[
                &["a", "2", "s1r0"],
                &["a", "2", "s1r1"],
                &["b", "7", "s1r2"],
            ],
        ),
    ];
    let mut s = spec(3);
    s.order_by = vec![asc(0), desc(1)];
    let decoded = run(results, Some(&s));
    let origins: Vec<&str> = decoded.rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(origins, ["s0r0", "s1r0", "s1r1", "s0r1", "s1r2", "s0r2"]);
}

#[test]
fn limit_and_offset_apply_after_merging() {
    let cols = [("n", INT4)];
    let make = || {
        vec![
            shard(&cols, &[&["1"], &["4"], &["7"]]),
            shard(&cols, &[&["2"], &["5"], &["8"]]),
            shard(&cols, &[&["3"], &["6"], &["9"]]),
        ]
    };
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    s.offset = Some(2);
    s.limit = Some(3);
    assert_eq!(first_column(&run(make(), Some(&s))), ["3", "4", "5"]);

    s.offset = None;
    s.limit = Some(0);
    let decoded = run(make(), Some(&s));
    assert!(decoded.rows.is_empty());
    assert_eq!(decoded.tag, "SELECT 0");

    s.offset = Some(8);
    s.limit = None;
    assert_eq!(first_column(&run(make(), Some(&s))), ["9"]);

    s.offset = Some(20);
    assert!(run(make(), Some(&s)).rows.is_empty());
}

// ---- hidden columns ----

#[test]
fn hidden_sort_column_is_dropped_from_description_and_rows() {
    // SELECT name ... ORDER BY id: the router appended id as column 1.
    let cols = [("name", TEXT), ("id", INT4)];
    let results = vec![
        shard(&cols, &[&["x", "3"], &["y", "30"]]),
        shard(&cols, &[&["z", "4"]]),
    ];
    let mut s = spec(1);
    s.order_by = vec![asc(1)];
    let decoded = run(results, Some(&s));
    assert_eq!(decoded.columns, [("name".to_owned(), TEXT)]);
    assert_eq!(decoded.rows, [["x"], ["z"], ["y"]]);
}

#[test]
fn unknown_output_count_keeps_every_column() {
    // SELECT * ... ORDER BY 2: the router cannot count `*`.
    let cols = [("id", INT4), ("name", TEXT)];
    let results = vec![shard(&cols, &[&["1", "b"]]), shard(&cols, &[&["2", "a"]])];
    let mut s = spec(usize::MAX);
    s.order_by = vec![asc(1)];
    let decoded = run(results, Some(&s));
    assert_eq!(decoded.columns.len(), 2);
    assert_eq!(decoded.rows, [["2", "a"], ["1", "b"]]);
}

// ---- aggregates ----

/// `SELECT count(x), sum(x), min(x), max(x), avg(x)` with avg's count
/// hidden in column 5.
fn aggregate_spec() -> MergeSpec {
    let mut s = spec(5);
    s.aggregates = vec![
        agg(0, AggregateKind::Count),
        agg(1, AggregateKind::Sum),
        agg(2, AggregateKind::Min),
        agg(3, AggregateKind::Max),
        agg(4, AggregateKind::Avg { count_column: 5 }),
    ];
    s
}

const AGG_COLUMNS: [(&str, u32); 6] = [
    ("count", INT8),
    ("sum", INT8),
    ("min", INT4),
    ("max", INT4),
    ("avg", INT8),
    ("avg_count", INT8),
];

#[test]
fn aggregates_combine_ignoring_null_partials() {
    let results = vec![
        shard(&AGG_COLUMNS, &[&["2", "3", "1", "2", "3", "2"]]),
        // A shard whose table part is empty.
        shard(&AGG_COLUMNS, &[&["0", NULL, NULL, NULL, NULL, "0"]]),
        shard(&AGG_COLUMNS, &[&["1", "4", "4", "4", "4", "1"]]),
        // A shard that returned no row at all (e.g. filtered by HAVING).
        shard(&AGG_COLUMNS, &[]),
    ];
    let decoded = run(results, Some(&aggregate_spec()));
    assert_eq!(decoded.rows, [["3", "7", "1", "4", "2.3333333333333333"]]);
    let names: Vec<&str> = decoded.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["count", "sum", "min", "max", "avg"]);
    // avg comes out as numeric, like PostgreSQL's avg(int).
    assert_eq!(decoded.columns[4].1, NUMERIC);
    assert_eq!(decoded.columns[1].1, INT8);
}

#[test]
fn aggregates_over_only_empty_shards_are_null_and_zero() {
    let results = vec![
        shard(&AGG_COLUMNS, &[&["0", NULL, NULL, NULL, NULL, "0"]]),
        shard(&AGG_COLUMNS, &[&["0", NULL, NULL, NULL, NULL, "0"]]),
    ];
    let decoded = run(results, Some(&aggregate_spec()));
    assert_eq!(decoded.rows, [["0", NULL, NULL, NULL, NULL]]);
}

#[test]
fn avg_prints_postgres_scale() {
    let run_avg = |parts: &[(&str, &str)]| {
        let cols = [("avg", INT8), ("n", INT8)];
        let results = parts
            .iter()
            .map(|(sum, n)| shard(&cols, &[&[sum, n]]))
            .collect();
        let mut s = spec(1);
        s.aggregates = vec![agg(0, AggregateKind::Avg { count_column: 1 })];
        run(results, Some(&s)).rows[0][0].clone()
    };
    assert_eq!(run_avg(&[("1", "1"), ("2", "1")]), "1.5000000000000000");
    assert_eq!(run_avg(&[("2", "1"), ("4", "1")]), "3.0000000000000000");
    assert_eq!(
        run_avg(&[("-7", "2"), (NULL, "0"), ("0", "1")]),
        "-2.3333333333333333"
    );
}

#[test]
fn sums_are_exact_beyond_int8_and_numeric_scale() {
    let cols = [("sum", NUMERIC), ("total", NUMERIC)];
    let results = vec![
        shard(&cols, &[&["9223372036854775807", "0.10"]]),
        shard(&cols, &[&["9223372036854775807", "0.2"]]),
        shard(&cols, &[&["1", "-0.3"]]),
    ];
    let mut s = spec(2);
    s.aggregates = vec![agg(0, AggregateKind::Sum), agg(1, AggregateKind::Sum)];
    let decoded = run(results, Some(&s));
    assert_eq!(decoded.rows, [["18446744073709551615", "0.00"]]);
}

#[test]
fn float_sum_and_avg() {
    let cols = [("sum", FLOAT8), ("avg", FLOAT8), ("n", INT8)];
    let results = vec![
        shard(&cols, &[&["0.1", "1", "1"]]),
        shard(&cols, &[&["0.2", "2.5", "2"]]),
        shard(&cols, &[&[NULL, NULL, "0"]]),
    ];
    let mut s = spec(2);
    s.aggregates = vec![
        agg(0, AggregateKind::Sum),
        agg(1, AggregateKind::Avg { count_column: 2 }),
    ];
    let decoded = run(results, Some(&s));
    assert_eq!(
        decoded.rows,
        [["0.30000000000000004", "1.1666666666666667"]]
    );
    assert_eq!(decoded.columns[1].1, FLOAT8);
}

#[test]
fn min_max_use_column_type_order() {
    let cols = [("lo", NUMERIC), ("hi", TEXT), ("fmax", FLOAT8)];
    let results = vec![
        shard(&cols, &[&["10.50", "Zebra", "1e+20"]]),
        shard(&cols, &[&["9.999", "apple", "NaN"]]),
        shard(&cols, &[&["10.5", "B", NULL]]),
    ];
    let mut s = spec(3);
    s.aggregates = vec![
        agg(0, AggregateKind::Min),
        agg(1, AggregateKind::Max),
        agg(2, AggregateKind::Max),
    ];
    assert_eq!(run(results, Some(&s)).rows, [["9.999", "apple", "NaN"]]);
}

// ---- GROUP BY ----

/// `SELECT region, count(*), sum(amount) ... GROUP BY region`.
fn grouped_shards() -> Vec<ShardResult> {
    let cols = [("region", TEXT), ("count", INT8), ("sum", NUMERIC)];
    vec![
        shard(
            &cols,
            &[&["eu", "2", "10.5"], &["us", "1", "3"], &[NULL, "1", "1"]],
        ),
        shard(&cols, &[&["asia", "4", "8"], &["eu", "1", "0.25"]]),
        shard(&cols, &[&[NULL, "2", NULL], &["us", "3", "4"]]),
    ]
}

fn grouped_spec() -> MergeSpec {
    let mut s = spec(3);
    s.group_by = vec![0];
    s.aggregates = vec![agg(1, AggregateKind::Count), agg(2, AggregateKind::Sum)];
    s
}

#[test]
fn group_by_combines_groups_with_nulls_together() {
    let decoded = run(grouped_shards(), Some(&grouped_spec()));
    assert_eq!(
        decoded.rows,
        [
            ["eu", "3", "10.75"],
            ["us", "4", "7"],
            [NULL, "3", "1"],
            ["asia", "4", "8"]
        ]
    );
}

#[test]
fn group_by_then_order_by_then_limit() {
    // ORDER BY count DESC, region LIMIT 2 OFFSET 1
    let mut s = grouped_spec();
    s.order_by = vec![desc(1), asc(0)];
    s.offset = Some(1);
    s.limit = Some(2);
    let decoded = run(grouped_shards(), Some(&s));
    assert_eq!(decoded.rows, [["us", "4", "7"], ["eu", "3", "10.75"]]);
}

#[test]
fn group_by_on_hidden_key_with_avg() {
    // SELECT avg(v) ... GROUP BY k ORDER BY avg: k and avg's count hidden.
    let cols = [("avg", INT8), ("k", INT4), ("n", INT8)];
    let results = vec![
        shard(&cols, &[&["10", "1", "4"], &["5", "2", "1"]]),
        shard(&cols, &[&["2", "1", "1"], &["6", "2", "2"]]),
    ];
    let mut s = spec(1);
    s.group_by = vec![1];
    s.aggregates = vec![agg(0, AggregateKind::Avg { count_column: 2 })];
    s.order_by = vec![asc(0)];
    let decoded = run(results, Some(&s));
    assert_eq!(decoded.columns, [("avg".to_owned(), NUMERIC)]);
    assert_eq!(
        decoded.rows,
        [["2.4000000000000000"], ["3.6666666666666667"]]
    );
}

#[test]
fn group_by_compares_keys_by_type() {
    // 1.0 and 1 are the same numeric group; the first text seen is kept.
    let cols = [("k", NUMERIC), ("count", INT8)];
    let results = vec![
        shard(&cols, &[&["1.0", "1"]]),
        shard(&cols, &[&["1", "2"], &["2", "5"]]),
    ];
    let mut s = spec(2);
    s.group_by = vec![0];
    s.aggregates = vec![agg(1, AggregateKind::Count)];
    assert_eq!(run(results, Some(&s)).rows, [["1.0", "3"], ["2", "5"]]);
}

#[test]
fn group_by_rejects_plain_columns() {
    let cols = [("region", TEXT), ("name", TEXT), ("count", INT8)];
    let results = vec![shard(&cols, &[&["eu", "x", "1"]])];
    let mut s = spec(3);
    s.group_by = vec![0];
    s.aggregates = vec![agg(2, AggregateKind::Count)];
    let err = merge(results, Some(&s)).unwrap_err();
    assert!(matches!(err, MergeError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn sum_over_text_is_unsupported() {
    let cols = [("s", TEXT)];
    let mut s = spec(1);
    s.aggregates = vec![agg(0, AggregateKind::Sum)];
    let err = merge(vec![shard(&cols, &[&["x"]])], Some(&s)).unwrap_err();
    assert!(matches!(err, MergeError::Unsupported(_)), "{err}");
}

// ---- errors ----

#[test]
fn malformed_frames_are_errors_not_panics() {
    let cols = [("n", INT4)];
    let broken_rows: [Bytes; 5] = [
        Bytes::new(),
        Bytes::from_static(b"D\0\0"),
        Bytes::from_static(b"X\0\0\0\x06\0\x01"),
        data_row(&["1", "2"]),
        Bytes::from_static(b"D\0\0\0\x0a\0\x01\0\0\0\x09"),
    ];
    for bad in broken_rows {
        let mut result = shard(&cols, &[&["1"]]);
        result.rows.push(bad.clone());
        let err = merge(vec![result], None).unwrap_err();
        assert!(matches!(err, MergeError::Malformed(_)), "{bad:?}: {err}");
    }
    for bad in [
        Bytes::from_static(b"T\0\0\0\x06\0\x01"),
        Bytes::from_static(b"T\0\0\0\x05"),
        data_row(&["1"]),
    ] {
        let result = ShardResult {
            row_description: Some(bad.clone()),
            rows: vec![],
            command_tag: "SELECT 0".to_owned(),
        };
        let err = merge(vec![result], None).unwrap_err();
        assert!(matches!(err, MergeError::Malformed(_)), "{bad:?}: {err}");
    }
}

#[test]
fn rows_without_description_and_empty_input_are_errors() {
    let result = ShardResult {
        row_description: None,
        rows: vec![data_row(&["1"])],
        command_tag: "SELECT 1".to_owned(),
    };
    assert!(matches!(
        merge(vec![result], None),
        Err(MergeError::Malformed(_))
    ));
    assert!(matches!(merge(vec![], None), Err(MergeError::Malformed(_))));
}

#[test]
fn invalid_values_in_typed_columns_are_malformed() {
    let cols = [("n", INT4)];
    let results = vec![shard(&cols, &[&["1"]]), shard(&cols, &[&["one"]])];
    let mut s = spec(1);
    s.order_by = vec![asc(0)];
    assert!(matches!(
        merge(results, Some(&s)),
        Err(MergeError::Malformed(_))
    ));

    let mut s = spec(1);
    s.aggregates = vec![agg(0, AggregateKind::Count)];
    let results = vec![shard(&[("count", INT8)], &[&["1.5"]])];
    assert!(matches!(
        merge(results, Some(&s)),
        Err(MergeError::Malformed(_))
    ));
}

#[test]
fn shards_disagreeing_on_columns_is_a_mismatch() {
    let a = shard(&[("n", INT4)], &[&["1"]]);
    for other in [
        shard(&[("n", INT8)], &[&["1"]]),
        shard(&[("m", INT4)], &[&["1"]]),
        shard(&[("n", INT4), ("x", TEXT)], &[&["1", "x"]]),
        ShardResult {
            row_description: None,
            rows: vec![],
            command_tag: "SELECT 0".to_owned(),
        },
    ] {
        let err = merge(vec![a.clone(), other], None).unwrap_err();
        assert!(matches!(err, MergeError::Mismatch(_)), "{err}");
    }
}

#[test]
fn spec_naming_missing_columns_is_a_mismatch() {
    let make = || vec![shard(&[("n", INT4)], &[&["1"]])];
    let mut s = spec(1);
    s.order_by = vec![asc(3)];
    assert!(matches!(
        merge(make(), Some(&s)),
        Err(MergeError::Mismatch(_))
    ));
    let s = spec(2);
    assert!(matches!(
        merge(make(), Some(&s)),
        Err(MergeError::Mismatch(_))
    ));
    let mut s = spec(1);
    s.aggregates = vec![agg(0, AggregateKind::Avg { count_column: 1 })];
    assert!(matches!(
        merge(make(), Some(&s)),
        Err(MergeError::Mismatch(_))
    ));
}

#[test]
fn errors_display_clearly() {
    let text = MergeError::Mismatch("column 0".to_owned()).to_string();
    assert_eq!(text, "shard results do not agree on columns: column 0");
    assert!(MergeError::Malformed("x".to_owned())
        .to_string()
        .starts_with("malformed"));
    assert!(MergeError::Unsupported("x".to_owned())
        .to_string()
        .starts_with("cannot merge"));
}
