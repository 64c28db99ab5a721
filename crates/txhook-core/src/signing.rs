//! What a sender of callbacks (`txhook send`, `txhook bench`) needs to sign them.

use std::net::SocketAddr;

use crate::verify::{Keys, Scheme, StaticHeader};

/// How to sign callbacks, and where the local server listens (the default target).
#[derive(Debug, Clone)]
pub struct SigningConfig {
    /// Address the local server listens on (the default target of `send`).
    pub listen: SocketAddr,
    pub scheme: Scheme,
    pub keys: Keys,
    pub static_header: Option<StaticHeader>,
}
