//! Building the plan of a query shape on a cache miss: parse with the full
//! PostgreSQL grammar (`pg_query`), classify each statement, and for
//! statements that read or write tables, work out which sharded tables they
//! touch, how those are co-located and constrained, and how a scatter read
//! would be merged.

mod agg;
mod clause;
mod depth;
mod dml;
mod expr;
mod finish;
mod merge;
mod query;
mod scope;
mod source;

use pg_query::protobuf::{RawStmt, SelectStmt, TransactionStmtKind};
use pg_query::{Node, NodeEnum};

use self::scope::Analysis;
use self::source::Source;
use super::{Class, Plan, Route, StmtPlan};
use crate::decision::StatementKind;
use crate::error::unsupported;
use crate::lexer::TokKind;
use crate::rules::ShardingRules;

/// The plan for `sql`. Never fails: text the parser rejects is sent to any
/// shard (the server reports the syntax error); text it cannot handle is
/// refused.
pub(crate) fn build(sql: &str, rules: &ShardingRules) -> Plan {
    let mut src = Source::new(sql);
    if depth::nesting(&src) > depth::MAX_NESTING {
        return Plan {
            stmts: vec![StmtPlan {
                kind: guess_kind(&src),
                route: Route::Refuse(unsupported("a statement nested too deeply for the router")),
            }],
            pinned: Vec::new(),
            tables: std::sync::Arc::from([]),
            cacheable: true,
        };
    }
    let parsed = std::panic::catch_unwind(|| pg_query::parse(sql));
    let cacheable = matches!(parsed, Ok(Ok(_)));
    let stmts = match parsed {
        Ok(Ok(result)) => result
            .protobuf
            .stmts
            .iter()
            .map(|raw| raw_statement(raw, &mut src, rules))
            .collect(),
        Ok(Err(pg_query::Error::Parse(msg))) if !msg.contains("stack depth") => vec![StmtPlan {
            kind: guess_kind(&src),
            route: Route::Any,
        }],
        _ => vec![StmtPlan {
            kind: guess_kind(&src),
            route: Route::Refuse(unsupported("a statement too complex for the router")),
        }],
    };
    Plan {
        stmts,
        pinned: src.pinned,
        tables: src.tables.into_inner().into(),
        cacheable,
    }
}

fn raw_statement(raw: &RawStmt, src: &mut Source<'_>, rules: &ShardingRules) -> StmtPlan {
    let loc = usize::try_from(raw.stmt_location).unwrap_or(0);
    let start = src.token_from(loc);
    let end = match usize::try_from(raw.stmt_len) {
        Ok(len) if len > 0 => src.token_from(loc + len),
        _ => src.tokens.len(),
    };
    match raw.stmt.as_deref() {
        Some(node) => statement(node, src, rules, start, end),
        None => StmtPlan {
            kind: StatementKind::Session,
            route: Route::Any,
        },
    }
}

fn plan(kind: StatementKind, route: Route) -> StmtPlan {
    StmtPlan { kind, route }
}

fn statement(
    node: &Node,
    src: &mut Source<'_>,
    rules: &ShardingRules,
    start: usize,
    end: usize,
) -> StmtPlan {
    use StatementKind::*;
    let Some(n) = node.node.as_ref() else {
        return plan(Session, Route::Any);
    };
    match n {
        NodeEnum::SelectStmt(s) if s.into_clause.is_some() => plan(Ddl, Route::Broadcast),
        NodeEnum::SelectStmt(s) => {
            let mut an = Analysis::new(rules, src);
            an.select(s);
            let locking = !s.locking_clause.is_empty();
            if locking {
                for r in &mut an.refs {
                    r.written = true;
                }
            }
            let kind = if locking || has_dml_cte(s) {
                Write
            } else {
                Read
            };
            let summary = summarize(an, start, end);
            finish(summary, kind, Some(s), src, start, end)
        }
        NodeEnum::InsertStmt(_)
        | NodeEnum::UpdateStmt(_)
        | NodeEnum::DeleteStmt(_)
        | NodeEnum::MergeStmt(_) => {
            let mut an = Analysis::new(rules, src);
            an.query_body(node);
            let summary = summarize(an, start, end);
            finish(summary, Write, None, src, start, end)
        }
        NodeEnum::ExplainStmt(e) => {
            let analyze = e.options.iter().any(is_analyze_option);
            let inner = match e.query.as_deref() {
                Some(q) => statement(q, src, rules, start, end),
                None => plan(Read, Route::Any),
            };
            plan(
                Utility,
                Route::Explain {
                    inner: Box::new(inner.route),
                    analyze,
                    inner_kind: inner.kind,
                },
            )
        }
        NodeEnum::CopyStmt(c) => {
            if let Some(q) = c.query.as_deref() {
                let inner = statement(q, src, rules, start, end);
                return plan(
                    Read,
                    single_shard(inner.route, "COPY (query) TO from several shards"),
                );
            }
            let Some(rel) = &c.relation else {
                return plan(Read, Route::Any);
            };
            let mut an = Analysis::new(rules, src);
            let added = an.add_table(&rel.schemaname, &rel.relname, None);
            if let Some(r) = added.filter(|_| c.is_from) {
                an.refs[r].written = true;
            }
            let summary = summarize(an, start, end);
            match added {
                Some(_) if c.is_from => finish(summary, Write, None, src, start, end),
                Some(_) => {
                    let p = finish(summary, Read, None, src, start, end);
                    plan(
                        Read,
                        single_shard(p.route, "COPY … TO of a sharded table from several shards"),
                    )
                }
                None if c.is_from => plan(Write, Route::Broadcast),
                None => plan(Read, Route::Any),
            }
        }
        NodeEnum::TransactionStmt(t) => {
            let k = t.kind;
            let kind = if k == TransactionStmtKind::TransStmtBegin as i32
                || k == TransactionStmtKind::TransStmtStart as i32
            {
                Begin
            } else if k == TransactionStmtKind::TransStmtCommit as i32 {
                Commit
            } else if k == TransactionStmtKind::TransStmtRollback as i32 {
                Rollback
            } else {
                TransactionOther
            };
            plan(kind, Route::Any)
        }
        NodeEnum::VariableSetStmt(_)
        | NodeEnum::VariableShowStmt(_)
        | NodeEnum::DiscardStmt(_)
        | NodeEnum::DeallocateStmt(_)
        | NodeEnum::ListenStmt(_)
        | NodeEnum::UnlistenStmt(_)
        | NodeEnum::NotifyStmt(_)
        | NodeEnum::LoadStmt(_)
        | NodeEnum::PrepareStmt(_) => plan(Session, Route::Any),
        NodeEnum::ExecuteStmt(_) => plan(
            Session,
            Route::Refuse(unsupported("EXECUTE of an SQL-level prepared statement")),
        ),
        NodeEnum::DeclareCursorStmt(d) => {
            let inner = match d.query.as_deref() {
                Some(q) => statement(q, src, rules, start, end),
                None => plan(Read, Route::Any),
            };
            plan(
                inner.kind,
                single_shard(inner.route, "cursor over several shards"),
            )
        }
        NodeEnum::FetchStmt(_) | NodeEnum::ClosePortalStmt(_) | NodeEnum::ConstraintsSetStmt(_) => {
            plan(TransactionOther, Route::Any)
        }
        NodeEnum::LockStmt(l) => {
            let sharded = l.relations.iter().any(|r| match r.node.as_ref() {
                Some(NodeEnum::RangeVar(rv)) => matches!(
                    rules.distribution(&rv.schemaname, &rv.relname),
                    crate::rules::Distribution::Sharded(_)
                ),
                _ => false,
            });
            if sharded {
                plan(
                    TransactionOther,
                    Route::Refuse(unsupported("LOCK of a sharded table")),
                )
            } else {
                plan(TransactionOther, Route::Any)
            }
        }
        NodeEnum::VacuumStmt(_)
        | NodeEnum::ClusterStmt(_)
        | NodeEnum::ReindexStmt(_)
        | NodeEnum::CheckPointStmt(_) => plan(Utility, Route::Broadcast),
        NodeEnum::DoStmt(_) => plan(Write, Route::Refuse(unsupported("DO block"))),
        NodeEnum::CallStmt(_) => plan(Write, Route::Refuse(unsupported("CALL"))),
        _ => plan(Ddl, Route::Broadcast),
    }
}

/// Like `route`, but running on several shards is refused with `construct`.
fn single_shard(route: Route, construct: &str) -> Route {
    match route {
        Route::Sharded { classes, .. } => Route::Sharded {
            classes,
            scatter: Err(unsupported(construct)),
        },
        other => other,
    }
}

/// What an analysis concluded, without borrowing the source.
enum Summary {
    /// The route is decided already.
    Done(Route),
    /// Sharded tables: their classes, whether all are driven by top-level
    /// rows, and whether a subquery escaped the analysis.
    Sharded(Vec<Class>, bool, bool),
}

fn summarize(an: Analysis<'_, '_>, start: usize, end: usize) -> Summary {
    if an.too_deep {
        return Summary::Done(Route::Refuse(unsupported(
            "a statement nested too deeply for the router",
        )));
    }
    if let Some(e) = an.refusal.clone() {
        return Summary::Done(Route::Refuse(e));
    }
    let src = an.src;
    let selects = (start..end.min(src.tokens.len()))
        .filter(|&i| src.tokens[i].kind == TokKind::Word && src.is_word(i, "select"))
        .count();
    let opaque = an.selects_visited < selects;
    if an.writes_global {
        return Summary::Done(if an.refs.is_empty() && !opaque {
            Route::Broadcast
        } else {
            Route::Refuse(unsupported(
                "a write to a global table that reads a sharded table",
            ))
        });
    }
    if an.refs.is_empty() && !opaque {
        return Summary::Done(Route::Any);
    }
    let (mut classes, all_top) = finish::classes(&an);
    if opaque {
        classes.push(Class {
            constraint: None,
            table: "(subquery)".to_string(),
            key_column: an.rules.primary_key_column().to_string(),
            written: false,
        });
    }
    Summary::Sharded(classes, all_top, opaque)
}

/// The plan of an analysed statement.
fn finish(
    summary: Summary,
    kind: StatementKind,
    top: Option<&SelectStmt>,
    src: &mut Source<'_>,
    start: usize,
    end: usize,
) -> StmtPlan {
    let route = match summary {
        Summary::Done(route) => route,
        Summary::Sharded(classes, all_top, opaque) => {
            let scatter = match (kind, top) {
                (StatementKind::Read, _) if opaque => {
                    Err(unsupported("a subquery the router cannot analyse"))
                }
                (StatementKind::Read, Some(s)) if all_top => merge::scatter(s, src, start, end),
                (StatementKind::Read, _) => Err(unsupported("subquery in scatter read")),
                _ => Err(unsupported("a write to several shards")),
            };
            Route::Sharded { classes, scatter }
        }
    };
    plan(kind, route)
}

/// Whether a SELECT's WITH clause holds INSERT/UPDATE/DELETE/MERGE.
fn has_dml_cte(s: &SelectStmt) -> bool {
    s.with_clause.as_ref().is_some_and(|w| {
        w.ctes.iter().any(|c| match c.node.as_ref() {
            Some(NodeEnum::CommonTableExpr(cte)) => matches!(
                cte.ctequery.as_deref().and_then(|q| q.node.as_ref()),
                Some(
                    NodeEnum::InsertStmt(_)
                        | NodeEnum::UpdateStmt(_)
                        | NodeEnum::DeleteStmt(_)
                        | NodeEnum::MergeStmt(_)
                )
            ),
            _ => false,
        })
    })
}

/// `ANALYZE` (on) among EXPLAIN options.
fn is_analyze_option(n: &Node) -> bool {
    let Some(NodeEnum::DefElem(d)) = n.node.as_ref() else {
        return false;
    };
    if d.defname != "analyze" {
        return false;
    }
    match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
        None => true,
        Some(NodeEnum::Boolean(b)) => b.boolval,
        Some(NodeEnum::Integer(i)) => i.ival != 0,
        Some(NodeEnum::String(s)) => !matches!(
            s.sval.to_ascii_lowercase().as_str(),
            "false" | "off" | "no" | "0"
        ),
        Some(_) => true,
    }
}

/// The kind of a statement the parser rejected, from its first word.
fn guess_kind(src: &Source<'_>) -> StatementKind {
    use StatementKind::*;
    let first = (0..src.tokens.len()).find(|&i| src.tokens[i].kind == TokKind::Word);
    let word = first
        .map(|i| src.text(i).to_ascii_lowercase())
        .unwrap_or_default();
    match word.as_str() {
        "insert" | "update" | "delete" | "merge" | "copy" => Write,
        "begin" | "start" => Begin,
        "commit" | "end" => Commit,
        "rollback" | "abort" => Rollback,
        "savepoint" | "release" | "prepare" => TransactionOther,
        "set" | "reset" | "show" | "discard" | "deallocate" | "listen" | "unlisten" | "notify" => {
            Session
        }
        "create" | "alter" | "drop" | "truncate" | "grant" | "revoke" | "comment" => Ddl,
        "vacuum" | "analyze" | "explain" | "cluster" | "reindex" | "checkpoint" => Utility,
        _ => Read,
    }
}
