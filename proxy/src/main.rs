//! The `shardwire` command: run the proxy, check a configuration file, or
//! start the demo topology with the proxy in front of it (and, hidden, print
//! its man page for the Debian package).

use clap::{Parser, Subcommand};
use shardwire::config::load_file;
use shardwire::proxy::RunningProxy;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "shardwire",
    version,
    about = "Shard-aware PostgreSQL proxy and connection pooler"
)]
struct Cli {
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy with a configuration file.
    Run {
        /// Path to the TOML configuration.
        #[arg(short, long, default_value = "shardwire.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file without starting anything.
    CheckConfig {
        /// Path to the TOML configuration.
        file: PathBuf,
    },
    /// Start a local PostgreSQL topology and the proxy in front of it.
    Demo {
        #[command(flatten)]
        args: shardwire::demo::DemoArgs,
        /// Where the logs go (the rig's set-up, PostgreSQL notices, the
        /// proxy); default: shardwire-demo-<port>.log in the temp directory.
        #[arg(long)]
        log_file: Option<PathBuf>,
    },
    /// Read a password on stdin and print its SCRAM-SHA-256 verifier, for
    /// `scram_verifier` in [[users]] (no plain password in the config).
    HashPassword {
        /// PBKDF2 iterations (PostgreSQL uses 4096).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1024..))]
        iterations: u32,
    },
    /// Print the man page (roff) on stdout, for packaging.
    #[command(hide = true)]
    Man,
}

/// Logs to stderr (`RUST_LOG` sets the level, `info` by default), with
/// colour codes only when stderr is a terminal; the demo logs to its own
/// file instead (see `shardwire::demo::logging`).
fn init_logging(format: LogFormat, command: &Command) -> Result<(), String> {
    let json = matches!(format, LogFormat::Json);
    if let Command::Demo { args, log_file } = command {
        let file = log_file
            .clone()
            .unwrap_or_else(|| shardwire::demo::logging::default_log_file(args.port));
        return shardwire::demo::logging::init(&file, json)
            .map_err(|e| format!("cannot write the demo's log {}: {e}", file.display()));
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(problem) = init_logging(cli.log_format, &cli.command) {
        eprintln!("{problem}");
        return ExitCode::FAILURE;
    }
    match cli.command {
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            match page.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot write the man page: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::HashPassword { iterations } => {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_err() {
                eprintln!("cannot read the password from stdin");
                return ExitCode::FAILURE;
            }
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                eprintln!(
                    "empty password: type it on stdin, e.g. `shardwire hash-password < file`"
                );
                return ExitCode::from(2);
            }
            let salt: [u8; 16] = rand::random();
            let verifier = shardwire::auth::scram::ScramVerifier::from_password_with(
                password,
                salt.to_vec(),
                iterations,
            );
            println!("{}", verifier.to_text());
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => match load_file(&file) {
            Ok(c) => {
                println!(
                    "{}: ok ({} user(s), {} shard(s), listen {}, {} pooling)",
                    file.display(),
                    c.users.len(),
                    c.shards.len(),
                    c.proxy.listen,
                    c.proxy.pool_mode
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::Run { config } => {
            let path = config;
            let config = match load_file(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return ExitCode::from(2);
                }
            };
            let runtime = match shardwire::runtime::build(config.proxy.workers) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async {
                drop(config);
                let proxy = match RunningProxy::start_from_file(&path).await {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                };
                shardwire::signals::spawn(proxy.context.clone());
                let ctx = proxy.context.clone();
                tokio::spawn(async move {
                    use tokio::signal::unix::{signal, SignalKind};
                    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                        return;
                    };
                    while hangups.recv().await.is_some() {
                        match shardwire::reload::reload(&ctx) {
                            Ok(r) => tracing::info!(applied = ?r.applied, need_restart = ?r.need_restart, "SIGHUP: configuration reloaded"),
                            Err(problem) => tracing::warn!(%problem, "SIGHUP: reload refused; the running configuration stays"),
                        }
                    }
                });
                let shutdown = proxy.context.clone();
                let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("cannot watch SIGTERM: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                // PgBouncer 1.23+'s meanings: SIGINT safe shutdown (as
                // SHUTDOWN WAIT_FOR_SERVERS), SIGTERM super-safe (as
                // SHUTDOWN WAIT_FOR_CLIENTS); SIGQUIT and the console's
                // SHUTDOWN end it now, also during either wait.
                let exit_now = shutdown.sessions.shutdown.notified();
                tokio::pin!(exit_now);
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {
                        tracing::info!("SIGINT: safe shutdown");
                        tokio::select! {
                            _ = shardwire::drain::wait_for_servers(&shutdown) => {}
                            _ = &mut exit_now => tracing::info!("shutting down now"),
                        }
                    }
                    _ = &mut exit_now => tracing::info!("shutting down"),
                    _ = terminate.recv() => {
                        tracing::info!("SIGTERM: super-safe shutdown (draining)");
                        tokio::select! {
                            _ = proxy.drain() => {}
                            _ = &mut exit_now => tracing::info!("shutting down now"),
                        }
                    }
                }
                proxy.stop();
                ExitCode::SUCCESS
            })
        }
        Command::Demo { args, .. } => {
            let runtime = match shardwire::runtime::build(0) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(shardwire::demo::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("demo failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
