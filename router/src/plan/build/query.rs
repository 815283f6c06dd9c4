//! Queries: SELECT with its FROM items (tables, joins, subqueries,
//! functions), CTEs and set operations. Each is analysed in the current
//! scope; what a query exposes to its parent is its [`Output`]
//! (data-modifying statements are in `dml`).

use pg_query::protobuf::{JoinType, RangeVar, ResTarget, SelectStmt, SetOperation, WithClause};
use pg_query::{Node, NodeEnum};

use super::agg::{figure_colname, has_aggregate, has_window};
use super::expr::column_fields;
use super::scope::{Analysis, ColKey, Cte, Edge, EntryKind};

/// What a query exposes to the query around it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Output {
    /// Output columns by position: name, and the key it carries.
    pub positional: Vec<(String, Option<ColKey>)>,
    /// Key columns exposed by a `*`.
    pub star_keys: Vec<(String, ColKey)>,
    /// The output has a `*` (positions past it are unknown).
    pub star: bool,
    /// It can be evaluated shard by shard and its rows concatenated
    /// (no aggregates unless grouped by the key, no window functions,
    /// LIMIT/OFFSET, DISTINCT, set operations or recursion).
    pub safe: bool,
}

impl Output {
    /// Key columns by output name, renamed by a column alias list.
    pub fn keys(&self, colnames: &[String]) -> Vec<(String, ColKey)> {
        if !colnames.is_empty() && self.star {
            return Vec::new();
        }
        let mut out: Vec<(String, ColKey)> = self
            .positional
            .iter()
            .enumerate()
            .filter_map(|(i, (name, k))| {
                let name = colnames.get(i).unwrap_or(name);
                k.map(|k| (name.clone(), k))
            })
            .collect();
        out.extend(self.star_keys.iter().cloned());
        out
    }
}

pub(crate) fn alias_names(colnames: &[Node]) -> Vec<String> {
    colnames
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

impl Analysis<'_, '_> {
    /// Analyses any query-like node in the current scope.
    pub fn query_body(&mut self, node: &Node) -> Output {
        if !self.enter() {
            return Output::default();
        }
        let out = match node.node.as_ref() {
            Some(NodeEnum::SelectStmt(s)) => self.select(s),
            Some(NodeEnum::InsertStmt(s)) => self.insert(s),
            Some(NodeEnum::UpdateStmt(s)) => self.update(s),
            Some(NodeEnum::DeleteStmt(s)) => self.delete(s),
            Some(NodeEnum::MergeStmt(s)) => self.merge(s),
            _ => Output::default(),
        };
        self.leave();
        out
    }

    /// A SELECT in the current scope.
    pub fn select(&mut self, s: &SelectStmt) -> Output {
        let recursive = s.with_clause.as_ref().is_some_and(|w| w.recursive);
        if let Some(w) = &s.with_clause {
            self.with_clause(w);
        }
        if s.op > SetOperation::SetopNone as i32 {
            for arg in s.larg.iter().chain(s.rarg.iter()) {
                self.push_scope(true);
                self.select(arg);
                self.pop_scope();
            }
            for n in s
                .sort_clause
                .iter()
                .chain(s.limit_count.as_deref())
                .chain(s.limit_offset.as_deref())
            {
                self.expr(n, false);
            }
            return Output::default();
        }
        if !s.values_lists.is_empty() {
            for row in &s.values_lists {
                self.expr(row, false);
            }
            return Output {
                safe: true,
                ..Output::default()
            };
        }
        self.selects_visited += 1;
        for item in &s.from_clause {
            self.table_ref(item, false);
        }
        if let Some(w) = s.where_clause.as_deref() {
            self.condition(w, true);
        }
        let out = self.targets(&s.target_list);
        for n in s
            .target_list
            .iter()
            .chain(&s.group_clause)
            .chain(s.having_clause.as_deref())
            .chain(&s.sort_clause)
            .chain(&s.window_clause)
            .chain(&s.distinct_clause)
            .chain(s.limit_count.as_deref())
            .chain(s.limit_offset.as_deref())
        {
            self.expr(n, false);
        }
        let has_agg = s
            .target_list
            .iter()
            .chain(s.having_clause.as_deref())
            .any(has_aggregate);
        let windows = !s.window_clause.is_empty()
            || s.target_list.iter().chain(&s.sort_clause).any(has_window);
        let grouped = !s.group_clause.is_empty() || has_agg || s.having_clause.is_some();
        let scope = self.current();
        let key_grouped = s.group_clause.iter().any(|g| {
            column_fields(g)
                .and_then(|f| self.resolve(&f))
                .is_some_and(|(cands, sc)| cands.len() == 1 && sc == scope)
        });
        let safe = !windows
            && !recursive
            && s.limit_count.is_none()
            && s.limit_offset.is_none()
            && s.distinct_clause.is_empty()
            && (!grouped || key_grouped);
        Output { safe, ..out }
    }

    /// The output of a target (or RETURNING) list in the current scope.
    pub fn targets(&self, list: &[Node]) -> Output {
        let scope = self.current();
        let mut out = Output::default();
        for t in list {
            let Some(NodeEnum::ResTarget(r)) = t.node.as_ref() else {
                continue;
            };
            if let Some(qual) = star_of(r) {
                out.star = true;
                out.star_keys.extend(self.star_keys(qual));
                continue;
            }
            let name = if r.name.is_empty() {
                figure_colname(r.val.as_deref())
            } else {
                r.name.clone()
            };
            let key = r
                .val
                .as_deref()
                .and_then(column_fields)
                .and_then(|f| self.resolve(&f))
                .and_then(|(cands, sc)| match cands.as_slice() {
                    [k] if sc == scope => Some(*k),
                    _ => None,
                });
            out.positional.push((name, key));
        }
        out
    }

    pub fn with_clause(&mut self, w: &WithClause) {
        let here = self.current();
        for c in &w.ctes {
            let Some(NodeEnum::CommonTableExpr(cte)) = c.node.as_ref() else {
                continue;
            };
            let index = self.scopes[here].ctes.len();
            let register = |an: &mut Self| {
                an.scopes[here].ctes.push(Cte {
                    name: cte.ctename.clone(),
                    keys: None,
                    scope: 0,
                    sites: Vec::new(),
                });
            };
            if w.recursive {
                register(self);
            }
            let scope = self.push_scope(false);
            let out = cte
                .ctequery
                .as_deref()
                .map(|q| self.query_body(q))
                .unwrap_or_default();
            self.pop_scope();
            if !w.recursive {
                register(self);
            }
            let keys =
                (out.safe && !w.recursive).then(|| out.keys(&alias_names(&cte.aliascolnames)));
            if let Some(slot) = self.scopes[here].ctes.get_mut(index) {
                slot.keys = keys;
                slot.scope = scope;
            }
        }
    }

    /// One FROM item; `nullable`: on the nullable side of an outer join.
    pub fn table_ref(&mut self, node: &Node, nullable: bool) {
        if !self.enter() {
            return;
        }
        match node.node.as_ref() {
            Some(NodeEnum::RangeVar(rv)) => self.range_var(rv, nullable),
            Some(NodeEnum::JoinExpr(j)) => {
                let jt = j.jointype;
                let (ln, rn) = if jt == JoinType::JoinLeft as i32 {
                    (nullable, true)
                } else if jt == JoinType::JoinRight as i32 {
                    (true, nullable)
                } else if jt == JoinType::JoinFull as i32 {
                    (true, true)
                } else {
                    (nullable, nullable)
                };
                let scope = self.current();
                let before = self.scopes[scope].entries.len();
                if let Some(l) = j.larg.as_deref() {
                    self.table_ref(l, ln);
                }
                let mid = self.scopes[scope].entries.len();
                if let Some(r) = j.rarg.as_deref() {
                    self.table_ref(r, rn);
                }
                let mut names = alias_names(&j.using_clause);
                if j.is_natural {
                    names = self.rules.key_columns.clone();
                    names.extend(self.rules.tables.values().filter_map(|t| match t {
                        crate::rules::TableRule::ShardedBy(c) => Some(c.clone()),
                        crate::rules::TableRule::Global => None,
                    }));
                }
                for name in names {
                    let side = |from: usize, to: usize| -> Option<ColKey> {
                        let found: Vec<ColKey> = self.scopes[scope].entries[from..to]
                            .iter()
                            .filter_map(|e| match &e.kind {
                                EntryKind::Table(Some(r)) => self.refs[*r]
                                    .key_cols
                                    .iter()
                                    .position(|k| *k == name)
                                    .map(|i| (*r, i)),
                                EntryKind::Derived(keys) => {
                                    keys.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
                                }
                                _ => None,
                            })
                            .collect();
                        match found.as_slice() {
                            [k] => Some(*k),
                            _ => None,
                        }
                    };
                    let end = self.scopes[scope].entries.len();
                    if let (Some(a), Some(b)) = (side(before, mid), side(mid, end)) {
                        self.edges.push(Edge {
                            a: (a, scope),
                            b: (b, scope),
                            scope,
                        });
                    }
                }
                if let Some(q) = j.quals.as_deref() {
                    self.condition(q, jt == JoinType::JoinInner as i32 && !nullable);
                }
                if let Some(a) = &j.alias {
                    // Names inside an aliased join are hidden; expose none.
                    self.add_entry(a.aliasname.clone(), EntryKind::Opaque);
                }
            }
            Some(NodeEnum::RangeSubselect(rs)) => {
                let scope = self.push_scope(false);
                let out = rs
                    .subquery
                    .as_deref()
                    .map(|q| self.query_body(q))
                    .unwrap_or_default();
                self.pop_scope();
                self.scopes[scope].restricts_parent = !nullable && out.safe;
                let (name, cols) = rs
                    .alias
                    .as_ref()
                    .map(|a| (a.aliasname.clone(), alias_names(&a.colnames)))
                    .unwrap_or_default();
                let kind = if out.safe {
                    EntryKind::Derived(out.keys(&cols))
                } else {
                    EntryKind::Opaque
                };
                self.add_entry(name, kind);
            }
            Some(NodeEnum::RangeFunction(f)) => {
                for n in &f.functions {
                    self.expr(n, false);
                }
                let name = f
                    .alias
                    .as_ref()
                    .map(|a| a.aliasname.clone())
                    .unwrap_or_default();
                self.add_entry(name, EntryKind::Opaque);
            }
            Some(NodeEnum::RangeTableSample(t)) => {
                if let Some(r) = t.relation.as_deref() {
                    self.table_ref(r, nullable);
                }
            }
            _ => self.add_entry(String::new(), EntryKind::Opaque),
        }
        self.leave();
    }

    fn range_var(&mut self, rv: &RangeVar, nullable: bool) {
        let alias = rv.alias.as_ref().map(|a| a.aliasname.as_str());
        if rv.schemaname.is_empty() {
            if let Some((s, i)) = self.find_cte(&rv.relname) {
                let here = self.current();
                let cte = &mut self.scopes[s].ctes[i];
                cte.sites.push((here, nullable));
                let cols = rv
                    .alias
                    .as_ref()
                    .map(|a| alias_names(&a.colnames))
                    .unwrap_or_default();
                let kind = match &cte.keys {
                    Some(keys) if cols.is_empty() => EntryKind::Derived(keys.clone()),
                    _ => EntryKind::Opaque,
                };
                let name = alias.unwrap_or(&rv.relname).to_string();
                self.add_entry(name, kind);
                return;
            }
        }
        self.add_table(&rv.schemaname, &rv.relname, alias);
    }
}

/// `*` or `name.*` in a target: Some(qualifier).
pub(crate) fn star_of(r: &ResTarget) -> Option<Option<&str>> {
    let Some(NodeEnum::ColumnRef(c)) = r.val.as_deref().and_then(|v| v.node.as_ref()) else {
        return None;
    };
    if !matches!(
        c.fields.last().and_then(|f| f.node.as_ref()),
        Some(NodeEnum::AStar(_))
    ) {
        return None;
    }
    let qual = c
        .fields
        .iter()
        .rev()
        .nth(1)
        .and_then(|f| match f.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        });
    Some(qual)
}
