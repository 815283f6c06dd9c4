//! Sets of shards as key constraints evaluate to them: all shards, one
//! shard (the common case, no allocation), or an explicit sorted list.

use crate::decision::Target;

/// A set of shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ShardSet {
    /// Every shard (unconstrained).
    All,
    /// Exactly one shard.
    One(u32),
    /// Sorted, deduplicated; empty (no row can match) or at least two.
    Many(Vec<u32>),
}

impl ShardSet {
    /// The empty set.
    pub fn empty() -> ShardSet {
        ShardSet::Many(Vec::new())
    }

    /// Builds a set from a list of shards.
    pub fn from_vec(mut v: Vec<u32>) -> ShardSet {
        v.sort_unstable();
        v.dedup();
        if v.len() == 1 {
            ShardSet::One(v[0])
        } else {
            ShardSet::Many(v)
        }
    }

    /// Whether no shard is in the set.
    pub fn is_empty(&self) -> bool {
        matches!(self, ShardSet::Many(v) if v.is_empty())
    }

    fn to_vec(&self) -> Vec<u32> {
        match self {
            ShardSet::All => Vec::new(),
            ShardSet::One(s) => vec![*s],
            ShardSet::Many(v) => v.clone(),
        }
    }

    /// Union.
    pub fn union(self, other: ShardSet) -> ShardSet {
        match (self, other) {
            (ShardSet::All, _) | (_, ShardSet::All) => ShardSet::All,
            (x, y) if y.is_empty() => x,
            (x, y) if x.is_empty() => y,
            (ShardSet::One(a), ShardSet::One(b)) if a == b => ShardSet::One(a),
            (a, b) => {
                let mut v = a.to_vec();
                v.extend(b.to_vec());
                ShardSet::from_vec(v)
            }
        }
    }

    /// Intersection.
    pub fn intersect(self, other: ShardSet) -> ShardSet {
        match (self, other) {
            (ShardSet::All, x) | (x, ShardSet::All) => x,
            (ShardSet::One(a), ShardSet::One(b)) => {
                if a == b {
                    ShardSet::One(a)
                } else {
                    ShardSet::empty()
                }
            }
            (a, b) => {
                let bv = b.to_vec();
                ShardSet::from_vec(a.to_vec().into_iter().filter(|s| bv.contains(s)).collect())
            }
        }
    }

    /// The target this set means with `shards` shards in total.
    pub fn target(self, shards: u32) -> Target {
        match self {
            ShardSet::All if shards <= 1 => Target::Shard(0),
            ShardSet::All => Target::AllShards,
            ShardSet::One(s) => Target::Shard(s),
            ShardSet::Many(v) if v.is_empty() => Target::AnyShard,
            ShardSet::Many(v) if v.len() == 1 => Target::Shard(v[0]),
            ShardSet::Many(v) => Target::Shards(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ShardSet::*;
    use super::*;

    #[test]
    fn set_algebra() {
        assert_eq!(One(1).union(One(1)), One(1));
        assert_eq!(One(1).union(One(3)), Many(vec![1, 3]));
        assert_eq!(One(1).intersect(One(3)), ShardSet::empty());
        assert_eq!(All.intersect(One(3)), One(3));
        assert_eq!(
            Many(vec![1, 2, 3]).intersect(Many(vec![2, 3, 4])),
            Many(vec![2, 3])
        );
        assert_eq!(Many(vec![1, 2]).intersect(One(2)), One(2));
        assert_eq!(All.union(One(2)), All);
        assert_eq!(ShardSet::from_vec(vec![4, 4]), One(4));
        assert_eq!(All.target(6), Target::AllShards);
        assert_eq!(All.target(1), Target::Shard(0));
        assert_eq!(ShardSet::empty().target(6), Target::AnyShard);
        assert_eq!(Many(vec![0, 2]).target(6), Target::Shards(vec![0, 2]));
    }
}
