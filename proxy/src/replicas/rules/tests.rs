//! Route matching by tables and hints.

use super::*;
use crate::config::RouteTarget;
use std::sync::Arc;

fn rule(name: &str, tables: &[&str]) -> RouteRule {
    RouteRule {
        name: name.into(),
        tables: tables.iter().map(|t| t.to_string()).collect(),
        target: RouteTarget::Replicas,
    }
}

fn read(tables: &[&str], hint: Option<&str>) -> Described {
    Described {
        read_only: true,
        tables: tables
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .into(),
        route_hint: hint.map(Arc::from),
    }
}

#[test]
fn every_table_must_match() {
    let routes = vec![rule("leaderboards", &["leaderboard*", "seasons"])];
    assert!(matching_route(&routes, &read(&["leaderboard"], None)).is_some());
    assert!(matching_route(&routes, &read(&["leaderboard_weekly", "seasons"], None)).is_some());
    assert!(matching_route(&routes, &read(&["leaderboard", "users"], None)).is_none());
    assert!(matching_route(&routes, &read(&[], None)).is_none());
    assert!(matching_route(&routes, &read(&["season"], None)).is_none());
}

#[test]
fn writes_never_match() {
    let routes = vec![rule("leaderboards", &["leaderboard*"])];
    let mut d = read(&["leaderboard"], Some("replicas"));
    d.read_only = false;
    assert!(matching_route(&routes, &d).is_none());
}

#[test]
fn hints_pick_a_rule_by_name() {
    let routes = vec![rule("leaderboards", &["leaderboard*"])];
    assert!(matching_route(&routes, &read(&["users"], Some("replicas"))).is_some());
    assert!(matching_route(&routes, &read(&["users"], Some("leaderboards"))).is_some());
    assert!(matching_route(&routes, &read(&["users"], Some("nope"))).is_none());
}
