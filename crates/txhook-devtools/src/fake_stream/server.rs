//! The fake stream served alone, on a bound listener.

use tokio::net::TcpListener;

use super::{FakeStream, Options};

/// A fake stream served on its own listener.
pub struct FakeStreamServer {
    pub addr: std::net::SocketAddr,
    pub stream: FakeStream,
    task: tokio::task::JoinHandle<()>,
}

impl FakeStreamServer {
    /// `ws://ADDR/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for FakeStreamServer {
    fn drop(&mut self) {
        self.stream.drop_connections();
        self.task.abort();
    }
}

/// Serves a fake stream on `listener` until the returned handle is dropped.
pub async fn serve_stream(listener: TcpListener, options: Options) -> FakeStreamServer {
    let stream = FakeStream::new(options);
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = stream.router();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "fake stream server stopped");
        }
    });
    FakeStreamServer { addr, stream, task }
}
