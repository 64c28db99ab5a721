//! Pushing events out to the systems that act on them: what a consumer selects ([`filter`]),
//! what it receives ([`Event`]), and the signed HTTP deliveries to destinations.
//! The long-poll tail and the SSE stream live at the HTTP edge (`http::events`); all of them
//! read the log in tail order, gap-free.

mod deliver;
pub mod filter;
mod item;

pub use deliver::{DELIVERY_TIMEOUT, DeliverySettings, new_secret, run as deliver};

pub use filter::{Filter, FilterError};
pub use item::{Event, transaction_json};
