//! Fresh PostgreSQL databases for the integration tests: one helper for every test binary
//! (`mod common;` from `tests/*.rs`, `#[path = "../common/mod.rs"] mod common;` from a
//! directory such as `tests/api/`). [`process`]: the built binary as the tests run it.
//!
//! `DATABASE_URL` is an administrative URL: a role that may create databases
//! (`scripts/test.sh` provides one). Each database is named `txhook_test_<pid>_<n>_<random>`
//! and is dropped when the test that created it ends, passed or failed: it is recorded on the
//! test's thread, and the thread drops its databases as it exits. A test process that is
//! killed leaves its databases behind; `scripts/pg.sh sweep` (run by `scripts/test.sh`) drops
//! them, skipping the ones whose process is still running.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};

pub mod process;

/// The administrative database URL the test script exports.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at a PostgreSQL server: run the tests with scripts/test.sh",
    )
}

/// A new, empty database, dropped when the calling test ends; returns its URL.
pub async fn fresh_database() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let admin = admin_url();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let name = format!(
        "txhook_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        &random[..8]
    );
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to admin database");
    sqlx::query(&format!(r#"create database "{name}""#))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    CREATED.with(|created| created.0.borrow_mut().push((admin.clone(), name.clone())));
    let mut url = url::Url::parse(&admin).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Drops `name` on the server of `admin`, closing the connections still open to it.
pub async fn drop_database(admin: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

/// The databases created on this thread (admin URL, name), dropped as the thread exits.
struct Created(RefCell<Vec<(String, String)>>);

thread_local! {
    static CREATED: Created = const { Created(RefCell::new(Vec::new())) };
}

impl Drop for Created {
    fn drop(&mut self) {
        let databases = std::mem::take(self.0.get_mut());
        if databases.is_empty() {
            return;
        }
        // The test's thread is exiting and its runtime is gone: drop them from a thread and a
        // runtime of their own. The test harness joins the test's thread, so this finishes
        // before the process exits.
        let _ = std::thread::spawn(move || drop_all(databases)).join();
    }
}

fn drop_all(databases: Vec<(String, String)>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to drop the test databases");
    runtime.block_on(async {
        for (admin, name) in databases {
            if let Err(e) = drop_database(&admin, &name).await {
                eprintln!("warning: could not drop test database {name}: {e}");
            }
        }
    });
}
