//! shardwire.
