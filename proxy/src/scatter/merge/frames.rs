//! Parsing and building the three backend messages a merged SELECT result
//! consists of: RowDescription (`T`), DataRow (`D`) and CommandComplete
//! (`C`). Parsing is strict (exact lengths, no trailing bytes) and never
//! panics; field values are zero-copy slices of the frame.

use bytes::{BufMut, Bytes, BytesMut};

use super::MergeError;

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name, without the terminating NUL.
    pub name: Bytes,
    pub table_oid: u32,
    pub column_number: i16,
    pub type_oid: u32,
    pub type_size: i16,
    pub type_modifier: i32,
    /// 0 = text, 1 = binary.
    pub format: i16,
}

/// A DataRow's fields; `None` is SQL NULL.
pub type Fields = Vec<Option<Bytes>>;

/// Reads big-endian integers and C strings from a frame body.
struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Checks the tag and length word and positions after them.
    fn open(frame: &'a Bytes, tag: u8, what: &'static str) -> Result<Self, MergeError> {
        let Some(&first) = frame.first() else {
            return Err(malformed(what, "empty frame"));
        };
        if first != tag {
            return Err(MergeError::Malformed(format!(
                "expected a {what} ('{}') frame, got tag {:?}",
                char::from(tag),
                char::from(first)
            )));
        }
        let mut reader = Reader {
            frame,
            pos: 1,
            what,
        };
        let length = reader.i32()?;
        if usize::try_from(length).ok() != Some(frame.len() - 1) {
            return Err(MergeError::Malformed(format!(
                "{what} length word says {length} but the frame has {} bytes after the tag",
                frame.len() - 1
            )));
        }
        Ok(reader)
    }

    fn take(&mut self, n: usize) -> Result<Bytes, MergeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.frame.len())
            .ok_or_else(|| malformed(self.what, "frame is shorter than its contents"))?;
        let out = self.frame.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MergeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, MergeError> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, MergeError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MergeError> {
        self.array().map(u32::from_be_bytes)
    }

    fn cstring(&mut self) -> Result<Bytes, MergeError> {
        let rest = &self.frame[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(self.what, "unterminated string"))?;
        let out = self.take(len)?;
        self.pos += 1;
        Ok(out)
    }

    fn count(&mut self) -> Result<usize, MergeError> {
        let n = self.i16()?;
        usize::try_from(n).map_err(|_| malformed(self.what, "negative field count"))
    }

    fn finish(&self) -> Result<(), MergeError> {
        if self.pos == self.frame.len() {
            Ok(())
        } else {
            Err(malformed(self.what, "trailing bytes after the last field"))
        }
    }
}

fn malformed(what: &str, problem: &str) -> MergeError {
    MergeError::Malformed(format!("{what}: {problem}"))
}

/// Parses a whole RowDescription frame (tag and length included).
pub fn parse_row_description(frame: &Bytes) -> Result<Vec<Field>, MergeError> {
    let mut reader = Reader::open(frame, b'T', "RowDescription")?;
    let count = reader.count()?;
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        fields.push(Field {
            name: reader.cstring()?,
            table_oid: reader.u32()?,
            column_number: reader.i16()?,
            type_oid: reader.u32()?,
            type_size: reader.i16()?,
            type_modifier: reader.i32()?,
            format: reader.i16()?,
        });
    }
    reader.finish()?;
    Ok(fields)
}

/// Parses a whole DataRow frame, which must have `expected` fields.
pub fn parse_data_row(frame: &Bytes, expected: usize) -> Result<Fields, MergeError> {
    let mut reader = Reader::open(frame, b'D', "DataRow")?;
    let count = reader.count()?;
    if count != expected {
        return Err(MergeError::Malformed(format!(
            "DataRow has {count} fields but the RowDescription has {expected}"
        )));
    }
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let len = reader.i32()?;
        if len == -1 {
            fields.push(None);
        } else {
            let len = usize::try_from(len)
                .map_err(|_| malformed("DataRow", "negative field length other than -1"))?;
            fields.push(Some(reader.take(len)?));
        }
    }
    reader.finish()?;
    Ok(fields)
}

/// Writes the frame's length word at `start` once the body is written.
fn finish_frame(out: &mut BytesMut, start: usize) {
    let length = (out.len() - start - 1) as i32;
    out[start + 1..start + 5].copy_from_slice(&length.to_be_bytes());
}

fn begin_frame(out: &mut BytesMut, tag: u8) -> usize {
    let start = out.len();
    out.put_u8(tag);
    out.put_i32(0);
    start
}

/// Appends a RowDescription frame.
pub fn encode_row_description(fields: &[Field], out: &mut BytesMut) {
    let start = begin_frame(out, b'T');
    out.put_i16(fields.len() as i16);
    for field in fields {
        out.put_slice(&field.name);
        out.put_u8(0);
        out.put_u32(field.table_oid);
        out.put_i16(field.column_number);
        out.put_u32(field.type_oid);
        out.put_i16(field.type_size);
        out.put_i32(field.type_modifier);
        out.put_i16(field.format);
    }
    finish_frame(out, start);
}

/// Appends a DataRow frame.
pub fn encode_data_row(fields: &[Option<Bytes>], out: &mut BytesMut) {
    let start = begin_frame(out, b'D');
    out.put_i16(fields.len() as i16);
    for field in fields {
        match field {
            None => out.put_i32(-1),
            Some(value) => {
                out.put_i32(value.len() as i32);
                out.put_slice(value);
            }
        }
    }
    finish_frame(out, start);
}

/// Appends a CommandComplete frame.
pub fn encode_command_complete(tag: &str, out: &mut BytesMut) {
    let start = begin_frame(out, b'C');
    out.put_slice(tag.as_bytes());
    out.put_u8(0);
    finish_frame(out, start);
}

#[cfg(test)]
mod tests;
