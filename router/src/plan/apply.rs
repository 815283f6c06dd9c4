//! Applying a plan to one execution: evaluate key constraints with this
//! execution's literals or Bind parameters, pick the target, honour hints,
//! and fill in the merge spec and rewritten SQL of a scatter read.

use super::rewrite::rewrite;
use super::shards::ShardSet;
use super::{Class, Count, KeySet, Plan, Route, Scatter, StmtPlan, ValueRef};
use crate::bind::{key_of, keys_of_array, keys_of_text_array, BindParam};
use crate::decision::{Decision, MergeSpec, StatementKind, Target};
use crate::error::{bad_key, unsupported, RouteError};
use crate::hints::{CommentHints, SessionHints};
use crate::literal;
use crate::rules::ShardingRules;
use crate::shape::Literal;
use crate::shard_fn::shard_for_key;

/// The values of one execution.
pub(crate) struct Values<'a> {
    /// The query string the literals point into.
    pub sql: &'a str,
    /// Its literals, in order.
    pub literals: &'a [Literal],
    /// Bind parameters; None for a simple-protocol query.
    pub params: Option<&'a [BindParam<'a>]>,
}

enum Key {
    Val(i64),
    Null,
    Unknown,
}

impl Values<'_> {
    fn key(&self, v: &ValueRef) -> Result<Key, RouteError> {
        match v {
            ValueRef::Null => Ok(Key::Null),
            ValueRef::Lit { index, negate } => match self.literals.get(*index) {
                Some(lit) => literal::key(self.sql, lit, *negate).map(Key::Val),
                None => Ok(Key::Unknown),
            },
            ValueRef::Param(n) => match self.param(*n) {
                Some(p) => Ok(key_of(p)?.map_or(Key::Null, Key::Val)),
                None => Ok(Key::Unknown),
            },
        }
    }

    /// Keys of an array value; None when unknown.
    fn keys(&self, v: &ValueRef) -> Result<Option<Vec<Option<i64>>>, RouteError> {
        match v {
            ValueRef::Null => Ok(Some(Vec::new())),
            ValueRef::Lit { index, .. } => match self.literals.get(*index) {
                Some(lit) => {
                    let text = literal::content(self.sql, lit)
                        .ok_or_else(|| bad_key("the key array literal cannot be read"))?;
                    keys_of_text_array(&text).map(Some)
                }
                None => Ok(None),
            },
            ValueRef::Param(n) => match self.param(*n) {
                Some(p) => keys_of_array(p).map(Some),
                None => Ok(None),
            },
        }
    }

    fn param(&self, n: u32) -> Option<&BindParam<'_>> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        self.params?.get(i)
    }

    fn count(&self, c: &Count) -> Option<u64> {
        match c {
            Count::Lit(i) => literal::count(self.sql, self.literals.get(*i)?),
            Count::Fixed(v) => Some(*v),
            Count::Param(n) => match key_of(self.param(*n)?) {
                Ok(Some(v)) => u64::try_from(v).ok(),
                _ => None,
            },
        }
    }
}

struct Eval<'a> {
    values: &'a Values<'a>,
    rules: &'a ShardingRules,
}

impl Eval<'_> {
    fn shard(&self, key: i64) -> u32 {
        shard_for_key(self.rules.function, key, self.rules.shards())
    }

    fn set(&self, ks: &KeySet) -> Result<ShardSet, RouteError> {
        match ks {
            KeySet::Values(vs) => {
                let mut acc = ShardSet::empty();
                for v in vs {
                    match self.values.key(v)? {
                        Key::Val(k) => acc = acc.union(ShardSet::One(self.shard(k))),
                        Key::Null => {}
                        Key::Unknown => return Ok(ShardSet::All),
                    }
                }
                Ok(acc)
            }
            KeySet::Array(v) => match self.values.keys(v)? {
                None => Ok(ShardSet::All),
                Some(keys) => Ok(ShardSet::from_vec(
                    keys.into_iter().flatten().map(|k| self.shard(k)).collect(),
                )),
            },
            KeySet::And(parts) => {
                let mut acc = ShardSet::All;
                for p in parts {
                    acc = acc.intersect(self.set(p)?);
                }
                Ok(acc)
            }
            KeySet::Or(parts) => {
                let mut acc = ShardSet::empty();
                for p in parts {
                    acc = acc.union(self.set(p)?);
                }
                Ok(acc)
            }
            KeySet::Rows(vs) => {
                let mut acc = ShardSet::empty();
                for v in vs {
                    match self.values.key(v)? {
                        Key::Val(k) => acc = acc.union(ShardSet::One(self.shard(k))),
                        Key::Null => return Err(bad_key("NULL sharding key in INSERT")),
                        Key::Unknown => return Ok(ShardSet::All),
                    }
                }
                match acc {
                    ShardSet::Many(shards) if shards.len() > 1 => {
                        Err(RouteError::CrossShardInsert { shards })
                    }
                    other => Ok(other),
                }
            }
        }
    }

    /// The shards a set of classes needs, or why it cannot run.
    fn classes(&self, classes: &[Class], session: Option<u32>) -> Result<ShardSet, RouteError> {
        if let [c] = classes {
            let set = match &c.constraint {
                Some(ks) => self.set(ks)?,
                None => ShardSet::All,
            };
            return match (set, session) {
                (ShardSet::All, Some(s)) => Ok(ShardSet::One(s)),
                (ShardSet::All, None) if c.written => Err(RouteError::UnkeyedWrite {
                    table: c.table.clone(),
                    key_column: c.key_column.clone(),
                }),
                (set, _) => Ok(set),
            };
        }
        let mut sets = Vec::with_capacity(classes.len());
        for c in classes {
            sets.push(match &c.constraint {
                Some(ks) => self.set(ks)?,
                None => ShardSet::All,
            });
        }
        if let Some(s) = session {
            if sets.iter().all(|s| *s == ShardSet::All) {
                return Ok(ShardSet::One(s));
            }
        }
        for (c, s) in classes.iter().zip(&sets) {
            if c.written && *s == ShardSet::All {
                return Err(RouteError::UnkeyedWrite {
                    table: c.table.clone(),
                    key_column: c.key_column.clone(),
                });
            }
        }
        let mut live = sets.into_iter().filter(|s| !s.is_empty());
        let Some(first) = live.next() else {
            return Ok(ShardSet::empty());
        };
        for s in live {
            if s != first || !matches!(s, ShardSet::One(_)) {
                let both_single = matches!((&first, &s), (ShardSet::One(_), ShardSet::One(_)));
                return Err(unsupported(if both_single {
                    "join of sharded tables on different shards"
                } else {
                    "unkeyed join of sharded tables"
                }));
            }
        }
        Ok(first)
    }
}

/// The decision for `plan` applied to `values`.
pub(crate) fn decide(
    plan: &Plan,
    values: &Values<'_>,
    rules: &ShardingRules,
    comment: &CommentHints,
    session: &SessionHints,
) -> Result<Decision, RouteError> {
    comment.check()?;
    let eval = Eval { values, rules };
    let shards = rules.shards();
    let forced = hinted_shard(comment.shard, comment.user_id, &eval)?;
    let session_shard = hinted_shard(session.shard, session.user_id, &eval)?;
    if let [stmt] = plan.stmts.as_slice() {
        return match forced {
            Some(s) => Ok(Decision::simple(Target::Shard(s), stmt.kind)),
            None => statement(stmt, &eval, session_shard, shards),
        };
    }
    let mut decisions = Vec::with_capacity(plan.stmts.len());
    for stmt in &plan.stmts {
        let d = match forced {
            Some(s) => Decision::simple(Target::Shard(s), stmt.kind),
            None => statement(stmt, &eval, session_shard, shards)?,
        };
        decisions.push(d);
    }
    combine(decisions)
}

fn hinted_shard(
    shard: Option<u32>,
    user_id: Option<i64>,
    eval: &Eval<'_>,
) -> Result<Option<u32>, RouteError> {
    let shards = eval.rules.shards();
    match (shard, user_id) {
        (Some(s), _) if s >= shards => Err(bad_key(format!(
            "shard {s} does not exist (there are {shards} shards: 0..{})",
            shards - 1
        ))),
        (Some(s), _) => Ok(Some(s)),
        (None, Some(k)) => Ok(Some(eval.shard(k))),
        (None, None) => Ok(None),
    }
}

fn statement(
    stmt: &StmtPlan,
    eval: &Eval<'_>,
    session: Option<u32>,
    shards: u32,
) -> Result<Decision, RouteError> {
    let kind = stmt.kind;
    let target = target_of(&stmt.route, kind, eval, session, shards)?;
    let scatter = matches!(target, Target::AllShards | Target::Shards(_));
    if scatter && kind == StatementKind::Read {
        if let Route::Sharded { scatter: plan, .. } = &stmt.route {
            let plan = plan.as_ref().map_err(Clone::clone)?;
            return Ok(scatter_decision(plan, target, eval.values));
        }
    }
    Ok(Decision::simple(target, kind))
}

fn target_of(
    route: &Route,
    kind: StatementKind,
    eval: &Eval<'_>,
    session: Option<u32>,
    shards: u32,
) -> Result<Target, RouteError> {
    let session_applies = matches!(
        kind,
        StatementKind::Read | StatementKind::Write | StatementKind::Utility
    );
    match route {
        Route::Any => Ok(match session {
            Some(s) if session_applies => Target::Shard(s),
            _ => Target::AnyShard,
        }),
        Route::Broadcast => Ok(if shards <= 1 {
            Target::Shard(0)
        } else {
            Target::AllShards
        }),
        Route::Refuse(e) => match session {
            Some(s) if matches!(e, RouteError::Unsupported { .. }) => Ok(Target::Shard(s)),
            _ => Err(e.clone()),
        },
        Route::Sharded { classes, .. } => Ok(eval.classes(classes, session)?.target(shards)),
        Route::Explain {
            inner,
            analyze,
            inner_kind,
        } => {
            let executes_write = *analyze && *inner_kind == StatementKind::Write;
            match target_of(inner, *inner_kind, eval, session, shards) {
                Ok(t @ (Target::Shard(_) | Target::AnyShard)) => Ok(t),
                Ok(t) if executes_write || matches!(**inner, Route::Broadcast) => Ok(t),
                Err(e) if executes_write => Err(e),
                _ => Ok(Target::AnyShard),
            }
        }
    }
}

fn scatter_decision(plan: &Scatter, target: Target, values: &Values<'_>) -> Decision {
    let limit = plan.limit.as_ref().and_then(|c| values.count(c));
    let offset = plan.offset.as_ref().and_then(|c| values.count(c));
    let merge = MergeSpec {
        order_by: plan.order_by.clone(),
        limit,
        offset: offset.filter(|&o| o > 0),
        group_by: plan.group_by.clone(),
        aggregates: plan.aggregates.clone(),
        output_columns: plan.output_columns,
    };
    let rewritten_sql = if plan.edits.is_empty() {
        None
    } else {
        rewrite(plan, values, limit, offset)
    };
    Decision {
        target,
        kind: StatementKind::Read,
        merge: Some(merge),
        rewritten_sql,
    }
}

/// One decision for several statements: they must agree on the target.
fn combine(mut decisions: Vec<Decision>) -> Result<Decision, RouteError> {
    if decisions.len() <= 1 {
        return Ok(decisions
            .pop()
            .unwrap_or_else(|| Decision::simple(Target::AnyShard, StatementKind::Session)));
    }
    if decisions.iter().any(|d| d.merge.is_some()) {
        return Err(unsupported(
            "scatter read in a multi-statement query string",
        ));
    }
    let mut target = Target::AnyShard;
    for d in &decisions {
        if d.target == Target::AnyShard {
            continue;
        }
        if target == Target::AnyShard {
            target = d.target.clone();
        } else if target != d.target {
            return Err(RouteError::MixedTargets);
        }
    }
    let kind = decisions
        .iter()
        .map(|d| d.kind)
        .max_by_key(|k| rank(*k))
        .unwrap_or(StatementKind::Session);
    Ok(Decision::simple(target, kind))
}

/// Which kind names a multi-statement query string: the most consequential.
fn rank(kind: StatementKind) -> u8 {
    match kind {
        StatementKind::Ddl => 9,
        StatementKind::Write => 8,
        StatementKind::Read => 7,
        StatementKind::Utility => 6,
        StatementKind::TransactionOther => 5,
        StatementKind::Session => 4,
        StatementKind::Rollback => 3,
        StatementKind::Commit => 2,
        StatementKind::Begin => 1,
    }
}
