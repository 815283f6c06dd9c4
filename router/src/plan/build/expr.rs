//! Expressions: splitting conditions into conjuncts, recognising key
//! equalities (`a.user_id = b.user_id`) and key constraints (`user_id = 5`,
//! `IN (…)`, `= ANY(…)`, AND/OR of those), key values (literals,
//! parameters, casts of them), and walking expressions for subqueries.

use pg_query::protobuf::{AExprKind, BoolExprType, SubLinkType};
use pg_query::{Node, NodeEnum};

use super::scope::{Analysis, ColKey, Edge, Fact};
use crate::plan::{KeySet, ValueRef};

/// The top-level conjuncts of a condition (nested ANDs flattened).
pub(crate) fn conjuncts(node: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.node.as_ref() {
            Some(NodeEnum::BoolExpr(b)) if b.boolop == BoolExprType::AndExpr as i32 => {
                stack.extend(b.args.iter().rev());
            }
            _ => out.push(n),
        }
    }
    out
}

/// The string fields of a column reference (None if it ends in `*`).
pub(crate) fn column_fields(node: &Node) -> Option<Vec<&str>> {
    let Some(NodeEnum::ColumnRef(c)) = node.node.as_ref() else {
        return None;
    };
    c.fields
        .iter()
        .map(|f| match f.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// The operator name of an expression if it is a single unqualified name.
fn op_name(names: &[Node]) -> Option<&str> {
    match names {
        [n] => match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// Strips casts: `x::bigint`, `CAST(x AS int8)`.
fn uncast(mut node: &Node) -> &Node {
    while let Some(NodeEnum::TypeCast(t)) = node.node.as_ref() {
        match t.arg.as_deref() {
            Some(arg) => node = arg,
            None => break,
        }
    }
    node
}

/// Strips casts to integer types only (`user_id::int4`); a column cast to
/// text or numeric compares differently.
fn uncast_int(mut node: &Node) -> &Node {
    while let Some(NodeEnum::TypeCast(t)) = node.node.as_ref() {
        let int = t
            .type_name
            .as_ref()
            .and_then(|tn| tn.names.last())
            .is_some_and(|n| match n.node.as_ref() {
                Some(NodeEnum::String(s)) => matches!(
                    s.sval.as_str(),
                    "int2" | "int4" | "int8" | "smallint" | "integer" | "bigint" | "int"
                ),
                _ => false,
            });
        match t.arg.as_deref() {
            Some(arg)
                if int
                    && t.type_name
                        .as_ref()
                        .is_some_and(|tn| tn.array_bounds.is_empty()) =>
            {
                node = arg
            }
            _ => break,
        }
    }
    node
}

impl Analysis<'_, '_> {
    /// The key column(s) a column expression (possibly cast to another
    /// integer type) denotes.
    fn key_col(&self, node: &Node) -> Option<(Vec<ColKey>, usize)> {
        self.resolve(&column_fields(uncast_int(node))?)
    }

    /// A key value: literal, parameter, NULL, or a cast of one.
    pub fn value_of(&self, node: &Node) -> Option<ValueRef> {
        match uncast(node).node.as_ref()? {
            NodeEnum::AConst(c) => self.src.const_value(c),
            NodeEnum::ParamRef(p) if p.number > 0 => Some(ValueRef::Param(p.number.unsigned_abs())),
            NodeEnum::AExpr(e)
                if e.kind == AExprKind::AexprOp as i32
                    && e.lexpr.is_none()
                    && op_name(&e.name) == Some("+") =>
            {
                self.value_of(e.rexpr.as_deref()?)
            }
            // `-3::bigint` is `-(3::bigint)`.
            NodeEnum::AExpr(e)
                if e.kind == AExprKind::AexprOp as i32
                    && e.lexpr.is_none()
                    && op_name(&e.name) == Some("-") =>
            {
                match self.value_of(e.rexpr.as_deref()?)? {
                    ValueRef::Lit { index, negate } => Some(ValueRef::Lit {
                        index,
                        negate: !negate,
                    }),
                    ValueRef::Null => Some(ValueRef::Null),
                    ValueRef::Param(_) => None,
                }
            }
            _ => None,
        }
    }

    /// The keys of an array expression: `ARRAY[…]`, `'{…}'`, `$n`.
    fn array_of(&self, node: &Node) -> Option<KeySet> {
        match uncast(node).node.as_ref()? {
            NodeEnum::AArrayExpr(a) => Some(KeySet::Values(
                a.elements
                    .iter()
                    .map(|e| self.value_of(e))
                    .collect::<Option<Vec<_>>>()?,
            )),
            NodeEnum::AConst(c) if c.isnull => Some(KeySet::Values(Vec::new())),
            NodeEnum::AConst(c) => Some(KeySet::Array(self.src.const_value(c)?)),
            NodeEnum::ParamRef(p) if p.number > 0 => {
                Some(KeySet::Array(ValueRef::Param(p.number.unsigned_abs())))
            }
            _ => None,
        }
    }

    /// `a.key = b.key` between two unambiguous key columns.
    fn key_equality(&self, node: &Node) -> Option<((ColKey, usize), (ColKey, usize))> {
        let Some(NodeEnum::AExpr(e)) = node.node.as_ref() else {
            return None;
        };
        if e.kind != AExprKind::AexprOp as i32 || op_name(&e.name) != Some("=") {
            return None;
        }
        let (l, ls) = self.key_col(e.lexpr.as_deref()?)?;
        let (r, rs) = self.key_col(e.rexpr.as_deref()?)?;
        match (l.as_slice(), r.as_slice()) {
            ([l], [r]) => Some(((*l, ls), (*r, rs))),
            _ => None,
        }
    }

    /// The key constraint a condition imposes, if it constrains one key.
    pub fn constraint_of(&self, node: &Node) -> Option<(Vec<ColKey>, KeySet)> {
        if !self.src_depth_ok() {
            return None;
        }
        match node.node.as_ref()? {
            NodeEnum::AExpr(e) => {
                let (l, r) = (e.lexpr.as_deref()?, e.rexpr.as_deref()?);
                let op = op_name(&e.name)?;
                if op != "=" {
                    return None;
                }
                if e.kind == AExprKind::AexprOp as i32 {
                    if let (Some((cands, _)), Some(v)) = (self.key_col(l), self.value_of(r)) {
                        return Some((cands, KeySet::Values(vec![v])));
                    }
                    let (cands, _) = self.key_col(r)?;
                    return Some((cands, KeySet::Values(vec![self.value_of(l)?])));
                }
                if e.kind == AExprKind::AexprOpAny as i32 {
                    return Some((self.key_col(l)?.0, self.array_of(r)?));
                }
                if e.kind == AExprKind::AexprIn as i32 {
                    let Some(NodeEnum::List(list)) = r.node.as_ref() else {
                        return None;
                    };
                    let values = list
                        .items
                        .iter()
                        .map(|i| self.value_of(i))
                        .collect::<Option<Vec<_>>>()?;
                    return Some((self.key_col(l)?.0, KeySet::Values(values)));
                }
                None
            }
            NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::AndExpr as i32 => {
                let mut parts = b.args.iter().filter_map(|a| self.constraint_of(a));
                let (cands, first) = parts.next()?;
                let mut sets = vec![first];
                sets.extend(parts.filter(|(c, _)| *c == cands).map(|(_, s)| s));
                Some((
                    cands,
                    if sets.len() == 1 {
                        sets.remove(0)
                    } else {
                        KeySet::And(sets)
                    },
                ))
            }
            NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::OrExpr as i32 => {
                let mut cands0 = None;
                let mut sets = Vec::with_capacity(b.args.len());
                for a in &b.args {
                    let (cands, set) = self.constraint_of(a)?;
                    if cands0.get_or_insert_with(|| cands.clone()) != &cands {
                        return None;
                    }
                    sets.push(set);
                }
                Some((cands0?, KeySet::Or(sets)))
            }
            _ => None,
        }
    }

    fn src_depth_ok(&self) -> bool {
        self.depth < super::scope::MAX_DEPTH
    }

    /// Records what a condition says: key equalities (always) and key
    /// constraints (when `restricting`: a WHERE or inner-join conjunct of
    /// this scope), and analyses its subqueries.
    pub fn condition(&mut self, node: &Node, restricting: bool) {
        let scope = self.current();
        for c in conjuncts(node) {
            if let Some((a, b)) = self.key_equality(c) {
                self.edges.push(Edge { a, b, scope });
            } else if restricting {
                if let Some((cands, set)) = self.constraint_of(c) {
                    self.facts.push(Fact { cands, set, scope });
                }
            }
            self.expr(c, restricting);
        }
    }

    /// Walks an expression for subqueries. `positive`: the expression is
    /// itself a restricting conjunct (so `EXISTS (…)` / `x IN (…)` here
    /// filter this scope's rows).
    pub fn expr(&mut self, node: &Node, positive: bool) {
        if !self.enter() {
            return;
        }
        if let Some(n) = node.node.as_ref() {
            match n {
                NodeEnum::SubLink(s) => self.sublink(s, positive),
                other => {
                    for child in expr_children(other) {
                        self.expr(child, false);
                    }
                }
            }
        }
        self.leave();
    }

    fn sublink(&mut self, s: &pg_query::protobuf::SubLink, positive: bool) {
        let kind = s.sub_link_type;
        let filtering = kind == SubLinkType::ExistsSublink as i32
            || (kind == SubLinkType::AnySublink as i32
                && (s.oper_name.is_empty() || op_name(&s.oper_name) == Some("=")));
        // `x IN (SELECT k …)`: the tested key equals the subquery's key.
        let tested = if kind == SubLinkType::AnySublink as i32 {
            s.testexpr.as_deref().and_then(|t| self.key_col(t))
        } else {
            None
        };
        if let Some(t) = s.testexpr.as_deref() {
            self.expr(t, false);
        }
        let Some(sub) = s.subselect.as_deref() else {
            return;
        };
        let scope = self.push_scope(positive && filtering);
        let out = self.query_body(sub);
        if let (Some((cands, tscope)), Some((_, Some(k)))) = (tested, out.positional.first()) {
            if let [t] = cands.as_slice() {
                self.edges.push(Edge {
                    a: (*t, tscope),
                    b: (*k, scope),
                    scope,
                });
            }
        }
        self.pop_scope();
    }
}

/// The sub-expressions of an expression node, for walking. Subqueries are
/// handled by the caller; unknown node kinds have none (the statement-level
/// SELECT count catches subqueries hidden in them).
pub(crate) fn expr_children(n: &NodeEnum) -> Vec<&Node> {
    let mut v: Vec<&Node> = Vec::new();
    match n {
        NodeEnum::AExpr(e) => v.extend(e.lexpr.as_deref().into_iter().chain(e.rexpr.as_deref())),
        NodeEnum::BoolExpr(b) => v.extend(&b.args),
        NodeEnum::FuncCall(f) => {
            v.extend(&f.args);
            v.extend(&f.agg_order);
            v.extend(f.agg_filter.as_deref());
            if let Some(w) = &f.over {
                v.extend(&w.partition_clause);
                v.extend(&w.order_clause);
            }
        }
        NodeEnum::TypeCast(t) => v.extend(t.arg.as_deref()),
        NodeEnum::NullTest(t) => v.extend(t.arg.as_deref()),
        NodeEnum::BooleanTest(t) => v.extend(t.arg.as_deref()),
        NodeEnum::CaseExpr(c) => {
            v.extend(c.arg.as_deref());
            v.extend(&c.args);
            v.extend(c.defresult.as_deref());
        }
        NodeEnum::CaseWhen(w) => v.extend(w.expr.as_deref().into_iter().chain(w.result.as_deref())),
        NodeEnum::CoalesceExpr(c) => v.extend(&c.args),
        NodeEnum::MinMaxExpr(m) => v.extend(&m.args),
        NodeEnum::RowExpr(r) => v.extend(&r.args),
        NodeEnum::AArrayExpr(a) => v.extend(&a.elements),
        NodeEnum::AIndirection(a) => {
            v.extend(a.arg.as_deref());
            v.extend(&a.indirection);
        }
        NodeEnum::AIndices(a) => v.extend(a.lidx.as_deref().into_iter().chain(a.uidx.as_deref())),
        NodeEnum::List(l) => v.extend(&l.items),
        NodeEnum::ResTarget(r) => {
            v.extend(r.val.as_deref());
            v.extend(&r.indirection);
        }
        NodeEnum::MultiAssignRef(m) => v.extend(m.source.as_deref()),
        NodeEnum::SortBy(s) => v.extend(s.node.as_deref()),
        NodeEnum::CollateClause(c) => v.extend(c.arg.as_deref()),
        NodeEnum::NamedArgExpr(a) => v.extend(a.arg.as_deref()),
        NodeEnum::GroupingSet(g) => v.extend(&g.content),
        NodeEnum::XmlExpr(x) => {
            v.extend(&x.named_args);
            v.extend(&x.args);
        }
        NodeEnum::XmlSerialize(x) => v.extend(x.expr.as_deref()),
        NodeEnum::RangeFunction(f) => v.extend(&f.functions),
        _ => {}
    }
    v
}
