//! Plans: what the router learned about a query shape from the full
//! PostgreSQL grammar, in a form that is cheap to apply to each execution's
//! literal and parameter values. Built once per shape (`build`), applied
//! per execution (`apply`).

mod apply;
mod build;
mod rewrite;
mod shards;

pub(crate) use apply::{decide, Values};
pub(crate) use build::build;

use crate::decision::{Aggregate, SortKey, StatementKind};
use crate::error::RouteError;

/// Where a key value comes from in an execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValueRef {
    /// Literal #index of the query string, negated when `negate` (`-5`).
    Lit { index: usize, negate: bool },
    /// Bind parameter `$n` (1-based).
    Param(u32),
    /// SQL NULL.
    Null,
}

/// The key values a sharded table is constrained to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeySet {
    /// Any of these values (`=`, `IN (…)`, `= ANY(ARRAY[…])`).
    Values(Vec<ValueRef>),
    /// Any element of this array value (`= ANY('{…}')`, `= ANY($n)`).
    Array(ValueRef),
    /// All of these hold (intersection of shards).
    And(Vec<KeySet>),
    /// One of these holds (union of shards).
    Or(Vec<KeySet>),
    /// INSERT rows' keys: must all be on one shard.
    Rows(Vec<ValueRef>),
}

/// A set of sharded table references that are co-located: joined on their
/// keys, so they can be evaluated shard by shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    /// The key constraint; None when unconstrained.
    pub constraint: Option<KeySet>,
    /// A member table and its key column, for messages.
    pub table: String,
    /// The key column of `table`.
    pub key_column: String,
    /// A member is written (or locked) by the statement.
    pub written: bool,
}

/// A count (LIMIT/OFFSET) given by a literal or a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    /// Literal #index.
    Lit(usize),
    /// Parameter `$n`.
    Param(u32),
    /// A count the parser supplied (`FETCH FIRST ROW ONLY`).
    Fixed(u64),
}

/// A piece of replacement text in a rewrite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Fixed text.
    Text(String),
    /// This execution's text of tokens `[from, to)`.
    Tokens(usize, usize),
    /// `LIMIT <limit + offset>` for the shards.
    ShardLimit,
}

/// Replace tokens `[from, to)` of the query string with `with`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub from: usize,
    pub to: usize,
    pub with: Vec<Piece>,
}

/// How a scatter read is merged, with the per-execution parts left open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scatter {
    pub order_by: Vec<SortKey>,
    pub group_by: Vec<usize>,
    pub aggregates: Vec<Aggregate>,
    pub output_columns: usize,
    pub limit: Option<Count>,
    pub offset: Option<Count>,
    /// Edits that turn the statement into what the shards run.
    pub edits: Vec<Edit>,
}

/// The routing part of a statement's plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Touches no sharded table.
    Any,
    /// Runs on every shard (DDL, global-table writes, maintenance).
    Broadcast,
    /// Cannot be routed without a hint.
    Refuse(RouteError),
    /// Touches sharded tables.
    Sharded {
        classes: Vec<Class>,
        /// How to merge if it runs on several shards (reads only).
        scatter: Result<Scatter, RouteError>,
    },
    /// EXPLAIN of an inner statement.
    Explain {
        inner: Box<Route>,
        analyze: bool,
        inner_kind: StatementKind,
    },
}

/// The plan of one statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StmtPlan {
    pub kind: StatementKind,
    pub route: Route,
}

/// The plan of one query shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// One per statement, in order.
    pub stmts: Vec<StmtPlan>,
    /// Literals whose exact content the plan depends on (ORDER BY 2):
    /// another execution of the shape with different values needs a new plan.
    pub pinned: Vec<(usize, Vec<u8>)>,
    /// Tables the statements name (lowercase, deduplicated).
    pub tables: std::sync::Arc<[String]>,
    /// False when the parser rejected the text: such a plan must not be
    /// cached, since a valid query can share the shape (an unterminated
    /// `'5` lexes like `'5'`) and would inherit the wrong plan.
    pub cacheable: bool,
}
