//! The values of literals: a literal's decoded content, and the sharding key
//! (or keys, for array literals) it spells.

use std::borrow::Cow;

use crate::error::{bad_key, RouteError};
use crate::key_text::parse_i64;
use crate::lexer::LitKind;
use crate::shape::Literal;

/// The content of a literal: a number's text, a string's characters
/// (quotes, doubled quotes and continuations resolved), a dollar-quoted
/// body. None when it cannot be decoded here (bit strings, Unicode-escape
/// strings, escape strings with escapes other than `\\` and `\'`).
pub(crate) fn content<'a>(sql: &'a str, lit: &Literal) -> Option<Cow<'a, [u8]>> {
    let raw = sql.as_bytes().get(lit.start..lit.end)?;
    match lit.kind {
        LitKind::Number => Some(Cow::Borrowed(raw)),
        LitKind::Dollar => {
            let tag_len = raw.iter().skip(1).position(|&c| c == b'$')? + 2;
            if raw.len() < 2 * tag_len || raw[..tag_len] != raw[raw.len() - tag_len..] {
                return None;
            }
            Some(Cow::Borrowed(&raw[tag_len..raw.len() - tag_len]))
        }
        LitKind::String => {
            let raw = if raw.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'n')) {
                &raw[1..]
            } else {
                raw
            };
            quoted_segments(raw, false)
        }
        LitKind::EString => quoted_segments(raw.get(1..)?, true),
        LitKind::Other => None,
    }
}

/// Decodes `'…'` segments separated by whitespace (string continuation).
fn quoted_segments(raw: &[u8], backslash: bool) -> Option<Cow<'_, [u8]>> {
    // Fast path: one segment without escapes.
    if raw.len() >= 2 && raw[0] == b'\'' && raw[raw.len() - 1] == b'\'' {
        let body = &raw[1..raw.len() - 1];
        if !(body.contains(&b'\'') || (backslash && body.contains(&b'\\'))) {
            return Some(Cow::Borrowed(body));
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    loop {
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == raw.len() {
            return Some(Cow::Owned(out));
        }
        if raw[i] != b'\'' {
            return None;
        }
        i += 1;
        loop {
            match *raw.get(i)? {
                b'\'' if raw.get(i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    i += 2;
                }
                b'\'' => {
                    i += 1;
                    break;
                }
                b'\\' if backslash => {
                    let c = *raw.get(i + 1)?;
                    if c != b'\\' && c != b'\'' {
                        return None;
                    }
                    out.push(c);
                    i += 2;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }
}

/// The sharding key a literal spells, negated when `negate`.
pub(crate) fn key(sql: &str, lit: &Literal, negate: bool) -> Result<i64, RouteError> {
    let text = content(sql, lit).ok_or_else(|| bad_key("the key literal is not an integer"))?;
    let v = parse_i64(&text).ok_or_else(|| {
        bad_key(format!(
            "{:?} is not an integer",
            String::from_utf8_lossy(&text)
                .chars()
                .take(40)
                .collect::<String>()
        ))
    })?;
    if negate {
        v.checked_neg()
            .ok_or_else(|| bad_key("key out of range for bigint"))
    } else {
        Ok(v)
    }
}

/// A non-negative integer literal (LIMIT/OFFSET/ORDER BY position).
pub(crate) fn count(sql: &str, lit: &Literal) -> Option<u64> {
    let text = content(sql, lit)?;
    parse_i64(&text).and_then(|v| u64::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::scan;

    fn contents(sql: &str) -> Vec<Option<String>> {
        scan(sql)
            .literals
            .iter()
            .map(|l| content(sql, l).map(|c| String::from_utf8_lossy(&c).into_owned()))
            .collect()
    }

    #[test]
    fn decodes_literals() {
        assert_eq!(
            contents("SELECT 42, '4''2', E'a\\'b', $x$q$x$, $$$$, '1'\n'2', x'1F', e'\\n', N'7'"),
            vec![
                Some("42".into()),
                Some("4'2".into()),
                Some("a'b".into()),
                Some("q".into()),
                Some("".into()),
                Some("12".into()),
                None,
                None,
                Some("7".into()),
            ]
        );
        assert_eq!(contents("SELECT 'open"), vec![None]);
        assert_eq!(contents("SELECT $a$open"), vec![None]);
    }
}
