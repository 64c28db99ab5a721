//! `txhook mock-provider`: a local stand-in for the provider, for development, demos and
//! end-to-end tests. It accepts subscriptions as the provider document describes, then
//! delivers realistic, signed transaction lifecycles to every subscriber, retrying any
//! answer that is not 200 with exponential backoff, as the provider does.
//!
//! Try it: `txhook mock-provider --time-scale 0.01`, then start `txhook serve` with
//! `TXHOOK_PROVIDER_URL=http://127.0.0.1:9090`; watch `GET /mock/deliveries`.

mod deliver;
mod generate;
mod ledger;
mod subscribe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Signer;
use crate::args::MockArgs;
use crate::fake_stream::{FakeStream, Options as StreamOptions};
use ledger::Ledger;

/// Callbacks in flight at once, over all subscribers.
const MAX_IN_FLIGHT: usize = 64;

/// How long the requests in flight may take to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);

/// A subscriber: where to deliver and how to sign. A new subscription of the same
/// callbackUrl replaces the credentials (a key rotation) and keeps the deliveries going.
struct Subscriber {
    callback_url: url::Url,
    signer: Mutex<Signer>,
}

impl Subscriber {
    fn signer(&self) -> Signer {
        self.signer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Shared by the handlers, the generators and the deliveries.
#[derive(Clone)]
struct Mock(Arc<Inner>);

struct Inner {
    args: MockArgs,
    client: reqwest::Client,
    subscribers: Mutex<HashMap<String, Arc<Subscriber>>>,
    ledger: Mutex<Ledger>,
    rng: Mutex<StdRng>,
    in_flight: Semaphore,
}

impl Mock {
    /// `nominal` compressed by `--time-scale`.
    fn scaled(&self, nominal: Duration) -> Duration {
        nominal.mul_f64(self.0.args.time_scale)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.0.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        self.0.rng.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why the mock provider cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("--{0} is invalid: {1}")]
    Argument(&'static str, &'static str),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Serves until `shutdown` resolves.
pub async fn run(args: MockArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(MockError::Argument("time-scale", "must be a number above 0").into());
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(MockError::Argument("rate", "must be a number above 0").into());
    }
    if !(0.0..=1.0).contains(&args.duplicate_rate) {
        return Err(MockError::Argument("duplicate-rate", "must be between 0 and 1").into());
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| MockError::Listen {
            addr: args.listen,
            source,
        })?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("txhook-mock-provider/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| MockError::Client(e.to_string()))?;
    let rng = match args.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        count = args.count,
        rate = args.rate,
        time_scale = args.time_scale,
        "mock provider listening: POST /api/v1/transactions/subscribe, GET /mock/deliveries, stream at ws://<listen>/stream"
    );
    let mock = Mock(Arc::new(Inner {
        args,
        client,
        subscribers: Mutex::default(),
        ledger: Mutex::default(),
        rng: Mutex::new(rng),
        in_flight: Semaphore::new(MAX_IN_FLIGHT),
    }));
    // The second upstream: the Orangepill stream protocol on ws://<listen>/stream.
    let stream = FakeStream::new(StreamOptions {
        realm_key: mock.0.args.realm_key.clone(),
        rate: Some(mock.0.args.stream_rate).filter(|r| *r > 0.0),
        ..StreamOptions::default()
    });
    let app = Router::new()
        .route("/api/v1/transactions/subscribe", post(subscribe::subscribe))
        .route("/mock/deliveries", get(ledger::deliveries))
        .with_state(mock)
        .nest("/stream", stream.router());
    serve(listener, app, shutdown).await?;
    Ok(())
}

/// Serves `app` until `shutdown` resolves, then lets the requests in flight finish, for
/// [`DRAIN`] at most. Upgraded (WebSocket) connections are not waited for.
async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .into_future();
    tokio::pin!(served, shutdown);
    tokio::select! {
        served = &mut served => return served,
        () = &mut shutdown => {}
    }
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop.send(());
    tokio::time::timeout(DRAIN, served)
        .await
        .unwrap_or_else(|_| {
            tracing::warn!("drain timeout reached; exiting with connections open");
            Ok(())
        })
}
