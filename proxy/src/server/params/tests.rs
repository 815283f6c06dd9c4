//! Unit tests of `params`.

use super::*;

#[test]
fn no_sql_when_in_sync() {
    let mut server = ServerParams::default();
    server.on_status("DateStyle", "ISO, MDY", false);
    let mut wanted = ParamMap::default();
    wanted.set("datestyle", "ISO, MDY");
    assert_eq!(server.sync_sql(&wanted), None);
}

#[test]
fn sets_missing_and_resets_foreign() {
    let mut server = ServerParams::default();
    server.on_status("application_name", "other", true);
    let mut wanted = ParamMap::default();
    wanted.set("search_path", "a, b");
    let sql = server.sync_sql(&wanted).unwrap();
    assert_eq!(
        sql,
        "RESET \"application_name\"; SELECT set_config(E'search_path', E'a, b', false)"
    );
    server.applied(&wanted);
    assert!(!server.modified.contains("application_name"));
    assert_eq!(server.sync_sql(&wanted), None);
}

#[test]
fn quotes_hostile_values() {
    assert_eq!(quote_literal("it's \\ x"), "E'it''s \\\\ x'");
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
}

#[test]
fn fingerprints_ignore_order_and_see_every_change() {
    let mut a = ParamMap::default();
    a.set("TimeZone", "UTC");
    a.set("search_path", "x");
    let mut b = ParamMap::default();
    b.set("search_path", "x");
    b.set("timezone", "UTC");
    assert_eq!(a.fingerprint(), b.fingerprint());
    b.set("search_path", "y");
    assert_ne!(a.fingerprint(), b.fingerprint());
    b.set("search_path", "x");
    assert_eq!(a.fingerprint(), b.fingerprint());
    b.remove("search_path");
    assert_ne!(a.fingerprint(), b.fingerprint());
}

#[test]
fn a_synced_session_skips_the_comparison_until_something_changes() {
    let mut server = ServerParams::default();
    server.on_status("application_name", "", false);
    let mut wanted = ParamMap::default();
    wanted.set("application_name", "app");
    assert!(!server.known_in_sync(&wanted));
    assert!(server.sync_sql(&wanted).is_some());
    server.on_status("application_name", "app", true);
    server.applied(&wanted);
    assert!(server.known_in_sync(&wanted));
    // The client changes a parameter: the server reports it.
    server.on_status("application_name", "other", true);
    assert!(!server.known_in_sync(&wanted));
    server.applied(&wanted);
    server.reset_all();
    assert!(!server.known_in_sync(&wanted));
}
