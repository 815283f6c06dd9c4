//! What the proxy does with each message its server sends while a client
//! holds the connection: track completion against the expect queue, record
//! parameter changes and prepared statements, swallow replies to injected
//! requests, and pass everything else to the client as the original bytes.
//! Large rows stream through without being buffered whole.

use super::expect::Expect;
use super::statements::ClientStatements;
use super::{Session, SessionEnd};
use crate::config::PoolMode;
use crate::protocol::error::ServerError;
use crate::protocol::frame::{describe_tag, peek_header, HEADER_LEN};
use crate::protocol::reader::BodyReader;
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::params::{is_node_state, is_server_owned};
use bytes::Buf;

/// Data rows larger than this are streamed to the client as they arrive.
const STREAM_THRESHOLD: usize = 64 * 1024;

/// Largest server message (other than rows) the proxy buffers.
const BUFFERED_FRAME_LIMIT: usize = 1 << 30;

fn desync(tag: u8) -> SessionEnd {
    SessionEnd::Fatal(ErrorResponse::fatal(
        SqlState::SystemError,
        format!(
            "internal error: the server sent {} where the proxy expected another reply; closing the session to stay in sync",
            describe_tag(tag)
        ),
    ))
}

/// Undoes the bookkeeping of a Parse the server did not carry out.
fn forget_failed_parse(
    entry: Expect,
    prepared: &mut crate::server::statement_ids::StatementIds,
    statements: &mut ClientStatements,
) {
    if let Expect::Parse {
        statement: Some(id),
        client_name,
        ..
    } = entry
    {
        prepared.remove(&id);
        if let Some(name) = client_name {
            statements.remove_if(&name, id);
        }
    }
}

impl Session {
    /// Handles every complete message in the server buffer.
    pub(super) fn process_server_input(&mut self) -> Result<(), SessionEnd> {
        let result = self.process_server_input_inner();
        if let Err(SessionEnd::Fatal(e)) = &result {
            if e.state.code().starts_with("57P") {
                let why = format!("{} ({})", e.message, e.state.code());
                return Err(self.server_lost(&why));
            }
        }
        if result.is_err() {
            if let Some(a) = self.server.as_mut() {
                a.conn.broken = true;
            }
        }
        result
    }

    fn process_server_input_inner(&mut self) -> Result<(), SessionEnd> {
        let Session {
            server,
            to_client,
            expect,
            copy_in_active,
            wanted,
            statements,
            passthrough,
            local_hints,
            pending,
            mode,
            request_started,
            user,
            ..
        } = self;
        let Some(a) = server.as_mut() else {
            return Ok(());
        };
        let conn = &mut *a.conn;
        loop {
            if *passthrough > 0 {
                let n = (*passthrough).min(conn.inbuf.len());
                if n == 0 {
                    return Ok(());
                }
                to_client.extend_from_slice(&conn.inbuf[..n]);
                conn.inbuf.advance(n);
                *passthrough -= n;
                continue;
            }
            let header = match peek_header(&conn.inbuf, usize::MAX) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(()),
                Err(_) => return Err(desync(conn.inbuf[0])),
            };
            // Rows stream through; anything else is buffered whole, so a
            // server claiming an absurd size is refused, not believed.
            if header.frame_len > BUFFERED_FRAME_LIMIT && !matches!(header.tag, b'D' | b'd') {
                return Err(desync(header.tag));
            }
            if conn.inbuf.len() < header.frame_len {
                if matches!(header.tag, b'D' | b'd') && header.frame_len > STREAM_THRESHOLD {
                    let n = conn.inbuf.len();
                    to_client.extend_from_slice(&conn.inbuf[..n]);
                    conn.inbuf.advance(n);
                    *passthrough = header.frame_len - n;
                    continue;
                }
                conn.inbuf.reserve(header.frame_len - conn.inbuf.len());
                return Ok(());
            }
            let body = &conn.inbuf[HEADER_LEN..header.frame_len];
            let injected = matches!(expect.head(), Some(Expect::InjectedQuery));
            let passes = match header.tag {
                b'D' | b'd' | b't' | b'N' | b'A' | b'H' | b'W' | b'c' | b'V' => true,
                b'G' => {
                    *copy_in_active = !expect.copy_in_started();
                    true
                }
                b'Z' => {
                    conn.status = body.first().copied().unwrap_or(b'I');
                    match expect.head() {
                        Some(e) if e.ends_at_ready() => {
                            expect.pop();
                        }
                        _ => return Err(desync(b'Z')),
                    }
                    // In sync only if nothing sent after this batch is
                    // still unanswered (a pipelined batch may be open).
                    conn.in_sync = !expect.awaits_server();
                    if let (Some(started), Some(t)) = (
                        request_started.take(),
                        user.shard_traffic.get(a.shard as usize),
                    ) {
                        t.query_seconds.observe(started.elapsed().as_secs_f64());
                    }
                    if expect.is_empty() {
                        pending.reset_all_sent = false;
                    }
                    true
                }
                b'E' => {
                    let error = ServerError::parse(body);
                    *copy_in_active = false;
                    if error.is_fatal() {
                        conn.broken = true;
                    }
                    if error.is_fatal() && error.code.starts_with("57P") {
                        // The server is going away (shutdown, crash, lost
                        // postmaster): reported as a lost server connection.
                        let code: [u8; 5] = error.code.as_bytes().try_into().unwrap_or(*b"57P01");
                        return Err(SessionEnd::Fatal(ErrorResponse::fatal(
                            SqlState::FromServer(code),
                            error.message,
                        )));
                    }
                    let swallow = matches!(expect.head(), Some(Expect::InjectedFailure));
                    match expect.head() {
                        Some(e) if e.ends_at_ready() => {}
                        Some(_) => {
                            if let Some(failed) = expect.pop() {
                                forget_failed_parse(failed, &mut conn.prepared, statements);
                            }
                            for skipped in expect.skip_to_sync() {
                                forget_failed_parse(skipped, &mut conn.prepared, statements);
                            }
                        }
                        None => {}
                    }
                    !swallow
                }
                b'1' => match expect.pop() {
                    Some(Expect::Parse { injected, .. }) => !injected,
                    _ => return Err(desync(b'1')),
                },
                b'2' => match expect.pop() {
                    Some(Expect::Bind) => true,
                    _ => return Err(desync(b'2')),
                },
                b'3' => match expect.pop() {
                    Some(Expect::Close) => true,
                    _ => return Err(desync(b'3')),
                },
                b'T' | b'n' => {
                    if matches!(expect.head(), Some(Expect::Describe)) {
                        expect.pop();
                    }
                    true
                }
                b'C' | b'I' | b's' => {
                    if header.tag == b'C' {
                        let tag = BodyReader::new(body).cstr().unwrap_or(b"");
                        // LISTEN and PREPARE pin the client to this
                        // connection (`isolation`), seen in its statement.
                        match tag {
                            b"DISCARD ALL" => pending.discard_all = true,
                            b"DEALLOCATE ALL" => pending.deallocate_all = true,
                            b"RESET" if pending.reset_all_sent => pending.reset_all = true,
                            _ => {}
                        }
                    }
                    if matches!(expect.head(), Some(Expect::Execute)) {
                        expect.pop();
                    }
                    true
                }
                b'S' => {
                    let mut r = BodyReader::new(body);
                    if let (Some(name), Some(value)) = (r.cstr_utf8(), r.cstr_utf8()) {
                        if name.eq_ignore_ascii_case("session_authorization")
                            && *mode == PoolMode::Transaction
                        {
                            // SET SESSION AUTHORIZATION: not the pool's user any more.
                            conn.broken = true;
                        }
                        conn.params.on_status(name, value, true);
                        if !is_server_owned(name) && !is_node_state(name) {
                            wanted.set(name, value);
                        }
                    }
                    true
                }
                _ => true,
            };
            if header.tag == b'Z' && conn.status == b'I' {
                *local_hints = None;
            }
            let forward = passes && !injected;
            if forward {
                to_client.extend_from_slice(&conn.inbuf[..header.frame_len]);
            }
            conn.inbuf.advance(header.frame_len);
            while let Some(bytes) = expect.take_synthetic_head() {
                to_client.extend_from_slice(&bytes);
            }
        }
    }
}
