//! After the load: every callback answered `200 stored` must be in the event log, with the
//! transaction and state it carried. Read through the read API's event tail, from the marker
//! callback sent before the load (every later commit comes after it in the tail).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::corpus::Delivery;

/// How long the tail may stay without news while acknowledged events are still unseen (an
/// open transaction elsewhere holds the tail back for that long at most).
const PATIENCE: Duration = Duration::from_secs(10);

/// The result of the check.
#[derive(Debug, Default, serde::Serialize)]
pub struct Checked {
    /// Events answered `200 stored`.
    pub acked: usize,
    /// Acknowledged events that the log does not hold.
    pub missing: usize,
    /// Acknowledged events held with another transaction or state.
    pub mismatched: usize,
}

#[derive(serde::Deserialize)]
struct Page {
    items: Vec<Item>,
    next: i64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    sequence: i64,
    transaction_id: Option<String>,
    state: Option<String>,
}

/// Walks `GET {api}/api/v1/events?after=…` from `after` until every acked event is seen.
pub async fn check(
    api: &url::Url,
    token: &str,
    after: i64,
    acked: &[(i64, Arc<Delivery>)],
) -> Result<Checked, String> {
    let mut unseen: HashMap<i64, &Delivery> = acked.iter().map(|(s, d)| (*s, &**d)).collect();
    let mut out = Checked {
        acked: acked.len(),
        ..Checked::default()
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let url = api
        .join("/api/v1/events")
        .map_err(|e| format!("read API URL: {e}"))?;
    let mut after = after;
    let mut last_news = Instant::now();
    while !unseen.is_empty() {
        let res = http
            .get(url.clone())
            .query(&[("after", after.to_string()), ("limit", "1000".into())])
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("read API: {}", txhook_core::message::error_chain(&e)))?;
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            return Err(format!("read API answered {status}: {text}"));
        }
        let page: Page = res
            .json()
            .await
            .map_err(|e| format!("read API page: {e}"))?;
        if page.items.is_empty() {
            if last_news.elapsed() > PATIENCE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        last_news = Instant::now();
        for item in page.items {
            let Some(d) = unseen.remove(&item.sequence) else {
                continue; // not ours, or a duplicate the bench did not see stored
            };
            if item.transaction_id.as_deref() != Some(d.transaction_id.as_str())
                || item.state.as_deref() != Some(d.state.as_str())
            {
                out.mismatched += 1;
            }
        }
        after = page.next;
    }
    out.missing = unseen.len();
    Ok(out)
}
