//! What the router decided for one query: where it goes, what kind of
//! statement it is, and how a scatter read's results are merged.

/// Where a query goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Exactly one shard.
    Shard(u32),
    /// Several shards: sorted, deduplicated, more than one.
    Shards(Vec<u32>),
    /// Every shard (scatter read, or broadcast of DDL / global-table writes).
    AllShards,
    /// Touches no sharded table: any shard will do.
    AnyShard,
}

/// What kind of statement a query is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementKind {
    /// SELECT (without locking), `COPY … TO`, `VALUES`, `TABLE`.
    Read,
    /// INSERT/UPDATE/DELETE/MERGE, `SELECT … FOR UPDATE`, data-modifying
    /// CTEs, `COPY … FROM`.
    Write,
    /// Schema and privilege changes: CREATE/ALTER/DROP/TRUNCATE/COMMENT/GRANT/REVOKE…
    Ddl,
    /// BEGIN / START TRANSACTION.
    Begin,
    /// COMMIT / END.
    Commit,
    /// ROLLBACK / ABORT.
    Rollback,
    /// SAVEPOINT, RELEASE, ROLLBACK TO, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, LOCK, SET CONSTRAINTS.
    TransactionOther,
    /// SET, RESET, SHOW, DISCARD, DEALLOCATE, LISTEN, UNLISTEN, NOTIFY, PREPARE, EXECUTE…
    Session,
    /// VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, EXPLAIN.
    Utility,
}

/// One sort key of a merged result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// 0-based output column.
    pub column: usize,
    /// `DESC`.
    pub descending: bool,
    /// NULLs sort first (PostgreSQL's default: last for ASC, first for DESC).
    pub nulls_first: bool,
}

/// An aggregate to combine across shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// 0-based output column holding the per-shard partial value.
    pub column: usize,
    /// How partials combine.
    pub kind: AggregateKind,
}

/// How per-shard partial aggregates combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateKind {
    /// Sum of the shards' counts.
    Count,
    /// Sum of the shards' sums (NULL if all are NULL).
    Sum,
    /// Least of the shards' minima (ignoring NULLs).
    Min,
    /// Greatest of the shards' maxima (ignoring NULLs).
    Max,
    /// The shards return the sum in `column` and the count in
    /// `count_column` (a hidden appended column); avg = Σsum / Σcount.
    Avg {
        /// The hidden column holding the per-shard count.
        count_column: usize,
    },
}

/// How to merge the result sets of a scatter read into one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSpec {
    /// Sort order of the merged rows, applied after grouping (empty:
    /// concatenate in any order).
    pub order_by: Vec<SortKey>,
    /// Rows to return after `offset` (None: all).
    pub limit: Option<u64>,
    /// Rows to skip after merging (and grouping).
    pub offset: Option<u64>,
    /// Output columns that are group keys. Empty with aggregates: the
    /// whole result is one group (one row).
    pub group_by: Vec<usize>,
    /// Aggregated output columns.
    pub aggregates: Vec<Aggregate>,
    /// Columns the client sees; columns past these are hidden helper
    /// columns (avg's count) to drop. `usize::MAX` when the select list has
    /// a `*` (the count is then unknown to the router and nothing hidden is
    /// appended).
    pub output_columns: usize,
}

impl MergeSpec {
    /// Whether merging needs more than concatenation.
    pub fn is_plain_concat(&self) -> bool {
        self.order_by.is_empty()
            && self.limit.is_none()
            && self.offset.is_none()
            && self.group_by.is_empty()
            && self.aggregates.is_empty()
    }
}

/// The routing decision for one query string or one Bind.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Where to send it.
    pub target: Target,
    /// What kind of statement it is.
    pub kind: StatementKind,
    /// How to merge results: `Some` only for scatter reads (target
    /// `AllShards` or `Shards`, kind `Read`).
    pub merge: Option<MergeSpec>,
    /// SQL to send to the shards instead of the original (scatter reads
    /// that rewrite avg or LIMIT/OFFSET); None: send the original.
    pub rewritten_sql: Option<String>,
}

impl Decision {
    /// A decision with no merge and no rewrite.
    pub fn simple(target: Target, kind: StatementKind) -> Decision {
        Decision {
            target,
            kind,
            merge: None,
            rewritten_sql: None,
        }
    }
}
