//! Deterministic, bounded fuzz harnesses for SCRAM-SHA-256 message parsing,
//! run by `cargo test` on the corpus in `fuzz-corpus/` plus seeded mutants
//! of it (see `fuzz-corpus/harness.rs` for the driver and the
//! `SHARDWIRE_FUZZ_*` knobs).
//!
//! - `scram_verifier`: stored verifiers through `auth::scram::ScramVerifier::parse`
//!   (and `to_text` round trips).
//! - `scram_client_first`: client-first messages through
//!   `ScramExchange::start`; every message it accepts must then
//!   authenticate with a correct client-final.
//! - `scram_client_final`: client-final messages through
//!   `ScramExchange::finish`. Seeds are templates: `{cbind}`, `{nonce}`,
//!   `{proof}` and `{badproof}` are filled in after `start` with this
//!   exchange's channel binding, nonce and a proof computed here with the
//!   right (or a wrong) password, so mutants reach the proof check.
//! - `sasl_exchange`: the whole client login of `auth::client::authenticate`
//!   over an in-memory stream: the SASLInitialResponse frame (mechanism,
//!   data length, client-first), then, after a `\n--8<--\n` marker, the
//!   SASLResponse template filled in as above (its length field is fixed up
//!   only when it matched the template).
//!
//! Properties checked besides "never panics": no exchange succeeds without
//! a proof computed from the password, or for an unknown user; a success
//! returns the right server signature; the server-first message carries the
//! client's nonce and the verifier's salt and iterations; everything the
//! server writes is well-framed.

#[path = "../../fuzz-corpus/harness.rs"]
mod harness;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::BytesMut;
use futures_util::FutureExt;
use harness::{assert_clean, fuzz, load_corpus, on_worker_stack, tally, Mutations, Rng};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shardwire::auth::client::{authenticate, AuthFailure, Credentials};
use shardwire::auth::scram::{ScramError, ScramExchange, ScramVerifier};
use shardwire::config::AuthMethod;
use shardwire::protocol::frame::{peek_header, HEADER_LEN};
use shardwire::protocol::reader::BodyReader;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PASSWORD: &str = "pencil";
const WRONG_PASSWORD: &str = "pencil!";
const SALT: &[u8] = b"shardwire-fuzz-salt";
const ITERATIONS: u32 = 4096;
const MOCK_SECRET: &[u8] = b"shardwire-fuzz-mock-secret";
/// Separates the SASLInitialResponse from the SASLResponse in
/// `sasl_exchange` inputs.
const SPLIT: &[u8] = b"\n--8<--\n";

const SCRAM_DICTIONARY: &[&[u8]] = &[
    b",",
    b",,",
    b"=",
    b"n,,",
    b"y,,",
    b"p=tls-server-end-point,",
    b"n=",
    b"r=",
    b"c=",
    b"p=",
    b",p=",
    b"a=",
    b"m=",
    b"{nonce}",
    b"{proof}",
    b"{badproof}",
    b"{cbind}",
    b"biws",
    b"SCRAM-SHA-256$",
    b"$",
    b":",
    b"4096",
    b"4294967295",
    b"4294967296",
    b"0",
    b"==",
    b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    b"\0",
    b"\xc3\xbc",
    b"\xff",
    b"SCRAM-SHA-256\0",
    b"\n--8<--\n",
];

fn mutations(length_offsets: &'static [usize]) -> Mutations<'static> {
    Mutations {
        dictionary: SCRAM_DICTIONARY,
        length_offsets,
        max_len: 8 * 1024,
    }
}

// ------------------------------------------------------- client-side SCRAM

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The keys a client derives from a password (RFC 5802, section 3).
struct Keys {
    client_key: [u8; 32],
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl Keys {
    fn derive(password: &str) -> Keys {
        let mut u = hmac(password.as_bytes(), &[SALT, &1u32.to_be_bytes()]);
        let mut salted = u;
        for _ in 1..ITERATIONS {
            u = hmac(password.as_bytes(), &[&u]);
            for (s, x) in salted.iter_mut().zip(u) {
                *s ^= x;
            }
        }
        let client_key = hmac(&salted, &[b"Client Key"]);
        Keys {
            client_key,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, &[b"Server Key"]),
        }
    }

    fn proof(&self, auth_message: &[u8]) -> String {
        let signature = hmac(&self.stored_key, &[auth_message]);
        let proof: Vec<u8> = self
            .client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        B64.encode(proof)
    }

    fn server_final(&self, auth_message: &[u8]) -> String {
        format!("v={}", B64.encode(hmac(&self.server_key, &[auth_message])))
    }
}

struct Fixture {
    verifier: ScramVerifier,
    good: Keys,
    bad: Keys,
}

impl Fixture {
    fn new() -> Fixture {
        let verifier = ScramVerifier::from_password_with(PASSWORD, SALT.to_vec(), ITERATIONS);
        let good = Keys::derive(PASSWORD);
        let expected = format!(
            "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
            B64.encode(SALT),
            B64.encode(good.stored_key),
            B64.encode(good.server_key)
        );
        assert_eq!(
            verifier.to_text(),
            expected,
            "the harness derives keys differently from the proxy"
        );
        Fixture {
            verifier,
            good,
            bad: Keys::derive(WRONG_PASSWORD),
        }
    }

    fn mock() -> ScramVerifier {
        ScramVerifier::mock("nobody", MOCK_SECRET)
    }
}

/// What an exchange has established when the client-final is written.
struct Exchange {
    gs2_header: Vec<u8>,
    client_first_bare: Vec<u8>,
    server_first: String,
    nonce: String,
}

/// Splits a client-first message like the server: gs2 header up to the
/// second comma, then the bare message.
fn split_client_first(first: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let one = first.iter().position(|&b| b == b',')?;
    let two = one + 1 + first[one + 1..].iter().position(|&b| b == b',')?;
    Some((first[..=two].to_vec(), first[two + 1..].to_vec()))
}

fn client_nonce(bare: &[u8]) -> Option<&[u8]> {
    bare.split(|&b| b == b',')
        .find_map(|attr| attr.strip_prefix(b"r="))
        .filter(|n| !n.is_empty())
}

/// Checks a server-first message and reads its nonce.
fn read_server_first(server_first: &str, bare: &[u8], verifier: Option<&str>) -> String {
    let mut attrs = server_first.split(',');
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .unwrap_or_else(|| panic!("server-first {server_first:?} does not start with r="));
    let salt = attrs.next().and_then(|a| a.strip_prefix("s="));
    let iterations = attrs.next().and_then(|a| a.strip_prefix("i="));
    assert!(
        attrs.next().is_none() && salt.is_some() && iterations.is_some(),
        "server-first {server_first:?} is not r=…,s=…,i=…"
    );
    if let Some(expected) = verifier {
        assert_eq!(
            format!("s={},i={}", salt.unwrap_or(""), iterations.unwrap_or("")),
            expected,
            "server-first advertises another salt or iteration count"
        );
    }
    let client = client_nonce(bare).expect("start accepted a message without a nonce");
    assert!(
        nonce.as_bytes().starts_with(client) && nonce.len() > client.len(),
        "server nonce {nonce:?} does not extend the client's"
    );
    nonce.to_string()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A client-final template filled in for one exchange.
struct Filled {
    text: Vec<u8>,
    /// A proof computed with the right password was put in.
    good_proof: bool,
}

fn auth_message(ex: &Exchange, without_proof: &[u8]) -> Vec<u8> {
    [
        &ex.client_first_bare[..],
        b",",
        ex.server_first.as_bytes(),
        b",",
        without_proof,
    ]
    .concat()
}

/// Fills the placeholders of `template` in one pass (so a nonce or proof
/// that happens to contain a placeholder's text is left alone); a proof
/// signs everything written before it.
fn fill(template: &[u8], ex: &Exchange, fx: &Fixture) -> Filled {
    let mut text = Vec::with_capacity(template.len() + 128);
    let mut good_proof = false;
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix(b"{cbind}") {
            text.extend_from_slice(B64.encode(&ex.gs2_header).as_bytes());
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix(b"{nonce}") {
            text.extend_from_slice(ex.nonce.as_bytes());
            rest = tail;
        } else if let Some((tail, keys, good)) = rest
            .strip_prefix(b"{proof}")
            .map(|t| (t, &fx.good, true))
            .or_else(|| {
                rest.strip_prefix(b"{badproof}")
                    .map(|t| (t, &fx.bad, false))
            })
        {
            let without = text.strip_suffix(b",p=").unwrap_or(&text);
            let proof = keys.proof(&auth_message(ex, without));
            text.extend_from_slice(proof.as_bytes());
            good_proof |= good;
            rest = tail;
        } else {
            text.push(rest[0]);
            rest = &rest[1..];
        }
    }
    Filled { text, good_proof }
}

/// The server-final a successful finish must return for `client_final`.
fn expected_server_final(ex: &Exchange, client_final: &[u8], keys: &Keys) -> String {
    let without = client_final
        .windows(3)
        .rposition(|w| w == b",p=")
        .map_or(client_final, |at| &client_final[..at]);
    keys.server_final(&auth_message(ex, without))
}

/// Starts an exchange with a client-first the server accepted.
fn begin(
    verifier: &ScramVerifier,
    first: &[u8],
    advertised: Option<&str>,
) -> Option<(ScramExchange, Exchange)> {
    let (exchange, server_first) = ScramExchange::start(verifier.clone(), first).ok()?;
    let (gs2_header, client_first_bare) =
        split_client_first(first).expect("start accepted a message without a gs2 header");
    let nonce = read_server_first(&server_first, &client_first_bare, advertised);
    Some((
        exchange,
        Exchange {
            gs2_header,
            client_first_bare,
            server_first,
            nonce,
        },
    ))
}

fn advertised() -> String {
    format!("s={},i={ITERATIONS}", B64.encode(SALT))
}

// ------------------------------------------------------------- verifier

fn check_verifier(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    match ScramVerifier::parse(&text) {
        Ok(v) => {
            tally("parse: verifier");
            assert!(text.starts_with("SCRAM-SHA-256$"));
            let t = v.to_text();
            let again = ScramVerifier::parse(&t)
                .unwrap_or_else(|e| panic!("to_text output {t:?} does not parse: {e}"));
            assert_eq!(again.to_text(), t, "to_text is not stable");
            // The verifier is usable: an exchange starts and advertises it.
            let iterations = t
                .strip_prefix("SCRAM-SHA-256$")
                .and_then(|r| r.split(':').next())
                .unwrap_or("");
            let (_, server_first) = ScramExchange::start(v, b"n,,n=,r=abc")
                .unwrap_or_else(|e| panic!("a parsed verifier cannot start an exchange: {e:?}"));
            assert!(
                server_first.ends_with(&format!(",i={iterations}")),
                "{server_first:?} does not advertise {iterations} iterations"
            );
        }
        Err(why) => {
            tally("parse: refused");
            assert!(why.starts_with("not a SCRAM-SHA-256 verifier"), "{why}");
        }
    }
}

#[test]
fn fuzz_scram_verifier() {
    let report = on_worker_stack(|| fuzz("scram_verifier", mutations(&[]), check_verifier));
    assert_clean(&report);
}

// ------------------------------------------------------------- client-first

#[test]
fn fuzz_scram_client_first() {
    let report = on_worker_stack(|| {
        let fx = Fixture::new();
        let advertised = advertised();
        fuzz("scram_client_first", mutations(&[]), |input| {
            match ScramExchange::start(fx.verifier.clone(), input) {
                Ok(_) => {
                    tally("start: accepted, then authenticated");
                    assert!(
                        matches!(input.first(), Some(b'n' | b'y')),
                        "bad gs2 flag accepted"
                    );
                    // Any accepted client-first must authenticate with the
                    // right client-final.
                    let (exchange, ex) = begin(&fx.verifier, input, Some(&advertised))
                        .expect("start accepted the message a second time");
                    let filled = fill(b"c={cbind},r={nonce},p={proof}", &ex, &fx);
                    let expected = expected_server_final(&ex, &filled.text, &fx.good);
                    match exchange.finish(&filled.text) {
                        Ok((server_final, key)) => {
                            assert_eq!(server_final, expected, "wrong server signature");
                            assert_eq!(key.key, fx.good.client_key, "wrong ClientKey");
                        }
                        Err(e) => {
                            panic!("a correct client-final failed after this client-first: {e:?}")
                        }
                    }
                }
                Err(ScramError::ChannelBindingUnsupported) => {
                    tally("start: channel binding refused");
                    assert_eq!(input.first(), Some(&b'p'));
                }
                Err(ScramError::Malformed(why)) => tally(why),
                Err(ScramError::WrongProof) => panic!("start checked a proof"),
            }
        })
    });
    assert_clean(&report);
}

// ------------------------------------------------------------- client-final

const CLIENT_FIRSTS: [&[u8]; 4] = [
    b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
    b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    b"y,,n=,r=3rfcNHYJY1ZVvWVs7j",
    b"n,a=admin,n=user,r=abcdef",
];

fn check_final(
    fx: &Fixture,
    advertised: &str,
    first: &[u8],
    mock: bool,
    template: &[u8],
) -> Result<String, ScramError> {
    let verifier = if mock {
        Fixture::mock()
    } else {
        fx.verifier.clone()
    };
    let (exchange, ex) = begin(&verifier, first, (!mock).then_some(advertised))
        .expect("a fixed client-first was refused");
    let filled = fill(template, &ex, fx);
    let result = exchange.finish(&filled.text);
    tally(match &result {
        Ok(_) => "finish: authenticated",
        Err(ScramError::WrongProof) => "finish: wrong proof",
        Err(ScramError::ChannelBindingUnsupported) => "finish: channel binding",
        Err(ScramError::Malformed(why)) => why,
    });
    if let Ok((server_final, key)) = &result {
        assert!(!mock, "an unknown user's mock verifier accepted a proof");
        assert!(
            filled.good_proof,
            "accepted a client-final without the right proof"
        );
        assert_eq!(
            server_final,
            &expected_server_final(&ex, &filled.text, &fx.good),
            "wrong server signature"
        );
        assert_eq!(
            key.key, fx.good.client_key,
            "wrong ClientKey recovered from the proof"
        );
    }
    result.map(|(server_final, _)| server_final)
}

#[test]
fn fuzz_scram_client_final() {
    let report = on_worker_stack(|| {
        let fx = Fixture::new();
        let advertised = advertised();
        // The harness itself works: valid templates authenticate, a wrong
        // password does not.
        for seed in load_corpus("scram_client_final") {
            for first in CLIENT_FIRSTS {
                let result = check_final(&fx, &advertised, first, false, &seed.data);
                if seed.name.starts_with("ok-") {
                    assert!(result.is_ok(), "{}: {result:?}", seed.name);
                }
                if seed.name == "wrong-password.txt" {
                    assert_eq!(result, Err(ScramError::WrongProof), "{}", seed.name);
                }
            }
        }
        let mut n = 0usize;
        fuzz("scram_client_final", mutations(&[]), |input| {
            n += 1;
            let first = CLIENT_FIRSTS[n % CLIENT_FIRSTS.len()];
            let _ = check_final(&fx, &advertised, first, n % 4 == 3, input);
        })
    });
    assert_clean(&report);
}

// ------------------------------------------------------------- SASL login

/// The client side of a login, scripted: serves the SASLInitialResponse,
/// then the SASLResponse template filled in from what the server wrote.
struct Script<'a> {
    first: &'a [u8],
    first_at: usize,
    second_template: Option<&'a [u8]>,
    second: Option<Vec<u8>>,
    second_at: usize,
    written: Vec<u8>,
    good_proof: bool,
    fixture: &'a Fixture,
    rng: Rng,
}

impl Script<'_> {
    /// The client-first inside the SASLInitialResponse frame, if readable.
    fn client_first(&self) -> Option<&[u8]> {
        let header = peek_header(self.first, usize::MAX).ok()??;
        let body = self.first.get(HEADER_LEN..header.frame_len)?;
        let mut r = BodyReader::new(body);
        r.cstr()?;
        let len = usize::try_from(r.i32()?).ok()?;
        r.bytes(len)
    }

    /// The data of the AuthenticationSASLContinue the server wrote.
    fn server_first(&self) -> Option<String> {
        let mut rest = &self.written[..];
        while let Ok(Some(h)) = peek_header(rest, usize::MAX) {
            let frame = rest.get(..h.frame_len)?;
            let mut r = BodyReader::new(&frame[HEADER_LEN..]);
            if h.tag == b'R' && r.i32() == Some(11) {
                return String::from_utf8(r.rest().to_vec()).ok();
            }
            rest = &rest[h.frame_len..];
        }
        None
    }

    fn prepare_second(&mut self) -> Vec<u8> {
        let Some(template) = self.second_template else {
            return Vec::new();
        };
        let exchange = self.client_first().and_then(|first| {
            let (gs2_header, client_first_bare) = split_client_first(first)?;
            let server_first = self.server_first()?;
            let nonce = server_first
                .split(',')
                .next()?
                .strip_prefix("r=")?
                .to_string();
            Some(Exchange {
                gs2_header,
                client_first_bare,
                server_first,
                nonce,
            })
        });
        let Some(ex) = exchange else {
            return template.to_vec();
        };
        // Fix the frame length up only where it matched the template.
        let framed = template.len() >= HEADER_LEN
            && u32::from_be_bytes([template[1], template[2], template[3], template[4]]) as usize
                == template.len() - 1;
        if framed {
            let filled = fill(&template[HEADER_LEN..], &ex, self.fixture);
            self.good_proof = filled.good_proof;
            let mut out = vec![template[0]];
            out.extend_from_slice(&((filled.text.len() + 4) as u32).to_be_bytes());
            out.extend_from_slice(&filled.text);
            out
        } else {
            let filled = fill(template, &ex, self.fixture);
            self.good_proof = filled.good_proof;
            filled.text
        }
    }
}

impl AsyncRead for Script<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let chunk = 1 + this.rng.below(48);
        if this.first_at < this.first.len() {
            let n = chunk
                .min(this.first.len() - this.first_at)
                .min(buf.remaining());
            buf.put_slice(&this.first[this.first_at..this.first_at + n]);
            this.first_at += n;
        } else {
            if this.second.is_none() {
                let second = this.prepare_second();
                this.second = Some(second);
            }
            let second = this.second.as_deref().unwrap_or(&[]);
            let n = chunk
                .min(second.len() - this.second_at)
                .min(buf.remaining());
            buf.put_slice(&second[this.second_at..this.second_at + n]);
            this.second_at += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The frames the server wrote: all complete and all authentication
/// requests; returns the last one's code.
fn written_codes(written: &[u8]) -> Vec<i32> {
    let mut codes = Vec::new();
    let mut rest = written;
    while !rest.is_empty() {
        let h = peek_header(rest, usize::MAX)
            .expect("the server wrote a bad frame header")
            .expect("the server wrote a partial header");
        let frame = rest
            .get(..h.frame_len)
            .expect("the server wrote a partial frame");
        assert_eq!(h.tag, b'R', "the server wrote a non-authentication message");
        let code = BodyReader::new(&frame[HEADER_LEN..])
            .i32()
            .expect("authentication request without a code");
        codes.push(code);
        rest = &rest[h.frame_len..];
    }
    codes
}

/// Runs a login of `input` as a known user (`known`) or an unknown one.
fn login(fx: &Fixture, credentials: &Credentials, input: &[u8], known: bool) -> Result<(), String> {
    let (first, second) = match find(input, SPLIT) {
        Some(at) => (&input[..at], Some(&input[at + SPLIT.len()..])),
        None => (input, None),
    };
    let mut script = Script {
        first,
        first_at: 0,
        second_template: second,
        second: None,
        second_at: 0,
        written: Vec::new(),
        good_proof: false,
        fixture: fx,
        rng: Rng::from_bytes(input),
    };
    let mut buf = BytesMut::new();
    let result = authenticate(
        &mut script,
        &mut buf,
        "alice",
        known.then_some(credentials),
        MOCK_SECRET,
    )
    .now_or_never()
    .expect("authenticate blocked on a stream that never blocks");
    let codes = written_codes(&script.written);
    match result {
        Ok(key) => {
            tally("login: authenticated");
            assert!(known, "an unknown user logged in");
            let key = key.expect("a SCRAM login returned no ClientKey");
            assert_eq!(key.key, fx.good.client_key, "wrong ClientKey recovered");
            assert!(script.good_proof, "logged in without the right proof");
            assert_eq!(codes.last(), Some(&0), "success without AuthenticationOk");
            assert_eq!(codes, [10, 11, 12, 0], "unexpected login sequence");
            Ok(())
        }
        Err(AuthFailure::Refused(e)) => {
            tally(if script.second.is_some() {
                "login: refused after the SASLResponse"
            } else {
                "login: refused before the SASLResponse"
            });
            assert!(
                !codes.contains(&0),
                "AuthenticationOk written for a refused login"
            );
            let mut out = BytesMut::new();
            e.encode(&mut out);
            let h = peek_header(&out, usize::MAX)
                .expect("ErrorResponse header")
                .expect("ErrorResponse header complete");
            assert_eq!(h.frame_len, out.len(), "ErrorResponse framing");
            Err(e.to_string())
        }
        Err(AuthFailure::Wire(e)) => {
            tally("login: wire error (closed or bad frame)");
            assert!(
                !codes.contains(&0),
                "AuthenticationOk written for a failed login"
            );
            Err(e.to_string())
        }
    }
}

#[test]
fn fuzz_sasl_exchange() {
    let report = on_worker_stack(|| {
        let fx = Fixture::new();
        let credentials = Credentials {
            method: AuthMethod::ScramSha256,
            scram: Some(fx.verifier.clone()),
            plain: Some(PASSWORD.to_string()),
        };
        for seed in load_corpus("sasl_exchange") {
            let result = login(&fx, &credentials, &seed.data, true);
            if seed.name.starts_with("ok-") {
                assert_eq!(result, Ok(()), "{}", seed.name);
            } else if !seed.name.starts_with("regressions/") {
                assert!(result.is_err(), "{} logged in", seed.name);
            }
        }
        let mut n = 0usize;
        fuzz("sasl_exchange", mutations(&[1]), |input| {
            n += 1;
            // Every third login is for a user that does not exist.
            let _ = login(&fx, &credentials, input, matches!(n % 3, 1 | 2));
        })
    });
    assert_clean(&report);
}
