//! Group commit: correctness, not speed. The log writer is the only way a callback is
//! logged (`single` is batches of one).
//!
//! Batches are made deterministic by holding the only writer: a test transaction inserts a
//! callback's dedup key without committing, the callback itself makes the writer wait on that
//! key, and the callbacks sent meanwhile queue up (visible as `writeQueue` in `/readyz`) until
//! the test transaction rolls back, when the writer takes them all as its next batch.

use std::time::Duration;

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use tokio::task::JoinHandle;

use crate::helpers::*;

fn one_writer() -> Settings {
    Settings::default()
        .set("TXHOOK_WRITE_MODE", "batched")
        .set("TXHOOK_BATCH_WRITERS", "1")
}

/// Queues `bodies` behind the held single writer, each once the one before it is queued, then
/// lets the writer go: it takes them as one batch, in this order. Returns each one's (status,
/// answer, Retry-After present), in order, and the id of the callback that held the writer.
async fn one_batch(app: &TestApp, bodies: Vec<String>) -> (Vec<(u16, Value, bool)>, String) {
    let (lock, blocked, blocker) = hold_writer(app).await;
    let mut sends = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        sends.push(send(app, body));
        queue_reaches(app, i as u64 + 1).await;
    }
    lock.rollback().await.unwrap();
    assert_eq!(blocked.await.unwrap().0, 200);
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.unwrap());
    }
    (answers, blocker)
}

/// `n` callbacks of new transactions in PENDING, but the one at `odd.0` in state `odd.1`.
fn pending_but(n: usize, odd: (usize, &str)) -> Vec<String> {
    (0..n)
        .map(|i| {
            let state = if i == odd.0 { odd.1 } else { "PENDING" };
            tx_body(&new_id(), "PAYMENT", state, "1")
        })
        .collect()
}

/// Sends `body` in the background; the handle yields (status, answer, Retry-After present).
fn send(app: &TestApp, body: String) -> JoinHandle<(u16, Value, bool)> {
    let client = app.client.clone();
    let url = app.url("/webhooks/transactions");
    tokio::spawn(async move {
        let r = signed_post(&client, url, body).send().await.unwrap();
        let status = r.status().as_u16();
        let retry_after = r.headers().contains_key("retry-after");
        (status, r.json().await.unwrap_or(Value::Null), retry_after)
    })
}

async fn write_queue(app: &TestApp) -> u64 {
    let ready: Value = app.get_admin_json("/readyz").await;
    ready["writeQueue"]
        .as_u64()
        .expect("batched mode shows writeQueue")
}

/// Makes the single writer wait: returns the key holder (roll it back to let the writer
/// go), the blocked request, and its transaction id.
async fn hold_writer(
    app: &TestApp,
) -> (
    Transaction<'static, Postgres>,
    JoinHandle<(u16, Value, bool)>,
    String,
) {
    let id = format!("blocker-{}", new_id());
    let body = tx_body(&id, "PAYMENT", "PENDING", "1");
    let key = txhook::payment::read(body.as_bytes(), None).dedup_key;
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("insert into event_keys (dedup_key, received_at) values ($1, now())")
        .bind(&key)
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = send(app, body);
    let db = app.db.clone();
    eventually("the writer waits on the held key", || {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from pg_stat_activity
                  where datname = current_database() and wait_event_type = 'Lock'
                    and query like '%insert into event_keys%'",
            )
            .fetch_one(&db)
            .await
            .unwrap()
                > 0
        }
    })
    .await;
    (lock, blocked, id)
}

/// Makes PostgreSQL raise `errcode` when an event in `state` is logged.
async fn fail_event_insert(app: &TestApp, state: &str, errcode: &str) {
    fail_insert(app, "events", state, errcode).await;
}

/// Makes PostgreSQL raise `errcode` when a history row in `state` is derived.
async fn fail_history_insert(app: &TestApp, state: &str, errcode: &str) {
    fail_insert(app, "transaction_states", state, errcode).await;
}

async fn fail_insert(app: &TestApp, table: &str, state: &str, errcode: &str) {
    sqlx::raw_sql(&format!(
        "create function fail_{state}() returns trigger language plpgsql as $$
         begin
           if new.state = '{state}' then
             raise exception 'refused {state}' using errcode = '{errcode}';
           end if;
           return new;
         end $$;
         create trigger fail_{state} before insert on {table}
           for each row execute function fail_{state}();"
    ))
    .execute(&app.db)
    .await
    .unwrap();
}

async fn queue_reaches(app: &TestApp, n: u64) {
    eventually(&format!("{n} callbacks queued"), || async {
        write_queue(app).await >= n
    })
    .await;
}

#[tokio::test]
async fn duplicates_inside_one_batch_are_stored_once() {
    let app = TestApp::spawn_with(one_writer()).await;
    let (lock, blocked, _) = hold_writer(&app).await;
    let body = tx_body(&new_id(), "DEPOSIT", "SUCCESS", "3.30");
    let sends: Vec<_> = (0..10).map(|_| send(&app, body.clone())).collect();
    queue_reaches(&app, 10).await;
    lock.rollback().await.unwrap();

    assert_eq!(blocked.await.unwrap().0, 200);
    let mut stored = 0;
    for s in sends {
        let (status, answer, _) = s.await.unwrap();
        assert_eq!(status, 200);
        match answer["status"].as_str() {
            Some("stored") => stored += 1,
            Some("duplicate") => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(stored, 1);
    let dedup = txhook::payment::read(body.as_bytes(), None).dedup_key;
    let rows: i64 = sqlx::query_scalar("select count(*) from events where dedup_key = $1")
        .bind(dedup)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn duplicates_across_batches_and_writers_are_stored_once() {
    let app = TestApp::spawn_with(Settings::default().set("TXHOOK_BATCH_WRITERS", "4")).await;
    let bodies: Vec<String> = (0..20)
        .map(|_| tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
        .collect();
    // Every body five times, interleaved, all at once.
    let sends: Vec<_> = (0..5)
        .flat_map(|_| bodies.iter().map(|b| send(&app, b.clone())))
        .collect();
    let mut stored = 0;
    for s in sends {
        let (status, answer, _) = s.await.unwrap();
        assert_eq!(status, 200);
        stored += usize::from(answer["status"] == "stored");
    }
    assert_eq!(stored, 20);
    assert_eq!(app.count("select count(*) from events").await, 20);
}

#[tokio::test]
async fn two_state_updates_of_one_transaction_in_one_batch_follow_the_rules() {
    let app = TestApp::spawn_with(one_writer()).await;
    let id = new_id();
    // PENDING, SUCCESS, then a late PROCESSING that must not replace SUCCESS.
    let bodies =
        ["PENDING", "SUCCESS", "PROCESSING"].map(|state| tx_body(&id, "PAYMENT", state, "9.99"));
    let (answers, _) = one_batch(&app, bodies.into()).await;
    for (status, answer, _) in answers {
        assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    }
    let t: Value = app
        .get_admin_json(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(t["status"]["state"], "SUCCESS");
    assert_eq!(
        history(&t),
        pairs(&[("PENDING", true), ("SUCCESS", true), ("PROCESSING", false)])
    );
    // The columns follow the callback that is current.
    let state = app.transaction_column(&id, "state").await;
    assert_eq!(state.as_deref(), Some("SUCCESS"));
}

#[tokio::test]
async fn updates_of_a_stored_transaction_in_one_batch_are_judged_one_after_another() {
    let app = TestApp::spawn_with(one_writer()).await;
    let id = new_id();
    assert_eq!(
        app.deliver(&tx_body(&id, "PAYMENT", "SUCCESS", "5.00"))
            .await
            .0,
        200
    );
    // Over the stored SUCCESS: a late PENDING is refused, REVERSED applies, and then FAILED
    // (a terminal state after REVERSED) is refused too.
    let bodies = [
        ("PENDING", "1.00"),
        ("REVERSED", "5.25"),
        ("FAILED", "7.00"),
    ]
    .map(|(state, amount)| tx_body(&id, "PAYMENT", state, amount));
    let (answers, _) = one_batch(&app, bodies.into()).await;
    for (status, answer, _) in answers {
        assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    }
    let t: Value = app
        .get_admin_json(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(t["status"]["state"], "REVERSED", "{t}");
    assert_eq!(
        history(&t),
        pairs(&[
            ("SUCCESS", true),
            ("PENDING", false),
            ("REVERSED", true),
            ("FAILED", false)
        ])
    );
    // The columns are those of the applied REVERSED, not of the refused events around it.
    let amount = app.transaction_column(&id, "amount").await;
    assert_eq!(amount.as_deref(), Some("5.25"));
}

#[tokio::test]
async fn a_poison_row_fails_alone_and_its_neighbours_are_stored() {
    let app = TestApp::spawn_with(one_writer()).await;
    // The database refuses one row for its data, as a constraint or a bad value would.
    fail_event_insert(&app, "POISON", "22023").await;

    let (sent, _) = one_batch(&app, pending_but(6, (3, "POISON"))).await;

    let mut answers = Vec::new();
    for (status, answer, _) in sent {
        assert_eq!(status, 200, "{answer}");
        answers.push(answer["status"].as_str().unwrap().to_owned());
    }
    // The refused transaction is kept raw in quarantine; the other five are stored.
    assert_eq!(
        answers.iter().filter(|a| *a == "stored").count(),
        5,
        "{answers:?}"
    );
    assert_eq!(answers[3], "quarantined");
    let reason: String =
        sqlx::query_scalar("select quarantine_reason from events where outcome = 'quarantined'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(reason.contains("22023"), "{reason}");
}

#[tokio::test]
async fn a_poison_row_alone_is_quarantined_not_refused_forever() {
    // A row refused for its data must end in quarantine (200) in a batch of one too, or the
    // provider would retry it for 7 days.
    let app = TestApp::spawn_with(one_writer()).await;
    fail_event_insert(&app, "POISON", "22023").await;
    let (status, answer) = app
        .deliver(&tx_body(&new_id(), "PAYMENT", "POISON", "1"))
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("quarantined")),
        "{answer}"
    );
    assert!(
        answer["reason"].as_str().unwrap().contains("22023"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_failed_batch_answers_every_waiter_503_and_stores_none() {
    let app = TestApp::spawn_with(one_writer()).await;
    // A failure that is not about one row's data (the disk is full): the whole batch fails.
    fail_event_insert(&app, "DISKFULL", "53100").await;

    let (answers, blocker) = one_batch(&app, pending_but(5, (2, "DISKFULL"))).await;

    for (status, answer, retry_after) in answers {
        assert_eq!(status, 503, "{answer}");
        assert!(retry_after);
    }
    assert_eq!(
        app.count(&format!(
            "select count(*) from events where transaction_id <> '{blocker}'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_at_once() {
    let app = TestApp::spawn_with(one_writer().set("TXHOOK_QUEUE_CAPACITY", "2")).await;
    let (lock, blocked, _) = hold_writer(&app).await;
    let queued: Vec<_> = (0..2)
        .map(|_| send(&app, tx_body(&new_id(), "PAYMENT", "PENDING", "1")))
        .collect();
    queue_reaches(&app, 2).await;

    // The queue is full: more callbacks are refused at once, without waiting for the writer.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let (status, answer, retry_after) =
            send(&app, tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
                .await
                .unwrap();
        assert_eq!(
            (status, answer["error"].as_str()),
            (503, Some("overloaded"))
        );
        assert!(retry_after);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refusals waited for the writer"
    );

    lock.rollback().await.unwrap();
    assert_eq!(blocked.await.unwrap().0, 200);
    for s in queued {
        assert_eq!(s.await.unwrap().1["status"], "stored");
    }
}

#[tokio::test]
async fn a_poison_event_for_one_transaction_does_not_hold_up_the_others() {
    let app = TestApp::spawn().await;
    // The database refuses the derived history of one event, as an over-long indexed field
    // or a bad value would.
    fail_history_insert(&app, "POISON", "22023").await;
    let poison = new_id();
    let others: Vec<String> = (0..5).map(|_| new_id()).collect();
    for (i, id) in others.iter().enumerate() {
        if i == 2 {
            let (status, answer) = app
                .deliver(&tx_body(&poison, "PAYMENT", "POISON", "1"))
                .await;
            // Acknowledged: the event is in the log whatever its projection makes of it.
            assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
        }
        let (status, _) = app.deliver(&tx_body(id, "PAYMENT", "PENDING", "1")).await;
        assert_eq!(status, 200);
    }
    for id in &others {
        let r = app.get_admin(&format!("/api/v1/transactions/{id}")).await;
        assert_eq!(r.status(), 200, "{id} was held up");
    }
    let projection: Value = app.get_admin_json("/api/v1/projection").await;
    assert_eq!(projection["failureCount"], 1, "{projection}");
    assert_eq!(projection["failures"][0]["transactionId"], poison.as_str());
    assert!(
        projection["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("22023")
    );
    assert_eq!(projection["lagEvents"], 0);
    // Later events of the poisoned transaction are projected as usual.
    let (status, _) = app
        .deliver(&tx_body(&poison, "PAYMENT", "SUCCESS", "1"))
        .await;
    assert_eq!(status, 200);
    let t: Value = app
        .get_admin_json(&format!("/api/v1/transactions/{poison}"))
        .await;
    assert_eq!(t["status"]["state"], "SUCCESS");
}
