//! Scatter-gather: running one read on every shard and merging the answers.

pub mod binary;
pub mod execute;
pub mod merge;
