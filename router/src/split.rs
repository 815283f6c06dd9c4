//! Splits a query string into statements at top-level semicolons, skipping
//! semicolons inside string literals (`'…'`, `E'…'`), quoted identifiers,
//! dollar-quoted strings and comments.

/// The statements of `sql`, trimmed, empty ones dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => i = skip_quoted(b, i, b'\'', escapes_backslash(b, i)),
            b'"' => i = skip_quoted(b, i, b'"', false),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'$' => i = skip_dollar(b, i),
            b';' => {
                push(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(&mut out, &sql[start..]);
    out
}

fn push<'a>(out: &mut Vec<&'a str>, stmt: &'a str) {
    let s = stmt.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

fn escapes_backslash(b: &[u8], quote_at: usize) -> bool {
    quote_at > 0
        && matches!(b[quote_at - 1], b'e' | b'E')
        && (quote_at < 2 || !(b[quote_at - 2].is_ascii_alphanumeric() || b[quote_at - 2] == b'_'))
}

/// Index just past the closing quote (a doubled quote continues the string).
fn skip_quoted(b: &[u8], open: usize, quote: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Block comments nest in PostgreSQL.
fn skip_block_comment(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `$tag$ … $tag$`; a `$` that does not open a dollar quote (e.g. `$1`) is skipped.
fn skip_dollar(b: &[u8], open: usize) -> usize {
    if open > 0 && (b[open - 1].is_ascii_alphanumeric() || b[open - 1] == b'_') {
        return open + 1;
    }
    let tag_end = b[open + 1..]
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .map(|p| open + 1 + p);
    let Some(tag_end) = tag_end else {
        return b.len();
    };
    if b[tag_end] != b'$' || b.get(open + 1).is_some_and(|c| c.is_ascii_digit()) {
        return open + 1;
    }
    let tag = &b[open..=tag_end];
    let body = tag_end + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let sql = "SET a = 'x;y'; SELECT \"q;\" -- c;\n; SELECT $f$ ; $f$, $1 /* ; /* ; */ */; ";
        assert_eq!(
            statements(sql),
            vec![
                "SET a = 'x;y'",
                "SELECT \"q;\" -- c;",
                "SELECT $f$ ; $f$, $1 /* ; /* ; */ */"
            ]
        );
    }

    #[test]
    fn escape_strings_and_unterminated_input() {
        assert_eq!(
            statements(r"SELECT E'a\';b'; X"),
            vec![r"SELECT E'a\';b'", "X"]
        );
        assert_eq!(statements("SELECT 'open; x"), vec!["SELECT 'open; x"]);
        assert_eq!(statements(";;  ;"), Vec::<&str>::new());
    }
}
