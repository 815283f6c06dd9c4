//! Routing hints: the session's (`SET shardwire.user_id = …`, kept by the
//! proxy) and those written in comments (`/* shardwire: user_id=42 */`,
//! `/* shardwire: shard=3 */`), which win over anything else.

use crate::error::{bad_key, RouteError};
use crate::key_text::parse_i64;

/// Hints the proxy keeps for a session (from `SET shardwire.user_id = …`,
/// `SET shardwire.shard = …`, or their `SET LOCAL` forms while the
/// transaction lasts). They route statements that carry no key of their own.
#[derive(Clone, Debug, Default)]
pub struct SessionHints {
    /// Route as if the statement constrained the key to this value.
    pub user_id: Option<i64>,
    /// Route to this shard (wins over `user_id`).
    pub shard: Option<u32>,
}

/// Hints found in the comments of one query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommentHints {
    /// `user_id=…`
    pub user_id: Option<i64>,
    /// `shard=…`
    pub shard: Option<u32>,
    /// `route=…`: a `[[routes]]` name (e.g. `replicas`).
    pub route: Option<std::sync::Arc<str>>,
    /// A malformed hint value, reported as BadKey when routing.
    pub error: Option<String>,
}

impl CommentHints {
    /// Reads the body of one comment (without `/*`, `*/` or `--`). Comments
    /// that do not start with `shardwire:` are ignored.
    pub fn read_comment(&mut self, body: &[u8]) {
        let body = trim_start(body);
        let prefix = b"shardwire:";
        if body.len() < prefix.len() || !body[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return;
        }
        let rest = &body[prefix.len()..];
        for item in rest.split(|&c| c.is_ascii_whitespace() || c == b',' || c == b';') {
            let Some(eq) = item.iter().position(|&c| c == b'=') else {
                continue;
            };
            let (name, value) = (&item[..eq], &item[eq + 1..]);
            if name.eq_ignore_ascii_case(b"user_id") || name.eq_ignore_ascii_case(b"key") {
                match parse_i64(value) {
                    Some(v) => self.user_id = Some(v),
                    None => self.fail("user_id", value),
                }
            } else if name.eq_ignore_ascii_case(b"route") {
                self.route = Some(String::from_utf8_lossy(value).to_ascii_lowercase().into());
            } else if name.eq_ignore_ascii_case(b"shard") {
                match parse_i64(value).and_then(|v| u32::try_from(v).ok()) {
                    Some(v) => self.shard = Some(v),
                    None => self.fail("shard", value),
                }
            }
        }
    }

    fn fail(&mut self, name: &str, value: &[u8]) {
        self.error = Some(format!(
            "hint {name}={} is not an integer",
            String::from_utf8_lossy(value)
        ));
    }

    /// The hint as an error if it was malformed.
    pub fn check(&self) -> Result<(), RouteError> {
        match &self.error {
            Some(e) => Err(bad_key(e.clone())),
            None => Ok(()),
        }
    }
}

fn trim_start(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hint_comments() {
        let mut h = CommentHints::default();
        h.read_comment(b" shardwire: user_id=42 ");
        assert_eq!(h.user_id, Some(42));
        h.read_comment(b"Shardwire: shard=3, route=replicas");
        assert_eq!(h.shard, Some(3));
        h.read_comment(b"just a comment user_id=7");
        assert_eq!(h.user_id, Some(42));
        assert!(h.check().is_ok());
        h.read_comment(b"shardwire: user_id=abc");
        assert_eq!(h.check().map_err(|e| e.sqlstate()), Err("22P02"));
        let mut h = CommentHints::default();
        h.read_comment(b"shardwire: shard=-1");
        assert!(h.check().is_err());
    }
}
