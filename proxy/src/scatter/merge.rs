//! Merging the answers of one SELECT scattered to every shard into the
//! single result the client sees.
//!
//! Input is each shard's RowDescription, DataRows and command tag as raw
//! frames (simple query protocol, so every field is TEXT). Output is the
//! complete frame sequence for the client: `T`, the `D`s, then
//! `C "SELECT <n>"`. What happens in between is driven by the router's
//! [`MergeSpec`]:
//!
//! - no spec: plain concatenation in shard order;
//! - ORDER BY without grouping: k-way merge of the (already sorted) shard
//!   streams, then OFFSET and LIMIT;
//! - GROUP BY and/or aggregates: combine groups, then sort, then OFFSET and
//!   LIMIT;
//! - columns at or beyond `output_columns` (helpers the router appended)
//!   are removed from the `T` and every `D`.
//!
//! Rows that need no change are forwarded as their original bytes.

mod aggregate;
mod decimal;
mod float;
mod frames;
mod sort;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

use bytes::{Bytes, BytesMut};
use shardwire_router::MergeSpec;

use frames::{Field, Fields};
use sort::{Key, RowOrder};
use value::ColumnKind;

/// One shard's answer to the scattered SELECT.
#[derive(Debug, Clone, Default)]
pub struct ShardResult {
    /// The whole RowDescription frame (tag and length included), or `None`
    /// if the statement returned no row description.
    pub row_description: Option<Bytes>,
    /// The whole DataRow frames, in the order the shard sent them.
    pub rows: Vec<Bytes>,
    /// The shard's CommandComplete tag, e.g. `SELECT 3`.
    pub command_tag: String,
}

/// Why shard results could not be merged.
#[derive(Debug)]
pub enum MergeError {
    /// A frame does not parse (short, wrong tag, field count mismatch, a
    /// value that is not valid for its column type).
    Malformed(String),
    /// The shards, or the merge spec and the shards, disagree on columns.
    Mismatch(String),
    /// The merge spec asks for something that cannot be done across shards.
    Unsupported(String),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Malformed(detail) => {
                write!(f, "malformed shard result while merging: {detail}")
            }
            MergeError::Mismatch(detail) => {
                write!(f, "shard results do not agree on columns: {detail}")
            }
            MergeError::Unsupported(detail) => {
                write!(f, "cannot merge shard results: {detail}")
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// A row on its way out: its fields and, while unchanged, its original
/// frame.
struct Row {
    original: Option<Bytes>,
    fields: Fields,
}

/// Merges per-shard results. `spec` `None` means plain concatenation in
/// shard order.
pub fn merge(results: Vec<ShardResult>, spec: Option<&MergeSpec>) -> Result<BytesMut, MergeError> {
    let Some(first) = results.first() else {
        return Err(MergeError::Malformed(
            "no shard results to merge".to_owned(),
        ));
    };
    let Some(fields) = common_row_description(&results)? else {
        // Nothing row-shaped: pass shard 0's completion through.
        let mut out = BytesMut::new();
        frames::encode_command_complete(&first.command_tag, &mut out);
        return Ok(out);
    };
    let mut shards = Vec::with_capacity(results.len());
    for result in results {
        let rows = result
            .rows
            .into_iter()
            .map(|frame| {
                let fields = frames::parse_data_row(&frame, fields.len())?;
                Ok(Row {
                    original: Some(frame),
                    fields,
                })
            })
            .collect::<Result<Vec<Row>, MergeError>>()?;
        shards.push(rows);
    }
    let (out_fields, rows) = match spec {
        None => (fields, shards.into_iter().flatten().collect()),
        Some(spec) => merge_with_spec(shards, spec, fields)?,
    };
    Ok(encode(&out_fields, rows))
}

/// The RowDescription all shards agree on, `None` when no shard sent one.
fn common_row_description(results: &[ShardResult]) -> Result<Option<Vec<Field>>, MergeError> {
    let mut common: Option<Vec<Field>> = None;
    for (shard, result) in results.iter().enumerate() {
        let Some(frame) = &result.row_description else {
            if !result.rows.is_empty() {
                return Err(MergeError::Malformed(format!(
                    "shard {shard} sent rows without a RowDescription"
                )));
            }
            continue;
        };
        let fields = frames::parse_row_description(frame)?;
        if let Some(field) = fields.iter().find(|f| f.format != 0) {
            return Err(MergeError::Unsupported(format!(
                "column {:?} is in binary format; only text results can be merged",
                String::from_utf8_lossy(&field.name)
            )));
        }
        match &common {
            None => common = Some(fields),
            Some(expected) => check_same_columns(expected, &fields, shard)?,
        }
    }
    if common.is_some() {
        if let Some(shard) = results.iter().position(|r| r.row_description.is_none()) {
            return Err(MergeError::Mismatch(format!(
                "shard {shard} sent no RowDescription while others did"
            )));
        }
    }
    Ok(common)
}

fn check_same_columns(expected: &[Field], got: &[Field], shard: usize) -> Result<(), MergeError> {
    if expected.len() != got.len() {
        return Err(MergeError::Mismatch(format!(
            "shard 0 returned {} columns but shard {shard} returned {}",
            expected.len(),
            got.len()
        )));
    }
    for (column, (a, b)) in expected.iter().zip(got).enumerate() {
        if a.name != b.name || a.type_oid != b.type_oid {
            return Err(MergeError::Mismatch(format!(
                "column {column}: {:?} of type oid {} on the first shard, {:?} of type oid {} \
                 on shard {shard}",
                String::from_utf8_lossy(&a.name),
                a.type_oid,
                String::from_utf8_lossy(&b.name),
                b.type_oid
            )));
        }
    }
    Ok(())
}

/// Checks that every column the spec names exists. `output_columns` may
/// be `usize::MAX`: the router could not count a `*` select list, and
/// nothing hidden was appended.
fn check_columns(spec: &MergeSpec, width: usize) -> Result<(), MergeError> {
    if spec.output_columns != usize::MAX && spec.output_columns > width {
        return Err(MergeError::Mismatch(format!(
            "the merge expects {} output columns but shards returned {width}",
            spec.output_columns
        )));
    }
    let named = spec
        .order_by
        .iter()
        .map(|k| k.column)
        .chain(spec.group_by.iter().copied())
        .chain(spec.aggregates.iter().flat_map(|a| match a.kind {
            shardwire_router::AggregateKind::Avg { count_column } => vec![a.column, count_column],
            _ => vec![a.column],
        }));
    for column in named {
        if column >= width {
            return Err(MergeError::Mismatch(format!(
                "the merge refers to column {column} but shards returned {width} columns"
            )));
        }
    }
    Ok(())
}

fn merge_with_spec(
    shards: Vec<Vec<Row>>,
    spec: &MergeSpec,
    fields: Vec<Field>,
) -> Result<(Vec<Field>, Vec<Row>), MergeError> {
    check_columns(spec, fields.len())?;
    let grouped = !spec.group_by.is_empty() || !spec.aggregates.is_empty();
    if grouped {
        aggregate::check(spec, &fields)?;
    }
    let merged_fields: Vec<Field> = fields
        .iter()
        .enumerate()
        .map(|(column, field)| aggregate::output_field(spec, column, field))
        .collect();
    let kinds: Vec<ColumnKind> = merged_fields
        .iter()
        .map(|f| ColumnKind::from_type_oid(f.type_oid))
        .collect();
    let order = RowOrder::new(&spec.order_by, &kinds);

    let rows = if grouped {
        let rows = shards.into_iter().flatten().map(|row| row.fields);
        let combined = aggregate::combine(rows, spec, &fields)?;
        let combined: Vec<Row> = combined
            .into_iter()
            .map(|fields| Row {
                original: None,
                fields,
            })
            .collect();
        let sorted = if order.is_empty() {
            combined
        } else {
            sort::sort_stable(keyed(combined, &order)?, &order)
        };
        sort::window(sorted, spec.offset, spec.limit)
    } else if order.is_empty() {
        sort::window(
            shards.into_iter().flatten().collect(),
            spec.offset,
            spec.limit,
        )
    } else {
        let streams = shards
            .into_iter()
            .map(|rows| keyed(rows, &order))
            .collect::<Result<Vec<_>, _>>()?;
        let merged = sort::merge_sorted(streams, &order, sort::needed(spec.offset, spec.limit));
        sort::window(merged, spec.offset, spec.limit)
    };
    let mut out_fields = merged_fields;
    out_fields.truncate(spec.output_columns);
    Ok((out_fields, rows))
}

fn keyed(rows: Vec<Row>, order: &RowOrder) -> Result<Vec<(Key, Row)>, MergeError> {
    rows.into_iter()
        .map(|row| Ok((order.key_of(&row.fields)?, row)))
        .collect()
}

/// Writes `T`, the `D`s (cut to the visible columns) and `C`.
fn encode(fields: &[Field], rows: Vec<Row>) -> BytesMut {
    let visible = fields.len();
    let row_bytes: usize = rows
        .iter()
        .map(|r| r.original.as_ref().map_or(64, Bytes::len))
        .sum();
    let mut out = BytesMut::with_capacity(row_bytes + 64 * (visible + 1));
    frames::encode_row_description(fields, &mut out);
    let count = rows.len();
    for row in rows {
        match row.original {
            Some(frame) if row.fields.len() == visible => out.extend_from_slice(&frame),
            _ => frames::encode_data_row(&row.fields[..visible.min(row.fields.len())], &mut out),
        }
    }
    frames::encode_command_complete(&format!("SELECT {count}"), &mut out);
    out
}
