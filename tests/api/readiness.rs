//! `/readyz`: ready or not to anyone, the reasons only with the admin token; one check at a
//! time, on a connection the writers never need.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

async fn readyz_with(app: &TestApp, token: Option<&str>) -> (u16, Value) {
    let mut req = app.client.get(app.url("/readyz"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Backends of the app's database waiting for a lock on the migrations table.
async fn readiness_queries_waiting(app: &TestApp) -> i64 {
    app.count(
        "select count(*) from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()
            and wait_event_type = 'Lock' and query like '%_sqlx_migrations%'",
    )
    .await
}

#[tokio::test]
async fn readiness_says_ready_or_not_to_anyone_and_why_only_with_the_token() {
    let app = TestApp::spawn().await;
    assert_eq!(
        readyz_with(&app, None).await,
        (200, json!({ "status": "ready" }))
    );
    let (status, detailed) = readyz_with(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!((status, &detailed["status"]), (200, &json!("ready")));

    // Not ready: a migration the binary embeds is missing.
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let public = loop {
        let (status, body) = readyz_with(&app, None).await;
        if status == 503 {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "never unready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(public, json!({ "status": "unavailable" }));
    assert_eq!(
        readyz_with(&app, Some("not-the-admin-token-at-all")).await,
        (503, json!({ "status": "unavailable" }))
    );
    let (status, detailed) = readyz_with(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 503);
    assert!(
        detailed["database"]
            .as_str()
            .is_some_and(|d| d.contains("migrations")),
        "{detailed}"
    );
}

#[tokio::test]
async fn a_flood_of_readyz_runs_one_check_at_a_time_off_the_writers_connections() {
    let app = TestApp::spawn_with(
        Settings::default()
            .set("TXHOOK_DB_MAX_CONNECTIONS", "4")
            .set("TXHOOK_STORE_TIMEOUT_SECS", "3")
            .set("TXHOOK_DB_ACQUIRE_TIMEOUT_SECS", "2"),
    )
    .await;
    // The slow case: a lock held on the migrations table stalls every readiness query.
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("lock table _sqlx_migrations in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();

    let mut flood = JoinSet::new();
    for _ in 0..40 {
        let (client, url) = (app.client.clone(), app.url("/readyz"));
        flood.spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while readiness_queries_waiting(&app).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no readiness check started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Callbacks are stored meanwhile: the writers' pool is untouched.
    let (status, answer) = app
        .deliver(&tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));

    // However many requests wait, at most one query does.
    let mut most = 0;
    while !flood.is_empty() {
        most = most.max(readiness_queries_waiting(&app).await);
        while let Some(done) = flood.try_join_next() {
            assert_eq!(
                done.unwrap().unwrap(),
                503,
                "ready while the check cannot run"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flood was not answered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(most, 1, "readiness queries in flight at once");

    lock.rollback().await.unwrap();
    eventually("ready again", || async {
        app.status("/readyz").await == 200
    })
    .await;
}
