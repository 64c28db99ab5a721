//! The projector: each transaction's current state and history, derived from the event log.
//!
//! The log is the spine: a callback is acknowledged once it is logged, and everything else
//! reads the log. The projector reads it in tail order from a position kept in PostgreSQL,
//! applies the state rules ([`crate::payment::apply`]) and writes the derived rows and
//! its new position in one database transaction. It wakes the moment a batch commits (in
//! this process, and through `LISTEN` for other replicas' commits). Every replica runs one;
//! a row lock lets exactly one step at a time through, so when the replica that projects
//! dies another simply takes the next step.
//!
//! - [`apply`]: one step's events against the current rows; the one path that writes
//!   derived state (projector, `rebuild`, `reprocess`);
//! - [`runner`]: the background task;
//! - [`consistency`]: reads wait for the projection to reach what was acknowledged.

mod apply;
mod consistency;
mod runner;

pub use apply::{Rebuilt, Reprocessed, rebuild, reprocess, step};
pub use consistency::{Behind, Consistency};
pub use runner::run;
