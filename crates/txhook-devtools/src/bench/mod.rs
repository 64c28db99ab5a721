//! `txhook bench`: a load generator for any txhook deployment. It sends unique, realistic,
//! signed callbacks from `--concurrency` keep-alive connections for `--duration` (after
//! `--warmup`), prints answers per second by outcome and latency percentiles, then checks
//! through the read API that every callback answered `200 stored` is in the event log.
//!
//! ```sh
//! TXHOOK_SHARED_KEY=… TXHOOK_ADMIN_TOKEN=… txhook bench --concurrency 64 --duration 10s
//! ```

mod check;
mod corpus;
mod http1;
mod load;
mod report;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant as StdInstant;

use http::HeaderValue;
use tokio::time::Instant;

pub use check::Checked;
pub use report::Report;

use crate::args::BenchArgs;
use corpus::Maker;
use load::Plan;
use txhook_core::SigningConfig;

/// Why a benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("--url must be a plain http:// URL with a host (the bench speaks HTTP/1.1 only)")]
    Url,
    #[error(
        "the check needs the read API's token: pass --admin-token or set TXHOOK_ADMIN_TOKEN (or --no-check)"
    )]
    NoToken,
    #[error("the first callback was not stored ({0}); is txhook running at that URL?")]
    Marker(String),
    #[error("the check could not read the event log: {0}")]
    Check(String),
    #[error("{missing} acknowledged events are missing and {mismatched} differ")]
    Missing { missing: usize, mismatched: usize },
}

/// Runs the benchmark described by `args` and prints its report.
pub async fn bench(config: &SigningConfig, args: &BenchArgs) -> anyhow::Result<()> {
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| crate::send::local_url(config));
    let (addr, host) = target(&url)?;
    let token = match (&args.admin_token, args.no_check) {
        (_, true) => None,
        (Some(t), false) => Some(t.clone()),
        (None, false) => return Err(BenchError::NoToken.into()),
    };
    let maker = Maker::new(crate::sign::signer_of(config));

    let made = StdInstant::now();
    let corpus = maker.corpus(args.corpus);
    eprintln!(
        "bench: {} signed callbacks made in {:.1} s; loading {url}",
        corpus.len(),
        made.elapsed().as_secs_f64()
    );
    let marker = marker(&addr, &host, &url, &maker).await?;

    let measure_from = Instant::now() + args.warmup;
    let plan = Arc::new(Plan {
        addr,
        host,
        path: path_of(&url),
        corpus,
        maker,
        duplicates: args.duplicates,
        measure_from,
        end: measure_from + args.duration,
    });
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(load::worker(plan.clone(), next.clone())))
        .collect();
    let mut tallies = Vec::with_capacity(workers.len());
    for w in workers {
        tallies.push(w.await?);
    }
    // The moment the last answer arrived, for scripts that time what follows the load (how
    // long a projection takes to catch up, in scripts/bench.sh).
    let ended = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    eprintln!(
        "bench: load ended at {:.3} (unix seconds)",
        ended.as_secs_f64()
    );
    drop(plan); // the unsent part of the corpus

    let acked: Vec<_> = tallies
        .iter_mut()
        .flat_map(|t| std::mem::take(&mut t.acked))
        .collect();
    let checked = match token {
        Some(token) => Some(
            check::check(&url, &token, marker, &acked)
                .await
                .map_err(BenchError::Check)?,
        ),
        None => None,
    };
    drop(acked);
    let report = report::summarize(
        url.to_string(),
        usize::from(args.concurrency),
        (args.duration, args.warmup, args.duplicates),
        tallies,
        checked,
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    if let Some(c) = &report.check {
        if c.missing > 0 || c.mismatched > 0 {
            return Err(BenchError::Missing {
                missing: c.missing,
                mismatched: c.mismatched,
            }
            .into());
        }
    }
    Ok(())
}

/// `host:port` to connect to, and the `Host` header.
fn target(url: &url::Url) -> Result<(String, HeaderValue), BenchError> {
    let host = url.host_str().filter(|_| url.scheme() == "http");
    let host = host.ok_or(BenchError::Url)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let header = HeaderValue::from_str(&header).map_err(|_| BenchError::Url)?;
    Ok((format!("{host}:{port}"), header))
}

fn path_of(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Sends one callback before the load and returns its sequence: the check's tail starts
/// there, because everything committed later comes after it.
async fn marker(
    addr: &str,
    host: &HeaderValue,
    url: &url::Url,
    maker: &Maker,
) -> Result<i64, BenchError> {
    let one = maker.one(&mut rand::rng());
    let plan = Plan {
        addr: addr.to_owned(),
        host: host.clone(),
        path: path_of(url),
        corpus: vec![one],
        maker: maker.clone(),
        duplicates: 0.0,
        measure_from: Instant::now(),
        end: Instant::now() + std::time::Duration::from_secs(10),
    };
    load::once(&plan).await.map_err(BenchError::Marker)
}
