//! Integration tests: the real app on loopback against a real PostgreSQL.
//! Run them with `scripts/test.sh`, which provides the database.

#[path = "../common/mod.rs"]
mod common;

mod availability;
mod batching;
mod content;
mod dedup;
mod helpers;
mod hostile;
mod partitions;
mod provider;
mod read_api;
mod receiver;
mod signatures;
mod state_rules;
mod stream;
