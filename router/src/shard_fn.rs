//! Key → shard functions: plain modulo, and PostgreSQL's hash partitioning
//! for a single `bigint` key (`PARTITION BY HASH (key)` with `MODULUS n`).

use crate::rules::ShardFunction;

/// PostgreSQL's `HASH_PARTITION_SEED` (src/include/catalog/partition.h).
const HASH_PARTITION_SEED: u64 = 0x7A5B_2236_7996_DCFD;

/// The shard of `key` among `shards` shards (0 shards is treated as 1).
///
/// `Modulo` is `key.rem_euclid(shards)`, so negative keys land on a
/// non-negative shard. `PgHash` matches the partition PostgreSQL picks for a
/// `bigint` key in a table `PARTITION BY HASH (key)` whose partitions are
/// `FOR VALUES WITH (MODULUS shards, REMAINDER r)`.
pub fn shard_for_key(function: ShardFunction, key: i64, shards: u32) -> u32 {
    let shards = shards.max(1);
    match function {
        ShardFunction::Modulo => {
            // rem_euclid of an i64 by a positive u32 fits in u32.
            u32::try_from(key.rem_euclid(i64::from(shards))).unwrap_or(0)
        }
        ShardFunction::PgHash => {
            let row_hash = hash_combine64(0, hashint8extended(key, HASH_PARTITION_SEED));
            u32::try_from(row_hash % u64::from(shards)).unwrap_or(0)
        }
    }
}

/// `hashint8extended` (src/backend/access/hash/hashfunc.c): fold the high
/// half into the low half, then hash the 32-bit value.
fn hashint8extended(val: i64, seed: u64) -> u64 {
    let lohalf = val as u32;
    let hihalf = (val >> 32) as u32;
    let folded = lohalf ^ if val >= 0 { hihalf } else { !hihalf };
    hash_bytes_uint32_extended(folded, seed)
}

/// `hash_combine64` (src/include/common/hashfn.h).
fn hash_combine64(a: u64, b: u64) -> u64 {
    a ^ b
        .wrapping_add(0x49a0_f4dd_15e5_a8e3)
        .wrapping_add(a << 54)
        .wrapping_add(a >> 7)
}

/// `hash_bytes_uint32_extended` (src/common/hashfn.c), Bob Jenkins' lookup3.
fn hash_bytes_uint32_extended(k: u32, seed: u64) -> u64 {
    let init = 0x9e37_79b9_u32.wrapping_add(4).wrapping_add(3_923_095);
    let (mut a, mut b, mut c) = (init, init, init);
    if seed != 0 {
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    a = a.wrapping_add(k);
    final_mix(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShardFunction::*;

    #[test]
    fn modulo_is_non_negative() {
        assert_eq!(shard_for_key(Modulo, 13, 6), 1);
        assert_eq!(shard_for_key(Modulo, -1, 6), 5);
        assert_eq!(shard_for_key(Modulo, -6, 6), 0);
        assert_eq!(shard_for_key(Modulo, i64::MIN, 6), 4);
        assert_eq!(shard_for_key(Modulo, i64::MAX, 6), 1);
        assert_eq!(shard_for_key(Modulo, 5, 0), 0);
        assert_eq!(shard_for_key(Modulo, 5, 1), 0);
    }

    /// Partitions PostgreSQL 15 chose for these keys in a table
    /// `PARTITION BY HASH (k bigint)` with six partitions `MODULUS 6,
    /// REMAINDER r` (verified on a real server).
    const PG_HASH_6: &[(i64, u32)] = &[
        (i64::MIN, 1),
        (-2147483648, 0),
        (-1000, 1),
        (-42, 2),
        (-2, 4),
        (-1, 5),
        (0, 2),
        (1, 2),
        (2, 0),
        (3, 1),
        (4, 3),
        (5, 5),
        (6, 3),
        (7, 1),
        (8, 3),
        (9, 5),
        (10, 1),
        (42, 0),
        (100, 5),
        (1000, 2),
        (12345, 2),
        (2147483647, 1),
        (2147483648, 0),
        (4294967296, 2),
        (i64::MAX, 0),
    ];

    #[test]
    fn pg_hash_matches_postgresql() {
        for &(key, shard) in PG_HASH_6 {
            assert_eq!(shard_for_key(PgHash, key, 6), shard, "key {key}");
        }
    }

    #[test]
    fn pg_hash_stays_in_range() {
        for k in -1000..1000 {
            assert!(shard_for_key(PgHash, k, 6) < 6);
        }
        assert_eq!(shard_for_key(PgHash, 42, 1), 0);
    }
}
