//! txhook: a receiver of payment-transaction callbacks that keeps every event, exactly once,
//! in PostgreSQL.
//!
//! The callback path: [`http`] (raw bytes) → [`verify`] (pure) → [`transaction`] (pure) →
//! [`store`] (the event log, group-committed) → answer. Everything else reads the log: the
//! [`projection`] derives each transaction's current state and history from it.

pub mod cli;
pub mod config;
pub mod console;
pub mod devtools;
pub mod http;
pub mod mock;
pub mod projection;
pub mod provider;
pub mod push;
pub mod redact;
pub mod server;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod transaction;
pub mod verify;

pub mod retry;
mod run;

pub use run::{healthcheck, migrate, run, serve};
