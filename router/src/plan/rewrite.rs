//! The SQL a scatter read's shards run: this execution's text with the
//! plan's token edits applied (avg → sum plus hidden count, LIMIT n OFFSET
//! m → LIMIT n+m, LIMIT/OFFSET dropped for grouped reads).

use super::apply::Values;
use super::{Count, Piece, Scatter};
use crate::lexer::tokenize;

/// This execution's text with the plan's edits applied. None if the edits
/// do not fit the text (cannot happen for a text of the plan's shape).
pub(crate) fn rewrite(
    plan: &Scatter,
    values: &Values<'_>,
    limit: Option<u64>,
    offset: Option<u64>,
) -> Option<String> {
    let sql = values.sql;
    let tokens = tokenize(sql);
    let span = |from: usize, to: usize| -> Option<(usize, usize)> {
        let a = tokens.get(from)?.start;
        let b = tokens.get(to.checked_sub(1)?)?.end;
        (a <= b).then_some((a, b))
    };
    let mut out = String::with_capacity(sql.len() + 32);
    let mut pos = 0;
    for edit in &plan.edits {
        let (a, b) = span(edit.from, edit.to)?;
        if a < pos {
            return None;
        }
        out.push_str(sql.get(pos..a)?);
        for piece in &edit.with {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Tokens(f, t) => {
                    let (x, y) = span(*f, *t)?;
                    out.push_str(sql.get(x..y)?);
                }
                Piece::ShardLimit => out.push_str(&shard_limit(plan, limit, offset)),
            }
        }
        pos = b;
    }
    out.push_str(sql.get(pos..)?);
    Some(out)
}

/// `LIMIT limit+offset` as the shards must run it.
fn shard_limit(plan: &Scatter, limit: Option<u64>, offset: Option<u64>) -> String {
    let term = |c: &Option<Count>, v: Option<u64>| match c {
        Some(Count::Param(n)) => format!("${n}::bigint"),
        _ => v.unwrap_or(0).to_string(),
    };
    let params =
        matches!(plan.limit, Some(Count::Param(_))) || matches!(plan.offset, Some(Count::Param(_)));
    if params {
        format!(
            " LIMIT ({} + {}) ",
            term(&plan.limit, limit),
            term(&plan.offset, offset)
        )
    } else {
        match limit {
            Some(l) => format!(" LIMIT {} ", l.saturating_add(offset.unwrap_or(0))),
            None => " ".to_string(),
        }
    }
}
