//! The analysis state of one statement: sharded table references, the
//! nested scopes they are declared in (FROM lists, subqueries, CTEs), the
//! names visible in each scope, and the facts found so far (key equalities
//! between references, key constraints). Column names resolve here.

use super::source::Source;
use crate::error::RouteError;
use crate::plan::KeySet;
use crate::rules::{Distribution, ShardingRules};

/// A key column of a sharded reference: (reference id, key column index).
pub(crate) type ColKey = (usize, usize);

/// One sharded table reference in the statement.
#[derive(Debug)]
pub(crate) struct TableRef {
    pub table: String,
    pub key_cols: Vec<String>,
    pub scope: usize,
    pub written: bool,
}

/// What a name in a FROM list stands for.
#[derive(Debug)]
pub(crate) enum EntryKind {
    /// A table: sharded (its reference) or global (None).
    Table(Option<usize>),
    /// A subquery or CTE whose output columns carry these keys.
    Derived(Vec<(String, ColKey)>),
    /// Anything whose columns carry no key (functions, VALUES, unsafe subqueries).
    Opaque,
}

/// A name in a FROM list.
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub kind: EntryKind,
}

/// A common table expression visible in a scope.
#[derive(Debug)]
pub(crate) struct Cte {
    pub name: String,
    /// Key columns of its output; None when it cannot be evaluated shard by
    /// shard (aggregates, LIMIT, recursion…) or is still being analysed.
    pub keys: Option<Vec<(String, ColKey)>>,
    pub scope: usize,
    /// (referencing scope, on the nullable side of an outer join).
    pub sites: Vec<(usize, bool)>,
}

/// One query level.
#[derive(Debug)]
pub(crate) struct Scope {
    pub parent: Option<usize>,
    /// The parent only sees rows of this scope that satisfy its conditions
    /// (positive EXISTS/IN, inner-joined subquery): its key constraints
    /// then constrain the parent too.
    pub restricts_parent: bool,
    pub level: usize,
    pub entries: Vec<Entry>,
    pub ctes: Vec<Cte>,
}

/// A key equality `a = b`, found in the conditions of `scope`; each side
/// with the scope whose FROM entry it resolved through.
#[derive(Debug)]
pub(crate) struct Edge {
    pub a: (ColKey, usize),
    pub b: (ColKey, usize),
    pub scope: usize,
}

/// A key constraint on one of `cands` (several when an unqualified column
/// could belong to several references), found in `scope`.
#[derive(Debug)]
pub(crate) struct Fact {
    pub cands: Vec<ColKey>,
    pub set: KeySet,
    pub scope: usize,
}

/// Deepest nesting the analysis follows before giving up.
pub(crate) const MAX_DEPTH: usize = 200;

/// Everything learned about one statement.
pub(crate) struct Analysis<'a, 'b> {
    pub rules: &'a ShardingRules,
    pub src: &'b Source<'a>,
    pub refs: Vec<TableRef>,
    pub scopes: Vec<Scope>,
    pub stack: Vec<usize>,
    pub edges: Vec<Edge>,
    pub facts: Vec<Fact>,
    pub selects_visited: usize,
    pub writes_global: bool,
    /// A refusal found while analysing (KEY change, MERGE…).
    pub refusal: Option<RouteError>,
    pub depth: usize,
    pub too_deep: bool,
}

impl<'a, 'b> Analysis<'a, 'b> {
    /// A fresh analysis with the statement's top scope open.
    pub fn new(rules: &'a ShardingRules, src: &'b Source<'a>) -> Self {
        let mut a = Analysis {
            rules,
            src,
            refs: Vec::new(),
            scopes: Vec::new(),
            stack: Vec::new(),
            edges: Vec::new(),
            facts: Vec::new(),
            selects_visited: 0,
            writes_global: false,
            refusal: None,
            depth: 0,
            too_deep: false,
        };
        a.push_scope(false);
        a
    }

    /// The innermost scope.
    pub fn current(&self) -> usize {
        self.stack.last().copied().unwrap_or(0)
    }

    /// Opens a child scope of the current one.
    pub fn push_scope(&mut self, restricts_parent: bool) -> usize {
        let parent = self.stack.last().copied();
        let level = parent.map_or(0, |p| self.scopes[p].level + 1);
        let id = self.scopes.len();
        self.scopes.push(Scope {
            parent,
            restricts_parent,
            level,
            entries: Vec::new(),
            ctes: Vec::new(),
        });
        self.stack.push(id);
        id
    }

    /// Closes the innermost scope.
    pub fn pop_scope(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    /// Enters one more level of recursion; false (and marks the analysis
    /// as too deep) past [`MAX_DEPTH`].
    pub fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.too_deep = true;
        }
        !self.too_deep
    }

    /// Leaves a level entered with [`Analysis::enter`].
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Adds an entry to the current scope.
    pub fn add_entry(&mut self, name: String, kind: EntryKind) {
        let s = self.current();
        self.scopes[s].entries.push(Entry { name, kind });
    }

    /// Adds a table reference by name to the current scope; returns its
    /// reference id when sharded.
    pub fn add_table(&mut self, schema: &str, relname: &str, alias: Option<&str>) -> Option<usize> {
        let name = alias.unwrap_or(relname).to_string();
        let table = relname.to_ascii_lowercase();
        let mut tables = self.src.tables.borrow_mut();
        if !tables.contains(&table) {
            tables.push(table);
        }
        drop(tables);
        match self.rules.distribution(schema, relname) {
            Distribution::Global => {
                self.add_entry(name, EntryKind::Table(None));
                None
            }
            Distribution::Sharded(key_cols) => {
                let id = self.refs.len();
                self.refs.push(TableRef {
                    table: relname.to_string(),
                    key_cols,
                    scope: self.current(),
                    written: false,
                });
                self.add_entry(name, EntryKind::Table(Some(id)));
                Some(id)
            }
        }
    }

    /// The CTE named `name` visible from the current scope: (scope, index).
    pub fn find_cte(&self, name: &str) -> Option<(usize, usize)> {
        for &s in self.stack.iter().rev() {
            if let Some(i) = self.scopes[s].ctes.iter().rposition(|c| c.name == name) {
                return Some((s, i));
            }
        }
        None
    }

    fn lookup(&self, entry: &Entry, col: &str) -> Option<ColKey> {
        match &entry.kind {
            EntryKind::Table(Some(r)) => self.refs[*r]
                .key_cols
                .iter()
                .position(|k| k == col)
                .map(|i| (*r, i)),
            EntryKind::Derived(keys) => keys.iter().find(|(n, _)| n == col).map(|(_, k)| *k),
            _ => None,
        }
    }

    /// The key column(s) a column reference may denote, with the scope it
    /// resolved in. None when it is not a key column.
    pub fn resolve(&self, fields: &[&str]) -> Option<(Vec<ColKey>, usize)> {
        let (&col, qual) = fields.split_last()?;
        if let Some(&q) = qual.last() {
            for &s in self.stack.iter().rev() {
                if let Some(e) = self.scopes[s].entries.iter().find(|e| e.name == q) {
                    return self.lookup(e, col).map(|k| (vec![k], s));
                }
            }
            return None;
        }
        for &s in self.stack.iter().rev() {
            let entries = &self.scopes[s].entries;
            if entries.is_empty() {
                continue;
            }
            let cands: Vec<ColKey> = entries.iter().filter_map(|e| self.lookup(e, col)).collect();
            return (!cands.is_empty()).then_some((cands, s));
        }
        None
    }

    /// Key columns exposed by `SELECT *` (or `name.*`) in the current scope.
    pub fn star_keys(&self, qual: Option<&str>) -> Vec<(String, ColKey)> {
        let s = self.current();
        let mut out = Vec::new();
        for e in &self.scopes[s].entries {
            if qual.is_some_and(|q| q != e.name) {
                continue;
            }
            match &e.kind {
                EntryKind::Table(Some(r)) => {
                    for (i, k) in self.refs[*r].key_cols.iter().enumerate() {
                        out.push((k.clone(), (*r, i)));
                    }
                }
                EntryKind::Derived(keys) => out.extend(keys.iter().cloned()),
                _ => {}
            }
        }
        out
    }
}
