//! Pushing events out to the systems that act on them: what a consumer selects ([`filter`]).
//! The long-poll tail and the SSE stream live at the HTTP edge (`http::events`); all of them
//! read the log in tail order, gap-free.

pub mod filter;

pub use filter::{Filter, FilterError};
