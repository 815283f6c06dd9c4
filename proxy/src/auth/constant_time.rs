//! Comparing secrets in time that does not depend on where they differ.

/// Whether `a` and `b` are equal, looking at every byte of the longer one
/// whatever the contents (only the lengths may show through timing).
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests;
