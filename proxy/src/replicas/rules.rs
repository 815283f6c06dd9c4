//! Matching a read against the `[[routes]]` rules.

use crate::config::RouteRule;
use shardwire_router::Described;

/// The rule that sends this statement to the replica cluster, if any: it
/// must only read, and either name the rule in a `route=` hint or read
/// only tables the rule lists.
pub fn matching_route<'a>(routes: &'a [RouteRule], d: &Described) -> Option<&'a RouteRule> {
    if !d.read_only {
        return None;
    }
    if let Some(hint) = &d.route_hint {
        return routes
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(hint) || hint.as_ref() == "replicas");
    }
    if d.tables.is_empty() {
        return None;
    }
    routes
        .iter()
        .find(|r| d.tables.iter().all(|t| r.matches(t)))
}

#[cfg(test)]
mod tests;
