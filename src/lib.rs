//! txhook: a receiver of payment-transaction callbacks that keeps every event, exactly once,
//! in PostgreSQL.
//!
//! The callback path: [`http`] (raw bytes) → [`verify`] (pure) → [`payment`] (pure) →
//! [`store`] (the event log, group-committed) → answer. Everything else reads the log: the
//! [`projection`] derives each transaction's current state and history from it.
//!
//! The pure parts ([`verify`], [`payment`], [`retry`], [`redact`], the stream's catalogue) live in the
//! `txhook-core` crate, shared with the dev tools (`txhook-devtools`: `send`, `bench`,
//! `listen`, the mock provider, a fake Orangepill stream), which reach the service only over
//! HTTP and WebSocket. The binary (`src/main.rs`, with `cli` and `commands`) offers them as
//! commands beside the service's own; this library knows nothing of them.

pub mod config;
pub mod console;
pub mod http;
pub mod projection;
pub mod provider;
pub mod push;
pub mod server;
pub mod store;
pub mod stream;
pub mod telemetry;

pub use txhook_core::{payment, redact, retry, verify};

mod service;

pub use service::serve;
