//! SQL administration the rig does on a node's behalf: roles and databases.

use anyhow::Context;

use crate::conf::AuthMethod;
use crate::node::Node;

/// Creates a LOGIN role whose password is stored the way the node's
/// [`AuthMethod`] needs (MD5 hash for `Md5`, SCRAM verifier otherwise).
pub(crate) async fn create_user(node: &Node, name: &str, password: &str) -> anyhow::Result<()> {
    let encryption = match node.auth() {
        AuthMethod::Md5 => "md5",
        AuthMethod::ScramSha256 | AuthMethod::Trust => "scram-sha-256",
    };
    let sql = format!(
        "SET password_encryption = '{encryption}'; CREATE ROLE {} LOGIN PASSWORD {}",
        quote_ident(name),
        quote_literal(password)
    );
    let client = node.connect_superuser().await?;
    client
        .batch_execute(&sql)
        .await
        .with_context(|| format!("creating user {name:?} on node {}", node.name()))
}

/// Creates database `name` owned by role `owner`.
pub(crate) async fn create_database(node: &Node, name: &str, owner: &str) -> anyhow::Result<()> {
    let sql = format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(name),
        quote_ident(owner)
    );
    let client = node.connect_superuser().await?;
    client
        .batch_execute(&sql)
        .await
        .with_context(|| format!("creating database {name:?} on node {}", node.name()))
}

/// Re-stores the superuser's password with the node's `password_encryption`
/// (initdb always stores a SCRAM verifier).
pub(crate) async fn reset_superuser_password(node: &Node) -> anyhow::Result<()> {
    let sql = format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_ident(crate::SUPERUSER),
        quote_literal(crate::SUPERUSER_PASSWORD)
    );
    let client = node.connect_superuser().await?;
    client
        .batch_execute(&sql)
        .await
        .with_context(|| format!("resetting the superuser password on node {}", node.name()))
}

/// A SQL identifier, always double-quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal (standard_conforming_strings on).
pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
