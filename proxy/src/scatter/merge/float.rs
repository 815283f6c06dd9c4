//! `float4` / `float8` text as PostgreSQL reads and prints it (default
//! `extra_float_digits = 1`: the shortest text that reads back exactly).

/// Parses a `float4`/`float8` output value, including `NaN`, `Infinity`
/// and `-Infinity`.
pub fn parse(text: &[u8]) -> Option<f64> {
    match text {
        b"NaN" => Some(f64::NAN),
        b"Infinity" => Some(f64::INFINITY),
        b"-Infinity" => Some(f64::NEG_INFINITY),
        _ => {
            let text = std::str::from_utf8(text).ok()?;
            // Only digits, sign, point and exponent: keeps out Rust's own
            // spellings such as "inf" that PostgreSQL never prints.
            let plausible = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
            if plausible {
                text.parse().ok()
            } else {
                None
            }
        }
    }
}

/// Prints a `float8` the way PostgreSQL does.
pub fn format_float8(value: f64) -> String {
    match special(value) {
        Some(text) => text.to_owned(),
        None => layout(&format!("{value:e}"), 15),
    }
}

/// Prints a `float4` the way PostgreSQL does.
pub fn format_float4(value: f32) -> String {
    match special(f64::from(value)) {
        Some(text) => text.to_owned(),
        None => layout(&format!("{value:e}"), 6),
    }
}

fn special(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("Infinity")
    } else if value == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// Lays out Rust's shortest scientific text (`-1.25e3`) the way
/// PostgreSQL's Ryu-based output does: plain notation when the decimal
/// exponent is in `-4..max_plain_exponent`, otherwise `d.ddde+XX`.
fn layout(scientific: &str, max_plain_exponent: i32) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::from(sign);
    if (-4..max_plain_exponent).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_postgres_float8() {
        assert_eq!(format_float8(0.0), "0");
        assert_eq!(format_float8(-0.0), "-0");
        assert_eq!(format_float8(1.5), "1.5");
        assert_eq!(format_float8(-123.456), "-123.456");
        assert_eq!(format_float8(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_float8(1e14), "100000000000000");
        assert_eq!(format_float8(1e15), "1e+15");
        assert_eq!(format_float8(1.5e100), "1.5e+100");
        assert_eq!(format_float8(0.0001), "0.0001");
        assert_eq!(format_float8(0.00001), "1e-05");
        assert_eq!(format_float8(-1.25e-7), "-1.25e-07");
        assert_eq!(format_float8(f64::NAN), "NaN");
        assert_eq!(format_float8(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn prints_like_postgres_float4() {
        assert_eq!(format_float4(100000.0), "100000");
        assert_eq!(format_float4(1e6), "1e+06");
        assert_eq!(format_float4(0.1), "0.1");
        assert_eq!(format_float4(3.25), "3.25");
    }

    #[test]
    fn parses_postgres_text_only() {
        assert_eq!(parse(b"1e+20"), Some(1e20));
        assert_eq!(parse(b"-1.5"), Some(-1.5));
        assert_eq!(parse(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse(b"NaN").is_some_and(f64::is_nan));
        assert_eq!(parse(b"inf"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"abc"), None);
    }
}
