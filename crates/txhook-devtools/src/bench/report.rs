//! What a benchmark run prints: rates by outcome, latency percentiles, errors, the check.

use std::collections::BTreeMap;
use std::time::Duration;

use super::check::Checked;
use super::load::Tally;

/// The whole run, as `--json` prints it.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub url: String,
    pub concurrency: usize,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub duplicates: f64,
    /// Requests started in the measured window.
    pub requests: u64,
    pub requests_per_sec: f64,
    /// Answers per second: stored, duplicate, quarantined, and other status codes.
    pub per_sec: BTreeMap<String, f64>,
    pub counts: BTreeMap<String, u64>,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub latency_ms: Latency,
    /// Bodies made during the run because the pre-made corpus ran out (costs CPU).
    pub made_live: u64,
    pub check: Option<Checked>,
}

/// Latency percentiles of the measured requests, in milliseconds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    fn of(mut us: Vec<u32>) -> Self {
        if us.is_empty() {
            return Self::default();
        }
        us.sort_unstable();
        let at = |q: f64| {
            let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
            f64::from(us[i]) / 1000.0
        };
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: f64::from(us[us.len() - 1]) / 1000.0,
        }
    }
}

/// Adds the workers' tallies up (their acked lists are taken out before).
pub fn summarize(
    url: String,
    concurrency: usize,
    (duration, warmup, duplicates): (Duration, Duration, f64),
    tallies: Vec<Tally>,
    check: Option<Checked>,
) -> Report {
    let mut counts = BTreeMap::new();
    let (mut errors, mut made_live, mut first_errors, mut all_us) = (0, 0, Vec::new(), Vec::new());
    for t in tallies {
        *counts.entry("stored".to_owned()).or_default() += t.stored;
        *counts.entry("duplicate".to_owned()).or_default() += t.duplicate;
        *counts.entry("quarantined".to_owned()).or_default() += t.quarantined;
        for (code, n) in t.other {
            *counts.entry(format!("status_{code}")).or_default() += n;
        }
        errors += t.errors;
        made_live += t.made_live;
        if first_errors.len() < 3 {
            first_errors.extend(t.first_errors);
        }
        all_us.extend(t.latencies_us);
    }
    let secs = duration.as_secs_f64().max(f64::EPSILON);
    let requests = counts.values().sum::<u64>() + errors;
    Report {
        url,
        concurrency,
        duration_secs: duration.as_secs_f64(),
        warmup_secs: warmup.as_secs_f64(),
        duplicates,
        requests,
        requests_per_sec: requests as f64 / secs,
        per_sec: counts
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64 / secs))
            .collect(),
        counts,
        errors,
        first_errors,
        latency_ms: Latency::of(all_us),
        made_live,
        check,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: concurrency {}, {:.0} s measured after {:.0} s warm-up, duplicates {}",
            self.url, self.concurrency, self.duration_secs, self.warmup_secs, self.duplicates
        )?;
        writeln!(
            f,
            "  requests     {:>9}  {:>10.1}/s",
            self.requests, self.requests_per_sec
        )?;
        for (k, n) in &self.counts {
            writeln!(f, "    {k:<12}{n:>9}  {:>10.1}/s", self.per_sec[k])?;
        }
        writeln!(f, "  errors       {:>9}", self.errors)?;
        for e in &self.first_errors {
            writeln!(f, "    {e}")?;
        }
        let l = &self.latency_ms;
        writeln!(
            f,
            "  latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.max
        )?;
        if self.made_live > 0 {
            writeln!(
                f,
                "  note: the corpus ran out; {} bodies were made during the run (raise --corpus)",
                self.made_live
            )?;
        }
        match &self.check {
            Some(c) => writeln!(
                f,
                "  check        acked {}  missing {}  mismatched {}",
                c.acked, c.missing, c.mismatched
            ),
            None => writeln!(f, "  check        skipped (--no-check)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let l = Latency::of((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latency::of(vec![]).max, 0.0);
    }
}
