//! Unit tests of `sort`.

use bytes::Bytes;

use super::*;

fn order(descending: bool, nulls_first: bool) -> RowOrder {
    RowOrder::new(
        &[SortKey {
            column: 0,
            descending,
            nulls_first,
        }],
        &[ColumnKind::Integer],
    )
}

fn stream(order: &RowOrder, values: &[Option<&'static str>], tag: char) -> Vec<(Key, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let fields = vec![v.map(|s| Bytes::from_static(s.as_bytes()))];
            (order.key_of(&fields).unwrap(), format!("{tag}{i}"))
        })
        .collect()
}

#[test]
fn merges_and_keeps_shard_order_on_ties() {
    let o = order(false, false);
    let a = stream(&o, &[Some("1"), Some("3"), None], 'a');
    let b = stream(&o, &[Some("1"), Some("2"), None], 'b');
    assert_eq!(
        merge_sorted(vec![a, b], &o, None),
        ["a0", "b0", "b1", "a1", "a2", "b2"]
    );
}

#[test]
fn merge_stops_early() {
    let o = order(true, true);
    let a = stream(&o, &[None, Some("9"), Some("1")], 'a');
    let b = stream(&o, &[Some("10"), Some("2")], 'b');
    assert_eq!(merge_sorted(vec![a, b], &o, Some(3)), ["a0", "b0", "a1"]);
}

#[test]
fn window_and_needed() {
    assert_eq!(window(vec![1, 2, 3, 4], Some(1), Some(2)), [2, 3]);
    assert_eq!(window(vec![1, 2], Some(5), None), Vec::<i32>::new());
    assert_eq!(needed(Some(2), Some(3)), Some(5));
    assert_eq!(needed(Some(2), None), None);
    assert_eq!(needed(Some(u64::MAX), Some(1)), Some(usize::MAX));
}

#[test]
fn key_of_rejects_bad_values() {
    let o = order(false, false);
    let err = o
        .key_of(&vec![Some(Bytes::from_static(b"x1"))])
        .unwrap_err();
    assert!(matches!(err, MergeError::Malformed(_)));
}
