//! Consumers of the log: the long-poll tail and the SSE stream. Both read the log in one
//! order, gap-free, and are woken by commits.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::timeout;

use crate::helpers::*;

/// One SSE message: its `id:` and parsed `data:`.
#[derive(Debug)]
struct Message {
    id: i64,
    data: Value,
}

/// Reads SSE messages from a response, skipping comments.
struct SseReader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    /// The `id:` of the messages without `data:` (the stream's starting position), last first.
    positions: Vec<i64>,
}

impl SseReader {
    async fn open(app: &TestApp, query: &str, last_event_id: Option<i64>) -> Self {
        let mut req = app
            .client
            .get(app.url(&format!("/api/v1/events/stream{query}")))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            body: r.bytes_stream().boxed(),
            buf: String::new(),
            positions: Vec::new(),
        }
    }

    /// The next message, waiting at most `limit`.
    async fn next_within(&mut self, limit: Duration) -> Option<Message> {
        timeout(limit, self.next()).await.ok()
    }

    async fn next(&mut self) -> Message {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                match id {
                    Some(id) if data.is_empty() => self.positions.insert(0, id),
                    Some(id) => {
                        return Message {
                            id,
                            data: serde_json::from_str(&data).unwrap(),
                        };
                    }
                    None => {}
                }
                continue;
            }
            let chunk = self.body.next().await.expect("stream open").unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn a_long_poll_is_held_until_a_commit_wakes_it() {
    let app = TestApp::spawn().await;
    let first = logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await;
    let (client, url) = (
        app.client.clone(),
        app.url(&format!("/api/v1/events?after={first}&wait=30")),
    );
    let mut poll = tokio::spawn(async move {
        let r = client
            .get(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    // Nothing after `first` yet: the request is held.
    assert!(
        timeout(Duration::from_millis(500), &mut poll)
            .await
            .is_err()
    );

    let second = logged(&app, &tx_body(&new_id(), "DEPOSIT", "PENDING", "2")).await;
    let (status, page) = timeout(Duration::from_secs(5), poll)
        .await
        .expect("woken by the commit")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["sequence"], second, "{page}");
    assert_eq!(page["items"][0]["type"], "DEPOSIT");
    assert_eq!(page["next"], second);

    // A wait that runs out answers an empty page; more than 60 seconds is refused.
    let started = std::time::Instant::now();
    let r = app
        .get_admin(&format!("/api/v1/events?after={second}&wait=1"))
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    assert_eq!(page["next"], second);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let r = app.get_admin("/api/v1/events?wait=61").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_stream_sends_new_events_live_and_resumes_after_last_event_id() {
    let app = TestApp::spawn().await;
    let before = logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await;
    // From now: what was logged before connecting is not sent.
    let mut live = SseReader::open(&app, "", None).await;
    let mut sent = Vec::new();
    for state in ["PENDING", "SUCCESS", "FAILED"] {
        sent.push(logged(&app, &tx_body(&new_id(), "PAYMENT", state, "1")).await);
    }
    sent.push(stream_event(&app, "transaction.done").await);
    let mut got = Vec::new();
    for _ in 0..sent.len() {
        let m = live
            .next_within(Duration::from_secs(5))
            .await
            .expect("a live event");
        assert_eq!(m.data["sequence"], m.id);
        got.push(m.id);
    }
    assert_eq!(got, sent);
    assert!(!got.contains(&before));

    // Reconnecting with Last-Event-ID resumes right after it.
    let mut resumed = SseReader::open(&app, &format!("?after={before}"), Some(sent[1])).await;
    for expected in &sent[2..] {
        let m = resumed.next_within(Duration::from_secs(5)).await.unwrap();
        assert_eq!(m.id, *expected);
    }
    // `after` alone starts after it.
    let mut from_after = SseReader::open(&app, &format!("?after={before}"), None).await;
    assert_eq!(
        from_after
            .next_within(Duration::from_secs(5))
            .await
            .unwrap()
            .id,
        sent[0]
    );
    // Each stream opened by saying where it starts (an `id:` without data), so that a client
    // cut off before its first event resumes from there instead of from a later "now".
    assert_eq!(live.positions, [before]);
    assert_eq!(resumed.positions, [sent[1]]);
    assert_eq!(from_after.positions, [before]);
}

#[tokio::test]
async fn the_stream_filters_by_source_type_state_and_event_name() {
    let app = TestApp::spawn().await;
    let start = logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await;
    let pay_ok = logged(&app, &tx_body(&new_id(), "PAYMENT", "SUCCESS", "1")).await;
    let dep_ok = logged(&app, &tx_body(&new_id(), "DEPOSIT", "SUCCESS", "1")).await;
    let _dep_pending = logged(&app, &tx_body(&new_id(), "DEPOSIT", "PENDING", "1")).await;
    let done = stream_event(&app, "transaction.done").await;
    let user = stream_event(&app, "user.created").await;

    for (query, expected) in [
        ("&type=PAYMENT", vec![pay_ok]),
        ("&state=SUCCESS", vec![pay_ok, dep_ok]),
        ("&type=DEPOSIT&state=SUCCESS", vec![dep_ok]),
        ("&event=transaction.*", vec![done]),
        ("&source=orangepill", vec![done, user]),
        (
            "&type=PAYMENT,DEPOSIT&state=SUCCESS&event=user.created",
            vec![pay_ok, dep_ok, user],
        ),
    ] {
        let mut s = SseReader::open(&app, &format!("?after={start}{query}"), None).await;
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            got.push(s.next_within(Duration::from_secs(5)).await.unwrap().id);
        }
        assert_eq!(got, expected, "{query}");
        // And nothing else.
        assert!(
            s.next_within(Duration::from_millis(300)).await.is_none(),
            "{query}"
        );
    }
    let r = app.get_admin("/api/v1/events/stream?source=email").await;
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_event_that_commits_late_is_streamed_not_skipped() {
    let app = TestApp::spawn().await;
    let start = logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await;
    let mut s = SseReader::open(&app, &format!("?after={start}"), None).await;

    // A writer takes a sequence and stays open; a later one commits first.
    let mut late = app.db.begin().await.unwrap();
    let held: i64 = sqlx::query_scalar(
        "with key as (insert into event_keys (dedup_key, received_at)
                      values ('json:late', now()) returning sequence)
         insert into events (sequence, source, dedup_key, body, outcome)
         select sequence, 'callback', 'json:late', '\\x7b7d', 'quarantined' from key
         returning sequence",
    )
    .fetch_one(&mut *late)
    .await
    .unwrap();
    let after = logged(&app, &tx_body(&new_id(), "PAYMENT", "SUCCESS", "1")).await;
    assert!(held < after);
    // The later event is held back while the earlier writer is open...
    assert!(s.next_within(Duration::from_millis(700)).await.is_none());
    late.commit().await.unwrap();
    // ...and then both come, the late one first, none skipped.
    let first = s.next_within(Duration::from_secs(5)).await.unwrap();
    let second = s.next_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!((first.id, second.id), (held, after));
}
