//! Recognising aggregate and window function calls, and naming output
//! columns the way PostgreSQL does for the common cases.

use pg_query::protobuf::FuncCall;
use pg_query::{Node, NodeEnum};

use super::expr::expr_children;

/// Built-in aggregate functions (any of these makes a query an aggregate).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "bit_xor",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "json_agg_strict",
    "jsonb_agg_strict",
    "json_object_agg_strict",
    "jsonb_object_agg_strict",
    "json_object_agg_unique",
    "jsonb_object_agg_unique",
    "json_object_agg_unique_strict",
    "jsonb_object_agg_unique_strict",
    "xmlagg",
    "range_agg",
    "range_intersect_agg",
    "any_value",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "grouping",
];

/// The function's (schema, name), lower-case as parsed.
pub(crate) fn func_name(f: &FuncCall) -> (&str, &str) {
    let parts: Vec<&str> = f
        .funcname
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [name] => ("", name),
        [.., schema, name] => (schema, name),
        [] => ("", ""),
    }
}

/// Whether a call is an aggregate (built-in name, or aggregate syntax).
pub(crate) fn is_aggregate(f: &FuncCall) -> bool {
    if f.over.is_some() {
        return false;
    }
    let (schema, name) = func_name(f);
    f.agg_star
        || f.agg_distinct
        || f.agg_within_group
        || !f.agg_order.is_empty()
        || f.agg_filter.is_some()
        || ((schema.is_empty() || schema == "pg_catalog") && AGGREGATES.contains(&name))
}

/// Whether `node` contains a call matching `pred` (not looking into subqueries).
pub(crate) fn contains_call(node: &Node, pred: &dyn Fn(&FuncCall) -> bool, depth: usize) -> bool {
    if depth > super::scope::MAX_DEPTH {
        return true;
    }
    match node.node.as_ref() {
        None | Some(NodeEnum::SubLink(_)) => false,
        Some(NodeEnum::FuncCall(f)) if pred(f) => true,
        Some(n) => expr_children(n)
            .into_iter()
            .any(|c| contains_call(c, pred, depth + 1)),
    }
}

/// Whether `node` contains an aggregate call.
pub(crate) fn has_aggregate(node: &Node) -> bool {
    contains_call(node, &is_aggregate, 0)
}

/// Whether `node` contains a window function call.
pub(crate) fn has_window(node: &Node) -> bool {
    contains_call(node, &|f: &FuncCall| f.over.is_some(), 0)
}

/// The name PostgreSQL gives an unnamed output column (FigureColname, for
/// the common cases).
pub(crate) fn figure_colname(node: Option<&Node>) -> String {
    let Some(n) = node.and_then(|n| n.node.as_ref()) else {
        return "?column?".to_string();
    };
    match n {
        NodeEnum::ColumnRef(c) => match c.fields.last().and_then(|f| f.node.as_ref()) {
            Some(NodeEnum::String(s)) => s.sval.clone(),
            _ => "?column?".to_string(),
        },
        NodeEnum::FuncCall(f) => func_name(f).1.to_string(),
        NodeEnum::TypeCast(t) => {
            let inner = figure_colname(t.arg.as_deref());
            if inner != "?column?" {
                return inner;
            }
            t.type_name
                .as_ref()
                .and_then(|tn| tn.names.last())
                .and_then(|n| match n.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .unwrap_or(inner)
        }
        NodeEnum::AIndirection(a) => match a.indirection.last().and_then(|n| n.node.as_ref()) {
            Some(NodeEnum::String(s)) => s.sval.clone(),
            _ => figure_colname(a.arg.as_deref()),
        },
        NodeEnum::CaseExpr(_) => "case".to_string(),
        NodeEnum::CoalesceExpr(_) => "coalesce".to_string(),
        NodeEnum::SubLink(s)
            if s.sub_link_type == pg_query::protobuf::SubLinkType::ExistsSublink as i32 =>
        {
            "exists".to_string()
        }
        _ => "?column?".to_string(),
    }
}
