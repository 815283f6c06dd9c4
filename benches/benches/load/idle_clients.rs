//! Idle clients for the memory comparison: thousands of raw protocol-3.0
//! logins (StartupMessage, trust authentication, read to ReadyForQuery) that
//! then stay open and silent, and what they cost a pooler in resident memory.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::procstat;

/// Logins in flight at once.
const CONCURRENCY: usize = 200;
/// Time one login may take (connect to ReadyForQuery).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the pooler gets to settle before its RSS is read again.
const SETTLE: Duration = Duration::from_secs(2);

/// A pooler's resident memory before and after the idle clients logged in.
#[derive(Clone, Debug)]
pub struct MemoryUse {
    pub requested: usize,
    pub opened: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// The first few login failures, if any.
    pub errors: Vec<String>,
    pub failed: usize,
    /// Time from the first connect to the last completed login.
    pub accept_time: Duration,
}

impl MemoryUse {
    /// Growth per opened client, in KiB.
    pub fn per_client_kib(&self) -> Option<f64> {
        (self.opened > 0).then(|| {
            self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64 / self.opened as f64
        })
    }
}

/// Reads the RSS of `pid`, logs `count` idle clients in to 127.0.0.1:`port`
/// as `user`, reads the RSS again, then closes them all.
pub async fn measure(
    pid: u32,
    port: u16,
    user: &str,
    database: &str,
    count: usize,
) -> anyhow::Result<MemoryUse> {
    let rss_before_kib = procstat::rss_kib(pid)?;
    let started = std::time::Instant::now();
    let (clients, failures) = open(port, user, database, count).await;
    let accept_time = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss_after_kib = procstat::rss_kib(pid)?;
    let opened = clients.len();
    drop(clients);
    // Let the pooler notice the closes before anything else is measured.
    tokio::time::sleep(SETTLE).await;
    Ok(MemoryUse {
        requested: count,
        opened,
        rss_before_kib,
        rss_after_kib,
        failed: failures.len(),
        errors: failures.into_iter().take(3).collect(),
        accept_time,
    })
}

/// Opens `count` logged-in idle connections, `CONCURRENCY` at a time.
/// Returns the open ones and the errors of the others.
async fn open(
    port: u16,
    user: &str,
    database: &str,
    count: usize,
) -> (Vec<TcpStream>, Vec<String>) {
    let startup = Arc::new(startup_message(user, database));
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let startup = startup.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.context("semaphore closed")?;
            tokio::time::timeout(LOGIN_TIMEOUT, login(port, &startup))
                .await
                .with_context(|| format!("login did not finish within {LOGIN_TIMEOUT:?}"))?
        });
    }
    let mut open = Vec::with_capacity(count);
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(stream)) => open.push(stream),
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(e) => errors.push(format!("login task failed: {e}")),
        }
    }
    (open, errors)
}

/// Connects, sends `startup`, and reads until ReadyForQuery. Only trust
/// authentication (AuthenticationOk) is expected.
async fn login(port: u16, startup: &[u8]) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .context("connecting")?;
    stream
        .write_all(startup)
        .await
        .context("sending the startup message")?;
    let mut body = Vec::new();
    loop {
        let tag = stream.read_u8().await.context("reading a message tag")?;
        let len = stream
            .read_u32()
            .await
            .context("reading a message length")?;
        let body_len = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_sub(4))
            .filter(|l| *l <= 1 << 20)
            .with_context(|| format!("message {:?} has bad length {len}", tag as char))?;
        body.resize(body_len, 0);
        stream
            .read_exact(&mut body)
            .await
            .context("reading a message body")?;
        match tag {
            b'R' => {
                let code = body
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if code != Some(0) {
                    bail!("asked to authenticate ({code:?}); expected trust");
                }
            }
            b'E' => bail!("login refused: {}", error_text(&body)),
            b'Z' => return Ok(stream),
            // ParameterStatus, BackendKeyData, NoticeResponse.
            _ => {}
        }
    }
}

/// A protocol 3.0 StartupMessage.
fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (key, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// The SQLSTATE and message fields of an ErrorResponse body.
fn error_text(body: &[u8]) -> String {
    body.split(|b| *b == 0)
        .filter_map(|field| match field.split_first() {
            Some((b'C' | b'M', text)) => Some(String::from_utf8_lossy(text).into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(": ")
}
