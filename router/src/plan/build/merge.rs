//! The merge plan of a scatter read: how the shards' result sets combine
//! (ORDER BY on output columns, LIMIT/OFFSET, count/sum/min/max/avg, GROUP
//! BY on output columns), the SQL edits the shards need (avg → sum plus a
//! hidden count, LIMIT n OFFSET m → LIMIT n+m), or the construct that
//! cannot be merged correctly.

use pg_query::protobuf::{FuncCall, LimitOption, SelectStmt, SetOperation, SortByDir, SortByNulls};
use pg_query::{Node, NodeEnum};

use super::agg::{figure_colname, func_name, has_aggregate, has_window, is_aggregate};
use super::clause::{call_parens, clause_end, keyword_before};
use super::source::Source;
use crate::decision::{Aggregate, AggregateKind, SortKey};
use crate::error::{unsupported, RouteError};
use crate::plan::{Count, Edit, Piece, Scatter};

struct Target<'n> {
    name: String,
    val: Option<&'n Node>,
    location: i32,
}

/// The scatter plan of a top-level SELECT spanning tokens `[start, end)`.
pub(crate) fn scatter(
    s: &SelectStmt,
    src: &mut Source<'_>,
    start: usize,
    end: usize,
) -> Result<Scatter, RouteError> {
    if s.op > SetOperation::SetopNone as i32 {
        return Err(unsupported("UNION/INTERSECT/EXCEPT"));
    }
    if !s.distinct_clause.is_empty() {
        return Err(unsupported("DISTINCT"));
    }
    if s.having_clause.is_some() {
        return Err(unsupported("HAVING"));
    }
    if !s.window_clause.is_empty() || s.target_list.iter().chain(&s.sort_clause).any(has_window) {
        return Err(unsupported("window function"));
    }
    if s.limit_option == LimitOption::WithTies as i32 {
        return Err(unsupported("FETCH … WITH TIES"));
    }
    let mut targets = Vec::new();
    let mut star = false;
    for t in &s.target_list {
        let Some(NodeEnum::ResTarget(r)) = t.node.as_ref() else {
            continue;
        };
        let is_star = matches!(
            r.val.as_deref().and_then(|v| v.node.as_ref()),
            Some(NodeEnum::ColumnRef(c)) if matches!(c.fields.last().and_then(|f| f.node.as_ref()), Some(NodeEnum::AStar(_)))
        );
        star |= is_star;
        let name = if r.name.is_empty() {
            figure_colname(r.val.as_deref())
        } else {
            r.name.clone()
        };
        targets.push(Target {
            name,
            val: if is_star { None } else { r.val.as_deref() },
            location: r.location,
        });
    }
    let output_columns = if star { usize::MAX } else { targets.len() };

    // Aggregates in the output.
    let mut aggregates = Vec::new();
    let mut avgs = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let Some(val) = t.val else { continue };
        match val.node.as_ref() {
            Some(NodeEnum::FuncCall(f)) if is_aggregate(f) => {
                let kind = aggregate_kind(f)?;
                if let AggregateKind::Avg { .. } = kind {
                    if star {
                        return Err(unsupported("avg() together with SELECT *"));
                    }
                    let count_column = output_columns + avgs.len();
                    avgs.push((i, f.location));
                    aggregates.push(Aggregate {
                        column: i,
                        kind: AggregateKind::Avg { count_column },
                    });
                } else {
                    aggregates.push(Aggregate { column: i, kind });
                }
            }
            _ if has_aggregate(val) => return Err(unsupported("expression over an aggregate")),
            _ => {}
        }
    }

    // GROUP BY on output columns.
    let mut group_by = Vec::new();
    for g in &s.group_clause {
        if matches!(g.node.as_ref(), Some(NodeEnum::GroupingSet(_))) {
            return Err(unsupported("GROUPING SETS/ROLLUP/CUBE"));
        }
        let col = output_column(g, &targets, src, false)
            .ok_or_else(|| unsupported("GROUP BY expression that is not an output column"))?;
        if !group_by.contains(&col) {
            group_by.push(col);
        }
    }
    let grouped = !group_by.is_empty() || !aggregates.is_empty();
    if grouped {
        if star {
            return Err(unsupported("SELECT * with GROUP BY or aggregates"));
        }
        for (i, t) in targets.iter().enumerate() {
            let constant = t.val.is_some_and(is_constant);
            if !constant && !group_by.contains(&i) && !aggregates.iter().any(|a| a.column == i) {
                return Err(unsupported(
                    "output column that is neither a group key nor an aggregate",
                ));
            }
        }
    }

    // ORDER BY output columns.
    let mut order_by = Vec::new();
    for o in &s.sort_clause {
        let Some(NodeEnum::SortBy(sb)) = o.node.as_ref() else {
            continue;
        };
        if sb.sortby_dir == SortByDir::SortbyUsing as i32 {
            return Err(unsupported("ORDER BY … USING"));
        }
        let node = sb.node.as_deref().ok_or_else(|| unsupported("ORDER BY"))?;
        let column = output_column(node, &targets, src, true)
            .ok_or_else(|| unsupported("ORDER BY expression that is not an output column"))?;
        let descending = sb.sortby_dir == SortByDir::SortbyDesc as i32;
        let nulls_first = if sb.sortby_nulls == SortByNulls::SortbyNullsFirst as i32 {
            true
        } else if sb.sortby_nulls == SortByNulls::SortbyNullsLast as i32 {
            false
        } else {
            descending
        };
        order_by.push(SortKey {
            column,
            descending,
            nulls_first,
        });
    }

    let limit = count(s.limit_count.as_deref(), src, "LIMIT")?;
    let offset = count(s.limit_offset.as_deref(), src, "OFFSET")?;

    // Edits for the shards.
    let mut edits = Vec::new();
    if !avgs.is_empty() {
        let mut hidden = Vec::new();
        for &(_, location) in &avgs {
            let at = src
                .token_at(location)
                .ok_or_else(|| unsupported("avg() form"))?;
            let (name, open, close) =
                call_parens(src, at, end).ok_or_else(|| unsupported("avg() form"))?;
            if !src.is_word(name, "avg") {
                return Err(unsupported("avg() form"));
            }
            edits.push(Edit {
                from: name,
                to: name + 1,
                with: vec![Piece::Text("sum".into())],
            });
            hidden.push((open + 1, close));
        }
        let last = targets
            .last()
            .and_then(|t| src.token_at(t.location))
            .ok_or_else(|| unsupported("avg() form"))?;
        let list_end = clause_end(src, last, end, false);
        let last_tok = list_end
            .checked_sub(1)
            .filter(|&t| t >= last)
            .ok_or_else(|| unsupported("avg() form"))?;
        let mut with = vec![Piece::Tokens(last_tok, last_tok + 1)];
        for (a, b) in hidden {
            with.push(Piece::Text(", count(".into()));
            with.push(Piece::Tokens(a, b));
            with.push(Piece::Text(")".into()));
        }
        edits.push(Edit {
            from: last_tok,
            to: last_tok + 1,
            with,
        });
    }
    let limit_span = clause_span(
        s.limit_count.as_deref(),
        src,
        start,
        end,
        &["limit", "fetch"],
    );
    let offset_span = clause_span(s.limit_offset.as_deref(), src, start, end, &["offset"]);
    if grouped {
        for span in [limit_span, offset_span].into_iter().flatten() {
            edits.push(Edit {
                from: span.0,
                to: span.1,
                with: vec![Piece::Text(" ".into())],
            });
        }
    } else if let Some(off) = offset_span {
        if let Some(l) = limit_span.filter(|_| limit.is_some()) {
            edits.push(Edit {
                from: l.0,
                to: l.1,
                with: vec![Piece::ShardLimit],
            });
        }
        edits.push(Edit {
            from: off.0,
            to: off.1,
            with: vec![Piece::Text(" ".into())],
        });
    }
    if (s.limit_count.is_some() && limit_span.is_none() && (grouped || offset.is_some()))
        || (s.limit_offset.is_some() && offset_span.is_none())
    {
        return Err(unsupported("LIMIT/OFFSET form"));
    }
    edits.sort_by_key(|e| e.from);
    if edits.windows(2).any(|w| w[0].to > w[1].from) {
        return Err(unsupported("statement rewrite"));
    }
    Ok(Scatter {
        order_by,
        group_by,
        aggregates,
        output_columns,
        limit,
        offset,
        edits,
    })
}

fn aggregate_kind(f: &FuncCall) -> Result<AggregateKind, RouteError> {
    let (_, name) = func_name(f);
    if f.agg_distinct {
        return Err(unsupported(format!("{name}(DISTINCT …)")));
    }
    if f.agg_filter.is_some() {
        return Err(unsupported("aggregate FILTER"));
    }
    if !f.agg_order.is_empty() || f.agg_within_group {
        return Err(unsupported("ordered-set aggregate"));
    }
    match name {
        "count" => Ok(AggregateKind::Count),
        "sum" => Ok(AggregateKind::Sum),
        "min" => Ok(AggregateKind::Min),
        "max" => Ok(AggregateKind::Max),
        "avg" if f.args.len() == 1 => Ok(AggregateKind::Avg { count_column: 0 }),
        other => Err(unsupported(format!("aggregate {other}()"))),
    }
}

fn is_constant(n: &Node) -> bool {
    match n.node.as_ref() {
        Some(NodeEnum::AConst(_)) | Some(NodeEnum::ParamRef(_)) => true,
        Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().is_some_and(is_constant),
        _ => false,
    }
}

/// The output column an ORDER BY / GROUP BY item denotes: a position, an
/// output name (ORDER BY looks at names first), or the same expression.
fn output_column(
    node: &Node,
    targets: &[Target<'_>],
    src: &mut Source<'_>,
    names_first: bool,
) -> Option<usize> {
    if let Some(NodeEnum::AConst(c)) = node.node.as_ref() {
        let pos = src.pinned_int(c)?;
        let i = usize::try_from(pos).ok()?.checked_sub(1)?;
        // Positions count output columns, `*` expanded: always known.
        let star = targets.iter().any(|t| t.val.is_none());
        return (star || i < targets.len()).then_some(i);
    }
    let by_name = || {
        let Some(NodeEnum::ColumnRef(c)) = node.node.as_ref() else {
            return None;
        };
        let [f] = c.fields.as_slice() else {
            return None;
        };
        let Some(NodeEnum::String(s)) = f.node.as_ref() else {
            return None;
        };
        targets.iter().position(|t| t.name == s.sval)
    };
    let by_expr = || {
        targets
            .iter()
            .position(|t| t.val.is_some_and(|v| same_expr(v, node, 0)))
    };
    let found = if names_first {
        by_name().or_else(by_expr)
    } else {
        by_expr().or_else(by_name)
    };
    // A `*` before the column makes its position unknown.
    found.filter(|&i| !targets[..=i].iter().any(|t| t.val.is_none()))
}

/// Structural equality of simple expressions (column refs, calls, casts,
/// operators), ignoring locations; a qualified and an unqualified column
/// of the same name are taken as equal.
fn same_expr(a: &Node, b: &Node, depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    let all = |x: &[Node], y: &[Node]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_expr(p, q, depth + 1))
    };
    match (a.node.as_ref(), b.node.as_ref()) {
        (Some(NodeEnum::ColumnRef(x)), Some(NodeEnum::ColumnRef(y))) => {
            let name = |n: &Node| match n.node.as_ref() {
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            };
            let xs: Option<Vec<String>> = x.fields.iter().map(name).collect();
            let ys: Option<Vec<String>> = y.fields.iter().map(name).collect();
            match (xs, ys) {
                (Some(xs), Some(ys)) => {
                    xs.last() == ys.last() && (xs.len() == 1 || ys.len() == 1 || xs == ys)
                }
                _ => false,
            }
        }
        (Some(NodeEnum::FuncCall(x)), Some(NodeEnum::FuncCall(y))) => {
            func_name(x) == func_name(y)
                && x.agg_star == y.agg_star
                && x.agg_distinct == y.agg_distinct
                && x.over.is_none()
                && y.over.is_none()
                && x.agg_filter.is_none()
                && y.agg_filter.is_none()
                && all(&x.args, &y.args)
        }
        (Some(NodeEnum::TypeCast(x)), Some(NodeEnum::TypeCast(y))) => {
            let tn = |t: &pg_query::protobuf::TypeCast| {
                t.type_name
                    .as_ref()
                    .map(|n| format!("{:?}{:?}", n.names, n.array_bounds))
            };
            tn(x) == tn(y)
                && match (x.arg.as_deref(), y.arg.as_deref()) {
                    (Some(p), Some(q)) => same_expr(p, q, depth + 1),
                    _ => false,
                }
        }
        (Some(NodeEnum::AExpr(x)), Some(NodeEnum::AExpr(y))) => {
            let side = |p: Option<&Node>, q: Option<&Node>| match (p, q) {
                (None, None) => true,
                (Some(p), Some(q)) => same_expr(p, q, depth + 1),
                _ => false,
            };
            x.kind == y.kind
                && format!("{:?}", x.name) == format!("{:?}", y.name)
                && side(x.lexpr.as_deref(), y.lexpr.as_deref())
                && side(x.rexpr.as_deref(), y.rexpr.as_deref())
        }
        _ => false,
    }
}

/// A LIMIT/OFFSET count: a literal or a parameter (None: absent, ALL or NULL).
fn count(node: Option<&Node>, src: &Source<'_>, what: &str) -> Result<Option<Count>, RouteError> {
    let Some(node) = node else { return Ok(None) };
    let mut n = node;
    while let Some(NodeEnum::TypeCast(t)) = n.node.as_ref() {
        n = t
            .arg
            .as_deref()
            .ok_or_else(|| unsupported(format!("{what} expression")))?;
    }
    match n.node.as_ref() {
        Some(NodeEnum::AConst(c)) if c.isnull => Ok(None),
        Some(NodeEnum::AConst(c)) if c.location < 0 => match &c.val {
            Some(pg_query::protobuf::a_const::Val::Ival(i)) => {
                Ok(u64::try_from(i.ival).ok().map(Count::Fixed))
            }
            _ => Err(unsupported(format!("{what} expression"))),
        },
        Some(NodeEnum::AConst(c)) => src
            .count_literal(c)
            .map(|i| Some(Count::Lit(i)))
            .ok_or_else(|| unsupported(format!("{what} expression"))),
        Some(NodeEnum::ParamRef(p)) if p.number > 0 => {
            Ok(Some(Count::Param(p.number.unsigned_abs())))
        }
        _ => Err(unsupported(format!("{what} expression"))),
    }
}

/// Token span `[keyword, end)` of a LIMIT/FETCH/OFFSET clause whose value is `node`.
fn clause_span(
    node: Option<&Node>,
    src: &Source<'_>,
    start: usize,
    end: usize,
    words: &[&str],
) -> Option<(usize, usize)> {
    let node = node?;
    let loc = node_location(node)?;
    let at = src.token_at(loc)?;
    let kw = keyword_before(src, at, start, words)?;
    Some((kw, clause_end(src, kw, end, true)))
}

fn node_location(node: &Node) -> Option<i32> {
    match node.node.as_ref()? {
        NodeEnum::AConst(c) => Some(c.location),
        NodeEnum::ParamRef(p) => Some(p.location),
        NodeEnum::TypeCast(t) => t
            .arg
            .as_deref()
            .and_then(node_location)
            .or(Some(t.location)),
        _ => None,
    }
}
