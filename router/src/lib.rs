//! Pure statement analysis for shardwire: SQL text and Bind parameters in,
//! routing decisions out. No I/O, no async runtime, no panics on any input.
//!
//! - [`statements`] and [`session_effects`]: splitting a query string and
//!   recognising statements that change session state; [`session_state`]:
//!   statements that leave state on a server connection past their
//!   transaction (temporary tables, held cursors, advisory locks…); [`hint_setting`]
//!   recognises `SET shardwire.user_id = …` for the session's
//!   [`SessionHints`].
//! - [`Router`]: shard routing. A fast lexer turns a query into its *shape*
//!   (literals replaced, case, spacing and comments normalised) and its
//!   literals; the plan of each shape is built once with the full
//!   PostgreSQL grammar (`pg_query`) and kept in a bounded cache; applying
//!   a plan to an execution's literals or Bind parameters gives a
//!   [`Decision`]: target shard(s), statement kind, and for scatter reads a
//!   [`MergeSpec`] and possibly rewritten SQL. [`shard_for_key`] is the key
//!   → shard function (modulo, or PostgreSQL's hash partitioning).
//!
//! ```
//! use shardwire_router::{Router, SessionHints, ShardingRules, Target};
//!
//! let router = Router::new(ShardingRules::default()); // 6 shards, user_id % 6
//! let d = router.route("SELECT * FROM scores WHERE user_id = 13", &SessionHints::default())?;
//! assert_eq!(d.target, Target::Shard(1));
//! let d = router.route("SELECT count(*) FROM scores", &SessionHints::default())?;
//! assert_eq!(d.target, Target::AllShards);
//! assert!(d.merge.is_some());
//! let e = router.route("UPDATE scores SET points = 0", &SessionHints::default()).unwrap_err();
//! assert_eq!(e.sqlstate(), "0A000");
//! # Ok::<(), shardwire_router::RouteError>(())
//! ```
//!
//! Correctness rule: when the router cannot prove where rows live it
//! scatters (reads) or refuses (writes, unmergeable reads); it never
//! guesses a single shard. Text the parser rejects goes to any shard so the
//! server reports the syntax error.

#![warn(missing_docs)]

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
pub mod session_state;
mod shape;
mod shard_fn;
pub mod split;
pub mod split_insert;

pub use bind::BindParam;
pub use cache::CacheStats;
pub use decision::{Aggregate, AggregateKind, Decision, MergeSpec, SortKey, StatementKind, Target};
pub use error::RouteError;
pub use hint_setting::{hint_setting, HintName, HintSetting};
pub use hints::SessionHints;
pub use router::{Described, PreparedPlan, Router, DEFAULT_CACHE_CAPACITY};
pub use rules::{ShardFunction, ShardingRules, TableRule};
pub use session_effects::{session_effects, SessionEffect};
pub use session_state::{only_temp_tables, state_effects, LingeringKind, Release, StateEffect};
pub use shard_fn::shard_for_key;
pub use split::statements;
pub use split_insert::split_insert;
