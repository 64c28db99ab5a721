//! Integration tests: the real app on loopback against a real PostgreSQL.
//! Run them with `scripts/test.sh`, which provides the database.

#[path = "../common/mod.rs"]
mod common;

mod availability;
mod batching;
mod connections;
mod console;
mod consumers;
mod content;
mod dedup;
mod destinations;
mod helpers;
mod hostile;
mod partitions;
mod projection;
mod provider;
mod read_api;
mod readiness;
mod receiver;
mod signatures;
mod state_rules;
mod stream;
