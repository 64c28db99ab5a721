//! Logging and metrics set-up.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use txhook_core::message::error_chain;

/// Libraries whose detailed logs would print what must never be logged, and the most they
/// may log whatever `RUST_LOG` asks (no directive, however specific, lifts the cap).
const CAPPED: [(&str, LevelFilter); 9] = [
    // trace: every WebSocket frame's payload in hex, the subscribe frame with the realm key
    // among them, and the handshake request.
    ("tungstenite", LevelFilter::DEBUG),
    ("tokio_tungstenite", LevelFilter::DEBUG),
    // debug: connection targets taken from the URL (which may hold credentials); trace, on a
    // verbose connection: the bytes written, `Authorization` and the shared key included.
    ("reqwest", LevelFilter::INFO),
    // trace: wire-level detail of HTTP and TLS.
    ("hyper", LevelFilter::DEBUG),
    ("hyper_util", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
    ("rustls", LevelFilter::DEBUG),
    ("tokio_rustls", LevelFilter::DEBUG),
    ("hyper_rustls", LevelFilter::DEBUG),
];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Seconds since `oldest` (the age of the oldest thing waiting), 0 when nothing waits or the
/// clock went back: the lag and backlog gauges and the projection's status all read it.
pub fn age_seconds(oldest: Option<chrono::DateTime<chrono::Utc>>) -> f64 {
    oldest.map_or(0.0, |t| {
        (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
    })
}

/// Starts logging: `RUST_LOG` filter (default `info`), text or JSON lines on stderr.
pub fn init_logging(format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    // Colour codes only for a terminal; a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second initialisation (tests) keeps the first.
    let _ = subscriber(rust_log.as_deref(), format, std::io::stderr, ansi).try_init();
}

/// The subscriber [`init_logging`] installs, writing to `writer`: the `rust_log` filter
/// (`info` when unset or invalid), with the libraries in [`CAPPED`] held to their cap.
pub fn subscriber<W>(
    rust_log: Option<&str>,
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // A layer of its own, outside the `RUST_LOG` filter: an event passes only when both let
    // it, so the cap holds against any directive.
    let cap = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => Box::new(builder.finish().with(cap)),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish().with(cap)),
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static bucket list is valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder installed first (only possible in tests) leaves ours unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log destination the test can read.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Self;
        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    fn logged(rust_log: &str, format: LogFormat) -> String {
        let buffer = Buffer::default();
        let sub = subscriber(Some(rust_log), format, buffer.clone(), false);
        tracing::subscriber::with_default(sub, || {
            // Inside a span, so that a span directive (`[session]=trace`) is tried too.
            let _span = tracing::info_span!("session").entered();
            tracing::trace!(target: "tungstenite::protocol", "frame-payload-secret");
            tracing::trace!(target: "tokio_tungstenite", "ws-secret");
            tracing::debug!(target: "reqwest::connect", "url-secret");
            tracing::trace!(target: "hyper::proto::h1::role", "wire-secret");
            tracing::trace!(target: "h2::codec", "h2-secret");
            tracing::trace!(target: "rustls::client", "tls-secret");
            tracing::trace!(target: "txhook::stream", "own-trace-shown");
            tracing::debug!(target: "tungstenite::protocol", "ws-debug-shown");
            tracing::info!(target: "reqwest::connect", "reqwest-info-shown");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn trace_logging_never_enables_the_capped_libraries_beyond_their_cap() {
        for rust_log in [
            "trace",
            "trace,tungstenite=trace,tokio_tungstenite=trace,reqwest=trace,hyper=trace,h2=trace,rustls=trace",
            "tungstenite::protocol=trace,reqwest::connect=trace,hyper::proto=trace,trace",
            "[session]=trace",
        ] {
            for format in [LogFormat::Text, LogFormat::Json] {
                let out = logged(rust_log, format);
                assert!(!out.contains("secret"), "{rust_log} ({format:?}): {out}");
                for shown in ["own-trace-shown", "ws-debug-shown", "reqwest-info-shown"] {
                    assert!(
                        out.contains(shown),
                        "{rust_log} ({format:?}): {shown} missing: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn unset_or_invalid_rust_log_means_info() {
        for rust_log in [None, Some("=not a filter=")] {
            let buffer = Buffer::default();
            let sub = subscriber(rust_log, LogFormat::Text, buffer.clone(), false);
            tracing::subscriber::with_default(sub, || {
                tracing::debug!(target: "txhook", "debug-hidden");
                tracing::info!(target: "txhook", "info-shown");
            });
            let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            assert!(
                out.contains("info-shown") && !out.contains("debug-hidden"),
                "{out}"
            );
        }
    }
}
