//! `txhook send`: like `stripe trigger`, one realistic signed callback to a receiver.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;

use crate::args::SendArgs;
use crate::sample;
use crate::sign::signer_of;
use txhook_core::SigningConfig;

/// Why `send` failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("{failed} of {total} answers were not 200")]
    NotOk { failed: u32, total: u32 },
}

/// Builds (or reads) the body, signs it, POSTs it `args.repeat` times and prints each answer.
pub async fn send(config: &SigningConfig, args: &SendArgs) -> anyhow::Result<()> {
    let url = match &args.url {
        Some(u) => u.clone(),
        None => local_url(config),
    };
    let body = match &args.file {
        Some(path) => std::fs::read(path).map_err(|source| SendError::File {
            path: path.display().to_string(),
            source,
        })?,
        None => {
            let id = args
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let mut t = sample(
                &mut rand::rng(),
                &id,
                &args.kind,
                &args.state,
                None,
                Utc::now(),
            );
            if args.reason.is_some() {
                t.status.reason = args.reason.clone();
            }
            println!(
                "{} {} transaction {id}",
                args.kind.as_str(),
                args.state.as_str()
            );
            serde_json::to_vec(&t)?
        }
    };
    let signer = signer_of(config);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // One set of headers for every repeat: the identical delivery, retried.
    let headers = signer.headers(
        &body,
        &format!("msg_{}", uuid::Uuid::new_v4().simple()),
        timestamp,
    );
    let client = reqwest::Client::new();
    let mut failed = 0;
    for _ in 0..args.repeat {
        let res = client
            .post(url.clone())
            .headers(headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| SendError::Request {
                url: url.to_string(),
                reason: txhook_core::message::error_chain(&e.without_url()),
            })?;
        let status = res.status();
        let answer = res.text().await.unwrap_or_default();
        println!("{} {answer}", status.as_u16());
        if status != reqwest::StatusCode::OK {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(SendError::NotOk {
            failed,
            total: args.repeat,
        }
        .into());
    }
    Ok(())
}

/// The local server's callback URL: `TXHOOK_LISTEN`, with a wildcard address as loopback.
pub(crate) fn local_url(config: &SigningConfig) -> url::Url {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    url::Url::parse(&format!("http://{addr}/webhooks/transactions")).expect("valid URL")
}
