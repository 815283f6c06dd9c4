//! The fast hand-written SQL lexer. It skips whitespace and comments (reading
//! `shardwire:` hint comments on the way) and yields tokens: words, quoted
//! identifiers, literals (numbers and all string forms), `$n` parameters,
//! operators and punctuation. It never fails: odd input becomes odd tokens
//! and the parser reports the error.

use crate::hints::CommentHints;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Keyword or unquoted identifier.
    Word,
    /// `"…"` identifier.
    QuotedIdent,
    /// A constant.
    Literal(LitKind),
    /// `$n`.
    Param(u32),
    /// Operator (`=`, `<>`, `::` is punctuation).
    Op,
    /// `( ) [ ] , ; : . ::` and anything else.
    Punct,
}

/// Which kind of constant a literal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LitKind {
    /// Integer or decimal number.
    Number,
    /// `'…'` (possibly continued over newlines) or `N'…'`.
    String,
    /// `E'…'` with backslash escapes.
    EString,
    /// `$tag$…$tag$`.
    Dollar,
    /// `B'…'`, `X'…'`, `U&'…'`: never a usable key.
    Other,
}

/// One token: its kind and byte span in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
}

/// Lexer state over one query string.
pub(crate) struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    /// Hints read from comments so far.
    pub hints: CommentHints,
}

const OP_CHARS: &[u8] = b"+-*/<>=~!@#%^&|`?";

/// Byte classes: bit 0 operator character, bit 1 identifier continuation.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < OP_CHARS.len() {
        t[OP_CHARS[i] as usize] |= 1;
        i += 1;
    }
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            t[c] |= 2;
        }
        c += 1;
    }
    t
};

fn is_op_char(c: u8) -> bool {
    CLASS[c as usize] & 1 != 0
}
const OP_SPECIAL: &[u8] = b"~!@#%^&|`?";

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_cont(c: u8) -> bool {
    CLASS[c as usize] & 2 != 0
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `sql`.
    pub fn new(sql: &'a str) -> Self {
        Lexer {
            b: sql.as_bytes(),
            i: 0,
            hints: CommentHints::default(),
        }
    }

    /// The next token, or None at the end.
    pub fn next_token(&mut self) -> Option<Token> {
        self.skip_space_and_comments();
        let b = self.b;
        let start = self.i;
        let c = *b.get(start)?;
        let kind = match c {
            b'\'' => {
                self.i = self.string_end(start, false);
                TokKind::Literal(LitKind::String)
            }
            b'"' => {
                self.i = quoted_end(b, start, b'"');
                TokKind::QuotedIdent
            }
            b'$' => return Some(self.dollar(start)),
            b'0'..=b'9' => {
                self.i = number_end(b, start);
                TokKind::Literal(LitKind::Number)
            }
            b'.' if b.get(start + 1).is_some_and(u8::is_ascii_digit) => {
                self.i = number_end(b, start);
                TokKind::Literal(LitKind::Number)
            }
            c if is_ident_start(c) => return Some(self.word(start)),
            b':' if b.get(start + 1) == Some(&b':') => {
                self.i = start + 2;
                TokKind::Punct
            }
            c if is_op_char(c) => {
                self.i = op_end(b, start);
                TokKind::Op
            }
            _ => {
                self.i = start + 1;
                TokKind::Punct
            }
        };
        Some(Token {
            kind,
            start,
            end: self.i,
        })
    }

    fn skip_space_and_comments(&mut self) {
        let b = self.b;
        loop {
            while self.i < b.len() && b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if b.get(self.i) == Some(&b'-') && b.get(self.i + 1) == Some(&b'-') {
                let body = self.i + 2;
                let end = b[body..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .map_or(b.len(), |p| body + p);
                self.hints.read_comment(&b[body..end]);
                self.i = end;
            } else if b.get(self.i) == Some(&b'/') && b.get(self.i + 1) == Some(&b'*') {
                let (body_end, end) = block_comment_end(b, self.i);
                self.hints.read_comment(&b[self.i + 2..body_end]);
                self.i = end;
            } else {
                return;
            }
        }
    }

    /// A word, or a prefixed string (`E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`).
    fn word(&mut self, start: usize) -> Token {
        let b = self.b;
        let mut end = start + 1;
        while end < b.len() && is_ident_cont(b[end]) {
            end += 1;
        }
        let lit = |kind| TokKind::Literal(kind);
        let kind = if end == start + 1 && b.get(end) == Some(&b'\'') {
            match b[start].to_ascii_lowercase() {
                b'e' => {
                    end = self.string_end(end, true);
                    lit(LitKind::EString)
                }
                b'n' => {
                    end = self.string_end(end, false);
                    lit(LitKind::String)
                }
                b'b' | b'x' => {
                    end = quoted_end(b, end, b'\'');
                    lit(LitKind::Other)
                }
                _ => TokKind::Word,
            }
        } else if end == start + 1
            && b[start].eq_ignore_ascii_case(&b'u')
            && b.get(end) == Some(&b'&')
            && b.get(end + 1) == Some(&b'\'')
        {
            end = self.string_end(end + 1, false);
            lit(LitKind::Other)
        } else {
            TokKind::Word
        };
        self.i = end;
        Token { kind, start, end }
    }

    /// End of a quoted string starting at `open`, including continuations
    /// (`'a'` newline `'b'` is one string in SQL).
    fn string_end(&self, open: usize, backslash: bool) -> usize {
        let b = self.b;
        let mut end = if backslash {
            escape_string_end(b, open)
        } else {
            quoted_end(b, open, b'\'')
        };
        loop {
            let mut j = end;
            let mut newline = false;
            while j < b.len() && b[j].is_ascii_whitespace() {
                newline |= b[j] == b'\n' || b[j] == b'\r';
                j += 1;
            }
            if newline && b.get(j) == Some(&b'\'') && b.get(end.wrapping_sub(1)) == Some(&b'\'') {
                end = if backslash {
                    escape_string_end(b, j)
                } else {
                    quoted_end(b, j, b'\'')
                };
            } else {
                return end;
            }
        }
    }

    /// `$n`, `$tag$…$tag$`, or a lone `$`.
    fn dollar(&mut self, start: usize) -> Token {
        let b = self.b;
        let mut j = start + 1;
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let n = std::str::from_utf8(&b[start + 1..j])
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(u32::MAX);
            self.i = j;
            return Token {
                kind: TokKind::Param(n),
                start,
                end: j,
            };
        }
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
            j += 1;
        }
        if b.get(j) == Some(&b'$') {
            let tag = &b[start..=j];
            let body = j + 1;
            let end = b[body..]
                .windows(tag.len())
                .position(|w| w == tag)
                .map_or(b.len(), |p| body + p + tag.len());
            self.i = end;
            return Token {
                kind: TokKind::Literal(LitKind::Dollar),
                start,
                end,
            };
        }
        self.i = start + 1;
        Token {
            kind: TokKind::Punct,
            start,
            end: start + 1,
        }
    }
}

/// Just past the closing quote; a doubled quote continues. Unterminated:
/// the end of the text.
fn quoted_end(b: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < b.len() {
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

/// Like [`quoted_end`], with backslash escapes.
fn escape_string_end(b: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// (end of the body, end of the comment) for a block comment at `open`.
/// Block comments nest in PostgreSQL.
fn block_comment_end(b: &[u8], open: usize) -> (usize, usize) {
    let mut depth = 0usize;
    let mut i = open;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return (i - 2, i);
            }
        } else {
            i += 1;
        }
    }
    (b.len(), b.len())
}

fn number_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    if b[i] == b'0'
        && b.get(i + 1)
            .is_some_and(|c| matches!(c, b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
    {
        i += 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        return i;
    }
    let digits = |mut i: usize| {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        i
    };
    i = digits(i);
    if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
        i = digits(i + 1);
    }
    if b.get(i).is_some_and(|c| *c == b'e' || *c == b'E') {
        let mut j = i + 1;
        if b.get(j).is_some_and(|c| *c == b'+' || *c == b'-') {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            i = digits(j);
        }
    }
    i
}

/// An operator run, cut before a comment start, without trailing `+`/`-`
/// unless the run holds one of `~!@#%^&|`?` (PostgreSQL's rule).
fn op_end(b: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < b.len() && is_op_char(b[end]) {
        let next = b.get(end + 1).copied();
        if end > start && matches!((b[end], next), (b'-', Some(b'-')) | (b'/', Some(b'*'))) {
            break;
        }
        end += 1;
    }
    let run = &b[start..end];
    if run.len() > 1 && !run.iter().any(|c| OP_SPECIAL.contains(c)) {
        while end > start + 1 && matches!(b[end - 1], b'+' | b'-') {
            end -= 1;
        }
    }
    end.max(start + 1)
}

/// All tokens of `sql`.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let mut lx = Lexer::new(sql);
    let mut out = Vec::with_capacity(sql.len() / 4 + 1);
    while let Some(t) = lx.next_token() {
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(TokKind, &str)> {
        tokenize(sql)
            .into_iter()
            .map(|t| (t.kind, sql.get(t.start..t.end).unwrap_or("<bad span>")))
            .collect()
    }

    #[test]
    fn lexes_common_forms() {
        use LitKind::*;
        use TokKind::*;
        assert_eq!(
            kinds("SELECT a.b, 'x''y', E'q\\'s', $f$ ; $f$, $1, 1.5e3, \"Q\"\"x\" FROM t WHERE x=-5 -- c\n;"),
            vec![
                (Word, "SELECT"),
                (Word, "a"),
                (Punct, "."),
                (Word, "b"),
                (Punct, ","),
                (Literal(String), "'x''y'"),
                (Punct, ","),
                (Literal(EString), "E'q\\'s'"),
                (Punct, ","),
                (Literal(Dollar), "$f$ ; $f$"),
                (Punct, ","),
                (Param(1), "$1"),
                (Punct, ","),
                (Literal(Number), "1.5e3"),
                (Punct, ","),
                (QuotedIdent, "\"Q\"\"x\""),
                (Word, "FROM"),
                (Word, "t"),
                (Word, "WHERE"),
                (Word, "x"),
                (Op, "="),
                (Op, "-"),
                (Literal(Number), "5"),
                (Punct, ";"),
            ]
        );
    }

    #[test]
    fn operators_and_casts() {
        use TokKind::*;
        assert_eq!(
            kinds("a::int <> b @- c /* x */ >= d--e"),
            vec![
                (Word, "a"),
                (Punct, "::"),
                (Word, "int"),
                (Op, "<>"),
                (Word, "b"),
                (Op, "@-"),
                (Word, "c"),
                (Op, ">="),
                (Word, "d"),
            ]
        );
    }

    #[test]
    fn string_continuation_and_prefixes() {
        use LitKind::*;
        use TokKind::*;
        assert_eq!(
            kinds("'4'\n  '2' x'1F' b'01' u&'x' n'z' 'a' 'b'"),
            vec![
                (Literal(String), "'4'\n  '2'"),
                (Literal(Other), "x'1F'"),
                (Literal(Other), "b'01'"),
                (Literal(Other), "u&'x'"),
                (Literal(String), "n'z'"),
                (Literal(String), "'a'"),
                (Literal(String), "'b'"),
            ]
        );
    }

    #[test]
    fn collects_hints_and_survives_unterminated_input() {
        let mut lx = Lexer::new("/* shardwire: user_id=42 */ SELECT 1 -- shardwire: shard=2");
        while lx.next_token().is_some() {}
        assert_eq!(lx.hints.user_id, Some(42));
        assert_eq!(lx.hints.shard, Some(2));
        for s in [
            "'abc", "E'\\", "$a$ x", "\"q", "/* /* */", "$", "1e", "0x", "..", "-", "/*",
        ] {
            let _ = tokenize(s);
        }
    }
}
