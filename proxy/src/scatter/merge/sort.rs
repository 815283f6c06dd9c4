//! ORDER BY across shards: typed sort keys, the k-way merge of per-shard
//! streams that are each already sorted, a stable sort for rows built
//! after grouping, and OFFSET/LIMIT.
//!
//! Ties always keep the earlier shard first, then the earlier row, so the
//! result is deterministic for a given shard order.

use std::cmp::Ordering;
use std::collections::VecDeque;

use shardwire_router::SortKey;

use super::frames::Fields;
use super::value::{ColumnKind, Value};
use super::MergeError;

/// The parsed sort-key values of one row, in ORDER BY order.
pub type Key = Vec<Option<Value>>;

/// One ORDER BY term with the kind of the column it sorts on.
#[derive(Debug, Clone)]
struct Term {
    column: usize,
    kind: ColumnKind,
    descending: bool,
    nulls_first: bool,
}

/// An ORDER BY list bound to the result's column kinds.
#[derive(Debug, Clone)]
pub struct RowOrder {
    terms: Vec<Term>,
}

impl RowOrder {
    /// Binds `keys` to the column kinds; the caller has checked that every
    /// key's column exists.
    pub fn new(keys: &[SortKey], kinds: &[ColumnKind]) -> Self {
        let terms = keys
            .iter()
            .map(|key| Term {
                column: key.column,
                kind: kinds.get(key.column).copied().unwrap_or(ColumnKind::Bytes),
                descending: key.descending,
                nulls_first: key.nulls_first,
            })
            .collect();
        RowOrder { terms }
    }

    /// Whether there is anything to sort by.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Parses the sort-key values out of a row.
    pub fn key_of(&self, fields: &Fields) -> Result<Key, MergeError> {
        self.terms
            .iter()
            .map(|term| {
                let Some(raw) = fields.get(term.column).cloned().flatten() else {
                    return Ok(None);
                };
                Value::parse(term.kind, &raw).map(Some).ok_or_else(|| {
                    MergeError::Malformed(format!(
                        "column {} holds {:?}, which is not a valid {:?} value",
                        term.column,
                        String::from_utf8_lossy(&raw),
                        term.kind
                    ))
                })
            })
            .collect()
    }

    /// Compares two keys: NULL placement per term, then the typed value
    /// order, reversed for DESC.
    pub fn compare(&self, a: &Key, b: &Key) -> Ordering {
        for (term, (a, b)) in self.terms.iter().zip(a.iter().zip(b)) {
            let ordering = match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) if term.nulls_first => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) if term.nulls_first => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) if term.descending => b.cmp(a),
                (Some(a), Some(b)) => a.cmp(b),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }
}

/// K-way merge of streams that are each sorted by `order`, stopping after
/// `take` items when given. On ties the earlier stream wins.
pub fn merge_sorted<T>(
    streams: Vec<Vec<(Key, T)>>,
    order: &RowOrder,
    take: Option<usize>,
) -> Vec<T> {
    let total: usize = streams.iter().map(Vec::len).sum();
    let wanted = take.map_or(total, |take| take.min(total));
    let mut heads: Vec<VecDeque<(Key, T)>> = streams.into_iter().map(VecDeque::from).collect();
    let mut out = Vec::with_capacity(wanted);
    while out.len() < wanted {
        // Linear scan: shard counts are small, and only a strictly smaller
        // key replaces the current best, so ties keep the earliest stream.
        let mut best: Option<(usize, &Key)> = None;
        for (index, head) in heads.iter().enumerate() {
            let Some((key, _)) = head.front() else {
                continue;
            };
            let better =
                best.is_none_or(|(_, best_key)| order.compare(key, best_key) == Ordering::Less);
            if better {
                best = Some((index, key));
            }
        }
        let next = best
            .map(|(index, _)| index)
            .and_then(|index| heads.get_mut(index))
            .and_then(VecDeque::pop_front);
        match next {
            Some((_, item)) => out.push(item),
            None => break,
        }
    }
    out
}

/// Stable sort by `order`.
pub fn sort_stable<T>(mut items: Vec<(Key, T)>, order: &RowOrder) -> Vec<T> {
    items.sort_by(|(a, _), (b, _)| order.compare(a, b));
    items.into_iter().map(|(_, item)| item).collect()
}

/// How many leading items OFFSET and LIMIT need: `offset + limit`, or
/// everything without a LIMIT.
pub fn needed(offset: Option<u64>, limit: Option<u64>) -> Option<usize> {
    let limit = limit?;
    let total = offset.unwrap_or(0).saturating_add(limit);
    Some(usize::try_from(total).unwrap_or(usize::MAX))
}

/// Skips `offset` items, then keeps at most `limit`.
pub fn window<T>(items: Vec<T>, offset: Option<u64>, limit: Option<u64>) -> Vec<T> {
    let skip = usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let keep = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    items.into_iter().skip(skip).take(keep).collect()
}

#[cfg(test)]
mod tests;
