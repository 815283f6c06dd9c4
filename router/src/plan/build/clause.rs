//! Finding clauses in the token stream, for rewriting a scatter read's SQL:
//! where a SELECT's target list ends, the span of its LIMIT / OFFSET /
//! FETCH clauses, a function call's parentheses.

use super::source::Source;

/// Words that end a target list or a LIMIT/OFFSET clause at paren depth 0.
const CLAUSE_WORDS: &[&str] = &[
    "from",
    "into",
    "where",
    "group",
    "having",
    "window",
    "order",
    "limit",
    "offset",
    "fetch",
    "for",
    "union",
    "intersect",
    "except",
    "returning",
    "on",
];

/// The first token at or after `from` (and before `end`) that ends a
/// clause at paren depth 0: a clause keyword, `;`, an unbalanced `)`.
pub(crate) fn clause_end(src: &Source<'_>, from: usize, end: usize, skip_first: bool) -> usize {
    let mut depth = 0i32;
    let mut i = from;
    let mut after_as = false;
    while i < end {
        let first = skip_first && i == from;
        if src.is_punct(i, "(") || src.is_punct(i, "[") {
            depth += 1;
        } else if src.is_punct(i, ")") || src.is_punct(i, "]") {
            depth -= 1;
            if depth < 0 {
                return i;
            }
        } else if depth == 0
            && (src.is_punct(i, ";")
                || (!after_as && !first && CLAUSE_WORDS.iter().any(|w| src.is_word(i, w))))
        {
            return i;
        }
        after_as = depth == 0 && src.is_word(i, "as");
        i += 1;
    }
    end
}

/// The nearest token before `at` (not before `floor`) that is one of `words`.
pub(crate) fn keyword_before(
    src: &Source<'_>,
    at: usize,
    floor: usize,
    words: &[&str],
) -> Option<usize> {
    (floor..at)
        .rev()
        .find(|&i| words.iter().any(|w| src.is_word(i, w)))
}

/// For a call whose name starts at token `at`: (name token, `(` token,
/// matching `)` token).
pub(crate) fn call_parens(
    src: &Source<'_>,
    at: usize,
    end: usize,
) -> Option<(usize, usize, usize)> {
    let open = (at..end).find(|&i| src.is_punct(i, "("))?;
    let name = open.checked_sub(1)?;
    let mut depth = 0i32;
    for i in open..end {
        if src.is_punct(i, "(") {
            depth += 1;
        } else if src.is_punct(i, ")") {
            depth -= 1;
            if depth == 0 {
                return Some((name, open, i));
            }
        }
    }
    None
}
