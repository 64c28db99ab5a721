//! The pure code txhook shares with its dev tools: what a callback is and how it is signed,
//! and nothing that does I/O.
//!
//! [`verify`] signs and verifies callbacks (HMAC-SHA256 and Standard Webhooks), [`payment`]
//! is the payment-transaction model with its reading and state rules, [`catalogue`] lists the
//! documented Orangepill stream events, [`retry`] times retries, and [`SigningConfig`] is what
//! a sender needs to sign. [`redact`], [`message`] and [`duration`] are small helpers for
//! what is printed (URLs without credentials, errors with their causes) and for command lines.
//!
//! The service (`txhook`) and the dev tools (`txhook-devtools`) both build on it; the dev
//! tools never depend on the service, and reach it only over HTTP and WebSocket.

pub mod catalogue;
pub mod duration;
pub mod message;
pub mod payment;
pub mod redact;
pub mod retry;
mod signing;
pub mod verify;

pub use signing::SigningConfig;
