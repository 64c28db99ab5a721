//! The event log is partitioned by month; deduplication holds across partitions.

use std::time::Duration;

use crate::helpers::*;

async fn partitions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'events'::regclass order by 1",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn partitions_exist_for_this_month_and_three_ahead() {
    let app = TestApp::spawn().await;
    let have = partitions(&app).await;
    let months: Vec<String> = sqlx::query_scalar(
        "select 'events_' || to_char(date_trunc('month', (now() at time zone 'utc')) + make_interval(months => m), 'YYYY_MM')
           from generate_series(-1, 3) as m",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    for m in &months {
        assert!(have.contains(m), "{m} missing from {have:?}");
    }
}

#[tokio::test]
async fn creating_partitions_ahead_is_idempotent_and_safe_from_two_replicas_at_once() {
    let app = TestApp::spawn().await;
    let a = txhook::store::Store::from_pool(app.db.clone());
    let b = txhook::store::Store::from_pool(app.db.clone());
    let before = partitions(&app).await.len();
    let (ra, rb) = tokio::join!(a.ensure_partitions(6), b.ensure_partitions(6));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra + rb, 3, "months 4 to 6 ahead are created exactly once");
    assert_eq!(partitions(&app).await.len(), before + 3);
    assert_eq!(a.ensure_partitions(6).await.unwrap(), 0);
}

#[tokio::test]
async fn a_retry_after_a_partition_boundary_is_still_a_duplicate() {
    let app = TestApp::spawn().await;
    let body = tx_body(&new_id(), "PAYMENT", "SUCCESS", "12.00");
    assert_eq!(app.deliver(&body).await.1["status"], "stored");
    // The first delivery now lies in last month's partition, as it would after a month
    // boundary passed during the provider's 7-day retries.
    sqlx::query("update events set received_at = date_trunc('month', now()) - interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    let home: String = sqlx::query_scalar("select tableoid::regclass::text from events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let last_month: String = sqlx::query_scalar(
        "select 'events_' || to_char(date_trunc('month', now() at time zone 'utc') - interval '1 month', 'YYYY_MM')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(home, last_month);

    let (status, answer) = app.deliver(&body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.count("select count(*) from events").await, 1);
    // And concurrent retries at the boundary store nothing new either.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (client, url, b) = (
            app.client.clone(),
            app.url("/webhooks/transactions"),
            body.clone(),
        );
        set.spawn(async move {
            client
                .post(url)
                .headers(hmac_headers(SHARED_KEY, b.as_bytes()))
                .body(b)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        });
    }
    while let Some(answer) = set.join_next().await {
        assert_eq!(answer.unwrap()["status"], "duplicate");
    }
    assert_eq!(app.count("select count(*) from events").await, 1);
}
