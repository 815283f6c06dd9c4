//! Pure statement analysis for shardwire: SQL text and Bind parameters in,
//! routing decisions out. No I/O, no async runtime, no panics on any input.
//!
//! - [`statements`] and [`session_effects`]: splitting a query string and
//!   recognising statements that change session state.
//! - [`Router`]: shard routing. A fast lexer turns a query into its *shape*
//!   and literals; the plan of each shape is built once with the full
//!   PostgreSQL grammar (`pg_query`) and cached; applying a plan to an
//!   execution's literals or Bind parameters gives a [`Decision`]: target
//!   shard(s), statement kind, and for scatter reads a [`MergeSpec`] and
//!   possibly rewritten SQL.

mod bind;
mod cache;
mod decision;
mod error;
mod hint_setting;
mod hints;
mod key_text;
mod lexer;
mod literal;
mod plan;
mod router;
mod rules;
pub mod session_effects;
mod shape;
mod shard_fn;
pub mod split;

pub use bind::BindParam;
pub use cache::CacheStats;
pub use decision::{Aggregate, AggregateKind, Decision, MergeSpec, SortKey, StatementKind, Target};
pub use error::RouteError;
pub use hint_setting::{hint_setting, HintName, HintSetting};
pub use hints::SessionHints;
pub use router::{PreparedPlan, Router, DEFAULT_CACHE_CAPACITY};
pub use rules::{ShardFunction, ShardingRules, TableRule};
pub use session_effects::{session_effects, SessionEffect};
pub use shard_fn::shard_for_key;
pub use split::statements;
