//! Fanning new events out: each destination's filter picks, from the events after its
//! position that the projection has passed, those that become its deliveries.

use uuid::Uuid;

use crate::push::Filter;
use crate::store::{DestinationRow, Position, Store, StoreError};

/// Events examined per fan-out page, and pages per round.
const FAN_OUT_PAGE: u32 = 500;
const FAN_OUT_PAGES: usize = 4;

/// Fans new events out to every destination that is not paused; returns the destinations.
pub(super) async fn fan_out_all(store: &Store) -> Result<Vec<DestinationRow>, StoreError> {
    let destinations = store.destinations().await?;
    if destinations.iter().any(|d| !d.paused) {
        let projected = store.projection_position().await?;
        for d in destinations.iter().filter(|d| !d.paused) {
            fan_out(store, d.id, projected).await?;
        }
    }
    Ok(destinations)
}

/// Makes deliveries of the events after `id`'s position that its filter selects, up to
/// `projected` (events the projection has not passed wait).
async fn fan_out(store: &Store, id: Uuid, projected: Position) -> Result<(), StoreError> {
    let Some(mut fan) = store.begin_fan_out(id).await? else {
        return Ok(());
    };
    let filter: Filter = serde_json::from_value(fan.destination.filter.clone()).unwrap_or_default();
    let start = fan.position()?;
    let mut at = start;
    let mut made: Vec<(i64, Option<String>)> = Vec::new();
    for _ in 0..FAN_OUT_PAGES {
        if at >= projected {
            break;
        }
        let rows = store.event_heads_after(at, FAN_OUT_PAGE).await?;
        let mut moved = false;
        for row in rows {
            let position = row.position()?;
            if position > projected {
                break;
            }
            at = position;
            moved = true;
            if filter.matches(&row) {
                made.push((row.sequence, row.transaction_id));
            }
        }
        if !moved {
            break;
        }
    }
    if at == start {
        return Ok(());
    }
    let events: Vec<(i64, Option<&str>)> = made.iter().map(|(s, k)| (*s, k.as_deref())).collect();
    fan.enqueue(&events).await?;
    fan.commit(at).await
}
