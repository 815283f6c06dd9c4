//! Generic pool.
