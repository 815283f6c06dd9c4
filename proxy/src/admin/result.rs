//! Result sets the console returns: real RowDescription and DataRow
//! messages (values in text format) whose column types are the ones
//! PgBouncer 1.25 declares: text (25), int4 (23), int8 (20) and numeric
//! (1700).

use crate::protocol::builder;
use bytes::{BufMut, BytesMut};

/// A column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// text
    Text,
    /// bigint (int8)
    Int,
    /// integer (int4)
    Int4,
    /// numeric (PgBouncer's statistics)
    Numeric,
}

impl Kind {
    /// The type OID and the type size RowDescription carries.
    pub fn oid_and_size(self) -> (i32, i16) {
        match self {
            Kind::Text => (25, -1),
            Kind::Int => (20, 8),
            Kind::Int4 => (23, 4),
            Kind::Numeric => (1700, -1),
        }
    }
}

/// Rows to send, or a bare command tag.
#[derive(Debug, Default)]
pub struct ResultSet {
    columns: Vec<(&'static str, Kind)>,
    rows: Vec<Vec<Option<String>>>,
    tag: Option<String>,
}

impl ResultSet {
    /// A result with these columns.
    pub fn new(columns: &[(&'static str, Kind)]) -> ResultSet {
        ResultSet {
            columns: columns.to_vec(),
            ..Default::default()
        }
    }

    /// A command without rows.
    pub fn command(tag: &str) -> ResultSet {
        ResultSet {
            tag: Some(tag.to_string()),
            ..Default::default()
        }
    }

    /// Adds a row (one value per column).
    pub fn row(&mut self, values: Vec<Option<String>>) {
        self.rows.push(values);
    }

    /// Encodes RowDescription, DataRows and CommandComplete.
    pub fn encode(&self, out: &mut BytesMut) {
        if let Some(tag) = &self.tag {
            if tag.is_empty() {
                builder::frame(out, b'I', |_| {});
            } else {
                builder::command_complete(out, tag);
            }
            return;
        }
        builder::frame(out, b'T', |b| {
            b.put_i16(self.columns.len() as i16);
            for (name, kind) in &self.columns {
                builder::put_cstr(b, name.as_bytes());
                b.put_i32(0);
                b.put_i16(0);
                let (oid, size) = kind.oid_and_size();
                b.put_i32(oid);
                b.put_i16(size);
                b.put_i32(-1);
                b.put_i16(0);
            }
        });
        for row in &self.rows {
            let values: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
            builder::data_row_text(out, &values);
        }
        builder::command_complete(out, &format!("SHOW {}", self.rows.len()));
    }
}

/// A text value.
pub fn text(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_description_carries_each_type() {
        let r = ResultSet::new(&[
            ("a", Kind::Text),
            ("b", Kind::Int4),
            ("c", Kind::Int),
            ("d", Kind::Numeric),
        ]);
        let mut out = BytesMut::new();
        r.encode(&mut out);
        assert_eq!(out[0], b'T');
        let mut at = 7; // tag, length, column count
        let mut types = Vec::new();
        for _ in 0..4 {
            let end = at + out[at..].iter().position(|&b| b == 0).unwrap_or(0);
            let oid_at = end + 1 + 6;
            let oid = i32::from_be_bytes([
                out[oid_at],
                out[oid_at + 1],
                out[oid_at + 2],
                out[oid_at + 3],
            ]);
            let size = i16::from_be_bytes([out[oid_at + 4], out[oid_at + 5]]);
            types.push((oid, size));
            at = oid_at + 12;
        }
        assert_eq!(types, [(25, -1), (23, 4), (20, 8), (1700, -1)]);
    }
}
