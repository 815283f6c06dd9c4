//! Decoding the parameters of a Bind message, for routing by a key that
//! arrives as a parameter. Only reads; the frame is forwarded unchanged (or
//! with its statement name replaced).

use super::reader::BodyReader;

/// One parameter of a Bind: its bytes (None for NULL) and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundValue<'a> {
    /// Raw value, `None` for NULL.
    pub value: Option<&'a [u8]>,
    /// Binary format (otherwise text).
    pub binary: bool,
}

/// A decoded Bind message body.
#[derive(Debug)]
pub struct Bind<'a> {
    /// Destination portal.
    pub portal: &'a [u8],
    /// Source statement.
    pub statement: &'a [u8],
    /// Offset of the statement name within the body.
    pub statement_at: usize,
    /// Parameter values.
    pub params: Vec<BoundValue<'a>>,
    /// Result-column format codes (empty = all text, one = for all).
    pub result_formats: Vec<i16>,
}

/// Decodes a Bind body; `None` if it is malformed.
pub fn decode(body: &[u8]) -> Option<Bind<'_>> {
    let mut r = BodyReader::new(body);
    let portal = r.cstr()?;
    let statement_at = r.position();
    let statement = r.cstr()?;
    let n_formats = usize::try_from(r.i16()?).ok()?;
    let mut formats = Vec::with_capacity(n_formats);
    for _ in 0..n_formats {
        formats.push(r.i16()?);
    }
    let n_params = usize::try_from(r.i16()?).ok()?;
    if n_formats > 1 && n_formats != n_params {
        return None;
    }
    let mut params = Vec::with_capacity(n_params);
    for i in 0..n_params {
        let len = r.i32()?;
        let value = match usize::try_from(len) {
            Ok(n) => Some(r.bytes(n)?),
            Err(_) if len == -1 => None,
            Err(_) => return None,
        };
        let format = match n_formats {
            0 => 0,
            1 => formats[0],
            _ => formats[i],
        };
        params.push(BoundValue {
            value,
            binary: format == 1,
        });
    }
    let n_results = usize::try_from(r.i16()?).ok()?;
    let mut result_formats = Vec::with_capacity(n_results);
    for _ in 0..n_results {
        result_formats.push(r.i16()?);
    }
    Some(Bind {
        portal,
        statement,
        statement_at,
        params,
        result_formats,
    })
}

#[cfg(test)]
mod tests;
