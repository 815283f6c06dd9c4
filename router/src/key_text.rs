//! Parsing sharding key values written as text: SQL integer literals, the
//! contents of string literals, text-format Bind parameters and the
//! elements of text-format arrays (`{1,2,3}`).

/// A `bigint` written as text, the way PostgreSQL's `int8in` reads it:
/// optional surrounding whitespace, optional sign, decimal digits (or
/// `0x`/`0o`/`0b` prefixed), `_` allowed between digits. None if it is not one.
pub(crate) fn parse_i64(text: &[u8]) -> Option<i64> {
    let t = trim(text);
    let (negative, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match t {
        [b'0', b'x' | b'X', rest @ ..] => (16u32, rest),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest),
        _ => (10, t),
    };
    if digits.is_empty() || digits[0] == b'_' || digits[digits.len() - 1] == b'_' {
        return None;
    }
    // Accumulate as a negative number so i64::MIN parses.
    let mut acc: i64 = 0;
    let mut prev_underscore = false;
    for &c in digits {
        if c == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        let d = char::from(c).to_digit(radix)?;
        acc = acc
            .checked_mul(i64::from(radix))?
            .checked_sub(i64::from(d))?;
    }
    if negative {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

fn trim(mut t: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = t {
        if first.is_ascii_whitespace() {
            t = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = t {
        if last.is_ascii_whitespace() {
            t = rest;
        } else {
            break;
        }
    }
    t
}

/// The elements of a text-format one- or multi-dimensional array literal
/// (`{1, 2, "3", NULL}`), flattened: `Some(text)` per element, `None` for
/// NULL. None if the text is not an array literal.
pub(crate) fn parse_text_array(text: &[u8]) -> Option<Vec<Option<Vec<u8>>>> {
    let mut t = trim(text);
    // Optional dimension decoration: `[1:3]={…}`.
    if t.first() == Some(&b'[') {
        let eq = t.iter().position(|&c| c == b'=')?;
        t = trim(&t[eq + 1..]);
    }
    if t.first() != Some(&b'{') || t.last() != Some(&b'}') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let mut expect_element = false;
    while i < t.len() {
        match t[i] {
            b'{' => {
                depth += 1;
                expect_element = true;
                i += 1;
            }
            b'}' => {
                depth = depth.checked_sub(1)?;
                expect_element = false;
                i += 1;
            }
            b',' => {
                expect_element = true;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'"' => {
                let mut value = Vec::new();
                i += 1;
                loop {
                    match t.get(i)? {
                        b'\\' => {
                            value.push(*t.get(i + 1)?);
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            break;
                        }
                        &c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                if !expect_element {
                    return None;
                }
                expect_element = false;
                out.push(Some(value));
            }
            _ => {
                let start = i;
                while i < t.len() && !matches!(t[i], b',' | b'}' | b'{') {
                    i += 1;
                }
                if !expect_element {
                    return None;
                }
                expect_element = false;
                let raw = trim(&t[start..i]);
                if raw.eq_ignore_ascii_case(b"null") {
                    out.push(None);
                } else {
                    out.push(Some(raw.to_vec()));
                }
            }
        }
    }
    (depth == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"  -42 "), Some(-42));
        assert_eq!(parse_i64(b"+7"), Some(7));
        assert_eq!(parse_i64(b"1_000"), Some(1000));
        assert_eq!(parse_i64(b"0x1F"), Some(31));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [
            &b""[..],
            b"-",
            b"1.5",
            b"abc",
            b"1__0",
            b"_1",
            b"1e3",
            b"0x",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn arrays() {
        let a = parse_text_array(b"{1, 2,\"3\",NULL}").unwrap_or_default();
        assert_eq!(
            a,
            vec![
                Some(b"1".to_vec()),
                Some(b"2".to_vec()),
                Some(b"3".to_vec()),
                None
            ]
        );
        assert_eq!(parse_text_array(b"{{1,2},{3,4}}").map(|v| v.len()), Some(4));
        assert_eq!(parse_text_array(b"{}"), Some(vec![]));
        assert_eq!(parse_text_array(b"[1:2]={5,6}").map(|v| v.len()), Some(2));
        assert_eq!(parse_text_array(b"1,2"), None);
        assert_eq!(parse_text_array(b"{\"1}"), None);
        assert_eq!(parse_text_array(b"{1}}"), None);
    }
}
