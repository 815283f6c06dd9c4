//! The read-replica cluster: which reads `[[routes]]` send there
//! (`rules`) and which node serves each one (`choice`): only nodes that
//! answer their checks and lag at most `replica_cluster.max_lag` behind
//! every shard, topped up with the freshest others to keep
//! `min_serving` nodes, balanced by least connections or round robin.

mod choice;
mod rules;

pub use choice::{choose_node, Balancer, NoReplica};
pub use rules::matching_route;
