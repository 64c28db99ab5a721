//! The command-line arguments of the dev tools, for a command line to embed
//! (`txhook send|bench|listen|mock-provider`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use txhook_core::duration::parse_duration;
use txhook_core::payment::{TxState, TxType};

/// `txhook send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Callback URL to POST to (default: the local server's /webhooks/transactions).
    #[arg(long)]
    pub url: Option<url::Url>,
    /// Transaction type: PAYMENT, DEPOSIT, CHARGE, EXCHANGE or OTHER_CREDIT_DEBIT.
    #[arg(long = "type", default_value = "PAYMENT", value_parser = parse_type)]
    pub kind: TxType,
    /// Transaction state, e.g. PENDING, PROCESSING, SUCCESS, FAILED, REVERSED.
    #[arg(long, default_value = "PENDING", value_parser = parse_state)]
    pub state: TxState,
    /// Transaction id to use (reuse one to walk a lifecycle); default: a new UUID.
    #[arg(long)]
    pub id: Option<String>,
    /// `status.reason` to put in the body.
    #[arg(long)]
    pub reason: Option<String>,
    /// Send this file's bytes as the body instead of building one.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["kind", "state", "id", "reason"])]
    pub file: Option<PathBuf>,
    /// Send the identical bytes (and headers) this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
}

/// `txhook bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Callback URL, plain http (default: the local server's /webhooks/transactions). The
    /// read API is reached at the same origin.
    #[arg(long)]
    pub url: Option<url::Url>,
    /// Connections, each sending one callback after another.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// How long to measure (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load sent before measuring, not counted (its acknowledged events are checked too).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Fraction of requests that re-send a body already stored (answered `duplicate`).
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub duplicates: f64,
    /// Callbacks made and signed before the clock starts; should the run outlast them, more
    /// are made during the run, which costs the generator CPU (the report says so).
    #[arg(long, default_value_t = 200_000)]
    pub corpus: usize,
    /// Bearer token of the read API, for the check (env TXHOOK_ADMIN_TOKEN).
    #[arg(long, env = "TXHOOK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Skip the check through the read API.
    #[arg(long)]
    pub no_check: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `txhook listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The txhook to follow: its origin (the stream is read at /api/v1/events/stream) or the
    /// stream's URL. Default: http://127.0.0.1 at the port of TXHOOK_LISTEN, 8080 when unset.
    #[arg(long)]
    pub url: Option<url::Url>,
    /// POST each event's JSON item (content-type application/json) to this URL and print the
    /// answer's status; a failure is printed and not retried, and listening goes on.
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<url::Url>,
    /// Start after this sequence (0: the whole log). Default: from now; a reconnection
    /// before the first event starts from now again.
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
    /// Only events from this source: callback or orangepill.
    #[arg(long, value_parser = ["callback", "orangepill"])]
    pub source: Option<String>,
    /// Only callbacks of these transaction types, comma-separated (e.g. PAYMENT,DEPOSIT).
    #[arg(long = "type", value_name = "TYPES")]
    pub types: Option<String>,
    /// Only callbacks in these states, comma-separated (e.g. SUCCESS,FAILED).
    #[arg(long = "state", value_name = "STATES")]
    pub states: Option<String>,
    /// Only Orangepill events with these names, comma-separated; `*` as a suffix wildcard
    /// (e.g. transaction.*).
    #[arg(long = "event", value_name = "EVENTS")]
    pub events: Option<String>,
}

/// How the mock provider signs its callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MockScheme {
    /// Lowercase hex HMAC-SHA256 of the body in --signature-header.
    HmacSha256,
    /// Standard Webhooks headers; the subscriber's sharedKey is the whsec_ secret.
    StandardWebhooks,
}

/// `txhook mock-provider`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Transaction lifecycles started per second, per subscriber.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Lifecycles per subscriber (0: no end).
    #[arg(long, default_value_t = 20)]
    pub count: u64,
    /// Factor applied to every delay (retry backoff, gaps between a lifecycle's steps, the
    /// retry horizon): 0.01 runs the 7-day schedule a hundred times faster.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// How long a callback is retried before it is given up, before --time-scale.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub horizon: Duration,
    /// Probability that a delivered callback is delivered once more (a network duplicate).
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_rate: f64,
    /// Deliver the steps of a lifecycle independently, so that they may arrive out of order.
    #[arg(long)]
    pub reorder: bool,
    /// Signature scheme of the callbacks.
    #[arg(long, value_enum, default_value = "hmac-sha256")]
    pub scheme: MockScheme,
    /// Header carrying the HMAC under hmac-sha256.
    #[arg(long, default_value = "X-Hubpay-Hmac")]
    pub signature_header: String,
    /// Bearer token required on subscribe requests (env TXHOOK_MOCK_API_KEY); unset: none.
    #[arg(long, env = "TXHOOK_MOCK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Seed of the generator, for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Realm key the Orangepill stream at /stream accepts (env TXHOOK_MOCK_REALM_KEY).
    #[arg(
        long,
        env = "TXHOOK_MOCK_REALM_KEY",
        hide_env_values = true,
        default_value = "dev-realm-key"
    )]
    pub realm_key: String,
    /// Orangepill events per second sent to every stream subscriber (0: none).
    #[arg(long, default_value_t = 1.0)]
    pub stream_rate: f64,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{s:?} is not a fraction between 0 and 1")),
    }
}

/// A transaction type in any case (`payment` is `PAYMENT`); unknown ones are kept.
fn parse_type(s: &str) -> Result<TxType, String> {
    Ok(TxType::from(s.trim().to_ascii_uppercase()))
}

/// A state in any case; unknown ones are kept (to see how the receiver treats them).
fn parse_state(s: &str) -> Result<TxState, String> {
    Ok(TxState::from(s.trim().to_ascii_uppercase()))
}
