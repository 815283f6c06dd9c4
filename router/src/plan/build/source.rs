//! The text side of plan building: the query's tokens, which token each
//! parse-tree location points at, and which literal a constant in the tree
//! is. A constant is only used as a key when the lexer's literal decodes to
//! the very value the parser saw, so a lexer/parser disagreement can only
//! make the router more conservative, never wrong.

use pg_query::protobuf::{a_const, AConst};

use crate::key_text::parse_i64;
use crate::lexer::{tokenize, TokKind, Token};
use crate::literal;
use crate::plan::ValueRef;
use crate::shape::Literal;

/// Tokens and literals of the query string being planned.
pub(crate) struct Source<'a> {
    pub sql: &'a str,
    pub tokens: Vec<Token>,
    literals: Vec<Literal>,
    lit_of_token: Vec<Option<usize>>,
    /// Literals the plan depends on exactly.
    pub pinned: Vec<(usize, Vec<u8>)>,
    /// Tables named so far (lowercase, deduplicated).
    /// (Analyses hold the source shared, hence the cell.)
    pub tables: std::cell::RefCell<Vec<String>>,
}

impl<'a> Source<'a> {
    /// Lexes `sql`.
    pub fn new(sql: &'a str) -> Self {
        let tokens = tokenize(sql);
        let mut literals = Vec::new();
        let mut lit_of_token = Vec::with_capacity(tokens.len());
        for t in &tokens {
            if let TokKind::Literal(kind) = t.kind {
                lit_of_token.push(Some(literals.len()));
                literals.push(Literal {
                    start: t.start,
                    end: t.end,
                    kind,
                });
            } else {
                lit_of_token.push(None);
            }
        }
        Source {
            sql,
            tokens,
            literals,
            lit_of_token,
            pinned: Vec::new(),
            tables: Default::default(),
        }
    }

    /// The index of the token starting at byte `location`.
    pub fn token_at(&self, location: i32) -> Option<usize> {
        let loc = usize::try_from(location).ok()?;
        self.tokens.binary_search_by_key(&loc, |t| t.start).ok()
    }

    /// The index of the first token starting at or after byte `offset`.
    pub fn token_from(&self, offset: usize) -> usize {
        self.tokens.partition_point(|t| t.start < offset)
    }

    /// The text of token `i`.
    pub fn text(&self, i: usize) -> &'a str {
        self.tokens
            .get(i)
            .and_then(|t| self.sql.get(t.start..t.end))
            .unwrap_or("")
    }

    /// Whether token `i` is the word `w` (case-insensitive).
    pub fn is_word(&self, i: usize, w: &str) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == TokKind::Word)
            && self.text(i).eq_ignore_ascii_case(w)
    }

    /// Whether token `i` is the punctuation `p`.
    pub fn is_punct(&self, i: usize, p: &str) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == TokKind::Punct) && self.text(i) == p
    }

    /// The literal a constant at `location` was written as: (literal index,
    /// negated), following a leading unary minus.
    fn literal_at(&self, location: i32) -> Option<(usize, bool)> {
        let t = self.token_at(location)?;
        if let Some(lit) = self.lit_of_token[t] {
            return Some((lit, false));
        }
        if self.tokens[t].kind == TokKind::Op && self.text(t) == "-" {
            let lit = (*self.lit_of_token.get(t + 1)?)?;
            return Some((lit, true));
        }
        None
    }

    /// The decoded content of literal `lit`.
    fn content(&self, lit: usize) -> Option<Vec<u8>> {
        literal::content(self.sql, self.literals.get(lit)?).map(|c| c.into_owned())
    }

    /// Where the value of a constant comes from, if it is a literal the
    /// lexer agrees on (or NULL).
    pub fn const_value(&self, c: &AConst) -> Option<ValueRef> {
        if c.isnull {
            return Some(ValueRef::Null);
        }
        let (index, negate) = self.literal_at(c.location)?;
        let content = self.content(index)?;
        let agrees = match c.val.as_ref()? {
            a_const::Val::Ival(i) => {
                let v = parse_i64(&content)?;
                let v = if negate { v.checked_neg()? } else { v };
                v == i64::from(i.ival)
            }
            a_const::Val::Fval(f) => {
                let digits = f.fval.strip_prefix('-').unwrap_or(&f.fval);
                negate == f.fval.starts_with('-') && digits.as_bytes() == content.as_slice()
            }
            a_const::Val::Sval(s) => !negate && s.sval.as_bytes() == content.as_slice(),
            _ => false,
        };
        agrees.then_some(ValueRef::Lit { index, negate })
    }

    /// The literal index of an integer constant, for LIMIT/OFFSET.
    pub fn count_literal(&self, c: &AConst) -> Option<usize> {
        match self.const_value(c)? {
            ValueRef::Lit {
                index,
                negate: false,
            } => Some(index),
            _ => None,
        }
    }

    /// The value of an integer constant the plan depends on exactly (an
    /// ORDER BY / GROUP BY position): pins its literal.
    pub fn pinned_int(&mut self, c: &AConst) -> Option<i64> {
        let Some(a_const::Val::Ival(i)) = c.val.as_ref() else {
            return None;
        };
        let (index, negate) = self.literal_at(c.location)?;
        let content = self.content(index)?;
        let v = parse_i64(&content)?;
        if (if negate { v.checked_neg()? } else { v }) != i64::from(i.ival) {
            return None;
        }
        if !self.pinned.iter().any(|(p, _)| *p == index) {
            self.pinned.push((index, content));
        }
        Some(i64::from(i.ival))
    }
}
