//! SCRAM passthrough: logging in to a server as a user whose password
//! shardwire does not know. When a user's `scram_verifier` is the one the
//! server stores (copied from `pg_authid`), the ClientKey recovered from a
//! client's successful proof (see [`ClientKey`]) answers the server's
//! SCRAM challenge just as the password would. The keys are learned at the
//! first SCRAM login of that user and kept in memory only.

use super::scram::{hmac_sha256, ClientKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use std::sync::Mutex;

/// The ClientKey of a user, once a client has proven it.
#[derive(Default)]
pub struct LearnedKey {
    key: Mutex<Option<ClientKey>>,
}

impl LearnedKey {
    /// Records `key` (the latest proof wins).
    pub fn learn(&self, key: ClientKey) {
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }

    /// The key, if learned.
    pub fn get(&self) -> Option<ClientKey> {
        self.key.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::fmt::Debug for LearnedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LearnedKey(..)")
    }
}

/// A SCRAM-SHA-256 client that proves itself with a ClientKey.
pub struct KeyedScram {
    key: ClientKey,
    client_first_bare: String,
    nonce: String,
    auth_message: Option<String>,
}

impl KeyedScram {
    /// Starts the exchange; returns the client-first message.
    pub fn start(key: ClientKey) -> (KeyedScram, String) {
        let mut raw = [0u8; 18];
        rand::thread_rng().fill_bytes(&mut raw);
        let nonce = B64.encode(raw);
        let client_first_bare = format!("n=,r={nonce}");
        let message = format!("n,,{client_first_bare}");
        (
            KeyedScram {
                key,
                client_first_bare,
                nonce,
                auth_message: None,
            },
            message,
        )
    }

    /// Takes the server-first message; returns the client-final message.
    /// Fails when the server's salt or iterations differ from the
    /// verifier's (the server stores another verifier).
    pub fn respond(&mut self, server_first: &[u8]) -> Result<String, String> {
        let text = std::str::from_utf8(server_first).map_err(|_| "server-first is not UTF-8")?;
        let attr = |name: &str| {
            text.split(',')
                .find_map(|a| a.strip_prefix(name))
                .map(str::to_owned)
        };
        let nonce = attr("r=").ok_or("server-first has no nonce")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("the server's nonce does not extend ours".into());
        }
        let salt = B64
            .decode(attr("s=").ok_or("server-first has no salt")?)
            .map_err(|_| "the server's salt is not base64")?;
        let iterations: u32 = attr("i=")
            .and_then(|i| i.parse().ok())
            .ok_or("server-first has no iteration count")?;
        let verifier = &self.key.verifier;
        if salt != verifier.salt() || iterations != verifier.iterations() {
            return Err("the server stores a different SCRAM verifier (salt or iterations differ): copy scram_verifier from the server's pg_authid, or set server_password".into());
        }
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let signature = hmac_sha256(verifier.stored_key(), &[auth_message.as_bytes()]);
        let proof: Vec<u8> = self
            .key
            .key
            .iter()
            .zip(signature.iter())
            .map(|(k, s)| k ^ s)
            .collect();
        self.auth_message = Some(auth_message);
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message (the server knows the verifier too).
    pub fn finish(self, server_final: &[u8]) -> Result<(), String> {
        let auth_message = self
            .auth_message
            .ok_or("server-final before server-first")?;
        let text = std::str::from_utf8(server_final).map_err(|_| "server-final is not UTF-8")?;
        let given = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v.trim_end_matches('\0')).ok())
            .ok_or("server-final has no signature")?;
        let expected = hmac_sha256(self.key.verifier.server_key(), &[auth_message.as_bytes()]);
        if super::constant_time::equal(&given, &expected) {
            Ok(())
        } else {
            Err("the server's signature does not match: not the expected server".into())
        }
    }
}

#[cfg(test)]
mod tests;
