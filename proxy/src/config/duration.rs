//! Human durations in the configuration file: `"250ms"`, `"5s"`, `"10m"`,
//! `"1h"`, or a bare number of seconds.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"10m"`, `"1h"` or `"30"` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like \"250ms\", \"5s\", \"10m\""))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m or h)"
            ))
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Seconds(f64),
}

/// serde adapter for `Duration` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Raw::deserialize(d)? {
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
        Raw::Seconds(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
        Raw::Seconds(s) => Err(serde::de::Error::custom(format!(
            "{s} is not a valid number of seconds"
        ))),
    }
}

/// serde adapter for optional durations; `"0"` or `"off"` disables.
pub mod optional {
    use super::*;

    /// Deserializes an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum RawOpt {
            Text(String),
            Seconds(f64),
        }
        let dur = match RawOpt::deserialize(d)? {
            RawOpt::Text(t) if t == "off" => return Ok(None),
            RawOpt::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom)?,
            RawOpt::Seconds(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
            RawOpt::Seconds(s) => {
                return Err(serde::de::Error::custom(format!(
                    "{s} is not a valid number of seconds"
                )))
            }
        };
        Ok(if dur.is_zero() { None } else { Some(dur) })
    }
}

#[cfg(test)]
mod tests;
