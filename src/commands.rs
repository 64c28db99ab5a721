//! What each command does. Each loads the configuration it needs: `serve`, `migrate` and
//! `subscribe` the full one, `send` and `bench` only the signing settings, `mock-provider` and
//! `listen` none (`listen` reads only `TXHOOK_ADMIN_TOKEN` and `TXHOOK_LISTEN`).

use std::time::Duration;

use tokio::net::TcpListener;

use txhook::config::{self, Config};
use txhook::provider::{ProviderError, Registrar, StatusHandle};
use txhook::store::Store;
use txhook::{projection, serve, server};

use crate::cli::{Cli, Command, ConfigCommand, SubscribeArgs};

/// Runs the command `cli` names. A configuration problem comes back as a
/// [`config::ConfigError`].
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let path = cli.config.as_deref();
    match cli.command {
        Command::Serve => {
            let config = config::load(path)?;
            let listen = config.server.listen;
            let listener = TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            serve(config, listener, server::shutdown_signal()).await
        }
        Command::Migrate => migrate(&config::load(path)?).await,
        Command::Config(ConfigCommand::Check) => match config::check(path) {
            Ok(config) => {
                println!("{config:#?}");
                println!("configuration is valid");
                Ok(())
            }
            Err(problems) => {
                for p in &problems {
                    eprintln!("problem: {p}");
                }
                anyhow::bail!("{} configuration problem(s)", problems.len())
            }
        },
        Command::Subscribe(args) => subscribe(&config::load(path)?, &args).await,
        Command::Send(args) => txhook_devtools::send(&config::load_client(path)?, &args).await,
        Command::Bench(args) => txhook_devtools::bench(&config::load_client(path)?, &args).await,
        Command::MockProvider(args) => {
            txhook_devtools::mock::run(args, server::shutdown_signal()).await
        }
        Command::Listen(args) => {
            let local = local_origin(std::env::var("TXHOOK_LISTEN").ok());
            let local = url::Url::parse(&local).expect("a valid URL");
            let token = std::env::var("TXHOOK_ADMIN_TOKEN").ok().map(Into::into);
            txhook_devtools::listen(&args, local, token, server::shutdown_signal()).await
        }
        Command::Rebuild => {
            let store = Store::connect_lazy(&config::load(path)?.database)?;
            store.migrate().await?;
            let done = projection::rebuild(&store).await?;
            println!(
                "rebuilt from {} events: {} history entries, {} events not applicable",
                done.events, done.steps, done.failed
            );
            Ok(())
        }
        Command::Reprocess { since } => {
            let store = Store::connect_lazy(&config::load(path)?.database)?;
            store.migrate().await?;
            let done = projection::reprocess(&store, since).await?;
            println!(
                "reprocessed {} quarantined callbacks: {} fixed, {} still unreadable",
                done.examined,
                done.fixed,
                done.examined - done.fixed
            );
            Ok(())
        }
        Command::Healthcheck { url, timeout } => {
            let url = url.unwrap_or_else(|| local_readyz(std::env::var("TXHOOK_LISTEN").ok()));
            healthcheck(&url, timeout).await
        }
    }
}

/// `/readyz` on loopback at the port of `listen` (a `TXHOOK_LISTEN` value), 8080 by default.
fn local_readyz(listen: Option<String>) -> String {
    format!("{}/readyz", local_origin(listen))
}

/// The local server's origin: loopback at the port of `listen`, 8080 by default.
fn local_origin(listen: Option<String>) -> String {
    let port = listen
        .and_then(|l| l.trim().parse::<std::net::SocketAddr>().ok())
        .map_or(8080, |a| a.port());
    format!("http://127.0.0.1:{port}")
}

/// Succeeds when `url` answers 200 within `timeout_secs`.
async fn healthcheck(url: &str, timeout_secs: u64) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_secs))
        .build()?;
    let res = client
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("unhealthy: {url}: {e}"))?;
    anyhow::ensure!(
        res.status().is_success(),
        "unhealthy: {url} answered {}",
        res.status()
    );
    Ok(())
}

/// Applies migrations and exits.
async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect_lazy(&config.database)?;
    store.migrate().await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Registers once, retrying within `args.timeout`; prints the outcome.
async fn subscribe(config: &Config, args: &SubscribeArgs) -> anyhow::Result<()> {
    let provider = config
        .provider
        .as_ref()
        .ok_or(ProviderError::NotConfigured)?;
    // Attempts are recorded when the database is there; registering does not depend on it.
    let store = Store::connect_lazy(&config.database)?;
    let store = match tokio::time::timeout(Duration::from_secs(10), store.migrate()).await {
        Ok(Ok(())) => Some(store),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database unavailable: attempts will not be recorded");
            None
        }
        Err(_) => {
            tracing::warn!("database too slow: attempts will not be recorded");
            None
        }
    };
    let status = StatusHandle::default();
    let registrar = Registrar::new(provider, store, status.clone())?;
    let result = match tokio::time::timeout(args.timeout, registrar.register()).await {
        Ok(r) => r,
        Err(_) => {
            let last = status.get();
            Err(ProviderError::TimedOut {
                timeout: args.timeout,
                last: match (last.http_status, last.answer) {
                    (Some(s), Some(a)) => format!("HTTP {s}: {a}"),
                    (None, Some(a)) => a,
                    _ => "none finished".into(),
                },
            })
        }
    };
    let attempt = result?;
    println!(
        "registered {} with {} (HTTP {}, attempt {})",
        txhook::redact::url_text(&registrar.registration().callback_url),
        txhook::redact::url_text(&registrar.registration().provider),
        attempt.http_status.unwrap_or_default(),
        attempt.number
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::local_readyz;

    #[test]
    fn healthcheck_probes_the_listen_port() {
        assert_eq!(local_readyz(None), "http://127.0.0.1:8080/readyz");
        assert_eq!(
            local_readyz(Some("0.0.0.0:9000".into())),
            "http://127.0.0.1:9000/readyz"
        );
        assert_eq!(
            local_readyz(Some("junk".into())),
            "http://127.0.0.1:8080/readyz"
        );
    }
}
