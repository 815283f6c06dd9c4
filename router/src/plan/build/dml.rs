//! Data-modifying statements: INSERT (VALUES rows, INSERT … SELECT,
//! ON CONFLICT), UPDATE, DELETE and MERGE, in the current scope (top level
//! or a data-modifying CTE). The written table is marked so an unkeyed
//! write is refused, and setting its key column is a key change.

use pg_query::protobuf::{DeleteStmt, InsertStmt, MergeStmt, RangeVar, SetOperation, UpdateStmt};
use pg_query::{Node, NodeEnum};

use super::query::Output;
use super::scope::{Analysis, Edge, Fact};
use crate::error::{unsupported, RouteError};
use crate::plan::KeySet;

impl Analysis<'_, '_> {
    /// The DML target table; marks it written. None for a global table.
    fn target(&mut self, rel: Option<&RangeVar>) -> Option<usize> {
        let rel = rel?;
        let alias = rel.alias.as_ref().map(|a| a.aliasname.as_str());
        let r = self.add_table(&rel.schemaname, &rel.relname, alias);
        match r {
            Some(r) => self.refs[r].written = true,
            None => self.writes_global = true,
        }
        r
    }

    fn check_key_set(&mut self, r: Option<usize>, list: &[Node]) {
        let Some(r) = r else { return };
        for t in list {
            if let Some(NodeEnum::ResTarget(rt)) = t.node.as_ref() {
                if self.refs[r].key_cols.contains(&rt.name) && self.refusal.is_none() {
                    self.refusal = Some(RouteError::KeyChange {
                        table: self.refs[r].table.clone(),
                        key_column: rt.name.clone(),
                    });
                }
            }
        }
    }

    pub fn insert(&mut self, ins: &InsertStmt) -> Output {
        if let Some(w) = &ins.with_clause {
            self.with_clause(w);
        }
        let here = self.current();
        let r = self.target(ins.relation.as_ref());
        let cols: Vec<&str> = ins
            .cols
            .iter()
            .filter_map(|c| match c.node.as_ref() {
                Some(NodeEnum::ResTarget(rt)) => Some(rt.name.as_str()),
                _ => None,
            })
            .collect();
        let key = r.and_then(|r| {
            self.refs[r]
                .key_cols
                .iter()
                .enumerate()
                .find_map(|(ki, k)| cols.iter().position(|c| c == k).map(|p| ((r, ki), p)))
        });
        if let Some(sel) = ins.select_stmt.as_deref() {
            match sel.node.as_ref() {
                Some(NodeEnum::SelectStmt(s))
                    if !s.values_lists.is_empty() && s.op <= SetOperation::SetopNone as i32 =>
                {
                    if let Some((ck, p)) = key {
                        let rows: Option<Vec<_>> = s
                            .values_lists
                            .iter()
                            .map(|row| match row.node.as_ref() {
                                Some(NodeEnum::List(l)) => {
                                    l.items.get(p).and_then(|v| self.value_of(v))
                                }
                                _ => None,
                            })
                            .collect();
                        if let Some(rows) = rows {
                            self.facts.push(Fact {
                                cands: vec![ck],
                                set: KeySet::Rows(rows),
                                scope: here,
                            });
                        }
                    }
                    for row in &s.values_lists {
                        self.expr(row, false);
                    }
                }
                _ => {
                    let scope = self.push_scope(true);
                    let out = self.query_body(sel);
                    if let Some((ck, p)) = key {
                        if let Some((_, Some(k))) = out.positional.get(p).filter(|_| !out.star) {
                            self.edges.push(Edge {
                                a: (ck, here),
                                b: (*k, scope),
                                scope,
                            });
                        } else if let Some(v) = simple_target(sel, p).and_then(|n| self.value_of(n))
                        {
                            self.facts.push(Fact {
                                cands: vec![ck],
                                set: KeySet::Values(vec![v]),
                                scope: here,
                            });
                        }
                    }
                    self.pop_scope();
                }
            }
        }
        if let Some(oc) = &ins.on_conflict_clause {
            self.check_key_set(r, &oc.target_list);
            for n in oc.target_list.iter().chain(oc.where_clause.as_deref()) {
                self.expr(n, false);
            }
        }
        self.returning(&ins.returning_list)
    }

    fn returning(&mut self, list: &[Node]) -> Output {
        for n in list {
            self.expr(n, false);
        }
        Output {
            safe: true,
            ..self.targets(list)
        }
    }

    pub fn update(&mut self, u: &UpdateStmt) -> Output {
        if let Some(w) = &u.with_clause {
            self.with_clause(w);
        }
        let r = self.target(u.relation.as_ref());
        for item in &u.from_clause {
            self.table_ref(item, false);
        }
        if let Some(w) = u.where_clause.as_deref() {
            self.condition(w, true);
        }
        self.check_key_set(r, &u.target_list);
        for n in &u.target_list {
            self.expr(n, false);
        }
        self.returning(&u.returning_list)
    }

    pub fn delete(&mut self, d: &DeleteStmt) -> Output {
        if let Some(w) = &d.with_clause {
            self.with_clause(w);
        }
        self.target(d.relation.as_ref());
        for item in &d.using_clause {
            self.table_ref(item, false);
        }
        if let Some(w) = d.where_clause.as_deref() {
            self.condition(w, true);
        }
        self.returning(&d.returning_list)
    }

    pub fn merge(&mut self, m: &MergeStmt) -> Output {
        if let Some(w) = &m.with_clause {
            self.with_clause(w);
        }
        if self.target(m.relation.as_ref()).is_some() && self.refusal.is_none() {
            self.refusal = Some(unsupported("MERGE into a sharded table"));
        }
        if let Some(src) = m.source_relation.as_deref() {
            self.table_ref(src, false);
        }
        if let Some(c) = m.join_condition.as_deref() {
            self.expr(c, false);
        }
        self.returning(&m.returning_list)
    }
}

/// Target expression `p` of a plain SELECT.
fn simple_target(sel: &Node, p: usize) -> Option<&Node> {
    let Some(NodeEnum::SelectStmt(s)) = sel.node.as_ref() else {
        return None;
    };
    if s.op > SetOperation::SetopNone as i32 {
        return None;
    }
    match s.target_list.get(p)?.node.as_ref()? {
        NodeEnum::ResTarget(r) => r.val.as_deref(),
        _ => None,
    }
}
