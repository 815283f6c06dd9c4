//! Builders for the messages the proxy writes itself (authentication,
//! parameter status, ready-for-query, synthetic completions, and the frames
//! it injects towards a server). Each appends one complete frame to a buffer.

use bytes::{BufMut, BytesMut};

/// Appends a frame with `tag` whose body is written by `body`.
pub fn frame(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let len_at = out.len();
    out.put_u32(0);
    body(out);
    let len = (out.len() - len_at) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Appends a NUL-terminated string.
pub fn put_cstr(out: &mut BytesMut, s: &[u8]) {
    out.put_slice(s);
    out.put_u8(0);
}

/// `AuthenticationOk`.
pub fn auth_ok(out: &mut BytesMut) {
    frame(out, b'R', |b| b.put_i32(0));
}

/// `AuthenticationMD5Password` with its salt.
pub fn auth_md5(out: &mut BytesMut, salt: [u8; 4]) {
    frame(out, b'R', |b| {
        b.put_i32(5);
        b.put_slice(&salt);
    });
}

/// `AuthenticationSASL` offering SCRAM-SHA-256.
pub fn auth_sasl(out: &mut BytesMut) {
    frame(out, b'R', |b| {
        b.put_i32(10);
        put_cstr(b, b"SCRAM-SHA-256");
        b.put_u8(0);
    });
}

/// `AuthenticationSASLContinue` (11) or `AuthenticationSASLFinal` (12).
pub fn auth_sasl_step(out: &mut BytesMut, code: i32, data: &[u8]) {
    frame(out, b'R', |b| {
        b.put_i32(code);
        b.put_slice(data);
    });
}

/// `ParameterStatus`.
pub fn parameter_status(out: &mut BytesMut, name: &str, value: &str) {
    frame(out, b'S', |b| {
        put_cstr(b, name.as_bytes());
        put_cstr(b, value.as_bytes());
    });
}

/// `BackendKeyData`.
pub fn backend_key_data(out: &mut BytesMut, pid: i32, secret: i32) {
    frame(out, b'K', |b| {
        b.put_i32(pid);
        b.put_i32(secret);
    });
}

/// `ReadyForQuery` with transaction status `I`, `T` or `E`.
pub fn ready_for_query(out: &mut BytesMut, status: u8) {
    frame(out, b'Z', |b| b.put_u8(status));
}

/// `ParseComplete`.
pub fn parse_complete(out: &mut BytesMut) {
    frame(out, b'1', |_| {});
}

/// `CloseComplete`.
pub fn close_complete(out: &mut BytesMut) {
    frame(out, b'3', |_| {});
}

/// `CommandComplete` with a tag such as `DEALLOCATE`.
pub fn command_complete(out: &mut BytesMut, tag: &str) {
    frame(out, b'C', |b| put_cstr(b, tag.as_bytes()));
}

/// `RowDescription` for text columns (used for small internal result sets).
pub fn row_description_text(out: &mut BytesMut, columns: &[&str]) {
    frame(out, b'T', |b| {
        b.put_i16(columns.len() as i16);
        for name in columns {
            put_cstr(b, name.as_bytes());
            b.put_i32(0); // table oid
            b.put_i16(0); // column number
            b.put_i32(25); // text
            b.put_i16(-1); // variable length
            b.put_i32(-1); // no modifier
            b.put_i16(0); // text format
        }
    });
}

/// `DataRow` of optional text values.
pub fn data_row_text(out: &mut BytesMut, values: &[Option<&str>]) {
    frame(out, b'D', |b| {
        b.put_i16(values.len() as i16);
        for v in values {
            match v {
                Some(s) => {
                    b.put_i32(s.len() as i32);
                    b.put_slice(s.as_bytes());
                }
                None => b.put_i32(-1),
            }
        }
    });
}

/// Simple `Query`.
pub fn query(out: &mut BytesMut, sql: &str) {
    frame(out, b'Q', |b| put_cstr(b, sql.as_bytes()));
}

/// `Terminate`.
pub fn terminate(out: &mut BytesMut) {
    frame(out, b'X', |_| {});
}

/// A startup message (protocol 3.0) with the given parameters.
pub fn startup_message(out: &mut BytesMut, params: &[(&str, &str)]) {
    let len_at = out.len();
    out.put_u32(0);
    out.put_i32(196608);
    for (k, v) in params {
        put_cstr(out, k.as_bytes());
        put_cstr(out, v.as_bytes());
    }
    out.put_u8(0);
    let len = (out.len() - len_at) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// A `CancelRequest` packet.
pub fn cancel_request(out: &mut BytesMut, pid: i32, secret: i32) {
    out.put_u32(16);
    out.put_i32(80877102);
    out.put_i32(pid);
    out.put_i32(secret);
}

/// `PasswordMessage` / SASL response (`p`) with raw contents.
pub fn password_message(out: &mut BytesMut, data: &[u8]) {
    frame(out, b'p', |b| b.put_slice(data));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_covers_length_field_and_body() {
        let mut out = BytesMut::new();
        command_complete(&mut out, "SET");
        assert_eq!(&out[..], b"C\0\0\0\x08SET\0");
    }

    #[test]
    fn startup_message_is_self_describing() {
        let mut out = BytesMut::new();
        startup_message(&mut out, &[("user", "u")]);
        let len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(len, out.len());
        assert_eq!(&out[4..8], &196608i32.to_be_bytes());
    }
}
