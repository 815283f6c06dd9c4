//! Arrays in a re-encoded scatter-gather result: the text form
//! (`{1,NULL,"a b"}`, nested braces for more dimensions) parsed and written
//! as PostgreSQL's `array_send` does (dimensions, null flag, element type,
//! then each element in its own binary form). Arrays with explicit bounds
//! (`[0:1]={…}`) and element types with another delimiter (box) are not
//! handled: the caller reports them as invalid values.

use super::ConvResult;

/// The element type of the array type `array_oid`, for the element types
/// the binary re-encoder knows.
pub(super) fn element_of(array_oid: u32) -> Option<u32> {
    Some(match array_oid {
        1000 => 16,   // bool
        1001 => 17,   // bytea
        1003 => 19,   // name
        1016 => 20,   // int8
        1005 => 21,   // int2
        1007 => 23,   // int4
        1009 => 25,   // text
        1028 => 26,   // oid
        199 => 114,   // json
        1021 => 700,  // float4
        1022 => 701,  // float8
        1014 => 1042, // bpchar
        1015 => 1043, // varchar
        1182 => 1082, // date
        1115 => 1114, // timestamp
        1185 => 1184, // timestamptz
        1231 => 1700, // numeric
        2951 => 2950, // uuid
        3807 => 3802, // jsonb
        _ => return None,
    })
}

/// A parsed array: nested lists, or elements (None = NULL).
enum Item {
    List(Vec<Item>),
    Value(Option<Vec<u8>>),
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn list(&mut self) -> Result<Vec<Item>, &'static str> {
        self.skip_space();
        if self.text.get(self.at) != Some(&b'{') {
            return Err("array does not start with '{'");
        }
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            self.skip_space();
            let item = match self.text.get(self.at) {
                Some(b'{') => Item::List(self.list()?),
                Some(b'"') => Item::Value(Some(self.quoted()?)),
                Some(_) => self.unquoted()?,
                None => return Err("unterminated array"),
            };
            items.push(item);
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err("expected ',' or '}' in array"),
            }
        }
    }

    fn quoted(&mut self) -> Result<Vec<u8>, &'static str> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.text.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let c = *self.text.get(self.at + 1).ok_or("unterminated escape")?;
                    out.push(c);
                    self.at += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.at += 1;
                }
                None => return Err("unterminated quoted array element"),
            }
        }
    }

    fn unquoted(&mut self) -> Result<Item, &'static str> {
        let start = self.at;
        while let Some(&c) = self.text.get(self.at) {
            if matches!(c, b',' | b'}' | b'{' | b'"') {
                break;
            }
            self.at += 1;
        }
        let raw = self.text[start..self.at].trim_ascii();
        if raw.is_empty() {
            return Err("empty array element");
        }
        if raw.eq_ignore_ascii_case(b"NULL") {
            return Ok(Item::Value(None));
        }
        Ok(Item::Value(Some(raw.to_vec())))
    }
}

/// Elements in order (None = NULL).
type Elements = Vec<Option<Vec<u8>>>;

/// The dimensions of a rectangular array and its elements in order.
fn flatten(items: Vec<Item>) -> Result<(Vec<i32>, Elements), &'static str> {
    let mut dims = Vec::new();
    let mut level: &[Item] = &items;
    loop {
        dims.push(i32::try_from(level.len()).map_err(|_| "array too large")?);
        match level.first() {
            Some(Item::List(inner)) => level = inner,
            _ => break,
        }
    }
    let mut values = Vec::new();
    walk(items, &dims, &mut values)?;
    if dims == [0] {
        dims.clear();
    }
    Ok((dims, values))
}

fn walk(items: Vec<Item>, dims: &[i32], values: &mut Elements) -> Result<(), &'static str> {
    let (&len, rest) = dims.split_first().ok_or("array nested too deeply")?;
    if i32::try_from(items.len()).ok() != Some(len) {
        return Err("multidimensional arrays must be rectangular");
    }
    for item in items {
        match (item, rest.is_empty()) {
            (Item::Value(v), true) => values.push(v),
            (Item::List(inner), false) => walk(inner, rest, values)?,
            _ => return Err("multidimensional arrays must be rectangular"),
        }
    }
    Ok(())
}

/// Writes the binary form of the text array `text` of `elem_oid`
/// elements, each converted by `element`.
pub(super) fn encode(
    text: &[u8],
    elem_oid: u32,
    out: &mut Vec<u8>,
    element: impl Fn(&[u8], &mut Vec<u8>) -> ConvResult,
) -> ConvResult {
    let mut p = Parser { text, at: 0 };
    let items = p.list()?;
    p.skip_space();
    if p.at != text.len() {
        return Err("trailing text after array");
    }
    let (dims, values) = flatten(items)?;
    out.extend_from_slice(&i32::try_from(dims.len()).unwrap_or(0).to_be_bytes());
    let has_null = values.iter().any(Option::is_none);
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&elem_oid.to_be_bytes());
    for d in &dims {
        out.extend_from_slice(&d.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    let mut value = Vec::new();
    for v in values {
        match v {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(t) => {
                value.clear();
                element(&t, &mut value)?;
                let len = i32::try_from(value.len()).map_err(|_| "array element too long")?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int4(t: &[u8], out: &mut Vec<u8>) -> ConvResult {
        let s = std::str::from_utf8(t).map_err(|_| "utf8")?;
        let v: i32 = s.parse().map_err(|_| "int")?;
        out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn be(words: &[i32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn one_dimension_with_null() {
        let mut out = Vec::new();
        encode(b"{1,NULL,-3}", 23, &mut out, int4).expect("encode");
        assert_eq!(out, be(&[1, 1, 23, 3, 1, 4, 1, -1, 4, -3]));
    }

    #[test]
    fn two_dimensions_and_empty() {
        let mut out = Vec::new();
        encode(b"{{1,2},{3,4}}", 23, &mut out, int4).expect("encode");
        assert_eq!(out, be(&[2, 0, 23, 2, 1, 2, 1, 4, 1, 4, 2, 4, 3, 4, 4]));
        out.clear();
        encode(b"{}", 23, &mut out, int4).expect("encode");
        assert_eq!(out, be(&[0, 0, 23]));
    }

    #[test]
    fn quoted_text_elements() {
        let mut out = Vec::new();
        let same = |t: &[u8], o: &mut Vec<u8>| -> ConvResult {
            o.extend_from_slice(t);
            Ok(())
        };
        encode(br#"{"a b","q\"x",plain}"#, 25, &mut out, same).expect("encode");
        let mut want = be(&[1, 0, 25, 3, 1, 3]);
        want.extend_from_slice(b"a b");
        want.extend_from_slice(&3i32.to_be_bytes());
        want.extend_from_slice(b"q\"x");
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice(b"plain");
        assert_eq!(out, want);
    }

    #[test]
    fn ragged_and_malformed_are_refused() {
        let mut out = Vec::new();
        assert!(encode(b"{{1},{2,3}}", 23, &mut out, int4).is_err());
        assert!(encode(b"{1,2", 23, &mut out, int4).is_err());
        assert!(encode(b"[0:1]={1,2}", 23, &mut out, int4).is_err());
    }
}
