//! The queue of responses a session still expects from its server, in
//! request order. It tells when a server connection is done with a client
//! (queue empty at ReadyForQuery), which server replies answer requests the
//! proxy injected (and must not reach the client), and where to slot in the
//! replies the proxy synthesises itself (e.g. ParseComplete for a statement
//! the server already has) so that the client sees them in order.

use bytes::Bytes;
use std::collections::VecDeque;

/// One expected reply.
#[derive(Debug)]
pub enum Expect {
    /// ParseComplete for a Parse.
    Parse {
        /// The Parse was injected by the proxy: swallow its ParseComplete.
        injected: bool,
        /// Proxy-wide statement id to record as prepared on success.
        statement: Option<u64>,
        /// The client's name for it, to forget if the Parse fails.
        client_name: Option<Box<[u8]>>,
    },
    /// BindComplete.
    Bind,
    /// CloseComplete.
    Close,
    /// ParameterDescription + RowDescription/NoData, or just the latter.
    Describe,
    /// Rows then CommandComplete / EmptyQueryResponse / PortalSuspended.
    Execute,
    /// ReadyForQuery after Sync.
    Sync,
    /// Everything up to ReadyForQuery after a simple Query.
    Query,
    /// A simple Query the proxy sent itself (a held-back BEGIN): its whole
    /// reply is swallowed.
    InjectedQuery,
    /// FunctionCallResponse then ReadyForQuery.
    FunctionCall,
    /// The ErrorResponse to a request the proxy sent to fail the server's
    /// batch after refusing a statement (see `refusal_abort`): swallowed.
    InjectedFailure,
    /// Bytes the proxy sends the client itself when this entry reaches the
    /// head of the queue.
    Synthetic(Bytes),
    /// Not a reply: marks where the client's CopyDone/CopyFail went, so
    /// the Syncs a COPY FROM STDIN swallows can be told from the others.
    CopyEnd,
}

impl Expect {
    /// Whether ReadyForQuery completes this entry.
    pub fn ends_at_ready(&self) -> bool {
        matches!(
            self,
            Expect::Sync | Expect::Query | Expect::InjectedQuery | Expect::FunctionCall
        )
    }
}

/// The queue.
#[derive(Debug, Default)]
pub struct ExpectQueue {
    items: VecDeque<Expect>,
}

impl ExpectQueue {
    /// Appends an expected reply.
    pub fn push(&mut self, e: Expect) {
        self.items.push_back(e);
    }

    /// The oldest outstanding entry.
    pub fn head(&self) -> Option<&Expect> {
        self.items.front()
    }

    /// Removes the oldest entry.
    pub fn pop(&mut self) -> Option<Expect> {
        self.items.pop_front()
    }

    /// Whether nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether some reply is still due from the server (entries the proxy
    /// answers itself do not count).
    pub fn awaits_server(&self) -> bool {
        self.items
            .iter()
            .any(|e| !matches!(e, Expect::Synthetic(_) | Expect::CopyEnd))
    }

    /// Whether everything queued so far ends with a Sync/Query, so the
    /// server will come back to ReadyForQuery without more input; false
    /// while a held-back BEGIN is being replayed (a transaction is open).
    pub fn batch_closed(&self) -> bool {
        if self
            .items
            .iter()
            .any(|e| matches!(e, Expect::InjectedQuery))
        {
            return false;
        }
        match self
            .items
            .iter()
            .rev()
            .find(|e| !matches!(e, Expect::Synthetic(_) | Expect::CopyEnd))
        {
            Some(e) => e.ends_at_ready(),
            None => true,
        }
    }

    /// After an error in the extended protocol the server skips everything
    /// up to the next Sync: drop those entries too (returned for cleanup).
    pub fn skip_to_sync(&mut self) -> Vec<Expect> {
        let mut dropped = Vec::new();
        while let Some(e) = self.items.front() {
            if e.ends_at_ready() {
                break;
            }
            if let Some(e) = self.items.pop_front() {
                dropped.push(e);
            }
        }
        dropped
    }

    /// Removes and returns synthetic replies now at the head (dropping
    /// CopyEnd markers that reached it). Called after every server
    /// message: the usual answer, "none", is decided inline.
    #[inline]
    pub fn take_synthetic_head(&mut self) -> Option<Bytes> {
        match self.items.front() {
            Some(Expect::Synthetic(_) | Expect::CopyEnd) => self.take_marked_head(),
            _ => None,
        }
    }

    fn take_marked_head(&mut self) -> Option<Bytes> {
        while let Some(Expect::CopyEnd) = self.items.front() {
            self.items.pop_front();
        }
        if let Some(Expect::Synthetic(_)) = self.items.front() {
            if let Some(Expect::Synthetic(b)) = self.items.pop_front() {
                return Some(b);
            }
        }
        None
    }

    /// The head request just started a COPY FROM STDIN. PostgreSQL ignores
    /// Sync while copying in, so the Syncs forwarded after it and before
    /// the client's CopyDone/CopyFail get no ReadyForQuery: drop them.
    /// Returns whether that CopyDone/CopyFail was already forwarded.
    pub fn copy_in_started(&mut self) -> bool {
        let mut i = 1;
        while i < self.items.len() {
            match self.items[i] {
                Expect::CopyEnd => {
                    self.items.remove(i);
                    return true;
                }
                Expect::Sync => {
                    self.items.remove(i);
                }
                _ => i += 1,
            }
        }
        false
    }

    /// Forgets everything (the server connection is gone).
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_to_sync_stops_at_sync() {
        let mut q = ExpectQueue::default();
        q.push(Expect::Bind);
        q.push(Expect::Synthetic(Bytes::from_static(b"x")));
        q.push(Expect::Execute);
        q.push(Expect::Sync);
        q.push(Expect::Bind);
        assert_eq!(q.skip_to_sync().len(), 3);
        assert!(matches!(q.head(), Some(Expect::Sync)));
    }

    #[test]
    fn copy_in_swallows_syncs_up_to_copy_end_only() {
        let mut q = ExpectQueue::default();
        q.push(Expect::Execute);
        q.push(Expect::Sync);
        q.push(Expect::CopyEnd);
        q.push(Expect::Sync);
        assert!(q.copy_in_started());
        q.pop();
        assert!(matches!(q.pop(), Some(Expect::Sync)));
        assert!(q.is_empty());

        let mut q = ExpectQueue::default();
        q.push(Expect::Query);
        q.push(Expect::Sync);
        assert!(!q.copy_in_started());
        q.pop();
        assert!(q.is_empty());
    }

    #[test]
    fn synthetic_head_is_taken_only_at_head() {
        let mut q = ExpectQueue::default();
        q.push(Expect::Bind);
        q.push(Expect::Synthetic(Bytes::from_static(b"1")));
        assert!(q.take_synthetic_head().is_none());
        q.pop();
        assert_eq!(q.take_synthetic_head().as_deref(), Some(&b"1"[..]));
        assert!(q.is_empty());
    }
}
