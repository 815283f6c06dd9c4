//! The proxy logs in to servers that demand md5 or trust as well as SCRAM.

mod support;

use shardwire_rig::AuthMethod;
use support::{Options, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_to_md5_and_trust_servers() {
    for auth in [AuthMethod::Md5, AuthMethod::Trust] {
        let setup = Setup::start(Options {
            node_auth: auth,
            ..Options::default()
        })
        .await;
        let c = setup.client().await;
        let row = c
            .query_one("SELECT 'through ' || current_user", &[])
            .await
            .expect("query");
        assert_eq!(row.get::<_, String>(0), "through app", "{auth:?}");
    }
}
