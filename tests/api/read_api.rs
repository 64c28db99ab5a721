//! The read API: listing with filters and cursors, the event tail, auth, OpenAPI, metrics,
//! and reprocessing of quarantined callbacks.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Walks every page of `path` (which may already carry filters), returning the ids in order.
async fn walk(app: &TestApp, path: &str, limit: u32) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (status, page) = app.get_admin_answer(&url).await;
        assert_eq!(status, 200, "{url}: {page}");
        for item in page["items"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

fn body(id: &str, kind: &str, state: &str, wallet: &str, currency: &str) -> String {
    json!({
        "id": id, "walletId": wallet, "type": kind,
        "status": { "state": state },
        "amount": { "amount": "__A__", "currency": currency },
        "createdAt": "2026-11-24T10:00:00Z"
    })
    .to_string()
    .replace("\"__A__\"", "1.00")
}

#[tokio::test]
async fn walking_all_pages_returns_each_transaction_once_while_callbacks_arrive() {
    let app = TestApp::spawn().await;
    let mut before = Vec::new();
    for i in 0..60 {
        let id = format!("walk-{i:03}");
        assert_eq!(
            app.deliver(&body(&id, "PAYMENT", "PENDING", "w", "EUR"))
                .await
                .0,
            200
        );
        before.push(id);
    }
    // Meanwhile: state changes of listed transactions and new transactions.
    let writer = {
        let client = app.client.clone();
        let url = app.url("/webhooks/transactions");
        tokio::spawn(async move {
            for i in 0..60 {
                let b = if i % 2 == 0 {
                    body(&format!("walk-{i:03}"), "PAYMENT", "SUCCESS", "w", "EUR")
                } else {
                    body(&format!("late-{i:03}"), "DEPOSIT", "PENDING", "w", "EUR")
                };
                let r = client
                    .post(&url)
                    .headers(hmac_headers(SHARED_KEY, b.as_bytes()))
                    .body(b)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        })
    };
    let seen = walk(&app, "/api/v1/transactions", 7).await;
    writer.await.unwrap();

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id).or_default() += 1;
    }
    assert!(
        counts.values().all(|&n| n == 1),
        "an id was listed twice: {counts:?}"
    );
    for id in &before {
        assert_eq!(counts.get(id.as_str()), Some(&1), "{id} missing");
    }
    // After the writes settle, a full walk sees everything, in first-callback order.
    let all = walk(&app, "/api/v1/transactions", 50).await;
    assert_eq!(all.len(), 90);
    assert_eq!(all[..60], before[..]);
}

#[tokio::test]
async fn every_filter_selects_exactly_its_transactions() {
    let app = TestApp::spawn().await;
    let rows = [
        ("f1", "PAYMENT", "SUCCESS", "wa", "EUR"),
        ("f2", "DEPOSIT", "PENDING", "wa", "USD"),
        ("f3", "PAYMENT", "PENDING", "wb", "EUR"),
        ("f4", "EXCHANGE", "FAILED", "wb", "GBP"),
        ("f5", "CHARGE", "SUCCESS", "wc", "EUR"),
    ];
    for (id, kind, state, wallet, cur) in rows {
        assert_eq!(
            app.deliver(&body(id, kind, state, wallet, cur)).await.0,
            200
        );
    }
    let cases: [(&str, &[&str]); 7] = [
        ("state=SUCCESS", &["f1", "f5"]),
        ("type=PAYMENT", &["f1", "f3"]),
        ("walletId=wb", &["f3", "f4"]),
        ("currency=EUR", &["f1", "f3", "f5"]),
        ("state=PENDING&currency=EUR", &["f3"]),
        ("type=CHARGE&walletId=wa", &[]),
        (
            "since=2000-01-01T00:00:00Z",
            &["f1", "f2", "f3", "f4", "f5"],
        ),
    ];
    for (query, want) in cases {
        let got = walk(&app, &format!("/api/v1/transactions?{query}"), 2).await;
        assert_eq!(got, want, "{query}");
    }
    assert!(
        walk(&app, "/api/v1/transactions?since=2999-01-01T00:00:00Z", 10)
            .await
            .is_empty()
    );
    // Items are in the provider's shape, with receivedAt and updatedAt added.
    let (_, page) = app
        .get_admin_answer("/api/v1/transactions?walletId=wc")
        .await;
    let item = &page["items"][0];
    assert_eq!(item["amount"]["amount"].to_string(), "1.00");
    assert!(item["receivedAt"].is_string() && item["updatedAt"].is_string());
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, param) in [
        ("/api/v1/transactions?limit=0", "limit"),
        ("/api/v1/transactions?limit=501", "limit"),
        ("/api/v1/transactions?limit=ten", "limit"),
        ("/api/v1/transactions?cursor=garbage", "cursor"),
        ("/api/v1/transactions?since=yesterday", "since"),
        ("/api/v1/transactions?state=", "state"),
        ("/api/v1/transactions?wallet_id=x", "wallet_id"),
        ("/api/v1/transactions?state=A&state=B", "state"),
        ("/api/v1/events?after=-1", "after"),
        ("/api/v1/events?after=999999", "after"),
        ("/api/v1/events?limit=1001", "limit"),
        ("/api/v1/events/abc", "sequence"),
    ] {
        let (status, err) = app.get_admin_answer(query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(err["error"], "bad_parameter", "{query}");
        assert!(
            err["message"].as_str().unwrap().contains(param),
            "{query}: {err}"
        );
    }
}

#[tokio::test]
async fn sql_in_filters_is_only_ever_a_value() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.deliver(&body("s1", "PAYMENT", "SUCCESS", "w", "EUR"))
            .await
            .0,
        200
    );
    for inj in ["' or '1'='1", "x'; drop table events; --", "\\' or 1=1 --"] {
        let q = url::form_urlencoded::byte_serialize(inj.as_bytes()).collect::<String>();
        for f in ["state", "type", "walletId", "currency"] {
            let (status, page) = app
                .get_admin_answer(&format!("/api/v1/transactions?{f}={q}"))
                .await;
            assert_eq!(status, 200);
            assert_eq!(page["items"].as_array().unwrap().len(), 0, "{f}={inj}");
        }
    }
    assert_eq!(app.count("select count(*) from events").await, 1);
}

#[tokio::test]
async fn every_read_route_refuses_missing_wrong_and_query_tokens() {
    let app = TestApp::spawn().await;
    let routes = [
        "/api/v1/transactions",
        "/api/v1/transactions/x",
        "/api/v1/events",
        "/api/v1/events/1",
        "/api/v1/subscription",
    ];
    for route in routes {
        let url = app.url(route);
        let none = app.client.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{route} without token");
        let wrong = app
            .client
            .get(&url)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{route} wrong token");
        let basic = app
            .client
            .get(&url)
            .basic_auth("admin", Some(ADMIN_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 401, "{route} basic auth");
        let query = app
            .client
            .get(format!(
                "{url}?access_token={ADMIN_TOKEN}&token={ADMIN_TOKEN}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(query.status(), 401, "{route} token in query");
        assert_eq!(none.json::<Value>().await.unwrap()["error"], "unauthorized");
    }
    // Without a configured token, everyone is refused.
    let closed = TestApp::spawn_with(Settings::default().unset("TXHOOK_ADMIN_TOKEN")).await;
    for route in routes {
        let r = closed
            .client
            .get(closed.url(route))
            .bearer_auth("")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{route} with no token configured");
        let r = closed.get_admin(route).await;
        assert_eq!(r.status(), 401, "{route} with no token configured");
    }
}

#[tokio::test]
async fn event_log_has_both_outcomes_and_bodies_in_utf8_or_base64() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let tx = tx_body(&id, "PAYMENT", "PENDING", "5");
    assert_eq!(app.deliver(&tx).await.1["status"], "stored");
    let binary: &[u8] = b"\xff\xfe not utf8";
    let r = app
        .post_raw(binary.to_vec(), hmac_headers(SHARED_KEY, binary))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "quarantined");

    // The tail holds events back while any older write transaction in the cluster is open
    // (other tests run beside this one), so poll until both are out.
    let page = tail_until(&app, 0, 2).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["source"], "callback");
    assert_eq!(items[0]["outcome"], "stored");
    assert_eq!(items[0]["transactionId"], id.as_str());
    assert_eq!(items[0]["state"], "PENDING");
    assert_eq!(items[0]["body"], tx.as_str());
    assert!(items[0]["dedupKey"].as_str().unwrap().starts_with("json:"));
    assert_eq!(items[1]["outcome"], "quarantined");
    assert!(items[1].get("body").is_none());
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(items[1]["bodyBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, binary);
    assert_eq!(page["next"], items[1]["sequence"]);

    // Polling from `next` returns nothing new and the same `next`.
    let (_, again) = app
        .get_admin_answer(&format!("/api/v1/events?after={}", page["next"]))
        .await;
    assert_eq!(again["items"].as_array().unwrap().len(), 0);
    assert_eq!(again["next"], page["next"]);

    // One event, with its kept headers.
    let (status, one) = app
        .get_admin_answer(&format!("/api/v1/events/{}", items[0]["sequence"]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["body"], tx.as_str());
    assert!(one["headers"]["x-hubpay-hmac"].is_string());
    assert_eq!(app.get_admin_answer("/api/v1/events/987654").await.0, 404);
}

/// Polls the event tail from `after` until a page holds `n` items (or a deadline passes).
async fn tail_until(app: &TestApp, after: i64, n: usize) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = app
            .get_admin_answer(&format!("/api/v1/events?after={after}"))
            .await;
        assert_eq!(status, 200);
        if page["items"].as_array().unwrap().len() >= n {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tail stuck at {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The race a naive `sequence > after` tail loses: an event takes a sequence number, a later
/// one commits first, the reader moves past it, then the first commits.
#[tokio::test]
async fn event_tail_never_skips_an_event_that_commits_late() {
    let app = TestApp::spawn().await;
    let first = tx_body(&new_id(), "PAYMENT", "PENDING", "1");
    assert_eq!(app.deliver(&first).await.0, 200);
    let (_, page) = app.get_admin_answer("/api/v1/events").await;
    let mut seen: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    let mut after = page["next"].as_i64().unwrap();

    // A writer takes the next sequence number and holds its transaction open.
    let mut slow = app.db.begin().await.unwrap();
    let slow_seq: i64 = sqlx::query_scalar(
        "insert into events (source, dedup_key, body, outcome) values ('callback', 'raw:slow', 'x', 'quarantined') returning sequence",
    )
    .fetch_one(&mut *slow)
    .await
    .unwrap();
    // A later event commits while it is open.
    let later = tx_body(&new_id(), "PAYMENT", "PENDING", "2");
    let later_seq = app.deliver(&later).await.1["sequence"].as_i64().unwrap();
    assert!(later_seq > slow_seq);

    // The tail holds the later event back rather than pass the open one.
    let (_, held) = app
        .get_admin_answer(&format!("/api/v1/events?after={after}"))
        .await;
    let held_seqs: Vec<i64> = held["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        !held_seqs.contains(&later_seq),
        "tail passed an open writer: {held_seqs:?}"
    );
    seen.extend(&held_seqs);
    after = held["next"].as_i64().unwrap();

    slow.commit().await.unwrap();

    // Now both arrive, each once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains(&slow_seq) && seen.contains(&later_seq)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "tail never delivered {seen:?}"
        );
        let (_, p) = app
            .get_admin_answer(&format!("/api/v1/events?after={after}"))
            .await;
        for e in p["items"].as_array().unwrap() {
            seen.push(e["sequence"].as_i64().unwrap());
        }
        after = p["next"].as_i64().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "an event was repeated: {seen:?}");
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn openapi_documents_every_route_and_the_bearer_scheme() {
    let app = TestApp::spawn().await;
    let doc = json_of(app.client.get(app.url("/openapi.json"))).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let expected = [
        ("/webhooks/transactions", "post"),
        ("/api/v1/transactions", "get"),
        ("/api/v1/transactions/{id}", "get"),
        ("/api/v1/events", "get"),
        ("/api/v1/events/{sequence}", "get"),
        ("/api/v1/events/stream", "get"),
        ("/api/v1/subscription", "get"),
        ("/api/v1/projection", "get"),
        ("/api/v1/destinations", "post"),
        ("/api/v1/destinations/{id}", "patch"),
        ("/api/v1/destinations/{id}/replay", "post"),
        ("/api/v1/destinations/{id}/attempts", "get"),
        ("/api/v1/destinations/{id}/dead-letters", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        expected.len(),
        "documented: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} not documented");
        assert!(
            op["responses"].is_object(),
            "{method} {path} has no responses"
        );
        if path.starts_with("/api/") {
            assert!(
                op["security"].is_array(),
                "{path} lacks the bearer requirement"
            );
        }
        // Every documented route is served (not 404/405) by the router.
        let url = app.url(&path.replace("{id}", "x").replace("{sequence}", "1"));
        let status = match method {
            "post" => app.client.post(&url).send().await.unwrap().status(),
            _ => app.client.get(&url).send().await.unwrap().status(),
        };
        assert!(
            status != 405 && (status != 404 || path.contains('{')),
            "{method} {path}: {status}"
        );
    }
    assert!(
        doc["paths"]["/api/v1/transactions"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "walletId")
    );
}

fn metric(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_counters_move_with_outcomes() {
    let app = TestApp::spawn().await;
    let before = app.metrics_text().await;
    let b = tx_body(&new_id(), "PAYMENT", "PENDING", "1");
    app.deliver(&b).await;
    app.deliver(&b).await;
    app.deliver("not json").await;
    app.post_raw(b.clone(), hmac_headers("wrong", b.as_bytes()))
        .await;
    let after = app.metrics_text().await;
    for (name, label) in [
        ("txhook_callbacks_total", "outcome=\"stored\""),
        ("txhook_callbacks_total", "outcome=\"duplicate\""),
        ("txhook_callbacks_total", "outcome=\"quarantined\""),
        ("txhook_callbacks_total", "outcome=\"rejected\""),
        (
            "txhook_callbacks_rejected_total",
            "reason=\"invalid_signature\"",
        ),
        (
            "txhook_http_requests_total",
            "route=\"/webhooks/transactions\"",
        ),
        (
            "txhook_http_request_duration_seconds_count",
            "route=\"/webhooks/transactions\"",
        ),
    ] {
        assert!(
            metric(&after, name, label) > metric(&before, name, label),
            "{name}{{{label}}} did not move"
        );
    }
    assert!(after.contains("txhook_db_pool_connections"));
}

#[tokio::test]
async fn responses_carry_a_request_id_generated_or_propagated() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!r.headers()["x-request-id"].is_empty());
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn reprocess_applies_quarantined_callbacks_the_parser_now_reads() {
    let app = TestApp::spawn().await;
    let id = new_id();
    // As an older parser would have left it: a readable body, quarantined.
    let readable = tx_body(&id, "PAYMENT", "SUCCESS", "7.25");
    logged_as_quarantined(&app, "json:old", &readable).await;
    // And one that is still unreadable.
    assert_eq!(
        app.deliver("still not json").await.1["status"],
        "quarantined"
    );
    assert_eq!(
        app.get_admin_answer(&format!("/api/v1/transactions/{id}"))
            .await
            .0,
        404
    );

    let store = txhook::store::Store::from_pool(app.db.clone());
    let done = txhook::projection::reprocess(&store, None).await.unwrap();
    assert_eq!((done.examined, done.fixed), (2, 1));

    let (status, t) = app
        .get_admin_answer(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(t["status"]["state"], "SUCCESS");
    assert_eq!(t["amount"]["amount"].to_string(), "7.25");
    assert_eq!(t["history"][0]["applied"], true);

    // A second run fixes nothing more.
    let again = txhook::projection::reprocess(&store, None).await.unwrap();
    assert_eq!((again.examined, again.fixed), (1, 0));
    assert_eq!(
        app.count("select count(*) from transaction_states").await,
        1
    );
}

#[tokio::test]
async fn reprocessed_old_callback_does_not_override_a_later_state_by_latest_wins() {
    let app = TestApp::spawn().await;
    let id = new_id();
    // An AWAITING_APPROVAL was quarantined; a later PENDING was stored.
    logged_as_quarantined(
        &app,
        "json:old2",
        &tx_body(&id, "PAYMENT", "AWAITING_APPROVAL", "1"),
    )
    .await;
    assert_eq!(
        app.deliver(&tx_body(&id, "PAYMENT", "PENDING", "1"))
            .await
            .1["status"],
        "stored"
    );
    app.projected().await;
    let store = txhook::store::Store::from_pool(app.db.clone());
    assert_eq!(
        txhook::projection::reprocess(&store, None)
            .await
            .unwrap()
            .fixed,
        1
    );
    let (_, t) = app
        .get_admin_answer(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(
        t["status"]["state"], "PENDING",
        "the older callback must not win"
    );
    assert_eq!(t["history"][0]["state"], "AWAITING_APPROVAL");
    assert_eq!(t["history"][0]["applied"], false);
}

#[tokio::test]
async fn pages_are_bounded_by_bytes_and_the_cursor_still_walks_everything() {
    let app = TestApp::spawn().await;
    // Twelve transactions of about 900 kB each: 10.8 MB, over the 8 MiB a page may carry.
    let note = "n".repeat(900_000);
    let mut ids = Vec::new();
    for _ in 0..12 {
        let id = new_id();
        let mut b: Value =
            serde_json::from_str(&body(&id, "PAYMENT", "PENDING", "w", "EUR")).unwrap();
        b["note"] = json!(note);
        let b = b.to_string();
        let (status, answer) = app.deliver(&b).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("stored")),
            "{answer}"
        );
        ids.push(id);
    }
    let max = txhook::store::PAGE_MAX_BODY_BYTES as usize;

    let (status, first) = app
        .get_admin_answer("/api/v1/events?limit=1000&wait=10")
        .await;
    assert_eq!(status, 200);
    let bytes: usize = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap().len())
        .sum();
    let n = first["items"].as_array().unwrap().len();
    assert!((1..12).contains(&n), "{n} events in one page");
    assert!(
        bytes < max + 1_000_000,
        "{bytes} bytes of bodies in one page"
    );
    // An empty page means "nothing visible yet" (the projector's open transaction can hold
    // the tail back for a moment), so the walk long-polls until all twelve came and then
    // checks that nothing more does.
    let mut seen = n;
    let mut after = first["next"].as_i64().unwrap();
    while seen < 12 {
        let path = format!("/api/v1/events?limit=1000&after={after}&wait=10");
        let (_, page) = app.get_admin_answer(&path).await;
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "the walk stopped after {seen} events");
        seen += items.len();
        after = page["next"].as_i64().unwrap();
    }
    let (_, rest) = app
        .get_admin_answer(&format!("/api/v1/events?after={after}"))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 0);
    assert_eq!(seen, 12);

    let (_, listed) = app.get_admin_answer("/api/v1/transactions?limit=500").await;
    let n = listed["items"].as_array().unwrap().len();
    assert!((1..12).contains(&n), "{n} transactions in one page");
    assert!(listed["nextCursor"].is_string());
    assert_eq!(walk(&app, "/api/v1/transactions", 500).await, ids);
}
