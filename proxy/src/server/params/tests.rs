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
