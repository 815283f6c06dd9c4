//! Recognises statements that leave state on a server connection past the
//! end of their transaction — temporary tables, views and sequences, `WITH
//! HOLD` cursors, session-level advisory locks, SQL `PREPARE`, `LISTEN`,
//! `SET ROLE` / `SET SESSION AUTHORIZATION`, `LOAD` — and those that end
//! such state (`DISCARD`, `CLOSE`, `DEALLOCATE`, `UNLISTEN`,
//! `pg_advisory_unlock_all()`, `RESET ROLE`). A pooler that shares server
//! connections between clients must keep such a connection for its client
//! (or refuse the statement) until the state is gone.
//!
//! [`may_leave_state`] is a byte-level pre-check cheap enough for every
//! statement; [`state_effects`] reads the statements it lets through, with
//! the words of the statement for the simple forms and PostgreSQL's grammar
//! (`pg_query`) where a temporary object or an advisory lock may hide
//! (`CREATE`, `SELECT … INTO TEMP`, function calls). A statement the
//! proxy cannot see into (`DO`, `CALL`, text the parser rejects that names
//! such state) is reported as [`StateEffect::Uncertain`].

use crate::session_effects::{single_statement, words};
use crate::split::statements;

/// A kind of state that outlives the transaction on a server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LingeringKind {
    /// A temporary table, view or sequence (not `ON COMMIT DROP`).
    TempObject,
    /// A cursor declared `WITH HOLD`.
    HoldCursor,
    /// A session-level advisory lock (`pg_advisory_lock*`, `pg_try_advisory_lock*`).
    AdvisoryLock,
    /// A prepared statement made with SQL `PREPARE`.
    SqlPrepared,
    /// A `LISTEN` registration.
    Listen,
    /// `SET ROLE` or `SET SESSION AUTHORIZATION`.
    Role,
    /// A library loaded with `LOAD` (cannot be undone on that connection).
    Load,
}

impl LingeringKind {
    /// Every kind, in a fixed order.
    pub const ALL: [LingeringKind; 7] = [
        LingeringKind::TempObject,
        LingeringKind::HoldCursor,
        LingeringKind::AdvisoryLock,
        LingeringKind::SqlPrepared,
        LingeringKind::Listen,
        LingeringKind::Role,
        LingeringKind::Load,
    ];

    /// A short name for consoles and metrics labels.
    pub fn label(self) -> &'static str {
        match self {
            LingeringKind::TempObject => "temp_table",
            LingeringKind::HoldCursor => "hold_cursor",
            LingeringKind::AdvisoryLock => "advisory_lock",
            LingeringKind::SqlPrepared => "sql_prepare",
            LingeringKind::Listen => "listen",
            LingeringKind::Role => "role",
            LingeringKind::Load => "load",
        }
    }
}

/// State that a statement ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// `DISCARD ALL`: everything but a loaded library.
    Everything,
    /// `DISCARD TEMP`: temporary objects.
    TempObjects,
    /// `CLOSE name`.
    Cursor(String),
    /// `CLOSE ALL`.
    AllCursors,
    /// `pg_advisory_unlock_all()`.
    AdvisoryLocks,
    /// `DEALLOCATE name` (of a SQL-prepared statement).
    Prepared(String),
    /// `DEALLOCATE ALL`.
    AllPrepared,
    /// `UNLISTEN channel`.
    Channel(String),
    /// `UNLISTEN *`.
    AllChannels,
    /// `RESET ROLE`, `SET ROLE NONE`, `RESET SESSION AUTHORIZATION`,
    /// `SET SESSION AUTHORIZATION DEFAULT`, `RESET ALL`.
    Role,
}

/// What one statement does to state that outlives transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateEffect {
    /// Creates state of `kind`; `name` is the cursor, statement or channel
    /// name where the state has one (lower-cased unless quoted).
    Creates {
        /// The kind of state.
        kind: LingeringKind,
        /// Its name, if it has one.
        name: Option<String>,
        /// The statement, for messages (e.g. `CREATE TEMPORARY TABLE`).
        statement: &'static str,
    },
    /// Ends state.
    Ends(Release),
    /// May create state the proxy cannot see (`DO`, `CALL`, …): the
    /// connection must be cleaned before another client gets it.
    Uncertain(&'static str),
}

/// First words after which a statement may create or end lingering state
/// on its own (temporary objects and advisory locks are found by the
/// words `temp` and `advisory`, wherever they stand).
const STATEMENT_WORDS: [&[u8]; 12] = [
    b"declare",
    b"prepare",
    b"listen",
    b"unlisten",
    b"load",
    b"close",
    b"deallocate",
    b"discard",
    b"do",
    b"call",
    b"set",
    b"reset",
];

/// Whether `sql` could create or end lingering state: a multi-statement
/// text, a leading comment, one of [`STATEMENT_WORDS`], or any statement
/// mentioning `advisory` or `temp`. Looks at bytes only; never a false
/// "no" for the statements [`state_effects`] recognises.
pub fn may_leave_state(sql: &[u8]) -> bool {
    let Some((first, s)) = single_statement(sql) else {
        return true;
    };
    STATEMENT_WORDS
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
        || mentions(s, b"advisory")
        || mentions(s, b"temp")
}

/// Case-insensitive search for a lower-case ASCII `needle`.
fn mentions(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    haystack.len() >= needle.len()
        && (0..=haystack.len() - needle.len()).any(|i| {
            haystack[i] | 0x20 == first
                && haystack[i..i + needle.len()].eq_ignore_ascii_case(needle)
        })
}

/// What each statement of `sql` does to lingering state, in order.
pub fn state_effects(sql: &str) -> Vec<StateEffect> {
    if !may_leave_state(sql.as_bytes()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for stmt in statements(sql) {
        effects_of(stmt, &mut out);
    }
    out
}

fn effects_of(stmt: &str, out: &mut Vec<StateEffect>) {
    let w = words(stmt, 12);
    let word = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    let creates = |kind, name: Option<String>, statement| StateEffect::Creates {
        kind,
        name,
        statement,
    };
    match word(0) {
        "declare" => {
            // DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL]
            //   CURSOR [{WITH | WITHOUT} HOLD] FOR query
            let cursor = w.iter().position(|x| x == "cursor");
            let hold = cursor.is_some_and(|at| word(at + 1) == "with" && word(at + 2) == "hold");
            if hold {
                out.push(creates(
                    LingeringKind::HoldCursor,
                    Some(word(1).to_string()),
                    "DECLARE … CURSOR WITH HOLD",
                ));
            }
        }
        "close" => out.push(StateEffect::Ends(match word(1) {
            "all" => Release::AllCursors,
            name => Release::Cursor(name.to_string()),
        })),
        "prepare" if word(1) != "transaction" && !word(1).is_empty() => out.push(creates(
            LingeringKind::SqlPrepared,
            Some(word(1).to_string()),
            "PREPARE",
        )),
        "deallocate" => {
            let at = if word(1) == "prepare" { 2 } else { 1 };
            match word(at) {
                "" => {}
                "all" => out.push(StateEffect::Ends(Release::AllPrepared)),
                name => out.push(StateEffect::Ends(Release::Prepared(name.to_string()))),
            }
        }
        "listen" if !word(1).is_empty() => out.push(creates(
            LingeringKind::Listen,
            Some(word(1).to_string()),
            "LISTEN",
        )),
        "unlisten" => out.push(StateEffect::Ends(match word(1) {
            "*" => Release::AllChannels,
            name => Release::Channel(name.to_string()),
        })),
        "load" => out.push(creates(LingeringKind::Load, None, "LOAD")),
        "discard" => match word(1) {
            "all" => out.push(StateEffect::Ends(Release::Everything)),
            "temp" | "temporary" => out.push(StateEffect::Ends(Release::TempObjects)),
            _ => {}
        },
        "do" => out.push(StateEffect::Uncertain("DO")),
        "call" => out.push(StateEffect::Uncertain("CALL")),
        "set" | "reset" => role_effect(&w, out),
        _ => grammar_effects(stmt, out),
    }
}

/// `SET [SESSION] ROLE …`, `SET SESSION AUTHORIZATION …` and their resets.
fn role_effect(w: &[String], out: &mut Vec<StateEffect>) {
    let word = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    let reset = word(0) == "reset";
    let at = if word(1) == "session" && word(2) != "authorization" {
        2
    } else {
        1
    };
    let (target, value) = match (word(at), word(at + 1)) {
        ("role", v) => ("role", v),
        ("session", "authorization") => ("authorization", word(at + 2)),
        ("all", _) if reset => ("all", ""),
        _ => return,
    };
    let value = value.trim_matches('\'');
    if reset || value.eq_ignore_ascii_case("none") || value.eq_ignore_ascii_case("default") {
        out.push(StateEffect::Ends(Release::Role));
    } else if target != "all" && word(1) != "local" {
        out.push(StateEffect::Creates {
            kind: LingeringKind::Role,
            name: None,
            statement: if target == "role" {
                "SET ROLE"
            } else {
                "SET SESSION AUTHORIZATION"
            },
        });
    }
}

/// Session-level advisory lock functions.
const LOCK_FUNCTIONS: [&str; 4] = [
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
];

/// Temporary objects and advisory locks, read with the full grammar.
fn grammar_effects(stmt: &str, out: &mut Vec<StateEffect>) {
    let bytes = stmt.as_bytes();
    let temp = mentions(bytes, b"temp");
    let advisory = mentions(bytes, b"advisory");
    if !temp && !advisory {
        return;
    }
    let parsed = match std::panic::catch_unwind(|| pg_query::parse(stmt)) {
        Ok(Ok(parsed)) => parsed,
        // The server will reject it too, or it is beyond the parser: be
        // safe about what it may have left.
        _ => return out.push(StateEffect::Uncertain("a statement the proxy cannot parse")),
    };
    if advisory {
        for name in parsed.functions() {
            let bare = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            if LOCK_FUNCTIONS.contains(&bare) {
                out.push(StateEffect::Creates {
                    kind: LingeringKind::AdvisoryLock,
                    name: None,
                    statement: "a session-level advisory lock",
                });
            } else if bare == "pg_advisory_unlock_all" {
                out.push(StateEffect::Ends(Release::AdvisoryLocks));
            }
        }
    }
    if temp {
        for raw in &parsed.protobuf.stmts {
            if let Some((statement, name)) = raw
                .stmt
                .as_ref()
                .and_then(|n| n.node.as_ref())
                .and_then(temp_object)
            {
                out.push(StateEffect::Creates {
                    kind: LingeringKind::TempObject,
                    name: Some(name),
                    statement,
                });
            }
        }
    }
}

/// The statement's name and the object's if `node` creates a temporary
/// object that lives past its transaction.
fn temp_object(node: &pg_query::NodeEnum) -> Option<(&'static str, String)> {
    let (statement, rel) = temp_relation(node)?;
    Some((statement, rel.relname.clone()))
}

fn temp_relation(
    node: &pg_query::NodeEnum,
) -> Option<(&'static str, &pg_query::protobuf::RangeVar)> {
    use pg_query::protobuf::OnCommitAction;
    use pg_query::NodeEnum;
    let is_temp = |rel: Option<&pg_query::protobuf::RangeVar>| {
        rel.is_some_and(|r| r.relpersistence == "t" || r.schemaname == "pg_temp")
    };
    let drops = |on_commit: i32| on_commit == OnCommitAction::OncommitDrop as i32;
    let lives = |into: &pg_query::protobuf::IntoClause| {
        is_temp(into.rel.as_ref()) && !drops(into.on_commit)
    };
    match node {
        NodeEnum::CreateStmt(s) if is_temp(s.relation.as_ref()) && !drops(s.oncommit) => {
            Some(("CREATE TEMPORARY TABLE", s.relation.as_ref()?))
        }
        NodeEnum::CreateTableAsStmt(s) if s.into.as_deref().is_some_and(lives) => Some((
            "CREATE TEMPORARY TABLE … AS",
            s.into.as_deref()?.rel.as_ref()?,
        )),
        NodeEnum::ViewStmt(s) if is_temp(s.view.as_ref()) => {
            Some(("CREATE TEMPORARY VIEW", s.view.as_ref()?))
        }
        NodeEnum::CreateSeqStmt(s) if is_temp(s.sequence.as_ref()) => {
            Some(("CREATE TEMPORARY SEQUENCE", s.sequence.as_ref()?))
        }
        NodeEnum::SelectStmt(s) if s.into_clause.as_deref().is_some_and(lives) => Some((
            "SELECT … INTO TEMPORARY",
            s.into_clause.as_deref()?.rel.as_ref()?,
        )),
        _ => None,
    }
}

/// Whether every table `sql` names is one of `temp_names` (a client's
/// temporary tables, lower-case; `pg_temp.` prefixes allowed), and it names
/// at least one: such a statement is the client's own business and runs
/// where its temporary tables are, whatever the sharding rules say about
/// tables of that name.
pub fn only_temp_tables(sql: &str, temp_names: &[String]) -> bool {
    let lower = sql.to_ascii_lowercase();
    if !temp_names.iter().any(|n| lower.contains(n.as_str())) {
        return false;
    }
    let Ok(Ok(parsed)) = std::panic::catch_unwind(|| pg_query::parse(sql)) else {
        return false;
    };
    let tables = parsed.tables();
    !tables.is_empty()
        && tables.iter().all(|t| {
            let bare = t.strip_prefix("pg_temp.").unwrap_or(t);
            temp_names.iter().any(|n| n == bare)
        })
}

#[cfg(test)]
mod tests {
    use super::LingeringKind::*;
    use super::*;

    fn kinds(sql: &str) -> Vec<LingeringKind> {
        state_effects(sql)
            .into_iter()
            .filter_map(|e| match e {
                StateEffect::Creates { kind, .. } => Some(kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ordinary_statements_leave_nothing() {
        for sql in [
            "SELECT abalance FROM pgbench_accounts WHERE aid = 1",
            "UPDATE t SET a = 1 WHERE user_id = 3",
            "INSERT INTO templates VALUES (1)",
            "SELECT pg_advisory_xact_lock(1)",
            "DECLARE c CURSOR FOR SELECT 1",
            "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
            "CREATE TEMP TABLE t (x int) ON COMMIT DROP",
            "CREATE TABLE temperature (x int)",
            "PREPARE TRANSACTION 'x'",
            "SET LOCAL ROLE alice",
            "SET work_mem = '4MB'",
            "select 'pg_advisory_lock(1)'",
        ] {
            assert_eq!(kinds(sql), vec![], "{sql}");
        }
        assert!(!may_leave_state(b"UPDATE t SET a = 1 WHERE user_id = 3"));
        assert!(!may_leave_state(b"INSERT INTO x VALUES (1);"));
        // The keyed statements of the hot path skip the full reader.
        assert!(!may_leave_state(
            b"SELECT name FROM users WHERE user_id = 4242"
        ));
        assert!(!may_leave_state(b"CREATE TABLE t (x int)"));
    }

    #[test]
    fn recognises_every_kind() {
        assert_eq!(kinds("CREATE TEMPORARY TABLE tt (x int)"), vec![TempObject]);
        assert_eq!(kinds("create temp table tt as select 1"), vec![TempObject]);
        assert_eq!(kinds("CREATE TABLE pg_temp.tt (x int)"), vec![TempObject]);
        assert_eq!(
            kinds("CREATE TEMP TABLE t (x int) ON COMMIT DELETE ROWS"),
            vec![TempObject]
        );
        assert_eq!(kinds("CREATE TEMP VIEW v AS SELECT 1"), vec![TempObject]);
        assert_eq!(kinds("CREATE TEMP SEQUENCE s"), vec![TempObject]);
        assert_eq!(kinds("SELECT 1 AS x INTO TEMP tt"), vec![TempObject]);
        assert_eq!(
            kinds("DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT 1"),
            vec![HoldCursor]
        );
        assert_eq!(kinds("SELECT pg_advisory_lock(42)"), vec![AdvisoryLock]);
        assert_eq!(
            kinds("select pg_catalog.pg_try_advisory_lock_shared(1, 2)"),
            vec![AdvisoryLock]
        );
        assert_eq!(kinds("PREPARE p (int) AS SELECT $1"), vec![SqlPrepared]);
        assert_eq!(kinds("LISTEN board"), vec![Listen]);
        assert_eq!(kinds("SET ROLE alice"), vec![Role]);
        assert_eq!(kinds("SET SESSION AUTHORIZATION alice"), vec![Role]);
        assert_eq!(kinds("LOAD 'auto_explain'"), vec![Load]);
        assert_eq!(
            kinds("SELECT 1; /* x */ CREATE TEMP TABLE a (x int); LISTEN c"),
            vec![TempObject, Listen]
        );
    }

    #[test]
    fn recognises_releases_and_uncertainty() {
        let ends = |sql: &str| state_effects(sql);
        assert_eq!(
            ends("DISCARD ALL"),
            vec![StateEffect::Ends(Release::Everything)]
        );
        assert_eq!(
            ends("discard temp"),
            vec![StateEffect::Ends(Release::TempObjects)]
        );
        assert_eq!(
            ends("CLOSE c"),
            vec![StateEffect::Ends(Release::Cursor("c".into()))]
        );
        assert_eq!(
            ends("SELECT pg_advisory_unlock_all()"),
            vec![StateEffect::Ends(Release::AdvisoryLocks)]
        );
        assert_eq!(
            ends("UNLISTEN *"),
            vec![StateEffect::Ends(Release::AllChannels)]
        );
        assert_eq!(ends("RESET ROLE"), vec![StateEffect::Ends(Release::Role)]);
        assert_eq!(
            ends("SET ROLE NONE"),
            vec![StateEffect::Ends(Release::Role)]
        );
        assert_eq!(
            ends("SET SESSION AUTHORIZATION DEFAULT"),
            vec![StateEffect::Ends(Release::Role)]
        );
        assert_eq!(
            ends("DEALLOCATE PREPARE p"),
            vec![StateEffect::Ends(Release::Prepared("p".into()))]
        );
        assert_eq!(
            ends("DO $$ BEGIN CREATE TEMP TABLE x (y int); END $$"),
            vec![StateEffect::Uncertain("DO")]
        );
        assert_eq!(ends("CALL p()"), vec![StateEffect::Uncertain("CALL")]);
    }

    #[test]
    fn statements_on_temp_tables_only_are_recognised() {
        let names = vec!["scratch".to_string()];
        assert!(only_temp_tables("INSERT INTO scratch VALUES (1)", &names));
        assert!(only_temp_tables(
            "SELECT count(*), sum(x) FROM pg_temp.scratch",
            &names
        ));
        assert!(!only_temp_tables(
            "SELECT * FROM scratch JOIN users USING (user_id)",
            &names
        ));
        assert!(!only_temp_tables("SELECT 1", &names));
        assert!(!only_temp_tables("SELECT * FROM users", &names));
        assert_eq!(
            state_effects("CREATE TEMP TABLE Scratch (x int)"),
            vec![StateEffect::Creates {
                kind: TempObject,
                name: Some("scratch".into()),
                statement: "CREATE TEMPORARY TABLE"
            }]
        );
    }

    #[test]
    fn hostile_text_does_not_panic() {
        for sql in [
            "",
            ";",
            "DECLARE",
            "CLOSE",
            "SET",
            "selecT temp(((",
            "é temp ü advisory",
        ] {
            let _ = state_effects(sql);
        }
    }
}
