//! Splitting a multi-row `INSERT … VALUES` whose rows belong to several
//! shards into one INSERT per shard, each with that shard's rows in their
//! order (the caller runs them in one cross-shard transaction). Only what
//! can be split exactly: a column list naming the sharding key, every row's
//! key a literal integer (or a quoted one), no `WITH`. The rest of the
//! statement (`ON CONFLICT`, `RETURNING`, casts, defaults) is kept as
//! written, re-printed by PostgreSQL's own deparser.

use crate::rules::{ShardingRules, TableRule};
use crate::shard_fn::shard_for_key;
use pg_query::protobuf::a_const::Val;
use pg_query::NodeEnum;
use std::collections::BTreeMap;

/// One INSERT per shard, in shard order; None when the statement cannot be
/// split exactly (the caller keeps refusing it).
pub fn split_insert(sql: &str, rules: &ShardingRules) -> Option<Vec<(u32, String)>> {
    let parsed = std::panic::catch_unwind(|| pg_query::parse(sql))
        .ok()?
        .ok()?;
    let [raw] = parsed.protobuf.stmts.as_slice() else {
        return None;
    };
    let NodeEnum::InsertStmt(insert) = raw.stmt.as_ref()?.node.as_ref()? else {
        return None;
    };
    if insert.with_clause.is_some() {
        return None;
    }
    let table = insert.relation.as_ref()?.relname.to_ascii_lowercase();
    let columns: Vec<String> = insert
        .cols
        .iter()
        .filter_map(|c| match c.node.as_ref()? {
            NodeEnum::ResTarget(t) => Some(t.name.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let key_at = match rules.tables.get(&table) {
        Some(TableRule::Global) => return None,
        Some(TableRule::ShardedBy(key)) => columns.iter().position(|c| c == key)?,
        None => rules
            .key_columns
            .iter()
            .find_map(|key| columns.iter().position(|c| c == key))?,
    };
    let NodeEnum::SelectStmt(select) = insert.select_stmt.as_ref()?.node.as_ref()? else {
        return None;
    };
    let mut by_shard: BTreeMap<u32, Vec<pg_query::Node>> = BTreeMap::new();
    for row in &select.values_lists {
        let NodeEnum::List(items) = row.node.as_ref()? else {
            return None;
        };
        let key = literal_key(items.items.get(key_at)?)?;
        let shard = shard_for_key(rules.function, key, rules.shard_count);
        by_shard.entry(shard).or_default().push(row.clone());
    }
    if by_shard.len() < 2 {
        return None;
    }
    let mut out = Vec::with_capacity(by_shard.len());
    for (shard, rows) in by_shard {
        let mut one = parsed.protobuf.clone();
        let stmt = one.stmts.first_mut()?.stmt.as_mut()?;
        let Some(NodeEnum::InsertStmt(ins)) = stmt.node.as_mut() else {
            return None;
        };
        let Some(NodeEnum::SelectStmt(sel)) = ins.select_stmt.as_mut()?.node.as_mut() else {
            return None;
        };
        sel.values_lists = rows;
        out.push((shard, pg_query::deparse(&one).ok()?));
    }
    Some(out)
}

/// A row's key: an integer literal, a quoted integer, or either cast.
fn literal_key(node: &pg_query::Node) -> Option<i64> {
    match node.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            Val::Ival(i) => Some(i64::from(i.ival)),
            Val::Fval(f) => f.fval.parse().ok(),
            Val::Sval(s) => s.sval.trim().parse().ok(),
            _ => None,
        },
        NodeEnum::TypeCast(t) => literal_key(t.arg.as_deref()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_rows_by_shard_keeping_the_rest() {
        let rules = ShardingRules::default();
        let parts = split_insert(
            "INSERT INTO users (user_id, name) VALUES (1000001, 'a'), (1000002, 'b'), (7, 'c') \
             ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
            &rules,
        )
        .expect("split");
        let shards: Vec<u32> = parts.iter().map(|(s, _)| *s).collect();
        assert_eq!(shards, vec![0, 1, 5]);
        let sql_for = |k: u32| &parts.iter().find(|(s, _)| *s == k).unwrap().1;
        assert!(sql_for(5).contains("1000001"), "{}", sql_for(5));
        assert!(sql_for(1).contains("'c'") && !sql_for(1).contains("1000001"));
        for (_, sql) in &parts {
            assert!(sql.contains("ON CONFLICT"), "{sql}");
            assert!(sql.contains("RETURNING"), "{sql}");
        }
        // A big key (bigint literal) and a quoted one.
        let parts = split_insert(
            "INSERT INTO events (kind, user_id) VALUES ('x', 9000000000), ('y', '4')",
            &rules,
        )
        .expect("split");
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn leaves_what_it_cannot_split_exactly() {
        let rules = ShardingRules::default();
        for sql in [
            "INSERT INTO users VALUES (1, 'a'), (2, 'b')",
            "INSERT INTO users (user_id, name) VALUES (1, 'a'), ($1, 'b')",
            "INSERT INTO users (user_id, name) VALUES (1, 'a'), (7, 'b')",
            "WITH x AS (SELECT 1) INSERT INTO users (user_id, name) VALUES (1, 'a'), (2, 'b')",
            "INSERT INTO users (user_id, name) SELECT 1, 'a'",
            "not sql",
        ] {
            assert_eq!(split_insert(sql, &rules), None, "{sql}");
        }
    }
}
