//! The router: scans a query (shape, literals, hints), finds or builds the
//! plan of its shape, and applies it to this execution's values.

use std::sync::Arc;

use crate::bind::BindParam;
use crate::cache::{CacheStats, PlanCache};
use crate::decision::{Decision, StatementKind};
use crate::error::RouteError;
use crate::hints::{CommentHints, SessionHints};
use crate::literal;
use crate::plan::{build, decide, Plan, Values};
use crate::rules::ShardingRules;
use crate::shape::{scan, Literal};

/// Default number of query shapes whose plans are cached.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// Routes statements by the sharding rules. `Send + Sync`: share one per
/// configuration (behind an `Arc`); it holds the plan cache.
pub struct Router {
    rules: ShardingRules,
    cache: PlanCache,
}

/// A statement planned at Parse time, routed per Bind by
/// [`Router::route_bind`].
#[derive(Debug)]
pub struct PreparedPlan {
    sql: Box<str>,
    literals: Vec<Literal>,
    hints: CommentHints,
    plan: Arc<Plan>,
}

/// What a statement reads, for route rules that send some reads elsewhere
/// than the shards (the replica cluster), decided before sharding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    /// Every statement in the text is a read (SELECT without locking,
    /// VALUES, TABLE; no data-modifying CTE).
    pub read_only: bool,
    /// The tables named (lowercase, no schema, CTE names excluded).
    pub tables: Arc<[String]>,
    /// The route named by a `/* shardwire: route=NAME */` comment.
    pub route_hint: Option<Arc<str>>,
}

fn describe_plan(plan: &Plan, hints: &CommentHints) -> Described {
    Described {
        read_only: !plan.stmts.is_empty()
            && plan.stmts.iter().all(|s| s.kind == StatementKind::Read),
        tables: plan.tables.clone(),
        route_hint: hints.route.clone(),
    }
}

impl PreparedPlan {
    /// What the statement reads (see [`Router::describe`]).
    pub fn describe(&self) -> Described {
        describe_plan(&self.plan, &self.hints)
    }

    /// The statement text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The kind of the (first) statement.
    pub fn kind(&self) -> StatementKind {
        self.plan
            .stmts
            .first()
            .map_or(StatementKind::Session, |s| s.kind)
    }
}

impl Router {
    /// A router with a plan cache of [`DEFAULT_CACHE_CAPACITY`] shapes.
    pub fn new(rules: ShardingRules) -> Router {
        Router::with_cache_capacity(rules, DEFAULT_CACHE_CAPACITY)
    }

    /// A router whose plan cache holds at most `capacity` shapes.
    pub fn with_cache_capacity(rules: ShardingRules, capacity: usize) -> Router {
        Router {
            rules,
            cache: PlanCache::new(capacity),
        }
    }

    /// The rules this router applies.
    pub fn rules(&self) -> &ShardingRules {
        &self.rules
    }

    /// Routes a simple-protocol query string (it may hold several
    /// statements; they must all go to the same target, else
    /// [`RouteError::MixedTargets`]).
    pub fn route(&self, sql: &str, hints: &SessionHints) -> Result<Decision, RouteError> {
        let scan = scan(sql);
        let plan = self.plan_for(sql, &scan.shape, &scan.literals);
        let values = Values {
            sql,
            literals: &scan.literals,
            params: None,
        };
        decide(&plan, &values, &self.rules, &scan.hints, hints)
    }

    /// What `sql` reads, from the cached plan of its shape: whether it
    /// only reads, which tables, and a `route=` hint.
    pub fn describe(&self, sql: &str) -> Described {
        let scan = scan(sql);
        let plan = self.plan_for(sql, &scan.shape, &scan.literals);
        describe_plan(&plan, &scan.hints)
    }

    /// Plans a statement at Parse time (once per statement text). Fails
    /// only for a malformed hint comment.
    pub fn prepare(&self, sql: &str) -> Result<Arc<PreparedPlan>, RouteError> {
        let scan = scan(sql);
        scan.hints.check()?;
        let plan = self.plan_for(sql, &scan.shape, &scan.literals);
        Ok(Arc::new(PreparedPlan {
            sql: sql.into(),
            literals: scan.literals,
            hints: scan.hints,
            plan,
        }))
    }

    /// Routes one execution of a prepared statement from its Bind
    /// parameters.
    pub fn route_bind(
        &self,
        plan: &PreparedPlan,
        params: &[BindParam<'_>],
        hints: &SessionHints,
    ) -> Result<Decision, RouteError> {
        let values = Values {
            sql: &plan.sql,
            literals: &plan.literals,
            params: Some(params),
        };
        decide(&plan.plan, &values, &self.rules, &plan.hints, hints)
    }

    /// Plan cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    fn plan_for(&self, sql: &str, shape: &[u8], literals: &[Literal]) -> Arc<Plan> {
        let usable = |plan: &Plan| {
            plan.pinned.iter().all(|(i, want)| {
                literals
                    .get(*i)
                    .and_then(|l| literal::content(sql, l))
                    .is_some_and(|have| *have == **want)
            })
        };
        if let Some(plan) = self.cache.get(shape, usable) {
            return plan;
        }
        let plan = Arc::new(build(sql, &self.rules));
        if plan.cacheable {
            self.cache.insert(shape, Arc::clone(&plan));
        }
        plan
    }
}
