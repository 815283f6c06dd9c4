//! What one client holds on its server connection under transaction
//! pooling, updated statement by statement, and what must happen to the
//! connection before it goes back to the pool.
//!
//! Tracking errs on the safe side: state counts as created when its
//! statement is sent (a failed or rolled-back one keeps the pin until its
//! client ends it or leaves), and a connection that ever held state is
//! cleaned with `DISCARD ALL` when the last pin ends, so a release the
//! proxy misjudged can never show another client anything.

use shardwire_router::{LingeringKind, Release, StateEffect};

/// What must be done to a server connection before another client gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    /// Nothing: no state was left on it.
    None,
    /// `DISCARD ALL`, then the parameters are re-synced at the next checkout.
    Discard,
    /// Close it (a library was loaded; nothing undoes that).
    Close,
}

/// The session state one client holds on its server connection.
#[derive(Debug, Default)]
pub struct Pins {
    temp_objects: bool,
    /// The temporary tables' names (lower-case), for routing statements
    /// that use only them.
    temp_names: Vec<String>,
    /// `WITH HOLD` cursors by name.
    cursors: Vec<String>,
    advisory_locks: bool,
    /// SQL-prepared statements by name.
    prepared: Vec<String>,
    /// Channels listened to.
    channels: Vec<String>,
    role: bool,
    loaded: bool,
    /// The connection must be cleaned before it is pooled again.
    dirty: bool,
}

impl Pins {
    /// Applies one statement's effect; returns the kind it newly pins for
    /// (to count), if any.
    pub fn apply(&mut self, effect: &StateEffect) -> Option<LingeringKind> {
        match effect {
            StateEffect::Creates { kind, name, .. } => {
                self.dirty = true;
                let was = self.holds(*kind);
                let name = name.clone().unwrap_or_default();
                match kind {
                    LingeringKind::TempObject => {
                        self.temp_objects = true;
                        push_unique(&mut self.temp_names, name);
                    }
                    LingeringKind::HoldCursor => push_unique(&mut self.cursors, name),
                    LingeringKind::AdvisoryLock => self.advisory_locks = true,
                    LingeringKind::SqlPrepared => push_unique(&mut self.prepared, name),
                    LingeringKind::Listen => push_unique(&mut self.channels, name),
                    LingeringKind::Role => self.role = true,
                    LingeringKind::Load => self.loaded = true,
                }
                (!was).then_some(*kind)
            }
            StateEffect::Uncertain(_) => {
                self.dirty = true;
                None
            }
            StateEffect::Ends(release) => {
                self.release(release);
                None
            }
        }
    }

    fn release(&mut self, release: &Release) {
        match release {
            Release::Everything => {
                let loaded = self.loaded;
                *self = Pins {
                    loaded,
                    // DISCARD ALL cleaned the connection itself.
                    dirty: loaded,
                    ..Pins::default()
                };
            }
            Release::TempObjects => {
                self.temp_objects = false;
                self.temp_names.clear();
            }
            Release::Cursor(name) => self.cursors.retain(|c| c != name),
            Release::AllCursors => self.cursors.clear(),
            Release::AdvisoryLocks => self.advisory_locks = false,
            Release::Prepared(name) => self.prepared.retain(|p| p != name),
            Release::AllPrepared => self.prepared.clear(),
            Release::Channel(name) => self.channels.retain(|c| c != name),
            Release::AllChannels => self.channels.clear(),
            Release::Role => self.role = false,
        }
    }

    /// Whether the client holds state of `kind`.
    pub fn holds(&self, kind: LingeringKind) -> bool {
        match kind {
            LingeringKind::TempObject => self.temp_objects,
            LingeringKind::HoldCursor => !self.cursors.is_empty(),
            LingeringKind::AdvisoryLock => self.advisory_locks,
            LingeringKind::SqlPrepared => !self.prepared.is_empty(),
            LingeringKind::Listen => !self.channels.is_empty(),
            LingeringKind::Role => self.role,
            LingeringKind::Load => self.loaded,
        }
    }

    /// Whether the client must keep its server connection.
    pub fn is_pinned(&self) -> bool {
        LingeringKind::ALL.iter().any(|&k| self.holds(k))
    }

    /// The kinds held, as a bit set in [`LingeringKind::ALL`]'s order.
    pub fn bits(&self) -> u8 {
        LingeringKind::ALL
            .iter()
            .enumerate()
            .filter(|(_, &k)| self.holds(k))
            .fold(0, |bits, (i, _)| bits | 1 << i)
    }

    /// The client's temporary tables (lower-case names).
    pub fn temp_tables(&self) -> &[String] {
        &self.temp_names
    }

    /// Whether `name` is one of the client's SQL-prepared statements.
    pub fn holds_prepared(&self, name: &str) -> bool {
        self.prepared.iter().any(|p| p == name)
    }

    /// What the connection needs before it is pooled, once nothing is
    /// pinned any more (or the client has gone).
    pub fn cleanup(&self) -> Cleanup {
        if self.loaded {
            Cleanup::Close
        } else if self.dirty || self.is_pinned() {
            Cleanup::Discard
        } else {
            Cleanup::None
        }
    }

    /// The connection was cleaned (`DISCARD ALL` succeeded).
    pub fn cleaned(&mut self) {
        *self = Pins::default();
    }
}

/// The kinds in a bit set from [`Pins::bits`], comma-separated.
pub fn describe_bits(bits: u8) -> String {
    LingeringKind::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, k)| k.label())
        .collect::<Vec<_>>()
        .join(",")
}

impl Pins {
    /// The kinds held, comma-separated (for messages and the console).
    pub fn describe(&self) -> String {
        describe_bits(self.bits())
    }
}

fn push_unique(names: &mut Vec<String>, name: String) {
    if !names.contains(&name) {
        names.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardwire_router::state_effects;

    fn run(pins: &mut Pins, sql: &str) {
        for e in state_effects(sql) {
            pins.apply(&e);
        }
    }

    #[test]
    fn pins_until_each_state_is_ended_then_asks_for_a_discard() {
        let mut pins = Pins::default();
        run(&mut pins, "CREATE TEMP TABLE tt (x int)");
        run(&mut pins, "DECLARE c CURSOR WITH HOLD FOR SELECT 1");
        run(&mut pins, "SELECT pg_advisory_lock(42)");
        assert!(pins.is_pinned());
        assert_eq!(pins.describe(), "temp_table,hold_cursor,advisory_lock");
        run(&mut pins, "CLOSE c");
        run(&mut pins, "SELECT pg_advisory_unlock_all()");
        assert_eq!(pins.describe(), "temp_table");
        run(&mut pins, "DISCARD TEMP");
        assert!(!pins.is_pinned());
        assert_eq!(pins.cleanup(), Cleanup::Discard);
        pins.cleaned();
        assert_eq!(pins.cleanup(), Cleanup::None);
    }

    #[test]
    fn discard_all_ends_everything_but_a_loaded_library() {
        let mut pins = Pins::default();
        run(&mut pins, "PREPARE p AS SELECT 1; LISTEN a; SET ROLE r");
        assert!(pins.holds_prepared("p"));
        run(&mut pins, "DISCARD ALL");
        assert!(!pins.is_pinned());
        assert_eq!(pins.cleanup(), Cleanup::None);
        run(&mut pins, "LOAD 'plpgsql'; DISCARD ALL");
        assert!(pins.is_pinned());
        assert_eq!(pins.cleanup(), Cleanup::Close);
    }

    #[test]
    fn unseen_work_is_cleaned_without_pinning() {
        let mut pins = Pins::default();
        run(&mut pins, "DO $$ BEGIN PERFORM 1; END $$");
        assert!(!pins.is_pinned());
        assert_eq!(pins.cleanup(), Cleanup::Discard);
        assert_eq!(describe_bits(0b101), "temp_table,advisory_lock");
    }
}
