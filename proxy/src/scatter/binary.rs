//! Re-encoding a merged scatter-gather result in the formats the client
//! asked for.
//!
//! A scatter-gather read in the extended query protocol runs on every shard
//! with TEXT results (so [`super::merge`] can compare and combine values),
//! but the client's Bind may ask for BINARY columns. [`encode_formats`]
//! rewrites the merged `T`/`D`/`C` sequence: the RowDescription's format
//! codes are set per column and every value of a binary column goes through
//! the equivalent of PostgreSQL's send function for its type.
//!
//! Supported in binary: int2, int4, int8, oid, float4, float8, bool, text,
//! varchar, bpchar, name, json, unknown, jsonb, numeric, uuid, bytea, date,
//! timestamp, timestamptz, and arrays of those (`array.rs`). Any other type requested in binary is
//! [`FormatError::Unsupported`]. Date/time values must be in the ISO
//! `DateStyle` (PostgreSQL's default), bytea in `hex` or `escape` output.

mod array;
#[cfg(test)]
mod tests;

use std::fmt;

use bytes::{BufMut, BytesMut};

/// Why a text result could not be re-encoded.
#[derive(Debug)]
pub enum FormatError {
    /// A frame does not parse, the format list does not fit the columns, or
    /// a value is not valid text for its column type.
    Malformed(String),
    /// A column was requested in binary, but its type has no converter here.
    Unsupported {
        /// The column's type oid from the RowDescription.
        type_oid: u32,
        /// The column's name from the RowDescription.
        column: String,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Malformed(msg) => {
                write!(f, "cannot re-encode scatter-gather result: {msg}")
            }
            FormatError::Unsupported { type_oid, column } => write!(
                f,
                "cannot send column \"{column}\" (type oid {type_oid}) in binary format after a scatter-gather read"
            ),
        }
    }
}

impl std::error::Error for FormatError {}

fn malformed(msg: impl Into<String>) -> FormatError {
    FormatError::Malformed(msg.into())
}

/// Type oids this module knows how to send in binary.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// How one binary column's text values are converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Bool,
    Same,
    Jsonb,
    Numeric,
    Uuid,
    Bytea,
    Date,
    Timestamp,
    Timestamptz,
    /// An array of the element type with this oid (itself convertible).
    Array(u32),
}

impl Conv {
    fn for_type(type_oid: u32) -> Option<Conv> {
        Some(match type_oid {
            oid::INT2 => Conv::Int2,
            oid::INT4 => Conv::Int4,
            oid::INT8 => Conv::Int8,
            oid::OID => Conv::Oid,
            oid::FLOAT4 => Conv::Float4,
            oid::FLOAT8 => Conv::Float8,
            oid::BOOL => Conv::Bool,
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON | oid::UNKNOWN => {
                Conv::Same
            }
            oid::JSONB => Conv::Jsonb,
            oid::NUMERIC => Conv::Numeric,
            oid::UUID => Conv::Uuid,
            oid::BYTEA => Conv::Bytea,
            oid::DATE => Conv::Date,
            oid::TIMESTAMP => Conv::Timestamp,
            oid::TIMESTAMPTZ => Conv::Timestamptz,
            other => {
                let elem = array::element_of(other)?;
                Conv::for_type(elem)?;
                Conv::Array(elem)
            }
        })
    }

    fn type_name(self) -> &'static str {
        match self {
            Conv::Int2 => "int2",
            Conv::Int4 => "int4",
            Conv::Int8 => "int8",
            Conv::Oid => "oid",
            Conv::Float4 => "float4",
            Conv::Float8 => "float8",
            Conv::Bool => "bool",
            Conv::Same => "text",
            Conv::Jsonb => "jsonb",
            Conv::Numeric => "numeric",
            Conv::Uuid => "uuid",
            Conv::Bytea => "bytea",
            Conv::Date => "date",
            Conv::Timestamp => "timestamp",
            Conv::Timestamptz => "timestamptz",
            Conv::Array(_) => "array",
        }
    }
}

/// Re-encodes a text-format result — frames 'T' (RowDescription), then 'D'
/// (DataRow)*, then 'C' (CommandComplete), as built by `merge::merge` — in
/// the result formats a client asked for in its Bind: `formats` is the
/// Bind's result-format-code list (empty = all text; one code = applies to
/// every column; else one per column; 0 = text, 1 = binary). Returns the
/// same frame sequence with the RowDescription's per-column format codes set
/// and every value of a binary column converted. Frames other than T/D are
/// copied unchanged. If no 'T' is present (a statement without rows), the
/// input is returned unchanged.
pub fn encode_formats(frames: &[u8], formats: &[i16]) -> Result<BytesMut, FormatError> {
    if let Some(bad) = formats.iter().find(|&&f| f != 0 && f != 1) {
        return Err(malformed(format!("invalid result format code {bad}")));
    }
    let parsed = split_frames(frames)?;
    if !parsed.iter().any(|(tag, _)| *tag == b'T') {
        return Ok(BytesMut::from(frames));
    }

    let mut out = BytesMut::with_capacity(frames.len() + frames.len() / 4);
    // Per column: `Some(conv)` for a binary column, `None` for text.
    let mut columns: Option<Vec<(Option<Conv>, String)>> = None;
    for (tag, body) in parsed {
        match tag {
            b'T' => {
                let (frame, cols) = rewrite_row_description(body, formats)?;
                out.extend_from_slice(&frame);
                columns = Some(cols);
            }
            b'D' => {
                let cols = columns
                    .as_deref()
                    .ok_or_else(|| malformed("DataRow before RowDescription"))?;
                if cols.iter().all(|(c, _)| c.is_none()) {
                    put_frame(&mut out, b'D', body);
                } else {
                    rewrite_data_row(&mut out, body, cols)?;
                }
            }
            _ => put_frame(&mut out, tag, body),
        }
    }
    Ok(out)
}

/// Splits the input into (tag, body) pairs, checking every length.
fn split_frames(mut input: &[u8]) -> Result<Vec<(u8, &[u8])>, FormatError> {
    let mut frames = Vec::new();
    while let Some((&tag, rest)) = input.split_first() {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed(format!("truncated '{}' frame header", tag as char)))?;
        let len = i32::from_be_bytes(len_bytes);
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l >= 4)
            .ok_or_else(|| malformed(format!("invalid '{}' frame length {len}", tag as char)))?;
        let body = rest.get(4..len).ok_or_else(|| {
            malformed(format!(
                "truncated '{}' frame ({len} bytes declared)",
                tag as char
            ))
        })?;
        frames.push((tag, body));
        input = &rest[len..];
    }
    Ok(frames)
}

fn put_frame(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.put_u8(tag);
    // Bodies come from frames whose length fitted an i32.
    out.put_i32((body.len() + 4) as i32);
    out.extend_from_slice(body);
}

/// A cursor over a frame body.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.buf.len() < n {
            return Err(malformed(format!("truncated {}", self.what)));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, FormatError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, FormatError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn cstr(&mut self) -> Result<&'a [u8], FormatError> {
        let nul = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(format!("unterminated string in {}", self.what)))?;
        let s = self.take(nul)?;
        self.take(1)?;
        Ok(s)
    }
}

/// Rewrites a RowDescription's format codes; returns the new frame and each
/// column's converter (`None` = text) with its name.
#[allow(clippy::type_complexity)]
fn rewrite_row_description(
    body: &[u8],
    formats: &[i16],
) -> Result<(BytesMut, Vec<(Option<Conv>, String)>), FormatError> {
    let mut r = Reader {
        buf: body,
        what: "RowDescription",
    };
    let count = r.i16()?;
    let n = usize::try_from(count)
        .map_err(|_| malformed(format!("negative RowDescription field count {count}")))?;
    if formats.len() > 1 && formats.len() != n {
        return Err(malformed(format!(
            "Bind has {} result formats but the query has {n} columns",
            formats.len()
        )));
    }
    let mut out = BytesMut::with_capacity(body.len() + 5);
    out.put_u8(b'T');
    out.put_i32(0); // patched below
    out.put_i16(count);
    let mut cols = Vec::with_capacity(n);
    for i in 0..n {
        let name = r.cstr()?;
        let table_oid = r.i32()?;
        let attnum = r.i16()?;
        let type_oid = r.i32()? as u32;
        let type_size = r.i16()?;
        let type_mod = r.i32()?;
        let _old_format = r.i16()?;
        let format = match formats {
            [] => 0,
            [one] => *one,
            many => many[i],
        };
        let name_str = String::from_utf8_lossy(name).into_owned();
        let conv = if format == 1 {
            Some(
                Conv::for_type(type_oid).ok_or_else(|| FormatError::Unsupported {
                    type_oid,
                    column: name_str.clone(),
                })?,
            )
        } else {
            None
        };
        out.extend_from_slice(name);
        out.put_u8(0);
        out.put_i32(table_oid);
        out.put_i16(attnum);
        out.put_i32(type_oid as i32);
        out.put_i16(type_size);
        out.put_i32(type_mod);
        out.put_i16(format);
        cols.push((conv, name_str));
    }
    if !r.buf.is_empty() {
        return Err(malformed("trailing bytes in RowDescription"));
    }
    let len = i32::try_from(out.len() - 1)
        .map_err(|_| malformed("RowDescription too long after re-encoding"))?;
    out[1..5].copy_from_slice(&len.to_be_bytes());
    Ok((out, cols))
}

/// Appends the DataRow with every binary column's value converted.
fn rewrite_data_row(
    out: &mut BytesMut,
    body: &[u8],
    cols: &[(Option<Conv>, String)],
) -> Result<(), FormatError> {
    let mut r = Reader {
        buf: body,
        what: "DataRow",
    };
    let count = r.i16()?;
    if usize::try_from(count).ok() != Some(cols.len()) {
        return Err(malformed(format!(
            "DataRow has {count} columns but RowDescription has {}",
            cols.len()
        )));
    }
    let start = out.len();
    out.put_u8(b'D');
    out.put_i32(0); // patched below
    out.put_i16(count);
    let mut value = Vec::new();
    for (conv, name) in cols {
        let len = r.i32()?;
        if len == -1 {
            out.put_i32(-1);
            continue;
        }
        let len = usize::try_from(len)
            .map_err(|_| malformed(format!("invalid DataRow value length {len}")))?;
        let text = r.take(len)?;
        match conv {
            None => {
                out.put_i32(len as i32);
                out.extend_from_slice(text);
            }
            Some(conv) => {
                value.clear();
                convert(*conv, text, &mut value).map_err(|why| {
                    malformed(format!(
                        "column \"{name}\": invalid {} value {:?}{}",
                        conv.type_name(),
                        String::from_utf8_lossy(text),
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(" ({why})")
                        }
                    ))
                })?;
                let vlen = i32::try_from(value.len())
                    .map_err(|_| malformed(format!("column \"{name}\": value too long")))?;
                out.put_i32(vlen);
                out.extend_from_slice(&value);
            }
        }
    }
    if !r.buf.is_empty() {
        return Err(malformed("trailing bytes in DataRow"));
    }
    let len = i32::try_from(out.len() - start - 1)
        .map_err(|_| malformed("DataRow too long after re-encoding"))?;
    out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A conversion failure; the message (may be empty) adds detail.
type ConvResult = Result<(), &'static str>;

/// Converts one text value to its binary form, appended to `out`.
fn convert(conv: Conv, text: &[u8], out: &mut Vec<u8>) -> ConvResult {
    if let Conv::Same = conv {
        out.extend_from_slice(text);
        return Ok(());
    }
    if let Conv::Jsonb = conv {
        out.push(1);
        out.extend_from_slice(text);
        return Ok(());
    }
    if let Conv::Bytea = conv {
        return bytea(text, out);
    }
    if let Conv::Array(elem_oid) = conv {
        let elem = Conv::for_type(elem_oid).ok_or("unsupported element type")?;
        return array::encode(text, elem_oid, out, |t, o| convert(elem, t, o));
    }
    let s = std::str::from_utf8(text).map_err(|_| "not UTF-8")?;
    match conv {
        Conv::Int2 => out.extend_from_slice(&parse_int::<i16>(s)?.to_be_bytes()),
        Conv::Int4 => out.extend_from_slice(&parse_int::<i32>(s)?.to_be_bytes()),
        Conv::Int8 => out.extend_from_slice(&parse_int::<i64>(s)?.to_be_bytes()),
        Conv::Oid => out.extend_from_slice(&parse_int::<u32>(s)?.to_be_bytes()),
        Conv::Float4 => out.extend_from_slice(&parse_float::<f32>(s)?.to_bits().to_be_bytes()),
        Conv::Float8 => out.extend_from_slice(&parse_float::<f64>(s)?.to_bits().to_be_bytes()),
        Conv::Bool => out.push(match s {
            "t" | "true" => 1,
            "f" | "false" => 0,
            _ => return Err(""),
        }),
        Conv::Numeric => numeric(s, out)?,
        Conv::Uuid => uuid(s, out)?,
        Conv::Date => out.extend_from_slice(&date(s)?.to_be_bytes()),
        Conv::Timestamp => out.extend_from_slice(&timestamp(s, false)?.to_be_bytes()),
        Conv::Timestamptz => out.extend_from_slice(&timestamp(s, true)?.to_be_bytes()),
        Conv::Same | Conv::Jsonb | Conv::Bytea | Conv::Array(_) => {}
    }
    Ok(())
}

fn parse_int<T: std::str::FromStr>(s: &str) -> Result<T, &'static str> {
    // `FromStr` accepts a leading '+', which PostgreSQL's input does too.
    s.parse().map_err(|_| "")
}

fn parse_float<T: std::str::FromStr + FloatConsts>(s: &str) -> Result<T, &'static str> {
    match s {
        "NaN" => Ok(T::NAN),
        "Infinity" => Ok(T::INFINITY),
        "-Infinity" => Ok(T::NEG_INFINITY),
        _ => {
            // Only plain decimal / exponent notation; Rust would also take
            // "inf" and "nan" spellings PostgreSQL never prints.
            if !s
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
            {
                return Err("");
            }
            s.parse().map_err(|_| "")
        }
    }
}

trait FloatConsts {
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
}

impl FloatConsts for f32 {
    const NAN: f32 = f32::NAN;
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
}

impl FloatConsts for f64 {
    const NAN: f64 = f64::NAN;
    const INFINITY: f64 = f64::INFINITY;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// PostgreSQL's `numeric_send`: ndigits, weight, sign, dscale, then the
/// base-10000 digits, stripped of leading and trailing zero digits.
fn numeric(s: &str, out: &mut Vec<u8>) -> ConvResult {
    // Special values: no digits, weight 0. PostgreSQL (14+) reads their
    // dscale out of the short-format header bits, which gives 32 for the
    // infinities and 0 for NaN; send the same.
    let special = match s {
        "NaN" => Some((NUMERIC_NAN, 0i16)),
        "Infinity" => Some((NUMERIC_PINF, 32)),
        "-Infinity" => Some((NUMERIC_NINF, 32)),
        _ => None,
    };
    if let Some((sign, dscale)) = special {
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        return Ok(());
    }
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, f),
        None => (unsigned, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("no digits");
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err("");
    }
    let dscale = i16::try_from(frac_part.len()).map_err(|_| "too many fractional digits")?;

    // Group the integer part in fours from the decimal point leftwards and
    // the fraction in fours rightwards (zero-padded at the far end).
    let int = int_part.as_bytes();
    let int_groups = int.len().div_ceil(4);
    let frac = frac_part.as_bytes();
    let frac_groups = frac.len().div_ceil(4);
    let mut digits: Vec<u16> = Vec::with_capacity(int_groups + frac_groups);
    let lead = int.len() - (int_groups.saturating_sub(1)) * 4; // 1..=4 (or 0)
    let mut pos = 0;
    for g in 0..int_groups {
        let len = if g == 0 { lead } else { 4 };
        digits.push(group_value(&int[pos..pos + len]));
        pos += len;
    }
    for chunk in frac.chunks(4) {
        let mut v = group_value(chunk);
        for _ in chunk.len()..4 {
            v *= 10;
        }
        digits.push(v);
    }
    let mut weight = int_groups as i64 - 1;
    let first_nonzero = digits.iter().position(|&d| d != 0);
    let (ndigits, weight, sign, digits) = match first_nonzero {
        None => (0usize, 0i64, NUMERIC_POS, &digits[..0]),
        Some(first) => {
            weight -= first as i64;
            let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
            let kept = &digits[first..=last];
            let sign = if negative { NUMERIC_NEG } else { NUMERIC_POS };
            (kept.len(), weight, sign, kept)
        }
    };
    let ndigits = i16::try_from(ndigits).map_err(|_| "too many digits")?;
    let weight = i16::try_from(weight).map_err(|_| "out of range")?;
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    Ok(())
}

/// The value of up to four ASCII digits.
fn group_value(digits: &[u8]) -> u16 {
    digits
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// 16 raw bytes from `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hyphens and
/// surrounding braces optional, as PostgreSQL's input allows).
fn uuid(s: &str, out: &mut Vec<u8>) -> ConvResult {
    let s = s
        .strip_prefix('{')
        .and_then(|inner| inner.strip_suffix('}'))
        .unwrap_or(s);
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
        return Err("");
    }
    for pair in hex.chunks(2) {
        let hi = hex_value(pair[0]).ok_or("")?;
        let lo = hex_value(pair[1]).ok_or("")?;
        out.push((hi << 4) | lo);
    }
    Ok(())
}

/// The raw bytes of a bytea in `hex` (`\x…`) or `escape` output format.
fn bytea(text: &[u8], out: &mut Vec<u8>) -> ConvResult {
    if let Some(hex) = text.strip_prefix(b"\\x") {
        if hex.len() % 2 != 0 {
            return Err("odd number of hex digits");
        }
        for pair in hex.chunks(2) {
            let hi = hex_value(pair[0]).ok_or("bad hex digit")?;
            let lo = hex_value(pair[1]).ok_or("bad hex digit")?;
            out.push((hi << 4) | lo);
        }
        return Ok(());
    }
    // Escape format: `\\` is a backslash, `\ooo` an octal byte.
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
        } else if text.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = text.get(i + 1..i + 4).ok_or("bad escape")?;
            if oct[0] > b'3' || !oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return Err("bad escape");
            }
            out.push(((oct[0] - b'0') << 6) | ((oct[1] - b'0') << 3) | (oct[2] - b'0'));
            i += 4;
        }
    }
    Ok(())
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (astronomical
/// year numbering), after Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const USECS_PER_DAY: i64 = 86_400_000_000;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Parses `digits` as an unsigned decimal number of `min..=max` digits.
fn fixed_digits(s: &str, min: usize, max: usize) -> Result<i64, &'static str> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("");
    }
    s.parse().map_err(|_| "")
}

/// Days since 2000-01-01 of an ISO `YYYY-MM-DD` date.
fn parse_ymd(s: &str, bc: bool) -> Result<i64, &'static str> {
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("");
    };
    let y = fixed_digits(y, 4, 7)?;
    let m = fixed_digits(m, 2, 2)?;
    let d = fixed_digits(d, 2, 2)?;
    if bc && y == 0 {
        return Err("year 0 BC");
    }
    let y = if bc { 1 - y } else { y };
    let month_days = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return Err("no such date");
    }
    Ok(days_from_civil(y, m, d) - PG_EPOCH_DAYS)
}

/// Splits a trailing ` BC` off.
fn strip_bc(s: &str) -> (&str, bool) {
    match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// PostgreSQL's `date_send`: int32 days since 2000-01-01.
fn date(s: &str) -> Result<i32, &'static str> {
    match s {
        "infinity" => return Ok(i32::MAX),
        "-infinity" => return Ok(i32::MIN),
        _ => {}
    }
    let (s, bc) = strip_bc(s);
    let days = parse_ymd(s, bc)?;
    // i32::MIN/MAX are the infinities; finite dates never reach them.
    i32::try_from(days)
        .ok()
        .filter(|&d| d != i32::MIN && d != i32::MAX)
        .ok_or("out of range")
}

/// PostgreSQL's `timestamp_send` / `timestamptz_send`: int64 microseconds
/// since 2000-01-01 00:00:00 (UTC for timestamptz).
fn timestamp(s: &str, with_tz: bool) -> Result<i64, &'static str> {
    match s {
        "infinity" => return Ok(i64::MAX),
        "-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let (s, bc) = strip_bc(s);
    let (date_part, time_part) = s.split_once(' ').ok_or("")?;
    let days = parse_ymd(date_part, bc)?;

    let (time_part, offset_secs) = if with_tz {
        let at = time_part.rfind(['+', '-']).ok_or("missing UTC offset")?;
        let (t, off) = time_part.split_at(at);
        (t, utc_offset(off)?)
    } else {
        (time_part, 0)
    };

    let (hms, frac) = match time_part.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (time_part, None),
    };
    let mut fields = hms.splitn(3, ':');
    let (Some(h), Some(m), Some(sec)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("");
    };
    let h = fixed_digits(h, 2, 2)?;
    let m = fixed_digits(m, 2, 2)?;
    let sec = fixed_digits(sec, 2, 2)?;
    if h > 24 || m > 59 || sec > 60 {
        return Err("no such time");
    }
    let micros = match frac {
        None => 0,
        Some(f) => {
            let v = fixed_digits(f, 1, 6)?;
            v * 10i64.pow(6 - f.len() as u32)
        }
    };
    let time_us = ((h * 60 + m) * 60 + sec - offset_secs) * 1_000_000 + micros;
    days.checked_mul(USECS_PER_DAY)
        .and_then(|d| d.checked_add(time_us))
        .filter(|&t| t != i64::MIN && t != i64::MAX)
        .ok_or("out of range")
}

/// Seconds east of UTC of `+HH[:MM[:SS]]` / `-HH…`.
fn utc_offset(s: &str) -> Result<i64, &'static str> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => return Err("bad UTC offset"),
    };
    let mut secs = 0;
    let mut scale = 3600;
    for (i, part) in rest.split(':').enumerate() {
        if i > 2 {
            return Err("bad UTC offset");
        }
        let v = fixed_digits(part, 2, 2).map_err(|_| "bad UTC offset")?;
        if i > 0 && v > 59 {
            return Err("bad UTC offset");
        }
        secs += v * scale;
        scale /= 60;
    }
    Ok(if negative { -secs } else { secs })
}
