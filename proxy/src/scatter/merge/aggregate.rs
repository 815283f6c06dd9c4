//! GROUP BY and aggregates across shards: each shard has already grouped
//! and aggregated its own rows; here rows with equal group keys (NULLs
//! together) are combined and the partial aggregates finished:
//!
//! - `count` → sum of the counts;
//! - `sum` → exact decimal sum for integer/numeric columns, `f64` for
//!   float columns; NULL partial sums (no rows on that shard) are skipped;
//! - `min`/`max` → by the column type's order, NULLs skipped;
//! - `avg` → total sum / total count, exactly in decimal with PostgreSQL's
//!   result scale (or in `f64` for float columns); NULL when the count is 0.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;
use shardwire_router::{AggregateKind, MergeSpec};

use super::decimal::{Decimal, Numeric};
use super::float;
use super::frames::{Field, Fields};
use super::value::{oid, ColumnKind, Value};
use super::MergeError;

/// Checks what this module can combine: no column both grouped and
/// aggregated or aggregated twice, sums and averages only over numbers,
/// every visible column grouped or aggregated, and sorting only on those.
/// Column indexes have already been checked against the row width.
pub fn check(spec: &MergeSpec, fields: &[Field]) -> Result<(), MergeError> {
    let mut aggregated = vec![false; fields.len()];
    for aggregate in &spec.aggregates {
        let column = aggregate.column;
        if spec.group_by.contains(&column) || aggregated[column] {
            return Err(MergeError::Unsupported(format!(
                "column {column} is both grouped and aggregated, or aggregated twice"
            )));
        }
        aggregated[column] = true;
        let kind = ColumnKind::from_type_oid(fields[column].type_oid);
        let numeric_only = matches!(
            aggregate.kind,
            AggregateKind::Sum | AggregateKind::Avg { .. }
        );
        if numeric_only && !kind.is_exact_number() && !kind.is_float() {
            return Err(MergeError::Unsupported(format!(
                "cannot combine sum/avg over column {column} of type oid {} across shards",
                fields[column].type_oid
            )));
        }
    }
    let combined = |column: usize| spec.group_by.contains(&column) || aggregated[column];
    let visible = spec.output_columns.min(fields.len());
    if let Some(column) = (0..visible).find(|&c| !combined(c)) {
        return Err(MergeError::Unsupported(format!(
            "column {column} ({:?}) is neither grouped nor aggregated, so shards' rows \
             cannot be combined",
            String::from_utf8_lossy(&fields[column].name)
        )));
    }
    if let Some(key) = spec.order_by.iter().find(|key| !combined(key.column)) {
        return Err(MergeError::Unsupported(format!(
            "ORDER BY column {} is neither grouped nor aggregated",
            key.column
        )));
    }
    Ok(())
}

/// The RowDescription entry of a column after merging: `avg` turns the
/// shards' partial sum into `numeric` (or `float8` for float input), as
/// PostgreSQL's `avg` returns.
pub fn output_field(spec: &MergeSpec, column: usize, field: &Field) -> Field {
    let mut field = field.clone();
    let is_avg = spec
        .aggregates
        .iter()
        .any(|a| a.column == column && matches!(a.kind, AggregateKind::Avg { .. }));
    if is_avg {
        let float = ColumnKind::from_type_oid(field.type_oid).is_float();
        (field.type_oid, field.type_size) = if float {
            (oid::FLOAT8, 8)
        } else {
            (oid::NUMERIC, -1)
        };
        field.type_modifier = -1;
    }
    field
}

/// The running combination of one aggregate within one group.
#[derive(Debug, Clone)]
enum Accumulator {
    Count(i128),
    ExactSum(Option<Numeric>),
    FloatSum {
        sum: Option<f64>,
        float4: bool,
    },
    Extreme {
        best: Option<(Value, Bytes)>,
        keep: Ordering,
    },
    ExactAvg {
        sum: Option<Numeric>,
        count: i128,
    },
    FloatAvg {
        sum: Option<f64>,
        count: i128,
    },
}

/// One aggregate bound to its column(s).
#[derive(Debug, Clone)]
struct Bound {
    column: usize,
    count_column: Option<usize>,
    kind: ColumnKind,
    start: Accumulator,
}

impl Bound {
    fn new(column: usize, aggregate: &AggregateKind, kind: ColumnKind) -> Self {
        let (count_column, start) = match aggregate {
            AggregateKind::Count => (None, Accumulator::Count(0)),
            AggregateKind::Sum if kind.is_float() => (
                None,
                Accumulator::FloatSum {
                    sum: None,
                    float4: kind == ColumnKind::Float4,
                },
            ),
            AggregateKind::Sum => (None, Accumulator::ExactSum(None)),
            AggregateKind::Min => (
                None,
                Accumulator::Extreme {
                    best: None,
                    keep: Ordering::Less,
                },
            ),
            AggregateKind::Max => (
                None,
                Accumulator::Extreme {
                    best: None,
                    keep: Ordering::Greater,
                },
            ),
            AggregateKind::Avg { count_column } if kind.is_float() => (
                Some(*count_column),
                Accumulator::FloatAvg {
                    sum: None,
                    count: 0,
                },
            ),
            AggregateKind::Avg { count_column } => (
                Some(*count_column),
                Accumulator::ExactAvg {
                    sum: None,
                    count: 0,
                },
            ),
        };
        Bound {
            column,
            count_column,
            kind,
            start,
        }
    }

    /// Folds one shard row's partial value into `acc`. NULL partials (no
    /// non-NULL input on that shard) are skipped; `avg`'s count is added
    /// whenever it is present.
    fn add(&self, acc: &mut Accumulator, row: &Fields) -> Result<(), MergeError> {
        if let (
            Some(column),
            Accumulator::ExactAvg { count, .. } | Accumulator::FloatAvg { count, .. },
        ) = (self.count_column, &mut *acc)
        {
            if let Some(raw) = row.get(column).cloned().flatten() {
                *count = checked(count.checked_add(parse_count(column, &raw)?))?;
            }
        }
        let Some(raw) = row.get(self.column).cloned().flatten() else {
            return Ok(());
        };
        match acc {
            Accumulator::Count(total) => {
                *total = checked(total.checked_add(parse_count(self.column, &raw)?))?;
            }
            Accumulator::ExactSum(sum) | Accumulator::ExactAvg { sum, .. } => {
                add_exact(sum, self.parse_exact(&raw)?);
            }
            Accumulator::FloatSum { sum, .. } | Accumulator::FloatAvg { sum, .. } => {
                add_float(sum, self.parse_float(&raw)?);
            }
            Accumulator::Extreme { best, keep } => {
                let value =
                    Value::parse(self.kind, &raw).ok_or_else(|| invalid(self.column, &raw))?;
                let better = best
                    .as_ref()
                    .is_none_or(|(current, _)| value.cmp(current) == *keep);
                if better {
                    *best = Some((value, raw));
                }
            }
        }
        Ok(())
    }

    fn parse_exact(&self, raw: &Bytes) -> Result<Numeric, MergeError> {
        Numeric::parse(raw).ok_or_else(|| invalid(self.column, raw))
    }

    fn parse_float(&self, raw: &Bytes) -> Result<f64, MergeError> {
        float::parse(raw).ok_or_else(|| invalid(self.column, raw))
    }
}

fn add_exact(sum: &mut Option<Numeric>, value: Numeric) {
    *sum = Some(match sum.take() {
        Some(total) => total.add(&value),
        None => value,
    });
}

fn add_float(sum: &mut Option<f64>, value: f64) {
    *sum = Some(sum.map_or(value, |total| total + value));
}

/// The finished text of an aggregate, `None` for SQL NULL.
fn finish(acc: &Accumulator) -> Option<Bytes> {
    let text = match acc {
        Accumulator::Count(total) => total.to_string(),
        Accumulator::ExactSum(sum) => sum.as_ref()?.to_text(),
        Accumulator::FloatSum { sum, float4: true } => float::format_float4((*sum)? as f32),
        Accumulator::FloatSum { sum, float4: false } => float::format_float8((*sum)?),
        Accumulator::Extreme { best, .. } => return best.as_ref().map(|(_, raw)| raw.clone()),
        Accumulator::ExactAvg { sum, count } => sum
            .as_ref()?
            .average(&Decimal::from_i128(*count))?
            .to_text(),
        Accumulator::FloatAvg { sum, count } => {
            if *count == 0 {
                return None;
            }
            float::format_float8((*sum)? / *count as f64)
        }
    };
    Some(Bytes::from(text))
}

fn parse_count(column: usize, raw: &Bytes) -> Result<i128, MergeError> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid(column, raw))
}

fn checked(value: Option<i128>) -> Result<i128, MergeError> {
    value.ok_or_else(|| MergeError::Unsupported("row count overflows".to_owned()))
}

fn invalid(column: usize, raw: &Bytes) -> MergeError {
    MergeError::Malformed(format!(
        "column {column} holds {:?}, which is not a valid value for its aggregate",
        String::from_utf8_lossy(raw)
    ))
}

/// One output group: the first row seen (for the group-key text) and the
/// aggregates' running state.
struct Group {
    first: Fields,
    accumulators: Vec<Accumulator>,
}

/// Combines the shards' rows (in shard order, then row order) into one row
/// per group, in order of first appearance. Columns that are neither
/// grouped nor aggregated (only hidden ones pass [`check`]) become NULL.
pub fn combine(
    rows: impl IntoIterator<Item = Fields>,
    spec: &MergeSpec,
    fields: &[Field],
) -> Result<Vec<Fields>, MergeError> {
    let kind_of = |column: usize| ColumnKind::from_type_oid(fields[column].type_oid);
    let bound: Vec<Bound> = spec
        .aggregates
        .iter()
        .map(|a| Bound::new(a.column, &a.kind, kind_of(a.column)))
        .collect();
    let mut index: BTreeMap<Vec<Option<Value>>, usize> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        let mut key = Vec::with_capacity(spec.group_by.len());
        for &column in &spec.group_by {
            let value = match row.get(column).cloned().flatten() {
                None => None,
                Some(raw) => {
                    Some(Value::parse(kind_of(column), &raw).ok_or_else(|| invalid(column, &raw))?)
                }
            };
            key.push(value);
        }
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                first: row.clone(),
                accumulators: bound.iter().map(|b| b.start.clone()).collect(),
            });
            groups.len() - 1
        });
        let Some(group) = groups.get_mut(slot) else {
            continue;
        };
        for (b, acc) in bound.iter().zip(group.accumulators.iter_mut()) {
            b.add(acc, &row)?;
        }
    }
    Ok(groups
        .into_iter()
        .map(|group| {
            let mut out: Fields = vec![None; fields.len()];
            for &column in &spec.group_by {
                out[column] = group.first.get(column).cloned().flatten();
            }
            for (b, acc) in bound.iter().zip(&group.accumulators) {
                out[b.column] = finish(acc);
            }
            out
        })
        .collect())
}
