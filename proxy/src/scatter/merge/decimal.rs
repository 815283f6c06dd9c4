//! Exact decimal arithmetic for `numeric` (and integer) values, enough to
//! compare, add and divide the text PostgreSQL prints, without ever going
//! through `f64`.
//!
//! [`Decimal`] is a finite value: a sign, a magnitude as decimal digits and a
//! scale (digits after the point). The scale is kept as written, like
//! PostgreSQL's display scale: `1.50` stays `1.50`, and a sum has the larger
//! scale of its operands. [`Numeric`] adds the special values PostgreSQL's
//! `numeric` can hold (`NaN`, `Infinity`, `-Infinity`).

use std::cmp::Ordering;

/// A finite decimal: `(-1)^negative * digits * 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    /// Never true for zero.
    negative: bool,
    /// Magnitude, most significant digit first, each 0..=9, no leading zeros
    /// (empty for zero).
    digits: Vec<u8>,
    /// Number of digits after the decimal point.
    scale: u32,
}

impl Decimal {
    /// An integer value.
    pub fn from_i128(value: i128) -> Self {
        let digits = value
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|b| b - b'0')
            .collect();
        Decimal::new(value < 0, digits, 0)
    }

    fn new(negative: bool, digits: Vec<u8>, scale: u32) -> Self {
        let digits = strip_leading_zeros(digits);
        let negative = negative && !digits.is_empty();
        Decimal {
            negative,
            digits,
            scale,
        }
    }

    /// Parses `[+-]digits[.digits]` (at least one digit overall). No
    /// exponent: PostgreSQL never prints one for `numeric` or integers.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let (negative, rest) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int_part, frac_part) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (&rest[..dot], &rest[dot + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let all_digits = int_part.iter().chain(frac_part).all(u8::is_ascii_digit);
        if !all_digits {
            return None;
        }
        let scale = u32::try_from(frac_part.len()).ok()?;
        let digits = int_part.iter().chain(frac_part).map(|b| b - b'0').collect();
        Some(Decimal::new(negative, digits, scale))
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The text PostgreSQL would print: all `scale` fraction digits, at
    /// least one integer digit, `-` for negatives.
    pub fn to_text(&self) -> String {
        let scale = self.scale as usize;
        let mut digits: Vec<u8> = self.digits.clone();
        if digits.len() <= scale {
            let mut padded = vec![0; scale + 1 - digits.len()];
            padded.extend_from_slice(&digits);
            digits = padded;
        }
        let split = digits.len() - scale;
        let mut out = String::with_capacity(digits.len() + 2);
        if self.negative {
            out.push('-');
        }
        out.extend(digits[..split].iter().map(|&d| char::from(b'0' + d)));
        if scale > 0 {
            out.push('.');
            out.extend(digits[split..].iter().map(|&d| char::from(b'0' + d)));
        }
        out
    }

    /// The magnitude scaled up to `scale` fraction digits (`scale` must be
    /// at least `self.scale`).
    fn magnitude_at(&self, scale: u32) -> Vec<u8> {
        let mut digits = self.digits.clone();
        if !digits.is_empty() {
            let extra = scale.saturating_sub(self.scale) as usize;
            digits.resize(digits.len() + extra, 0);
        }
        digits
    }

    /// Numeric comparison: `1.50 == 1.5`.
    pub fn cmp_value(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => return Ordering::Greater,
            (true, false) => return Ordering::Less,
            _ => {}
        }
        let scale = self.scale.max(other.scale);
        let by_magnitude = cmp_magnitude(&self.magnitude_at(scale), &other.magnitude_at(scale));
        if self.negative {
            by_magnitude.reverse()
        } else {
            by_magnitude
        }
    }

    /// Exact sum; the result has the larger of the two scales.
    pub fn add(&self, other: &Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        let a = self.magnitude_at(scale);
        let b = other.magnitude_at(scale);
        if self.negative == other.negative {
            return Decimal::new(self.negative, add_magnitude(&a, &b), scale);
        }
        match cmp_magnitude(&a, &b) {
            Ordering::Equal => Decimal::new(false, Vec::new(), scale),
            Ordering::Greater => Decimal::new(self.negative, sub_magnitude(&a, &b), scale),
            Ordering::Less => Decimal::new(other.negative, sub_magnitude(&b, &a), scale),
        }
    }

    /// `self / divisor` with exactly `scale` fraction digits, rounded half
    /// away from zero. `None` when dividing by zero.
    pub fn div_round(&self, divisor: &Decimal, scale: u32) -> Option<Decimal> {
        if divisor.is_zero() {
            return None;
        }
        // self / divisor * 10^scale = (a * 10^(scale + sb)) / (b * 10^sa)
        // where a, b are the magnitudes and sa, sb their scales.
        let mut numerator = self.digits.clone();
        let mut denominator = divisor.digits.clone();
        let up = u64::from(scale) + u64::from(divisor.scale);
        let down = u64::from(self.scale);
        // Shift whichever side needs it so both exponents are non-negative.
        if up >= down {
            shift_left(&mut numerator, up - down)?;
        } else {
            shift_left(&mut denominator, down - up)?;
        }
        let (mut quotient, remainder) = div_magnitude(&numerator, &denominator);
        // Round half away from zero: remainder * 2 >= denominator.
        let twice = add_magnitude(&remainder, &remainder);
        if cmp_magnitude(&twice, &denominator) != Ordering::Less {
            quotient = add_magnitude(&quotient, &[1]);
        }
        Some(Decimal::new(
            self.negative != divisor.negative,
            quotient,
            scale,
        ))
    }

    /// Base-10000 weight and leading base-10000 digit of the value, as
    /// PostgreSQL's `numeric` stores it (`(0, 0)` for zero).
    fn nbase_lead(&self) -> (i64, u32) {
        let Some(first_nonzero) = self.digits.iter().position(|&d| d != 0) else {
            return (0, 0);
        };
        // Power of ten of each digit: the last digit is 10^-scale.
        let last_power = -i64::from(self.scale);
        let power_of = |index: usize| last_power + (self.digits.len() - 1 - index) as i64;
        let weight = power_of(first_nonzero).div_euclid(4);
        let mut lead = 0u32;
        for k in (0..4).rev() {
            let power = weight * 4 + k;
            let index = (self.digits.len() as i64 - 1) - (power - last_power);
            let digit = usize::try_from(index)
                .ok()
                .and_then(|i| self.digits.get(i))
                .copied()
                .unwrap_or(0);
            lead = lead * 10 + u32::from(digit);
        }
        (weight, lead)
    }
}

/// The result scale PostgreSQL's `numeric` division picks for
/// `dividend / divisor` (`select_div_scale` in `numeric.c`): enough for at
/// least 16 significant digits, never less than either input's scale, at
/// most 1000.
pub fn pg_division_scale(dividend: &Decimal, divisor: &Decimal) -> u32 {
    const MIN_SIG_DIGITS: i64 = 16;
    const DEC_DIGITS: i64 = 4;
    const MAX_DISPLAY_SCALE: i64 = 1000;
    let (weight1, lead1) = dividend.nbase_lead();
    let (weight2, lead2) = divisor.nbase_lead();
    let mut quotient_weight = weight1 - weight2;
    if lead1 <= lead2 {
        quotient_weight -= 1;
    }
    let scale = (MIN_SIG_DIGITS - quotient_weight * DEC_DIGITS)
        .max(i64::from(dividend.scale))
        .max(i64::from(divisor.scale))
        .clamp(0, MAX_DISPLAY_SCALE);
    // Clamped to 0..=1000 just above, so the conversion cannot fail.
    u32::try_from(scale).unwrap_or(0)
}

/// A PostgreSQL `numeric` value including its special values. The derived
/// order matches PostgreSQL's: `-Infinity` < finite < `Infinity` < `NaN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numeric {
    NegInfinity,
    Finite(Decimal),
    Infinity,
    NaN,
}

impl Numeric {
    /// Parses the text of a `numeric`, `int2`, `int4` or `int8` value.
    pub fn parse(text: &[u8]) -> Option<Self> {
        match text {
            b"NaN" => Some(Numeric::NaN),
            b"Infinity" => Some(Numeric::Infinity),
            b"-Infinity" => Some(Numeric::NegInfinity),
            _ => Decimal::parse(text).map(Numeric::Finite),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Numeric::NegInfinity => 0,
            Numeric::Finite(_) => 1,
            Numeric::Infinity => 2,
            Numeric::NaN => 3,
        }
    }

    /// Sum with PostgreSQL's rules for the special values.
    pub fn add(&self, other: &Numeric) -> Numeric {
        use Numeric::*;
        match (self, other) {
            (NaN, _) | (_, NaN) => NaN,
            (Infinity, NegInfinity) | (NegInfinity, Infinity) => NaN,
            (Infinity, _) | (_, Infinity) => Infinity,
            (NegInfinity, _) | (_, NegInfinity) => NegInfinity,
            (Finite(a), Finite(b)) => Finite(a.add(b)),
        }
    }

    /// `self / count` for a positive row count, as `avg` computes it.
    /// `None` when `count` is zero.
    pub fn average(&self, count: &Decimal) -> Option<Numeric> {
        if count.is_zero() {
            return None;
        }
        Some(match self {
            Numeric::Finite(sum) => {
                let scale = pg_division_scale(sum, count);
                Numeric::Finite(sum.div_round(count, scale)?)
            }
            special => special.clone(),
        })
    }

    /// The text PostgreSQL prints.
    pub fn to_text(&self) -> String {
        match self {
            Numeric::NegInfinity => "-Infinity".to_owned(),
            Numeric::Finite(d) => d.to_text(),
            Numeric::Infinity => "Infinity".to_owned(),
            Numeric::NaN => "NaN".to_owned(),
        }
    }
}

impl Ord for Numeric {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => a.cmp_value(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn strip_leading_zeros(mut digits: Vec<u8>) -> Vec<u8> {
    let zeros = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..zeros);
    digits
}

/// Appends `count` zeros (multiplies by 10^count); `None` if absurdly large.
fn shift_left(digits: &mut Vec<u8>, count: u64) -> Option<()> {
    const LIMIT: u64 = 1 << 20;
    if count > LIMIT {
        return None;
    }
    if !digits.is_empty() {
        digits.resize(digits.len() + usize::try_from(count).ok()?, 0);
    }
    Some(())
}

/// Compares magnitudes without leading zeros.
fn cmp_magnitude(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_magnitude(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    let mut ia = a.iter().rev();
    let mut ib = b.iter().rev();
    loop {
        let (da, db) = (ia.next(), ib.next());
        if da.is_none() && db.is_none() {
            break;
        }
        let sum = da.copied().unwrap_or(0) + db.copied().unwrap_or(0) + carry;
        out.push(sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    strip_leading_zeros(out)
}

/// `a - b` for `a >= b`.
fn sub_magnitude(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    let mut ib = b.iter().rev();
    for &da in a.iter().rev() {
        let mut diff = da as i8 - ib.next().copied().unwrap_or(0) as i8 - borrow;
        borrow = 0;
        if diff < 0 {
            diff += 10;
            borrow = 1;
        }
        out.push(diff as u8);
    }
    out.reverse();
    strip_leading_zeros(out)
}

/// Long division of magnitudes: (quotient, remainder). `b` must be non-zero.
fn div_magnitude(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut quotient = Vec::with_capacity(a.len());
    let mut remainder: Vec<u8> = Vec::with_capacity(b.len() + 1);
    for &digit in a {
        remainder.push(digit);
        remainder = strip_leading_zeros(remainder);
        let mut q = 0u8;
        while cmp_magnitude(&remainder, b) != Ordering::Less {
            remainder = sub_magnitude(&remainder, b);
            q += 1;
        }
        quotient.push(q);
    }
    (strip_leading_zeros(quotient), remainder)
}

#[cfg(test)]
mod tests;
