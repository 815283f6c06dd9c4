//! Transactions that write on several shards, made atomic: the commit
//! protocol ([`commit`]: `PREPARE TRANSACTION` on every writer but one,
//! then that one's own `COMMIT` as the decision, then `COMMIT PREPARED`),
//! the global transaction ids that let anyone resolve what is left
//! ([`gid`]), the resolver of in-doubt transactions ([`recovery`]), and how
//! several shards' command tags add up to one ([`tags`]). It works on
//! server connections the session lends it and knows nothing of clients.

pub mod commit;
pub mod gid;
pub mod recovery;
pub mod tags;

pub use commit::{commit, rollback, CommitError, Crash, Participant};
