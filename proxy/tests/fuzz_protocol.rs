//! Deterministic, bounded fuzz harnesses for the proxy's wire-protocol
//! decoders, run by `cargo test` on the corpus in `fuzz-corpus/` plus
//! seeded mutants of it (see `fuzz-corpus/harness.rs` for the driver and
//! the `SHARDWIRE_FUZZ_*` knobs).
//!
//! - `frame`: streams of tagged messages through `protocol::frame::peek_header`
//!   (in place, as the relay scans its buffers) and through
//!   `wire::read_frame` (fed in small chunks), with the body decoders the
//!   proxy applies to individual messages: Bind (`protocol::bind::decode`),
//!   Parse (`session::statements::parse_tail`), ErrorResponse/NoticeResponse
//!   (`protocol::error::ServerError::parse`) and a walk of `protocol::reader::BodyReader`.
//! - `startup`: the pre-session packets (StartupMessage, SSLRequest,
//!   GSSENCRequest, CancelRequest) through `protocol::startup::packet_length`
//!   and `parse`, as a negotiation sequence the way the handshake reads it.
//! - `bind`: Bind bodies through `protocol::bind::decode`, and the decoded
//!   parameters on to `shardwire_router::Router::route_bind`.
//!
//! Properties checked besides "never panics": headers and packets decode to
//! lengths within the limits and the input; everything a decoder returns is
//! a slice of its input; framing is lossless; startup parameters survive a
//! rebuild with `protocol::builder`; routing decisions name existing shards.
//!
//! Not covered here because it is private: the handshake loop itself
//! (`session::startup::handshake`), the `options` parameter parser
//! (`session::startup::parse_options`) and the relay's client-message
//! dispatch (`session::client_messages`).

#[path = "../../fuzz-corpus/harness.rs"]
mod harness;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::FutureExt;
use harness::{assert_clean, fuzz, is_within, on_worker_stack, tally, Mutations, Rng};
use shardwire::protocol::bind;
use shardwire::protocol::builder;
use shardwire::protocol::error::ServerError;
use shardwire::protocol::frame::{peek_header, FrameError, HEADER_LEN};
use shardwire::protocol::reader::BodyReader;
use shardwire::protocol::startup::{self, StartupError, StartupPacket, MAX_STARTUP_PACKET};
use shardwire::session::statements::parse_tail;
use shardwire::wire::{read_frame, WireError};
use shardwire_router::{
    BindParam, Decision, PreparedPlan, Router, SessionHints, ShardingRules, StatementKind, Target,
};
use tokio::io::{AsyncRead, ReadBuf};

/// Limits the proxy passes to the frame decoder: none (server messages),
/// the admin console's and server login's 1 MiB, authentication's 16 KiB,
/// and tiny ones.
const LIMITS: [usize; 5] = [usize::MAX, 1 << 20, 16 * 1024, 64, HEADER_LEN];

const PROTOCOL_DICTIONARY: &[&[u8]] = &[
    b"\0",
    b"\0\0",
    b"\0\0\0\0",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x03\x00\x00", // protocol 3.0
    b"\x04\xd2\x16\x2f", // SSLRequest
    b"\x04\xd2\x16\x30", // GSSENCRequest
    b"\x04\xd2\x16\x2e", // CancelRequest
    b"\x00\x00\x00\x08", // length 8
    b"\x00\x00\x27\x10", // length 10000
    b"\x00\x00\x27\x11", // length 10001
    b"user\0",
    b"database\0",
    b"options\0-c search_path=x\0",
    b"_pq_.x\0",
    b"Q\0\0\0\x04",
    b"B\0\0\0\x04",
    b"P\0\0\0\x04",
    b"E\0\0\0\x04",
    b"S\0\0\0\x04",
    b"\x00\x01",
    b"\xff\xff",
    b"\x7f\xff",
    b"\x80\x00",
    b"SCRAM-SHA-256\0",
    b"\xc3\xbc",
    b"\xed\xa0\x80",
];

fn mutations(length_offsets: &'static [usize]) -> Mutations<'static> {
    Mutations {
        dictionary: PROTOCOL_DICTIONARY,
        length_offsets,
        max_len: 24 * 1024,
    }
}

// ---------------------------------------------------------------- frame

/// A reader that hands out its bytes in small chunks and never blocks.
struct Chunked<'a> {
    data: &'a [u8],
    at: usize,
    rng: Rng,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let left = self.data.len() - self.at;
        let chunk = (1 + self.rng.below(64)).min(left).min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..at + chunk]);
        self.at += chunk;
        Poll::Ready(Ok(()))
    }
}

/// Walks a body with every `BodyReader` accessor, in an order the body
/// itself chooses, checking the cursor never leaves the body.
fn walk_body(body: &[u8]) {
    let mut rng = Rng::from_bytes(body);
    let mut r = BodyReader::new(body);
    for _ in 0..body.len() + 8 {
        let before = r.position();
        match rng.below(7) {
            0 => {
                if let Some(s) = r.cstr() {
                    assert!(!s.contains(&0), "cstr returned a NUL");
                    assert!(is_within(body, s), "cstr outside the body");
                    assert_eq!(r.position(), before + s.len() + 1);
                }
            }
            1 => {
                if r.i16().is_some() {
                    assert_eq!(r.position(), before + 2);
                }
            }
            2 => {
                if r.i32().is_some() {
                    assert_eq!(r.position(), before + 4);
                }
            }
            3 => {
                if r.u8().is_some() {
                    assert_eq!(r.position(), before + 1);
                }
            }
            4 => {
                let n = match rng.below(3) {
                    0 => usize::MAX - rng.below(8),
                    1 => rng.below(8),
                    _ => rng.below(body.len() + 2),
                };
                match r.bytes(n) {
                    Some(b) => {
                        assert_eq!(b.len(), n);
                        assert!(is_within(body, b), "bytes() outside the body");
                    }
                    None => assert_eq!(r.position(), before, "a failed read moved the cursor"),
                }
            }
            5 => {
                let _ = r.cstr_utf8();
            }
            _ => {
                let rest = r.rest();
                assert!(is_within(body, rest));
                assert_eq!(rest.len() + r.position(), body.len());
            }
        }
        assert!(r.position() <= body.len(), "cursor past the end");
    }
}

fn check_parse_body(body: &[u8]) {
    let mut r = BodyReader::new(body);
    let Some(_name) = r.cstr() else { return };
    let after_name = r.rest();
    let (sql, types) = parse_tail(after_name);
    // Every type takes 4 bytes of the input; the SQL at most 3 bytes (a
    // U+FFFD replacement) per input byte.
    assert!(
        types.len() * 4 <= after_name.len(),
        "parse_tail returned {} types from {} bytes",
        types.len(),
        after_name.len()
    );
    assert!(sql.len() <= after_name.len() * 3);
}

fn check_server_error(body: &[u8]) {
    let e = ServerError::parse(body);
    for field in [&e.severity, &e.code, &e.message] {
        assert!(
            field.chars().count() <= body.len(),
            "ServerError field longer than the body"
        );
    }
    let _ = e.state();
    let _ = e.is_fatal();
    let _ = e.to_string();
}

fn check_body(tag: u8, body: &[u8]) {
    match tag {
        b'B' => check_bind_decode(body),
        b'P' => check_parse_body(body),
        b'E' | b'N' => check_server_error(body),
        _ => {}
    }
    walk_body(body);
}

/// Scans a buffer of frames in place, as the relay does.
fn scan_frames(input: &[u8], limit: usize) {
    let mut rest = input;
    loop {
        match peek_header(rest, limit) {
            Ok(None) => {
                assert!(
                    rest.len() < HEADER_LEN,
                    "no header from {} bytes",
                    rest.len()
                );
                return;
            }
            Ok(Some(h)) => {
                assert!(rest.len() >= HEADER_LEN);
                let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
                assert_eq!(h.tag, rest[0], "header tag");
                assert_eq!(h.frame_len as u64, u64::from(length) + 1, "frame length");
                assert!(h.frame_len >= HEADER_LEN, "frame shorter than its header");
                assert!(h.frame_len <= limit, "frame over the limit accepted");
                if rest.len() < h.frame_len {
                    return;
                }
                let (frame, tail) = rest.split_at(h.frame_len);
                check_body(h.tag, &frame[HEADER_LEN..]);
                rest = tail;
            }
            Err(e) => {
                let _ = e.to_string();
                match e {
                    FrameError::BadLength { tag, length } => {
                        assert_eq!(tag, rest[0]);
                        assert!(length < 4, "length {length} refused as bad");
                    }
                    FrameError::TooLarge {
                        tag,
                        length,
                        limit: l,
                    } => {
                        assert_eq!(tag, rest[0]);
                        assert_eq!(l, limit);
                        assert!(length > limit, "{length} bytes refused under limit {limit}");
                    }
                }
                return;
            }
        }
    }
}

/// Reads frames with `wire::read_frame` until it stops, checking the
/// frames put back together are exactly the input.
fn read_frames(input: &[u8], limit: usize) {
    let mut reader = Chunked {
        data: input,
        at: 0,
        rng: Rng::from_bytes(input),
    };
    let mut buf = BytesMut::new();
    let mut consumed = 0;
    loop {
        let result = read_frame(&mut reader, &mut buf, limit)
            .now_or_never()
            .expect("read_frame blocked on a reader that never blocks");
        match result {
            Ok(frame) => {
                if limit == 16 * 1024 {
                    tally("read_frame (16 KiB limit): frame");
                }
                let body_len = frame.body.len();
                let end = consumed + HEADER_LEN + body_len;
                assert!(end <= input.len(), "frame longer than the input");
                assert!(end - consumed <= limit, "frame over the limit returned");
                let original = &input[consumed..end];
                assert_eq!(original[0], frame.tag, "frame tag");
                assert_eq!(
                    u32::from_be_bytes([original[1], original[2], original[3], original[4]])
                        as usize,
                    body_len + 4,
                    "frame length"
                );
                assert_eq!(&original[HEADER_LEN..], &frame.body[..], "frame body");
                consumed = end;
            }
            Err(WireError::Closed) => {
                if limit == 16 * 1024 {
                    tally("read_frame (16 KiB limit): peer closed");
                }
                assert_eq!(
                    consumed + buf.len(),
                    input.len(),
                    "bytes lost when the peer closed"
                );
                return;
            }
            Err(WireError::Frame(e)) => {
                if limit == 16 * 1024 {
                    tally(match e {
                        FrameError::BadLength { .. } => "read_frame (16 KiB limit): bad length",
                        FrameError::TooLarge { .. } => "read_frame (16 KiB limit): too large",
                    });
                }
                let expected = peek_header(&input[consumed..], limit);
                assert_eq!(expected, Err(e), "read_frame and peek_header disagree");
                return;
            }
            Err(WireError::Io(e)) => panic!("I/O error from an in-memory reader: {e}"),
        }
    }
}

#[test]
fn fuzz_frame_decoder() {
    let report = on_worker_stack(|| {
        fuzz("frame", mutations(&[1]), |input| {
            for limit in LIMITS {
                scan_frames(input, limit);
            }
            read_frames(input, 16 * 1024);
            read_frames(input, 1 << 20);
        })
    });
    assert_clean(&report);
}

// ---------------------------------------------------------------- startup

fn check_startup_packet(packet: &[u8]) -> Option<StartupPacket> {
    let parsed = startup::parse(packet);
    tally(match &parsed {
        Ok(StartupPacket::Startup(_)) => "parse: StartupMessage",
        Ok(StartupPacket::SslRequest) => "parse: SSLRequest",
        Ok(StartupPacket::GssEncRequest) => "parse: GSSENCRequest",
        Ok(StartupPacket::Cancel { .. }) => "parse: CancelRequest",
        Err(StartupError::BadLength(_)) => "parse: bad length",
        Err(StartupError::UnsupportedVersion(_)) => "parse: unsupported version",
        Err(StartupError::Malformed(why)) => why,
    });
    match parsed {
        Ok(StartupPacket::Startup(params)) => {
            let mut used = 8 + 1; // length, version, final terminator
            for (name, value) in &params {
                assert!(!name.is_empty(), "empty parameter name accepted");
                assert!(!name.contains('\0') && !value.contains('\0'));
                used += name.len() + value.len() + 2;
            }
            assert!(
                used <= packet.len(),
                "{used} bytes of parameters from a {}-byte packet",
                packet.len()
            );
            // Rebuilding the packet gives the same parameters.
            let borrowed: Vec<(&str, &str)> = params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut rebuilt = BytesMut::new();
            builder::startup_message(&mut rebuilt, &borrowed);
            assert_eq!(
                startup::parse(&rebuilt),
                Ok(StartupPacket::Startup(params.clone())),
                "parameters changed through a rebuild"
            );
            Some(StartupPacket::Startup(params))
        }
        Ok(StartupPacket::Cancel { pid, secret }) => {
            assert!(
                packet.len() >= 16,
                "cancel request from {} bytes",
                packet.len()
            );
            let mut rebuilt = BytesMut::new();
            builder::cancel_request(&mut rebuilt, pid, secret);
            assert_eq!(
                startup::parse(&rebuilt),
                Ok(StartupPacket::Cancel { pid, secret })
            );
            Some(StartupPacket::Cancel { pid, secret })
        }
        Ok(p) => {
            assert!(packet.len() >= 8, "{p:?} from {} bytes", packet.len());
            Some(p)
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}

/// Reads packets the way the handshake does: a length prefix, the packet,
/// and again after an SSLRequest or GSSENCRequest (three rounds at most).
fn negotiate(input: &[u8]) {
    let mut rest = input;
    for _ in 0..3 {
        let Some(prefix) = rest.get(..4) else { return };
        let prefix: [u8; 4] = prefix.try_into().expect("four bytes");
        let len = match startup::packet_length(prefix) {
            Ok(len) => len,
            Err(e) => {
                let _ = e.to_string();
                let StartupError::BadLength(n) = e else {
                    panic!("packet_length failed with {e:?}");
                };
                assert!(
                    !(8..=MAX_STARTUP_PACKET as u32).contains(&n),
                    "length {n} refused"
                );
                return;
            }
        };
        assert!(
            (8..=MAX_STARTUP_PACKET).contains(&len),
            "length {len} accepted"
        );
        assert_eq!(len as u32, u32::from_be_bytes(prefix));
        let Some(packet) = rest.get(..len) else {
            return;
        };
        match check_startup_packet(packet) {
            Some(StartupPacket::SslRequest | StartupPacket::GssEncRequest) => rest = &rest[len..],
            _ => return,
        }
    }
}

#[test]
fn fuzz_startup_parser() {
    let report = on_worker_stack(|| {
        fuzz("startup", mutations(&[0, 4, 8]), |input| {
            check_startup_packet(input);
            negotiate(input);
        })
    });
    assert_clean(&report);
}

// ---------------------------------------------------------------- bind

const SHARDS: u32 = 6;

/// Statements whose Bind parameters carry the key, planned once.
fn plans() -> &'static (Router, Vec<Arc<PreparedPlan>>) {
    static PLANS: std::sync::OnceLock<(Router, Vec<Arc<PreparedPlan>>)> =
        std::sync::OnceLock::new();
    PLANS.get_or_init(|| {
        let router = Router::new(ShardingRules::default());
        let plans = [
            "SELECT * FROM users WHERE user_id = $1",
            "SELECT * FROM users WHERE user_id = ANY($1)",
            "SELECT * FROM users WHERE user_id IN ($1, $2, $3)",
            "INSERT INTO users (user_id, name) VALUES ($1, $2), ($3, $4)",
            "UPDATE users SET name = $2 WHERE user_id = $1",
            "SELECT count(*) FROM users WHERE user_id = $2 OR user_id = $1",
        ]
        .iter()
        .map(|sql| router.prepare(sql).expect("planning a fixed statement"))
        .collect();
        (router, plans)
    })
}

fn check_decision(d: &Decision) {
    match &d.target {
        Target::Shard(s) => assert!(*s < SHARDS, "shard {s} of {SHARDS}"),
        Target::Shards(v) => {
            assert!(v.len() > 1, "Shards with {} entries", v.len());
            assert!(
                v.windows(2).all(|w| w[0] < w[1]),
                "shards not sorted: {v:?}"
            );
            assert!(v.iter().all(|s| *s < SHARDS), "shards {v:?} of {SHARDS}");
        }
        Target::AllShards | Target::AnyShard => {}
    }
    if d.merge.is_some() {
        assert!(
            matches!(d.target, Target::AllShards | Target::Shards(_))
                && d.kind == StatementKind::Read,
            "merge spec on a non-scatter decision {d:?}"
        );
    }
}

const TYPE_OIDS: [u32; 12] = [0, 20, 21, 23, 25, 705, 1043, 1700, 1005, 1007, 1016, 16];

fn check_bind_decode(body: &[u8]) {
    let Some(b) = bind::decode(body) else {
        tally("bind::decode: refused");
        return;
    };
    tally("bind::decode: decoded");
    assert!(is_within(body, b.portal) && is_within(body, b.statement));
    assert!(!b.portal.contains(&0) && !b.statement.contains(&0));
    assert_eq!(
        &body[..b.portal.len()],
        b.portal,
        "portal is not the first string"
    );
    assert_eq!(b.statement_at, b.portal.len() + 1, "statement offset");
    assert_eq!(
        body.get(b.statement_at..b.statement_at + b.statement.len()),
        Some(b.statement),
        "statement_at does not point at the statement"
    );
    // Fixed parts: two strings, three counts; then 4 bytes per parameter
    // plus its value and 2 per result format.
    let mut used = b.portal.len() + b.statement.len() + 2 + 6 + 2 * b.result_formats.len();
    for p in &b.params {
        used += 4;
        if let Some(v) = p.value {
            assert!(is_within(body, v), "parameter value outside the body");
            used += v.len();
        }
    }
    assert!(
        used <= body.len(),
        "Bind decoded to {used} bytes from a {}-byte body",
        body.len()
    );

    let (router, plans) = plans();
    let mut rng = Rng::from_bytes(body);
    let params: Vec<BindParam<'_>> = b
        .params
        .iter()
        .map(|p| BindParam {
            value: p.value,
            binary: p.binary,
            type_oid: *rng.pick(&TYPE_OIDS),
        })
        .collect();
    let hints = SessionHints::default();
    for plan in plans {
        match router.route_bind(plan, &params, &hints) {
            Ok(d) => {
                tally("route_bind: decision");
                check_decision(&d);
            }
            Err(e) => {
                tally("route_bind: error");
                let _ = (e.message(), e.hint(), e.to_string());
            }
        }
    }
}

#[test]
fn fuzz_bind_decoder() {
    let report = on_worker_stack(|| fuzz("bind", mutations(&[]), check_bind_decode));
    assert_clean(&report);
}
