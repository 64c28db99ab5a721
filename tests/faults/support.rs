//! The pieces a scenario is made of: the private cluster (killed and restarted through
//! `scripts/pg.sh`), a fresh database, the real binary as a process, callback bodies, and
//! the figures each scenario reports.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::process::{Child, Command};
use tokio::time::{Instant, timeout};

use txhook::payment::{Transaction, TxState, TxType};

use super::common::process::{free_addr, txhook};
use super::load::{Ending, Record};

pub const SHARED_KEY: &str = "faults-shared-key-0c4e1b";

/// The write mode under test: `FAULTS_WRITE_MODE`, else `batched` (the default).
pub fn mode() -> String {
    std::env::var("FAULTS_WRITE_MODE").unwrap_or_else(|_| "batched".into())
}

/// The cluster `scripts/faults.sh` started: `FAULTS_PG_NAME` and its `DATABASE_URL`.
pub struct Cluster {
    name: String,
    port: u16,
    admin_url: String,
}

impl Cluster {
    /// The cluster, running and writable (an earlier scenario may have failed half-way).
    pub async fn from_env() -> Self {
        let name = std::env::var("FAULTS_PG_NAME")
            .expect("FAULTS_PG_NAME names the cluster to kill: run scripts/faults.sh");
        let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/faults.sh");
        let port = url::Url::parse(&admin_url)
            .ok()
            .and_then(|u| u.port())
            .expect("DATABASE_URL has a port");
        let cluster = Self {
            name,
            port,
            admin_url,
        };
        cluster.start().await;
        cluster.set_read_only(false).await;
        cluster
    }

    /// `scripts/pg.sh kill`: immediate shutdown, no checkpoint, every client cut off.
    pub async fn kill(&self) {
        self.pg_sh(&["kill", &self.name]).await;
    }

    /// `scripts/pg.sh start`: returns once the cluster accepts connections.
    pub async fn start(&self) {
        self.pg_sh(&["start", &self.name, &self.port.to_string()])
            .await;
    }

    async fn pg_sh(&self, args: &[&str]) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh");
        let out = Command::new("bash")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run scripts/pg.sh");
        assert!(
            out.status.success(),
            "scripts/pg.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes every new transaction in the cluster read-only (or writable again) and waits
    /// until the setting is in force.
    pub async fn set_read_only(&self, on: bool) {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the cluster");
        let change = if on {
            "alter system set default_transaction_read_only = on"
        } else {
            "alter system reset default_transaction_read_only"
        };
        // ALTER SYSTEM must run alone, outside a transaction block.
        for sql in [
            "set default_transaction_read_only = off",
            change,
            "select pg_reload_conf()",
        ] {
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let want = if on { "on" } else { "off" };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut fresh = PgConnection::connect(&self.admin_url)
                .await
                .expect("connect");
            let now: String = sqlx::query_scalar("show default_transaction_read_only")
                .fetch_one(&mut fresh)
                .await
                .expect("show default_transaction_read_only");
            if now == want {
                break;
            }
            assert!(Instant::now() < deadline, "the reload did not take effect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Running sessions reload the file before their next command; give the signal time.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// A new, empty database for one scenario, dropped when the scenario ends (the shared
    /// test helper), so that a small cluster recovers from a crash quickly.
    pub async fn fresh_database(&self) -> Db {
        let url = crate::common::fresh_database().await;
        // A crash replays the WAL since the last checkpoint: only this scenario's.
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the cluster");
        sqlx::raw_sql("checkpoint")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy(&url)
            .expect("pool");
        Db { url, pool }
    }
}

/// A scenario's database, for the checks after the fault.
pub struct Db {
    pub url: String,
    pool: PgPool,
}

impl Db {
    /// `sql` with the array `ids` as `$1`, returning one number.
    pub async fn scalar(&self, sql: &str, ids: &[String]) -> i64 {
        sqlx::query_scalar(sql)
            .bind(ids)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Waits (while some replica runs) until the projection has passed every logged event,
    /// then checks that each callback event that reads as a transaction was applied exactly
    /// once: one history entry per such event, no failure.
    pub async fn projected_once(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let behind: i64 = sqlx::query_scalar(
                "select count(*) from events e, consumer_positions p
                  where p.name = 'projector' and (e.txid, e.sequence) > (p.txid, p.sequence)",
            )
            .fetch_one(&self.pool)
            .await
            .expect("projection lag");
            if behind == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the projection is still {behind} events behind"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (events, history, failures): (i64, i64, i64) = sqlx::query_as(
            "select (select count(*) from events
                      where source = 'callback' and outcome = 'stored'),
                    (select count(*) from transaction_states),
                    (select count(*) from projection_failures)",
        )
        .fetch_one(&self.pool)
        .await
        .expect("projection counts");
        assert_eq!(
            (history, failures),
            (events, 0),
            "each stored callback is applied exactly once"
        );
    }

    /// Which of `ids` have a stored event.
    pub async fn stored(&self, ids: &[String]) -> HashSet<String> {
        let found: Vec<String> = sqlx::query_scalar(
            "select distinct transaction_id from events where transaction_id = any($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .expect("read back the acknowledged events");
        found.into_iter().collect()
    }
}

/// `txhook serve`, the real binary, its logs going to `target/faults/<name>.log`.
pub struct Txhook {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Txhook {
    pub async fn start(db: &Db, name: &str, env: &[(&str, &str)]) -> Self {
        Self::start_on(db, name, free_addr(), env).await
    }

    /// Starts on `addr` and waits until `/healthz` answers.
    pub async fn start_on(db: &Db, name: &str, addr: SocketAddr, env: &[(&str, &str)]) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/faults");
        std::fs::create_dir_all(&dir).expect("create target/faults");
        let log = dir.join(format!("{name}-{}.log", mode()));
        let file = std::fs::File::create(&log).expect("create the log file");
        let child = Command::from(txhook(&["serve"]))
            .env("DATABASE_URL", &db.url)
            .env("TXHOOK_LISTEN", addr.to_string())
            .env("TXHOOK_SHARED_KEY", SHARED_KEY)
            .env("TXHOOK_WRITE_MODE", mode())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("start txhook serve");
        let mut txhook = Self { child, addr, log };
        txhook.wait_healthy().await;
        txhook
    }

    pub fn url(&self) -> String {
        format!("http://{}/webhooks/transactions", self.addr)
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let healthz = format!("http://{}/healthz", self.addr);
        loop {
            if let Ok(r) = client.get(&healthz).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("txhook serve exited early ({status}):\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "txhook serve did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and the exit status.
    pub async fn kill(mut self) -> ExitStatus {
        self.child.start_kill().expect("SIGKILL txhook");
        self.child.wait().await.expect("wait for txhook")
    }

    /// SIGTERM; waits up to `limit` for the exit. Returns the exit status and the logs.
    pub async fn terminate(mut self, limit: Duration) -> (ExitStatus, String) {
        let pid = self.child.id().expect("txhook is running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("txhook did not exit within {limit:?} of SIGTERM"))
            .expect("wait for txhook");
        (status, self.logs())
    }

    /// Stops the process (SIGTERM, then SIGKILL after 30 s) and returns its logs.
    pub async fn stop(self) -> String {
        let pid = self.child.id();
        let mut this = self;
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            if timeout(Duration::from_secs(30), this.child.wait())
                .await
                .is_err()
            {
                let _ = this.child.start_kill();
                let _ = this.child.wait().await;
            }
        }
        this.logs()
    }
}

/// A realistic DEPOSIT of about 1 KiB, new in PENDING.
pub fn sample_transaction(id: &str) -> Transaction {
    txhook_devtools::sample(
        &mut rand::rng(),
        id,
        &TxType::Deposit,
        &TxState::Pending,
        None,
        chrono::Utc::now(),
    )
}

/// The callback body of `t`, padded with provider metadata to about 1 KiB.
pub fn body_of(t: &Transaction) -> String {
    let mut v = serde_json::to_value(t).expect("serialize the transaction");
    let size = v.to_string().len();
    v["metadata"] = json!({
        "channel": "SEPA_INSTANT",
        "note": "x".repeat(1000usize.saturating_sub(size + 40)),
    });
    v.to_string()
}

/// A new transaction's callback body in `state`.
pub fn callback_body(id: &str, state: &str) -> String {
    let t = sample_transaction(id);
    body_of(&txhook_devtools::at_state(
        &t,
        &TxState::from(state.to_owned()),
    ))
}

/// The last `n` lines of `logs`.
pub fn tail(logs: &str, n: usize) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One scenario's figures: one line on stdout (and in `$FAULTS_REPORT`).
pub struct Figures {
    pub scenario: &'static str,
    pub acked: usize,
    pub lost: usize,
    pub unavailable: usize,
    pub conn_errors: usize,
    pub timeouts: usize,
    pub other: usize,
    p50_ms: f64,
    p99_ms: f64,
    notes: Vec<String>,
}

impl Figures {
    /// Counts `records` and checks in `db` that every acknowledged event is stored.
    pub async fn of(scenario: &'static str, records: &[Record], db: &Db) -> Self {
        let acked: Vec<String> = records
            .iter()
            .filter(|r| r.answer.is_ok())
            .map(|r| r.id.clone())
            .collect();
        let stored = db.stored(&acked).await;
        let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
        let count = |f: &dyn Fn(&Ending) -> bool| records.iter().filter(|r| f(&r.answer)).count();
        let mut latencies: Vec<f64> = records
            .iter()
            .filter(|r| r.answer.is_ok())
            .map(|r| (r.done - r.sent).as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        Self {
            scenario,
            acked: acked.len(),
            lost,
            unavailable: count(&|a| *a == Ending::Unavailable),
            conn_errors: count(&|a| *a == Ending::ConnError),
            timeouts: count(&|a| *a == Ending::Timeout),
            other: count(&|a| matches!(a, Ending::Status(_))),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            notes: Vec::new(),
        }
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Prints the line and appends it to `$FAULTS_REPORT`.
    pub fn report(&self) {
        let line = format!(
            "FAULTS|{}|{}|{}|{}|{}|{}|{}|{}|{:.1}|{:.1}|{}",
            self.scenario,
            mode(),
            self.acked,
            self.lost,
            self.unavailable,
            self.conn_errors,
            self.timeouts,
            self.other,
            self.p50_ms,
            self.p99_ms,
            self.notes.join("; ")
        );
        println!("{line}");
        if let Ok(path) = std::env::var("FAULTS_REPORT") {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open FAULTS_REPORT");
            writeln!(f, "{line}").expect("write FAULTS_REPORT");
        }
    }

    /// What holds in every scenario: nothing acknowledged is lost, nothing hangs, and every
    /// answer is 200 or 503 (or no answer at all).
    pub fn assert_sound(&self) {
        assert_eq!(
            self.lost, 0,
            "{}: acknowledged events are missing",
            self.scenario
        );
        assert_eq!(self.timeouts, 0, "{}: requests hung", self.scenario);
        assert_eq!(
            self.other, 0,
            "{}: answers other than 200/503",
            self.scenario
        );
        assert!(
            self.acked > 0,
            "{}: nothing was acknowledged",
            self.scenario
        );
    }
}
