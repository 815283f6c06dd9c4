//! One command tag for a statement several shards ran: the row counts
//! added up (`UPDATE 3` and `UPDATE 4` are `UPDATE 7`; `INSERT 0 n` keeps
//! its zero oid).

/// Adds up `tags` of the same command; the first tag when they are not
/// counts of one command.
pub fn combine(tags: &[String]) -> Option<String> {
    let first = tags.first()?;
    let Some((command, _)) = split(first) else {
        return Some(first.clone());
    };
    let mut total: u64 = 0;
    for tag in tags {
        match split(tag) {
            Some((c, n)) if c == command => total += n,
            _ => return Some(first.clone()),
        }
    }
    Some(format!("{command} {total}"))
}

/// `("UPDATE", 3)` for `UPDATE 3`, `("INSERT 0", 5)` for `INSERT 0 5`.
fn split(tag: &str) -> Option<(&str, u64)> {
    let (command, count) = tag.rsplit_once(' ')?;
    Some((command, count.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_counts() {
        let t = |v: &[&str]| combine(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&["UPDATE 3", "UPDATE 4"]).as_deref(), Some("UPDATE 7"));
        assert_eq!(
            t(&["INSERT 0 1", "INSERT 0 2"]).as_deref(),
            Some("INSERT 0 3")
        );
        assert_eq!(t(&["DELETE 0"]).as_deref(), Some("DELETE 0"));
        assert_eq!(
            t(&["CREATE TABLE", "CREATE TABLE"]).as_deref(),
            Some("CREATE TABLE")
        );
        assert_eq!(t(&[]), None);
    }
}
