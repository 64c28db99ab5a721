//! Fault scenarios (issue 8): the real `txhook` binary under load while PostgreSQL is killed,
//! txhook is killed or stopped, two replicas race, and the database turns read-only. After
//! each, every event that got a 200 must be in the database.
//!
//! Run them with `scripts/faults.sh`: it starts a private PostgreSQL cluster (which these
//! tests kill and restart through `scripts/pg.sh`), exports `FAULTS_PG_NAME` and
//! `DATABASE_URL`, and runs `cargo test --release --test faults -- --ignored
//! --test-threads=1`. Each scenario prints one `FAULTS|…` line of figures and appends it to
//! `$FAULTS_REPORT` when set. `FAULTS_WRITE_MODE` picks the write mode (default `batched`).

#[path = "../common/mod.rs"]
mod common;
mod load;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use load::{Ending, Load};
use rand::seq::SliceRandom;
use support::{Cluster, Figures, Txhook, body_of, sample_transaction};
use txhook::payment::TxState;
use txhook_devtools::at_state;

/// 1. PostgreSQL dies mid-load (immediate shutdown) and comes back: no 200 while it is down,
///    the same txhook process serves 200 again within seconds, and no acked event is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn postgres_killed_mid_load_never_acks_while_down_and_recovers() {
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    let txhook = Txhook::start(&db, "pgkill", &[]).await;
    let load = Load::start(vec![txhook.url()], 16);
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.kill().await;
    let killed = Instant::now();
    // Longer than the store timeout (5 s), so that requests sent after the kill are also
    // answered before the restart.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let restart_begins = Instant::now();
    cluster.start().await;
    let up = Instant::now();
    let recovered = load.first_200_sent_after(up, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let records = load.stop().await;

    let while_down: Vec<_> = records
        .iter()
        .filter(|r| r.sent >= killed && r.done <= restart_begins)
        .collect();
    let acked_while_down = while_down.iter().filter(|r| r.answer.is_ok()).count();
    let max_503 = records
        .iter()
        .filter(|r| r.answer == Ending::Unavailable)
        .map(|r| r.done - r.sent)
        .max()
        .unwrap_or_default();
    let mut figures = Figures::of("1 postgres killed", &records, &db).await;
    figures.note(format!(
        "down {:.1}s, answered while down {} (200: {acked_while_down}), slowest 503 {:.1}s, recovery {}",
        (restart_begins - killed).as_secs_f64(),
        while_down.len(),
        max_503.as_secs_f64(),
        recovered.map_or("none".into(), |t| format!("{:.2}s", (t - up).as_secs_f64())),
    ));
    figures.report();
    txhook.stop().await;

    figures.assert_sound();
    assert!(
        !while_down.is_empty(),
        "no request was answered while PostgreSQL was down"
    );
    assert_eq!(acked_while_down, 0, "a 200 while PostgreSQL was down");
    assert!(max_503 < Duration::from_secs(10), "a 503 took {max_503:?}");
    let recovered = recovered.expect("no 200 within 30 s of PostgreSQL's restart");
    assert!(recovered - up < Duration::from_secs(30));
}

/// 2. txhook is SIGKILLed mid-load and started again: every event that got a 200 is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn txhook_sigkilled_mid_load_loses_no_acked_event() {
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    let txhook = Txhook::start(&db, "sigkill", &[]).await;
    let addr = txhook.addr;
    let load = Load::start(vec![txhook.url()], 16);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let killed = Instant::now();
    let status = txhook.kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = Txhook::start_on(&db, "sigkill-restarted", addr, &[]).await;
    let back = Instant::now();
    let served = load
        .first_200_sent_after(back, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let records = load.stop().await;
    // Killed mid-step, the projector applied a step whole or not at all.
    db.projected_once().await;
    again.stop().await;

    let mut figures = Figures::of("2 txhook SIGKILL", &records, &db).await;
    figures.note(format!(
        "killed by {status}, back in {:.2}s, first 200 after restart {}",
        (back - killed).as_secs_f64(),
        served.map_or("none".into(), |t| format!(
            "{:.2}s",
            (t - back).as_secs_f64()
        )),
    ));
    figures.report();
    figures.assert_sound();
    assert!(served.is_some(), "the restarted txhook served no 200");
}

/// 3. txhook gets SIGTERM mid-load: in-flight requests end in 200-and-stored or 503, none
///    hangs, and the process exits 0 within the drain timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn txhook_sigterm_mid_load_drains_and_exits_in_time() {
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    let txhook = Txhook::start(&db, "sigterm", &[]).await;
    let load = Load::start(vec![txhook.url()], 16);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let term = Instant::now();
    let (status, logs) = txhook.terminate(Duration::from_secs(30)).await;
    let exited = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records = load.stop().await;

    let in_flight: Vec<_> = records
        .iter()
        .filter(|r| r.sent < term && r.done > term)
        .collect();
    let in_flight_200 = in_flight.iter().filter(|r| r.answer.is_ok()).count();
    let in_flight_503 = in_flight
        .iter()
        .filter(|r| r.answer == Ending::Unavailable)
        .count();
    let mut figures = Figures::of("3 txhook SIGTERM", &records, &db).await;
    figures.note(format!(
        "exit {status} after {:.2}s; in flight at SIGTERM {} (200: {in_flight_200}, 503: {in_flight_503}, refused or closed: the rest)",
        (exited - term).as_secs_f64(),
        in_flight.len()
    ));
    figures.report();
    figures.assert_sound();
    assert!(status.success(), "exit {status}\n{logs}");
    assert!(exited - term < Duration::from_secs(30));
}

/// 4. Two replicas on one database; every callback of a PENDING → PROCESSING → SUCCESS
///    lifecycle is sent to both at once, in random order, and retried on either: one row per
///    event, only 200s, exactly one `stored` per event, and every transaction ends SUCCESS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn two_replicas_store_each_event_once_with_correct_states() {
    const TRANSACTIONS: usize = 300;
    const STATES: [&str; 3] = ["PENDING", "PROCESSING", "SUCCESS"];
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    // Debug logs of the batcher show the deadlocks it had to retry.
    let env = [("RUST_LOG", "info,txhook::store::log_writer=debug")];
    let (a, b) = tokio::join!(
        Txhook::start(&db, "replica-a", &env),
        Txhook::start(&db, "replica-b", &env)
    );
    let urls = [a.url(), b.url()];

    let mut bodies: Vec<(String, String)> = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..TRANSACTIONS {
        let id = uuid::Uuid::new_v4().to_string();
        let first = sample_transaction(&id);
        for state in STATES {
            let t = at_state(&first, &TxState::from(state.to_owned()));
            bodies.push((id.clone(), body_of(&t)));
        }
        ids.push(id);
    }
    bodies.shuffle(&mut rand::rng());

    let started = Instant::now();
    let answers = load::race(&urls, &bodies, 24).await;
    let elapsed = started.elapsed();
    db.projected_once().await;
    let (a_logs, b_logs) = tokio::join!(a.stop(), b.stop());

    let mut stored: HashMap<&str, usize> = HashMap::new();
    let mut not_200 = Vec::new();
    for (body, answer) in &answers {
        match answer {
            Ending::Ok(status) if status == "stored" => {
                *stored.entry(body.as_str()).or_default() += 1
            }
            Ending::Ok(status) if status == "duplicate" => {}
            other => not_200.push(other.clone()),
        }
    }
    let events: i64 = db
        .scalar(
            "select count(*) from events where transaction_id = any($1)",
            &ids,
        )
        .await;
    let success: i64 = db
        .scalar(
            "select count(*) from transactions t join events e on e.sequence = t.current_sequence
              where t.id = any($1) and t.state = 'SUCCESS' and e.state = 'SUCCESS'",
            &ids,
        )
        .await;
    let history: i64 = db
        .scalar(
            "select count(*) from transaction_states where transaction_id = any($1)",
            &ids,
        )
        .await;
    let stored_once = bodies
        .iter()
        .filter(|(_, body)| stored.get(body.as_str()) == Some(&1))
        .count();
    let deadlocks =
        a_logs.matches("batch conflicted").count() + b_logs.matches("batch conflicted").count();
    let records: Vec<load::Record> = Vec::new();
    let mut figures = Figures::of("4 two replicas", &records, &db).await;
    figures.acked = answers.len() - not_200.len();
    figures.unavailable = not_200
        .iter()
        .filter(|a| **a == Ending::Unavailable)
        .count();
    figures.other = not_200.len() - figures.unavailable;
    figures.note(format!(
        "{} events x 3 sends in {:.1}s: rows {events}, stored once {stored_once}, SUCCESS {success}/{TRANSACTIONS}, history {history}, deadlocks retried {}",
        bodies.len(),
        elapsed.as_secs_f64(),
        deadlocks
    ));
    figures.report();

    assert!(
        not_200.is_empty(),
        "{} answers were not 200, e.g. {:?}\nreplica a:\n{}\nreplica b:\n{}",
        not_200.len(),
        not_200.first(),
        support::tail(&a_logs, 20),
        support::tail(&b_logs, 20)
    );
    assert_eq!(events as usize, bodies.len(), "one row per event");
    assert_eq!(stored_once, bodies.len(), "exactly one `stored` per event");
    assert_eq!(
        history as usize,
        bodies.len(),
        "one history entry per event"
    );
    assert_eq!(
        success as usize, TRANSACTIONS,
        "every transaction ends SUCCESS"
    );
    // Each deadlock costs a second (deadlock_timeout) and, three in a row, a 503.
    assert_eq!(
        deadlocks, 0,
        "batches deadlocked on each other's dedup keys"
    );
}

/// 5. The database turns read-only under load: every callback gets 503 (never 200), the log
///    says why, and once writes are allowed again callbacks get 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn read_only_database_answers_503_with_a_clear_log() {
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    let txhook = Txhook::start(&db, "readonly", &[]).await;
    let load = Load::start(vec![txhook.url()], 8);
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.set_read_only(true).await;
    let read_only = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reset_begins = Instant::now();
    cluster.set_read_only(false).await;
    let writable = Instant::now();
    let recovered = load
        .first_200_sent_after(writable, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let records = load.stop().await;
    let logs = txhook.stop().await;

    let while_ro: Vec<_> = records
        .iter()
        .filter(|r| r.sent >= read_only && r.done <= reset_begins)
        .collect();
    let not_503 = while_ro
        .iter()
        .filter(|r| r.answer != Ending::Unavailable)
        .count();
    let mut figures = Figures::of("5 read-only database", &records, &db).await;
    figures.note(format!(
        "answered while read-only {} (not 503: {not_503}), recovery {}",
        while_ro.len(),
        recovered.map_or("none".into(), |t| format!(
            "{:.2}s",
            (t - writable).as_secs_f64()
        )),
    ));
    figures.report();

    figures.assert_sound();
    assert!(!while_ro.is_empty(), "no request answered while read-only");
    assert_eq!(not_503, 0, "an answer other than 503 while read-only");
    assert!(
        // PostgreSQL names the statement it refused (the log writer's INSERT).
        logs.contains("in a read-only transaction"),
        "the log does not say the database is read-only:\n{}",
        support::tail(&logs, 30)
    );
    assert!(
        recovered.is_some(),
        "no 200 within 30 s of writes being allowed"
    );
}

/// 6. Two replicas share the load and the projection; one is SIGKILLed mid-load (perhaps in
///    the middle of a projection step): the other goes on projecting, no acknowledged event
///    is lost, and none is applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/faults.sh: needs its own PostgreSQL cluster"]
async fn a_replica_sigkilled_mid_load_leaves_the_other_projecting() {
    let cluster = Cluster::from_env().await;
    let db = cluster.fresh_database().await;
    let (a, b) = tokio::join!(
        Txhook::start(&db, "replica-kill-a", &[]),
        Txhook::start(&db, "replica-kill-b", &[])
    );
    // The load goes to the survivor; the victim gets load of its own until it dies.
    let load = Load::start(vec![b.url()], 12);
    let doomed = Load::start(vec![a.url()], 12);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = a.kill().await;
    let doomed = doomed.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = load.stop().await;
    db.projected_once().await;
    b.stop().await;

    let mut figures = Figures::of("6 replica SIGKILL", &records, &db).await;
    let victim = Figures::of("6 replica SIGKILL (victim)", &doomed, &db).await;
    figures.note(format!(
        "victim killed by {status} after {} acks; survivor acked {}; every stored callback applied once",
        victim.acked, figures.acked
    ));
    figures.report();
    figures.assert_sound();
    assert_eq!(
        victim.lost, 0,
        "the killed replica's acknowledged events are missing"
    );
}
