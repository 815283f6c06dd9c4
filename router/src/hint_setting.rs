//! Recognising `SET [SESSION | LOCAL] shardwire.user_id = …` /
//! `shardwire.shard`, and `RESET` of those, so the proxy can keep a
//! session's [`SessionHints`] (and a transaction's, for `SET LOCAL`).

use crate::error::{bad_key, RouteError};
use crate::hints::SessionHints;
use crate::key_text::parse_i64;
use crate::lexer::{Lexer, LitKind, TokKind};
use crate::literal;
use crate::shape::Literal;

/// Which hint a setting names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintName {
    /// `shardwire.user_id`
    UserId,
    /// `shardwire.shard`
    Shard,
}

/// A change to a shardwire hint setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintSetting {
    /// The setting.
    pub name: HintName,
    /// The new value; None for `RESET`, `SET … TO DEFAULT` or an empty string.
    pub value: Option<i64>,
    /// `SET LOCAL`: lasts until the end of the transaction.
    pub local: bool,
}

impl SessionHints {
    /// Applies a hint setting.
    pub fn apply(&mut self, setting: &HintSetting) {
        match setting.name {
            HintName::UserId => self.user_id = setting.value,
            HintName::Shard => self.shard = setting.value.and_then(|v| u32::try_from(v).ok()),
        }
    }
}

/// The hint setting a single statement changes, if it is one: Some(Err)
/// when the value is not an integer.
pub fn hint_setting(statement: &str) -> Option<Result<HintSetting, RouteError>> {
    let mut lx = Lexer::new(statement);
    let mut toks = Vec::with_capacity(8);
    while let Some(t) = lx.next_token() {
        if toks.len() == 10 {
            return None;
        }
        toks.push(t);
    }
    let text = |i: usize| {
        toks.get(i)
            .and_then(|t| statement.get(t.start..t.end))
            .unwrap_or("")
    };
    let word = |i: usize, w: &str| {
        toks.get(i).is_some_and(|t| t.kind == TokKind::Word) && text(i).eq_ignore_ascii_case(w)
    };
    let mut i = 0;
    let reset = word(0, "reset");
    if !reset && !word(0, "set") {
        return None;
    }
    i += 1;
    let mut local = false;
    if !reset && (word(i, "local") || word(i, "session")) {
        local = word(i, "local");
        i += 1;
    }
    if !word(i, "shardwire") || text(i + 1) != "." {
        return None;
    }
    let name = if word(i + 2, "user_id") {
        HintName::UserId
    } else if word(i + 2, "shard") {
        HintName::Shard
    } else {
        return None;
    };
    i += 3;
    let done = |value| Some(Ok(HintSetting { name, value, local }));
    if reset {
        return (toks.len() == i || text(i) == ";").then_some(Ok(HintSetting {
            name,
            value: None,
            local: false,
        }));
    }
    if !(text(i) == "=" || word(i, "to")) {
        return None;
    }
    i += 1;
    let negate = text(i) == "-";
    if negate {
        i += 1;
    }
    let t = toks.get(i)?;
    if word(i, "default") {
        return done(None);
    }
    let TokKind::Literal(kind) = t.kind else {
        return Some(Err(bad_key(format!(
            "{} = {} is not an integer",
            name_of(name),
            text(i)
        ))));
    };
    let lit = Literal {
        start: t.start,
        end: t.end,
        kind,
    };
    let content = literal::content(statement, &lit).unwrap_or_default();
    if content.is_empty() && kind != LitKind::Number {
        return done(None);
    }
    match parse_i64(&content).map(|v| if negate { v.checked_neg() } else { Some(v) }) {
        Some(Some(v)) if name == HintName::UserId || v >= 0 => done(Some(v)),
        _ => Some(Err(bad_key(format!(
            "{} = {} is not a valid value",
            name_of(name),
            String::from_utf8_lossy(&content)
        )))),
    }
}

fn name_of(name: HintName) -> &'static str {
    match name {
        HintName::UserId => "shardwire.user_id",
        HintName::Shard => "shardwire.shard",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Option<HintSetting> {
        hint_setting(s).and_then(Result::ok)
    }

    #[test]
    fn recognises_hint_settings() {
        let set = |name, value, local| Some(HintSetting { name, value, local });
        assert_eq!(
            ok("SET shardwire.user_id = 42"),
            set(HintName::UserId, Some(42), false)
        );
        assert_eq!(
            ok("set session shardwire.user_id to '-7'"),
            set(HintName::UserId, Some(-7), false)
        );
        assert_eq!(
            ok("SET LOCAL shardwire.shard = 3;"),
            set(HintName::Shard, Some(3), true)
        );
        assert_eq!(
            ok("SET shardwire.user_id = -7"),
            set(HintName::UserId, Some(-7), false)
        );
        assert_eq!(
            ok("SET shardwire.user_id TO DEFAULT"),
            set(HintName::UserId, None, false)
        );
        assert_eq!(
            ok("RESET shardwire.shard"),
            set(HintName::Shard, None, false)
        );
        assert_eq!(
            ok("SET shardwire.user_id = ''"),
            set(HintName::UserId, None, false)
        );
        assert!(hint_setting("SET search_path = x").is_none());
        assert!(hint_setting("SELECT 1").is_none());
        assert!(hint_setting("SET shardwire.other = 1").is_none());
        assert!(matches!(
            hint_setting("SET shardwire.user_id = 'abc'"),
            Some(Err(_))
        ));
        assert!(matches!(
            hint_setting("SET shardwire.shard = -1"),
            Some(Err(_))
        ));
        let mut h = SessionHints::default();
        h.apply(&HintSetting {
            name: HintName::UserId,
            value: Some(5),
            local: false,
        });
        assert_eq!(h.user_id, Some(5));
    }
}
