//! Recognises statements that change session state a pooler must track:
//! `SET`, `RESET`, `DISCARD`, `DEALLOCATE`. Everything else has no effect.

use crate::split::statements;

/// A session-state change made by one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEffect {
    /// `SET [SESSION] name …` (lower-cased GUC name).
    Set(String),
    /// `SET LOCAL …`: ends with the transaction, nothing to track.
    SetLocal,
    /// `RESET name`.
    Reset(String),
    /// `RESET ALL`.
    ResetAll,
    /// `DISCARD ALL`.
    DiscardAll,
    /// `DISCARD PLANS|SEQUENCES|TEMP`: nothing the proxy tracks, except that
    /// `DISCARD PLANS` keeps prepared statements.
    DiscardOther,
    /// `DEALLOCATE [PREPARE] name` (name as written, unquoted).
    Deallocate(String),
    /// `DEALLOCATE [PREPARE] ALL`.
    DeallocateAll,
}

/// The effects of every statement in `sql`, in order. Cheap when the text
/// starts with none of the keywords and holds no `;`.
pub fn session_effects(sql: &str) -> Vec<SessionEffect> {
    if !may_have_effects(sql.as_bytes()) {
        return Vec::new();
    }
    statements(sql).into_iter().filter_map(effect_of).collect()
}

/// Whether `sql` could change session state: it starts with one of the
/// keywords, or holds several statements. Looks at bytes only (no UTF-8
/// decoding), so the common statement costs one pass of `memchr`; a text
/// that is not UTF-8 may give a false "maybe", never a false "no".
pub fn may_have_effects(sql: &[u8]) -> bool {
    match single_statement(sql) {
        None => true,
        Some((first, _)) => [&b"set"[..], b"reset", b"discard", b"deallocate"]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k)),
    }
}

/// The first word and the text of `sql` (trailing `;` and spaces cut)
/// when it is one statement that starts with a word; None when the full
/// reader must decide (several statements, or a comment first).
pub(crate) fn single_statement(sql: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut end = sql.len();
    while end > 0 && (sql[end - 1].is_ascii_whitespace() || sql[end - 1] == b';') {
        end -= 1;
    }
    let sql = &sql[..end];
    if memchr::memchr(b';', sql).is_some() {
        return None;
    }
    let start = sql
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(sql.len());
    let s = &sql[start..];
    if s.starts_with(b"--") || s.starts_with(b"/*") {
        return None;
    }
    let word_end = s
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .unwrap_or(s.len());
    Some((&s[..word_end], s))
}

fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.find('\n').map_or("", |p| &rest[p + 1..]);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |p| &rest[p + 2..]);
        } else {
            return s;
        }
    }
}

/// Words of a statement: identifiers (lower-cased unless quoted) and single
/// punctuation, enough to read the head of SET/RESET/DISCARD/DEALLOCATE.
pub(crate) fn words(stmt: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = skip_space_and_comments(stmt);
    while out.len() < max && !s.is_empty() {
        let c = s.as_bytes()[0];
        if c == b'"' {
            let body = &s[1..];
            let end = body.find('"').unwrap_or(body.len());
            out.push(body[..end].to_string());
            s = body.get(end + 1..).unwrap_or("");
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            let end = s
                .find(|ch: char| {
                    !(ch.is_ascii_alphanumeric()
                        || ch == '_'
                        || ch == '.'
                        || ch == '$'
                        || !ch.is_ascii())
                })
                .unwrap_or(s.len());
            out.push(s[..end].to_ascii_lowercase());
            s = &s[end..];
        } else {
            let len = s.chars().next().map_or(1, char::len_utf8);
            out.push(s[..len].to_string());
            s = &s[len..];
        }
        s = skip_space_and_comments(s);
    }
    out
}

fn effect_of(stmt: &str) -> Option<SessionEffect> {
    let w = words(stmt, 4);
    let word = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    match word(0) {
        "set" => {
            let (at, local) = match word(1) {
                "local" => (2, true),
                "session" if word(2) != "characteristics" && word(2) != "authorization" => {
                    (2, false)
                }
                _ => (1, false),
            };
            if local {
                return Some(SessionEffect::SetLocal);
            }
            let name = match (word(at), word(at + 1)) {
                ("time", "zone") => "timezone".to_string(),
                ("names", _) => "client_encoding".to_string(),
                ("schema", _) => "search_path".to_string(),
                ("xml", "option") => "xmloption".to_string(),
                ("transaction", _) | ("constraints", _) => return None,
                ("session", "authorization") => "session_authorization".to_string(),
                ("session", "characteristics") => return None,
                (name, _) if !name.is_empty() => name.to_string(),
                _ => return None,
            };
            Some(SessionEffect::Set(name))
        }
        "reset" => match (word(1), word(2)) {
            ("all", _) => Some(SessionEffect::ResetAll),
            ("time", "zone") => Some(SessionEffect::Reset("timezone".into())),
            ("session", "authorization") => {
                Some(SessionEffect::Reset("session_authorization".into()))
            }
            (name, _) if !name.is_empty() => Some(SessionEffect::Reset(name.to_string())),
            _ => None,
        },
        "discard" => match word(1) {
            "all" => Some(SessionEffect::DiscardAll),
            _ => Some(SessionEffect::DiscardOther),
        },
        "deallocate" => {
            let at = if word(1) == "prepare" { 2 } else { 1 };
            match word(at) {
                "all" => Some(SessionEffect::DeallocateAll),
                "" => None,
                _ => {
                    // Keep the name's case as written when it was quoted.
                    Some(SessionEffect::Deallocate(w[at].clone()))
                }
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::SessionEffect::*;
    use super::*;

    #[test]
    fn plain_queries_have_no_effect() {
        assert!(session_effects("SELECT abalance FROM pgbench_accounts WHERE aid = 1").is_empty());
        assert!(session_effects("select 'set x = 1'").is_empty());
    }

    #[test]
    fn the_byte_level_check_says_maybe_for_every_effect() {
        for sql in [
            "SET x = 1",
            "  reset ALL ;",
            "\tDISCARD ALL",
            "deallocate p1",
            "SELECT 1; SET x = 1",
            "/* c */ SET x = 1",
            "-- c\nSET x = 1",
        ] {
            assert!(may_have_effects(sql.as_bytes()), "{sql:?}");
        }
        for sql in [
            "SELECT 1;",
            "select 'set x'",
            "UPDATE t SET a = 1 ;  ",
            "settle()",
            "",
        ] {
            assert!(!may_have_effects(sql.as_bytes()), "{sql:?}");
        }
    }

    #[test]
    fn recognises_set_forms() {
        assert_eq!(
            session_effects("SET search_path TO a, b"),
            vec![Set("search_path".into())]
        );
        assert_eq!(
            session_effects("set session TimeZone = 'UTC'"),
            vec![Set("timezone".into())]
        );
        assert_eq!(
            session_effects("SET TIME ZONE 'UTC'"),
            vec![Set("timezone".into())]
        );
        assert_eq!(
            session_effects("SET LOCAL work_mem = '1MB'"),
            vec![SetLocal]
        );
        assert_eq!(
            session_effects("/* c */ SET myapp.x = 1"),
            vec![Set("myapp.x".into())]
        );
        assert_eq!(
            session_effects("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            vec![]
        );
        assert_eq!(
            session_effects("SET NAMES 'UTF8'"),
            vec![Set("client_encoding".into())]
        );
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(session_effects("SET ü = 1; ü"), vec![Set("ü".into())]);
        assert!(session_effects("üFC </= R$oon0LE; é").is_empty());
    }

    #[test]
    fn recognises_reset_discard_deallocate_in_multi_statement_text() {
        assert_eq!(
            session_effects("SELECT 1; RESET ALL; DISCARD ALL; DEALLOCATE PREPARE \"S1\"; DEALLOCATE all; reset work_mem"),
            vec![ResetAll, DiscardAll, Deallocate("S1".into()), DeallocateAll, Reset("work_mem".into())]
        );
    }
}
