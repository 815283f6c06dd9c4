//! `shardwire demo`: placeholder until the rig lands.

/// Demo options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Port the proxy listens on.
    #[arg(long, default_value_t = 6432)]
    pub port: u16,
}

/// Runs the demo.
pub async fn run(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
