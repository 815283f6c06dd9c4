//! Turning the facts of an analysis into co-location classes.
//!
//! Two references are *co-located* when the statement only ever combines
//! their rows on equal keys: a key equality among the FROM items of one
//! scope, or between a subquery's own table and the outer row it is
//! correlated with (a subquery may not glue together two outer groups that
//! nothing else joins). Each class is evaluated where its keys say; key
//! constraints count for a class only when they restrict the rows that drive
//! it (its outermost references), not, say, rows in a `NOT EXISTS`.

use super::scope::{Analysis, ColKey};
use crate::plan::{Class, KeySet};

/// Union-find over `n` elements.
struct Sets(Vec<usize>);

impl Sets {
    fn new(n: usize) -> Self {
        Sets((0..n).collect())
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// The co-location classes, and whether every class is driven by the
/// statement's top-level rows (required to scatter and merge).
pub(crate) fn classes(an: &Analysis<'_, '_>) -> (Vec<Class>, bool) {
    let n = an.refs.len();
    // Each reference is keyed by the first of its key columns the statement mentions.
    let mut chosen: Vec<Option<usize>> = vec![None; n];
    let mut mention = |(r, i): ColKey| {
        let c = &mut chosen[r];
        *c = Some(c.map_or(i, |c: usize| c.min(i)));
    };
    for e in &an.edges {
        mention(e.a.0);
        mention(e.b.0);
    }
    for f in &an.facts {
        for &c in &f.cands {
            mention(c);
        }
    }
    let key_of = |r: usize| chosen[r].unwrap_or(0);
    let is_key = |(r, i): ColKey| key_of(r) == i;

    // Scope roots: a scope that restricts its parent shares its root.
    let mut roots = Sets::new(an.scopes.len());
    for (id, s) in an.scopes.iter().enumerate() {
        if let (true, Some(p)) = (s.restricts_parent, s.parent) {
            roots.union(id, p);
        }
        for cte in &s.ctes {
            if let ([(site, false)], Some(_)) = (cte.sites.as_slice(), &cte.keys) {
                roots.union(cte.scope, *site);
            }
        }
    }

    let mut colo = Sets::new(n);
    for e in &an.edges {
        if is_key(e.a.0) && is_key(e.b.0) && e.a.1 == e.scope && e.b.1 == e.scope {
            colo.union(e.a.0 .0, e.b.0 .0);
        }
    }
    for scope in 0..an.scopes.len() {
        let corr: Vec<(usize, usize)> = an
            .edges
            .iter()
            .filter(|e| e.scope == scope && is_key(e.a.0) && is_key(e.b.0))
            .filter_map(|e| match (e.a.1 == scope, e.b.1 == scope) {
                (true, false) => Some((e.a.0 .0, e.b.0 .0)),
                (false, true) => Some((e.b.0 .0, e.a.0 .0)),
                _ => None,
            })
            .collect();
        let mut outer: Vec<usize> = corr.iter().map(|&(_, o)| colo.find(o)).collect();
        outer.sort_unstable();
        outer.dedup();
        if outer.len() == 1 {
            for (inner, o) in corr {
                colo.union(inner, o);
            }
        }
    }

    let top_root = roots.find(0);
    let mut out = Vec::new();
    let mut all_top = true;
    let mut seen = vec![false; n];
    for first in 0..n {
        let class = colo.find(first);
        if seen[class] {
            continue;
        }
        seen[class] = true;
        let members: Vec<usize> = (0..n).filter(|&r| colo.find(r) == class).collect();
        let driver = members
            .iter()
            .copied()
            .min_by_key(|&r| an.scopes[an.refs[r].scope].level)
            .unwrap_or(first);
        let root = roots.find(an.refs[driver].scope);
        all_top &= root == top_root;
        let mut sets: Vec<KeySet> = Vec::new();
        for f in &an.facts {
            let in_class = f
                .cands
                .iter()
                .all(|&(r, i)| is_key((r, i)) && colo.find(r) == class);
            if in_class && !f.cands.is_empty() && roots.find(f.scope) == root {
                sets.push(f.set.clone());
            }
        }
        let constraint = match sets.len() {
            0 => None,
            1 => sets.pop(),
            _ => Some(KeySet::And(sets)),
        };
        let named = members
            .iter()
            .copied()
            .find(|&r| an.refs[r].written)
            .unwrap_or(driver);
        let tref = &an.refs[named];
        out.push(Class {
            constraint,
            table: tref.table.clone(),
            key_column: tref
                .key_cols
                .get(key_of(named))
                .cloned()
                .unwrap_or_else(|| an.rules.primary_key_column().to_string()),
            written: members.iter().any(|&r| an.refs[r].written),
        });
    }
    (out, all_top)
}
