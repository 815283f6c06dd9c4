//! A raw protocol client: writes exact bytes and reads back tagged
//! messages, for the tests that send what no driver would.

use bytes::{Buf, BufMut, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

/// A message read back: tag and body.
#[derive(Debug, Clone)]
pub struct Msg {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Msg {
    /// The SQLSTATE of an ErrorResponse.
    pub fn sqlstate(&self) -> Option<String> {
        self.field(b'C')
    }

    /// A field of an ErrorResponse / NoticeResponse.
    pub fn field(&self, code: u8) -> Option<String> {
        let mut rest = &self.body[..];
        while let Some((&f, tail)) = rest.split_first() {
            if f == 0 {
                return None;
            }
            let end = tail.iter().position(|&b| b == 0)?;
            if f == code {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }
}

pub fn startup_packet(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i32(196608);
    for (k, v) in params {
        body.put_slice(k.as_bytes());
        body.put_u8(0);
        body.put_slice(v.as_bytes());
        body.put_u8(0);
    }
    body.put_u8(0);
    let mut out = Vec::new();
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A tagged frame.
pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub fn query(sql: &str) -> Vec<u8> {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    frame(b'Q', &body)
}

pub fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    body.extend_from_slice(&0i16.to_be_bytes());
    frame(b'P', &body)
}

/// Bind with text parameters and text results.
pub fn bind(portal: &str, stmt: &str, params: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(portal.as_bytes());
    body.push(0);
    body.extend_from_slice(stmt.as_bytes());
    body.push(0);
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        body.extend_from_slice(&(p.len() as i32).to_be_bytes());
        body.extend_from_slice(p.as_bytes());
    }
    body.extend_from_slice(&0i16.to_be_bytes());
    frame(b'B', &body)
}

pub fn execute(portal: &str) -> Vec<u8> {
    let mut body = portal.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(&0i32.to_be_bytes());
    frame(b'E', &body)
}

pub fn close_statement(name: &str) -> Vec<u8> {
    let mut body = vec![b'S'];
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    frame(b'C', &body)
}

pub fn sync() -> Vec<u8> {
    frame(b'S', &[])
}

impl Raw {
    pub async fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Connects and logs in as the trust user; returns after ReadyForQuery.
    pub async fn login(port: u16) -> Raw {
        let mut raw = Raw::connect(port).await;
        raw.send(&startup_packet(&[
            ("user", "trustuser"),
            ("database", super::DB),
        ]))
        .await;
        let msgs = raw.until_ready().await;
        assert!(
            msgs.iter().any(|m| m.tag == b'R'),
            "no authentication reply: {msgs:?}"
        );
        raw
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Reads one message, or None when the connection closed (10 s bound).
    pub async fn recv(&mut self) -> Option<Msg> {
        tokio::time::timeout(Duration::from_secs(10), self.recv_inner())
            .await
            .expect("no reply from the proxy within 10 s")
    }

    async fn recv_inner(&mut self) -> Option<Msg> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() > len {
                    let tag = self.buf[0];
                    self.buf.advance(5);
                    let body = self.buf.split_to(len - 4).to_vec();
                    return Some(Msg { tag, body });
                }
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads messages up to and including ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            let done = m.tag == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
        panic!("connection closed before ReadyForQuery: {out:?}");
    }

    /// Reads until the proxy closes the connection; returns what came.
    pub async fn until_closed(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }
}
