//! Typed column values: how a TEXT-format field of a given type OID orders
//! and compares, matching PostgreSQL's btree ordering for the types the
//! proxy knows and falling back to byte order (the C collation) otherwise.

use std::cmp::Ordering;

use bytes::Bytes;

use super::decimal::Numeric;
use super::float;

/// How a column's values compare, decided by its type OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `int2`, `int4`, `int8`, `oid`.
    Integer,
    /// `float4`.
    Float4,
    /// `float8`.
    Float8,
    /// `numeric`.
    Numeric,
    /// `bool`.
    Bool,
    /// Everything else: byte order. Right for text under the C collation,
    /// `uuid`, and ISO dates/times of AD years.
    Bytes,
}

/// Type OIDs from PostgreSQL's `pg_type.dat`.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const OID: u32 = 26;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const NUMERIC: u32 = 1700;
}

impl ColumnKind {
    pub fn from_type_oid(type_oid: u32) -> Self {
        match type_oid {
            oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => ColumnKind::Integer,
            oid::FLOAT4 => ColumnKind::Float4,
            oid::FLOAT8 => ColumnKind::Float8,
            oid::NUMERIC => ColumnKind::Numeric,
            oid::BOOL => ColumnKind::Bool,
            _ => ColumnKind::Bytes,
        }
    }

    /// Whether `sum`/`avg` can be done exactly in decimal.
    pub fn is_exact_number(self) -> bool {
        matches!(self, ColumnKind::Integer | ColumnKind::Numeric)
    }

    /// Whether `sum`/`avg` is done in floating point.
    pub fn is_float(self) -> bool {
        matches!(self, ColumnKind::Float4 | ColumnKind::Float8)
    }
}

/// A non-NULL field value, parsed for comparison.
#[derive(Debug, Clone)]
pub enum Value {
    Integer(i128),
    Float(f64),
    Numeric(Numeric),
    Bool(bool),
    Bytes(Bytes),
}

impl Value {
    /// Parses a TEXT-format field; `None` if the text is not a valid value
    /// of the column's kind.
    pub fn parse(kind: ColumnKind, raw: &Bytes) -> Option<Value> {
        match kind {
            ColumnKind::Integer => std::str::from_utf8(raw)
                .ok()
                .and_then(|text| text.parse().ok())
                .map(Value::Integer),
            ColumnKind::Float4 | ColumnKind::Float8 => float::parse(raw).map(Value::Float),
            ColumnKind::Numeric => Numeric::parse(raw).map(Value::Numeric),
            ColumnKind::Bool => match raw.as_ref() {
                b"t" => Some(Value::Bool(true)),
                b"f" => Some(Value::Bool(false)),
                _ => None,
            },
            ColumnKind::Bytes => Some(Value::Bytes(raw.clone())),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Integer(_) => 0,
            Value::Float(_) => 1,
            Value::Numeric(_) => 2,
            Value::Bool(_) => 3,
            Value::Bytes(_) => 4,
        }
    }
}

/// PostgreSQL's float order: NaN equals NaN and sorts after everything,
/// `-0` equals `0`.
fn cmp_float(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => cmp_float(*a, *b),
            (Value::Numeric(a), Value::Numeric(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            // A column has one kind, so this only orders nonsense consistently.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

#[cfg(test)]
mod tests;
