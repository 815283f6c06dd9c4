//! Bind parameters as the router sees them, and reading a sharding key (or
//! an array of keys) out of one: text, or binary int2/int4/int8 (and binary
//! arrays of those).

use crate::error::{bad_key, RouteError};
use crate::key_text::{parse_i64, parse_text_array};

/// One parameter of a Bind message.
#[derive(Clone, Copy, Debug)]
pub struct BindParam<'a> {
    /// The value; None for SQL NULL.
    pub value: Option<&'a [u8]>,
    /// Binary format (otherwise text).
    pub binary: bool,
    /// The parameter type from Parse; 0 when unspecified.
    pub type_oid: u32,
}

const INT2: u32 = 21;
const INT4: u32 = 23;
const INT8: u32 = 20;
const NUMERIC: u32 = 1700;
const TEXTLIKE: [u32; 5] = [25, 1043, 1042, 19, 705]; // text, varchar, bpchar, name, unknown

/// The key in `param`: Ok(None) for NULL.
pub(crate) fn key_of(param: &BindParam<'_>) -> Result<Option<i64>, RouteError> {
    let Some(value) = param.value else {
        return Ok(None);
    };
    if !param.binary || TEXTLIKE.contains(&param.type_oid) {
        return parse_i64(value)
            .map(Some)
            .ok_or_else(|| bad_key(format!("{:?} is not an integer", lossy(value))));
    }
    binary_int(value, param.type_oid).map(Some)
}

fn binary_int(value: &[u8], type_oid: u32) -> Result<i64, RouteError> {
    let expected = match type_oid {
        INT2 => Some(2),
        INT4 => Some(4),
        INT8 => Some(8),
        0 => None,
        NUMERIC => {
            return Err(bad_key(
                "binary numeric keys are not supported; send int8 or text",
            ))
        }
        other => {
            return Err(bad_key(format!(
                "binary key of type oid {other} is not an integer"
            )))
        }
    };
    if expected.is_some_and(|n| n != value.len()) {
        return Err(bad_key(format!(
            "binary integer key has {} bytes, expected {}",
            value.len(),
            expected.unwrap_or(0)
        )));
    }
    match *value {
        [a, b] => Ok(i64::from(i16::from_be_bytes([a, b]))),
        [a, b, c, d] => Ok(i64::from(i32::from_be_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Ok(i64::from_be_bytes([a, b, c, d, e, f, g, h])),
        _ => Err(bad_key(format!(
            "binary key of {} bytes is not an int2, int4 or int8",
            value.len()
        ))),
    }
}

/// The keys in an array parameter (`= ANY($n)`): None entries are NULLs.
pub(crate) fn keys_of_array(param: &BindParam<'_>) -> Result<Vec<Option<i64>>, RouteError> {
    let Some(value) = param.value else {
        return Ok(Vec::new());
    };
    if !param.binary || TEXTLIKE.contains(&param.type_oid) {
        return keys_of_text_array(value);
    }
    binary_array(value)
}

/// The keys of a text array literal such as `{1,2,3}`.
pub(crate) fn keys_of_text_array(value: &[u8]) -> Result<Vec<Option<i64>>, RouteError> {
    let elements = parse_text_array(value)
        .ok_or_else(|| bad_key(format!("{:?} is not an array of integers", lossy(value))))?;
    elements
        .into_iter()
        .map(|e| match e {
            None => Ok(None),
            Some(text) => parse_i64(&text)
                .map(Some)
                .ok_or_else(|| bad_key(format!("{:?} is not an integer", lossy(&text)))),
        })
        .collect()
}

/// PostgreSQL's binary array format: ndim, has-null flag, element type,
/// (size, lower bound) per dimension, then (length, bytes) per element.
fn binary_array(v: &[u8]) -> Result<Vec<Option<i64>>, RouteError> {
    let bad = || bad_key("malformed binary array key");
    let mut r = Reader { v, at: 0 };
    let ndim = r.i32().ok_or_else(bad)?;
    let _flags = r.i32().ok_or_else(bad)?;
    let elem_type = u32::from_be_bytes(r.i32().ok_or_else(bad)?.to_be_bytes());
    if !(0..=6).contains(&ndim) {
        return Err(bad());
    }
    let mut count: usize = if ndim == 0 { 0 } else { 1 };
    for _ in 0..ndim {
        let size = usize::try_from(r.i32().ok_or_else(bad)?).map_err(|_| bad())?;
        let _lower = r.i32().ok_or_else(bad)?;
        count = count.checked_mul(size).ok_or_else(bad)?;
    }
    if count > v.len() {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.i32().ok_or_else(bad)?;
        if len < 0 {
            out.push(None);
            continue;
        }
        let bytes = r
            .take(usize::try_from(len).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        let key = if TEXTLIKE.contains(&elem_type) {
            parse_i64(bytes)
                .ok_or_else(|| bad_key(format!("{:?} is not an integer", lossy(bytes))))?
        } else {
            binary_int(bytes, elem_type)?
        };
        out.push(Some(key));
    }
    Ok(out)
}

struct Reader<'a> {
    v: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.v.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn i32(&mut self) -> Option<i32> {
        let s = self.take(4)?;
        Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
}

fn lossy(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &[u8]) -> BindParam<'_> {
        BindParam {
            value: Some(v),
            binary: false,
            type_oid: 0,
        }
    }
    fn bin(v: &[u8], oid: u32) -> BindParam<'_> {
        BindParam {
            value: Some(v),
            binary: true,
            type_oid: oid,
        }
    }

    #[test]
    fn scalar_keys() {
        assert_eq!(key_of(&text(b"42")), Ok(Some(42)));
        assert_eq!(key_of(&text(b" -3 ")), Ok(Some(-3)));
        assert!(key_of(&text(b"4x")).is_err());
        assert_eq!(key_of(&bin(&7i64.to_be_bytes(), INT8)), Ok(Some(7)));
        assert_eq!(key_of(&bin(&(-7i32).to_be_bytes(), INT4)), Ok(Some(-7)));
        assert_eq!(key_of(&bin(&9i16.to_be_bytes(), INT2)), Ok(Some(9)));
        assert_eq!(key_of(&bin(&9i16.to_be_bytes(), 0)), Ok(Some(9)));
        assert_eq!(key_of(&bin(b"12", 25)), Ok(Some(12)));
        assert_eq!(
            key_of(&BindParam {
                value: None,
                binary: true,
                type_oid: INT8
            }),
            Ok(None)
        );
        let e = key_of(&bin(&7i32.to_be_bytes(), INT8)).unwrap_err();
        assert_eq!(e.sqlstate(), "22P02");
        assert!(key_of(&bin(b"abc", 0)).is_err());
        assert!(key_of(&bin(&[0; 8], NUMERIC)).is_err());
        assert!(key_of(&bin(&[0; 8], 701)).is_err());
    }

    #[test]
    fn array_keys() {
        assert_eq!(
            keys_of_array(&text(b"{1,2,3}")),
            Ok(vec![Some(1), Some(2), Some(3)])
        );
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_be_bytes()); // ndim
        v.extend_from_slice(&1i32.to_be_bytes()); // has nulls
        v.extend_from_slice(&20i32.to_be_bytes()); // int8
        v.extend_from_slice(&3i32.to_be_bytes()); // size
        v.extend_from_slice(&1i32.to_be_bytes()); // lower bound
        for k in [5i64, -6] {
            v.extend_from_slice(&8i32.to_be_bytes());
            v.extend_from_slice(&k.to_be_bytes());
        }
        v.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            keys_of_array(&bin(&v, 1016)),
            Ok(vec![Some(5), Some(-6), None])
        );
        assert!(keys_of_array(&bin(&v[..20], 1016)).is_err());
        assert!(keys_of_array(&bin(b"\xff\xff\xff\xff", 1016)).is_err());
        assert!(keys_of_array(&text(b"{1,x}")).is_err());
    }
}
