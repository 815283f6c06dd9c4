//! The hot path's view of a query string: its *shape* (the token stream
//! with literals replaced by placeholders, keywords lower-cased, comments and
//! extra whitespace gone), the literals in order, and the hint comments.
//! Queries that differ only in literal values, case, spacing or comments
//! share a shape and so a cached plan.

use crate::hints::CommentHints;
use crate::lexer::{Lexer, LitKind, TokKind};

/// One literal of a query string: its byte span and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Literal {
    pub start: usize,
    pub end: usize,
    pub kind: LitKind,
}

/// Shape, literals and hints of one query string.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub shape: Vec<u8>,
    pub literals: Vec<Literal>,
    pub hints: CommentHints,
}

/// Scans `sql` once.
pub(crate) fn scan(sql: &str) -> Scan {
    let mut lx = Lexer::new(sql);
    let mut shape = Vec::with_capacity(sql.len() + 8);
    let bytes = sql.as_bytes();
    let mut literals = Vec::new();
    while let Some(t) = lx.next_token() {
        if !shape.is_empty() {
            shape.push(b' ');
        }
        let text = bytes.get(t.start..t.end).unwrap_or_default();
        match t.kind {
            TokKind::Word => shape.extend(text.iter().map(u8::to_ascii_lowercase)),
            TokKind::Literal(kind) => {
                shape.extend_from_slice(match kind {
                    LitKind::Number => b"?n",
                    LitKind::Other => b"?o",
                    _ => b"?s",
                });
                literals.push(Literal {
                    start: t.start,
                    end: t.end,
                    kind,
                });
            }
            TokKind::QuotedIdent | TokKind::Param(_) | TokKind::Op | TokKind::Punct => {
                shape.extend_from_slice(text)
            }
        }
    }
    Scan {
        shape,
        literals,
        hints: lx.hints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shape_for_different_literals_case_and_comments() {
        let a = scan("SELECT * FROM scores WHERE user_id = 42 AND name = 'x'");
        let b = scan("select *  from scores /* c */ where USER_ID = 7 and name = 'it''s'");
        assert_eq!(a.shape, b.shape);
        assert_eq!(
            a.shape,
            b"select * from scores where user_id = ?n and name = ?s"
        );
        assert_eq!(a.literals.len(), 2);
        let c = scan("SELECT * FROM \"Scores\" WHERE user_id = $1");
        assert_eq!(c.shape, b"select * from \"Scores\" where user_id = $1");
        assert!(c.literals.is_empty());
    }

    #[test]
    fn hint_comments_do_not_change_the_shape() {
        let a = scan("/* shardwire: user_id=1 */ SELECT 1");
        let b = scan("/* shardwire: user_id=2 */ SELECT 1");
        assert_eq!(a.shape, b.shape);
        assert_eq!(a.hints.user_id, Some(1));
        assert_eq!(b.hints.user_id, Some(2));
    }
}
