//! SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL speaks it, server side:
//! verifiers (stored or derived from a plain password) and the two-step
//! exchange that checks a client's proof without learning its password.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Iterations used when deriving a verifier from a plain password
/// (PostgreSQL's default `scram_iterations`).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// What the server stores about a password: enough to check a proof.
#[derive(Clone, Debug)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &[&u]);
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

impl ScramVerifier {
    /// Derives a verifier from a plain password with a random salt.
    pub fn from_password(password: &str) -> Self {
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        Self::from_password_with(password, salt, DEFAULT_ITERATIONS)
    }

    /// Derives a verifier with the given salt and iteration count.
    pub fn from_password_with(password: &str, salt: Vec<u8>, iterations: u32) -> Self {
        let salted = salted_password(password.as_bytes(), &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let server_key = hmac(&salted, &[b"Server Key"]);
        ScramVerifier {
            iterations,
            salt,
            stored_key,
            server_key,
        }
    }

    /// A stand-in verifier for a user that does not exist: its salt is
    /// stable per user name (so repeated attempts look like a real user's)
    /// and it costs no key derivation. No proof ever matches it.
    pub fn mock(user: &str, secret: &[u8]) -> Self {
        let salt = hmac(secret, &[b"salt", user.as_bytes()])[..16].to_vec();
        ScramVerifier {
            iterations: DEFAULT_ITERATIONS,
            salt,
            stored_key: hmac(secret, &[b"stored", user.as_bytes()]),
            server_key: hmac(secret, &[b"server", user.as_bytes()]),
        }
    }

    /// Parses PostgreSQL's `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("not a SCRAM-SHA-256 verifier ({why})");
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or_else(|| bad("must start with SCRAM-SHA-256$"))?;
        let (params, keys) = rest.split_once('$').ok_or_else(|| bad("missing keys"))?;
        let (iter, salt) = params.split_once(':').ok_or_else(|| bad("missing salt"))?;
        let (stored, server) = keys
            .split_once(':')
            .ok_or_else(|| bad("missing server key"))?;
        let iterations: u32 = iter.parse().map_err(|_| bad("bad iteration count"))?;
        if iterations == 0 {
            return Err(bad("iteration count is 0"));
        }
        let salt = B64.decode(salt).map_err(|_| bad("salt is not base64"))?;
        let key = |s: &str| -> Result<[u8; 32], String> {
            B64.decode(s)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
                .ok_or_else(|| bad("keys must be 32 bytes of base64"))
        };
        Ok(ScramVerifier {
            iterations,
            salt,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }

    /// The verifier in PostgreSQL's text form.
    pub fn to_text(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

/// Why a SCRAM exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// The client's message is not valid SCRAM.
    Malformed(&'static str),
    /// The client asked for channel binding, which needs TLS.
    ChannelBindingUnsupported,
    /// The proof does not match: wrong password.
    WrongProof,
}

/// A client's SCRAM ClientKey with the verifier it belongs to: enough to
/// log in to a server that stores that same verifier, without the password.
#[derive(Clone)]
pub struct ClientKey {
    /// `HMAC(SaltedPassword, "Client Key")`.
    pub key: [u8; 32],
    /// The verifier (salt, iterations, stored and server keys).
    pub verifier: ScramVerifier,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKey(..)")
    }
}

impl ScramVerifier {
    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// PBKDF2 iterations.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// `H(ClientKey)`.
    pub fn stored_key(&self) -> &[u8; 32] {
        &self.stored_key
    }

    /// `HMAC(SaltedPassword, "Server Key")`.
    pub fn server_key(&self) -> &[u8; 32] {
        &self.server_key
    }
}

/// HMAC-SHA-256 of the concatenated `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac(key, parts)
}

/// The state between the server-first and client-final messages.
pub struct ScramExchange {
    verifier: ScramVerifier,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    gs2_header: String,
}

impl ScramExchange {
    /// Takes the client-first message; returns the exchange and the
    /// server-first message to send.
    pub fn start(
        verifier: ScramVerifier,
        client_first: &[u8],
    ) -> Result<(Self, String), ScramError> {
        let text =
            std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (gs2_header, bare) = match text.as_bytes().first() {
            Some(b'n') | Some(b'y') => {
                // gs2-header = cbind-flag "," [authzid] ","
                let first = text
                    .find(',')
                    .ok_or(ScramError::Malformed("no gs2 header"))?;
                let second = text[first + 1..]
                    .find(',')
                    .ok_or(ScramError::Malformed("no gs2 header"))?
                    + first
                    + 1;
                (&text[..=second], &text[second + 1..])
            }
            Some(b'p') => return Err(ScramError::ChannelBindingUnsupported),
            _ => return Err(ScramError::Malformed("bad gs2 header")),
        };
        let client_nonce = bare
            .split(',')
            .find_map(|attr| attr.strip_prefix("r="))
            .filter(|n| !n.is_empty())
            .ok_or(ScramError::Malformed("no client nonce"))?;
        let mut raw = [0u8; 18];
        rand::thread_rng().fill_bytes(&mut raw);
        let nonce = format!("{client_nonce}{}", B64.encode(raw));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        let exchange = ScramExchange {
            verifier,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
            gs2_header: gs2_header.to_string(),
        };
        Ok((exchange, server_first))
    }

    /// Checks the client-final message; returns the server-final message
    /// and the client's ClientKey (recovered from its proof, which SCRAM
    /// passthrough uses to log in to servers that store the same verifier).
    pub fn finish(self, client_final: &[u8]) -> Result<(String, ClientKey), ScramError> {
        let text =
            std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let proof_at = text.rfind(",p=").ok_or(ScramError::Malformed("no proof"))?;
        let without_proof = &text[..proof_at];
        let proof = B64
            .decode(&text[proof_at + 3..])
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        let mut channel = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(c) = attr.strip_prefix("c=") {
                channel = Some(c);
            } else if let Some(r) = attr.strip_prefix("r=") {
                nonce = Some(r);
            }
        }
        if channel != Some(B64.encode(self.gs2_header.as_bytes()).as_str()) {
            return Err(ScramError::Malformed("channel binding data does not match"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&self.verifier.stored_key, &[auth_message.as_bytes()]);
        if proof.len() != 32 {
            return Err(ScramError::WrongProof);
        }
        let mut client_key = [0u8; 32];
        for i in 0..32 {
            client_key[i] = proof[i] ^ signature[i];
        }
        let computed: [u8; 32] = Sha256::digest(client_key).into();
        if !super::constant_time::equal(&computed, &self.verifier.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&self.verifier.server_key, &[auth_message.as_bytes()]);
        Ok((
            format!("v={}", B64.encode(server_signature)),
            ClientKey {
                key: client_key,
                verifier: self.verifier,
            },
        ))
    }
}

#[cfg(test)]
mod tests;
