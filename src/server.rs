//! Serving a router on a bound listener, with the connection rules of the contract: HTTP/1.1
//! only (with upgrades, for WebSocket endpoints), a complete request head within 10 seconds of
//! the connection opening or of the previous answer (whether or not a byte arrived), at most
//! `max_connections` connections open at once (the rest are closed as they are accepted), and
//! a shutdown that drains in-flight requests within a bound without waiting for connections
//! that have nothing in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Time a connection has to send a complete request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections open at once when nothing else is configured.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The server section of the configuration: where to listen and how connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ServerSettings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Connections open at once; beyond it a new connection is closed as soon as it is
    /// accepted (and counted in `txhook_connections_refused_total`).
    pub max_connections: usize,
    /// How long in-flight requests may take to finish once shutdown starts.
    pub drain: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain: Duration::from_secs(25),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits up to
/// `options.drain` for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    options: ServerSettings,
) {
    // hyper's HTTP/1 server directly, not the auto (HTTP/1 or 2) builder: its protocol
    // detection reads without a timer, and serves HTTP/2 to a client that asks for it even
    // when told HTTP/1 only. Here an HTTP/2 preface is just a malformed HTTP/1 head.
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let max = options.max_connections.clamp(1, u32::MAX as usize);
    let open = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    // Closed at once: descriptors stay bounded whatever a client opens.
                    ::metrics::counter!("txhook_connections_refused_total").increment(1);
                    tracing::debug!("connection refused: TXHOOK_MAX_CONNECTIONS reached");
                    drop(stream);
                    continue;
                };
                tokio::spawn(connection(http.clone(), stream, peer, app.clone(), stop_rx.clone(), permit));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    tokio::select! {
        // Every connection holds a permit until it ends: all permits back, all closed.
        _ = open.acquire_many(max as u32) => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.drain) => tracing::warn!("drain timeout reached; exiting with connections open"),
    }
}

/// Serves one connection until it ends; once `stop` turns true, lets the request in flight
/// finish and closes. hyper closes at once a connection with nothing in flight: idle between
/// requests, or that never sent a byte.
async fn connection(
    http: http1::Builder,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _open = Open::new(permit);
    let _ = stream.set_nodelay(true);
    // Handlers see the peer as `ConnectInfo` (the console shows where a refused callback
    // came from).
    let app = tower::ServiceExt::map_request(
        app,
        move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            req
        },
    );
    let service = TowerToHyperService::new(app);
    let conn = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopping(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Resolves once `stop` turns true, or its sender is gone.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// An open connection: holds its permit and keeps `txhook_connections_open` up to date.
struct Open {
    _permit: OwnedSemaphorePermit,
}

impl Open {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        ::metrics::gauge!("txhook_connections_open").increment(1.0);
        Self { _permit: permit }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        ::metrics::gauge!("txhook_connections_open").decrement(1.0);
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
