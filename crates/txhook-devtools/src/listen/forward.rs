//! Forwarding: each event's item, as received, POSTed to the local URL of `--forward-to`.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use txhook_core::message::error_chain;
use url::Url;

/// How long a forwarded event may take to be answered.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs `item` to `to`: the answer's status, or why there was none. Not retried.
pub(super) async fn forward(client: &reqwest::Client, to: &Url, item: String) -> String {
    let sent = client
        .post(to.clone())
        .header(CONTENT_TYPE, "application/json")
        .timeout(FORWARD_TIMEOUT)
        .body(item)
        .send()
        .await;
    match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            // Read to the end, so that the connection can serve the next event.
            let _ = res.bytes().await;
            status.to_string()
        }
        Err(e) => format!("failed: {}", error_chain(&e.without_url())),
    }
}
