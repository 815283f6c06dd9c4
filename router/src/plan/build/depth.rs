//! A cheap upper bound on how deeply a statement's parse tree nests,
//! computed from tokens before the parser runs. The parser library recurses
//! on the C stack while serialising its tree (several KiB per level in a
//! debug build), so a statement nested thousands deep could overflow a
//! worker thread's stack. Anything past [`MAX_NESTING`] is refused before it
//! reaches the parser; its tree would be too deep to decode anyway.

use super::source::Source;
use crate::lexer::TokKind;

/// The largest nesting estimate handed to the parser.
pub(crate) const MAX_NESTING: usize = 256;

/// Words that separate siblings in flat lists (`a AND b AND c` is one node
/// with a list of arguments; so are CASE branches).
const FLAT: &[&str] = &["and", "or", "when", "then", "else"];

/// An upper bound on the nesting of the parse tree of `src`: open
/// parentheses/brackets plus, at every open level, the operators and
/// keywords chained since the last separator (`,`, `;`, AND, OR…).
pub(crate) fn nesting(src: &Source<'_>) -> usize {
    let mut runs: Vec<usize> = vec![0];
    let mut total = 0usize; // sum of runs on the stack
    let mut max = 0usize;
    for (i, t) in src.tokens.iter().enumerate() {
        match t.kind {
            TokKind::Punct if src.is_punct(i, "(") || src.is_punct(i, "[") => {
                runs.push(0);
            }
            TokKind::Punct if (src.is_punct(i, ")") || src.is_punct(i, "]")) && runs.len() > 1 => {
                total -= runs.pop().unwrap_or(0);
            }
            TokKind::Punct if src.is_punct(i, ")") || src.is_punct(i, "]") => {}
            TokKind::Punct if src.is_punct(i, ",") || src.is_punct(i, ";") => {
                if let Some(run) = runs.last_mut() {
                    total -= *run;
                    *run = 0;
                }
            }
            TokKind::Word if FLAT.iter().any(|w| src.is_word(i, w)) => {
                if let Some(run) = runs.last_mut() {
                    total -= *run;
                    *run = 1;
                    total += 1;
                }
            }
            TokKind::Word | TokKind::Op | TokKind::Punct => {
                if let Some(run) = runs.last_mut() {
                    *run += 1;
                    total += 1;
                }
            }
            _ => {}
        }
        max = max.max(total + runs.len());
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(sql: &str) -> usize {
        nesting(&Source::new(sql))
    }

    #[test]
    fn flat_lists_stay_shallow() {
        let in_list = format!(
            "SELECT * FROM t WHERE id IN ({})",
            vec!["1"; 10_000].join(", ")
        );
        assert!(n(&in_list) < 20);
        let ands = format!("SELECT 1 WHERE {}", vec!["a = 1"; 1000].join(" AND "));
        assert!(n(&ands) < 20);
        let values = format!(
            "INSERT INTO t VALUES {}",
            vec!["(1, 'a', 2)"; 1000].join(", ")
        );
        assert!(n(&values) < 20);
    }

    #[test]
    fn chains_and_parens_count() {
        assert!(n(&format!("SELECT {}", vec!["1"; 300].join(" + "))) > MAX_NESTING);
        assert!(n(&format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300))) > MAX_NESTING);
        assert!(n(&format!("SELECT {} 1", "NOT ".repeat(300))) > MAX_NESTING);
        assert!(n(&vec!["SELECT 1"; 300].join(" UNION ")) > MAX_NESTING);
        assert!(n("SELECT a, b FROM t JOIN u ON t.id = u.id WHERE x = 1") < 40);
    }
}
