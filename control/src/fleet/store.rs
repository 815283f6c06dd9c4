//! The fleet's one door to etcd: a client connected on demand, every
//! request bounded by the request timeout, keys under the cluster's
//! prefix, and counters of requests, errors and round-trip time (for
//! `/metrics` and for knowing when etcd was last heard from).

use crate::settings::CoordinationSettings;
use etcd_client::{Client, ConnectOptions, GetOptions, KeyValue, PutOptions, Txn, TxnResponse};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters of this instance's etcd traffic.
#[derive(Default)]
pub struct StoreStats {
    /// Requests sent.
    pub requests: AtomicU64,
    /// Requests that failed or timed out.
    pub errors: AtomicU64,
    /// Sum of round-trip times of answered requests, in microseconds.
    pub latency_us: AtomicU64,
}

/// A bounded, counted etcd client for one cluster prefix.
pub struct Store {
    settings: CoordinationSettings,
    client: tokio::sync::Mutex<Option<Client>>,
    last_ok: Mutex<Option<Instant>>,
    /// Request counters.
    pub stats: StoreStats,
}

impl Store {
    /// Not connected until first used.
    pub fn new(settings: CoordinationSettings) -> Store {
        Store {
            settings,
            client: tokio::sync::Mutex::new(None),
            last_ok: Mutex::new(None),
            stats: StoreStats::default(),
        }
    }

    /// The full key of `suffix` under the cluster's prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.settings.prefix())
    }

    /// When etcd last answered a request of this instance.
    pub fn last_ok(&self) -> Option<Instant> {
        *self.last_ok.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that etcd answered (a keep-alive or watch response).
    pub fn heard(&self) {
        *self.last_ok.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn options(&self) -> Result<ConnectOptions, String> {
        let timeout = self.settings.request_timeout();
        let mut options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout)
            .with_keep_alive(Duration::from_secs(1), timeout);
        if let Some((user, password)) = &self.settings.credentials {
            options = options.with_user(user.clone(), password.clone());
        }
        if self.settings.ca_pem.is_some() || self.settings.identity_pem.is_some() {
            let mut tls = etcd_client::TlsOptions::new();
            if let Some(ca) = &self.settings.ca_pem {
                tls = tls.ca_certificate(etcd_client::Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &self.settings.identity_pem {
                tls = tls.identity(etcd_client::Identity::from_pem(cert, key));
            }
            options = options.with_tls(tls);
        }
        Ok(options)
    }

    /// A connected client (connecting first if needed).
    pub async fn client(&self) -> Result<Client, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let timeout = self.settings.request_timeout() * 2;
        let connect = Client::connect(&self.settings.endpoints, Some(self.options()?));
        let client = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("cannot connect to etcd: {e}")),
            Err(_) => return Err(format!("cannot connect to etcd within {timeout:?}")),
        };
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Runs one request, bounded and counted.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let started = Instant::now();
        match tokio::time::timeout(self.settings.request_timeout(), f(client)).await {
            Ok(Ok(v)) => {
                self.stats
                    .latency_us
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                self.heard();
                Ok(v)
            }
            Ok(Err(e)) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(format!("etcd: {e}"))
            }
            Err(_) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(format!(
                    "etcd did not answer within {:?}",
                    self.settings.request_timeout()
                ))
            }
        }
    }

    /// Every key under `suffix` (a prefix), with the store's revision.
    pub async fn list(&self, suffix: &str) -> Result<(Vec<KeyValue>, i64), String> {
        let key = self.key(suffix);
        let mut resp = self
            .call(|mut c| async move { c.get(key, Some(GetOptions::new().with_prefix())).await })
            .await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        Ok((resp.take_kvs(), revision))
    }

    /// One key, if present.
    pub async fn get(&self, suffix: &str) -> Result<Option<KeyValue>, String> {
        let key = self.key(suffix);
        let mut resp = self
            .call(|mut c| async move { c.get(key, None).await })
            .await?;
        Ok(resp.take_kvs().into_iter().next())
    }

    /// Writes `value` at `suffix`, attached to `lease` if given.
    pub async fn put(
        &self,
        suffix: &str,
        value: Vec<u8>,
        lease: Option<i64>,
    ) -> Result<(), String> {
        let key = self.key(suffix);
        let options = lease.map(|l| PutOptions::new().with_lease(l));
        self.call(|mut c| async move { c.put(key, value, options).await })
            .await
            .map(|_| ())
    }

    /// Runs a transaction.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse, String> {
        self.call(|mut c| async move { c.txn(txn).await }).await
    }

    /// Grants a lease of the configured TTL; returns its id.
    pub async fn grant(&self) -> Result<i64, String> {
        let ttl = self.settings.lease_ttl.as_secs().max(1) as i64;
        let resp = self
            .call(|mut c| async move { c.lease_grant(ttl, None).await })
            .await?;
        Ok(resp.id())
    }

    /// Revokes a lease (its keys go at once).
    pub async fn revoke(&self, lease: i64) -> Result<(), String> {
        self.call(|mut c| async move { c.lease_revoke(lease).await })
            .await
            .map(|_| ())
    }
}

impl Store {
    /// Renews `lease` once; returns its remaining TTL in seconds (0: the
    /// lease is gone).
    pub async fn keep_alive(&self, lease: i64) -> Result<i64, String> {
        self.call(|mut c| async move {
            let (mut keeper, mut stream) = c.lease_keep_alive(lease).await?;
            keeper.keep_alive().await?;
            Ok(stream.message().await?.map_or(0, |r| r.ttl()))
        })
        .await
    }
}
