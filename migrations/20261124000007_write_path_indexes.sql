-- Indexes that every callback paid for and no read needs in their place.
--
-- A state change rewrites the transaction's row. While `state` and `updated_at` were indexed,
-- every such update was a new version in all seven indexes of the table; without them it is
-- a heap-only (HOT) update that touches no index, given room on the page (fillfactor). The
-- listing's state and `since` filters now read in first-callback order and filter, which stays
-- cheap while matching rows are common; the event tail (`/api/v1/events`) is the way to follow
-- changes.
--
-- The event log's index on transaction_id served no query: a transaction's history is read
-- from transaction_states.
drop index transactions_state_idx;
drop index transactions_updated_at_idx;
drop index events_transaction_id_idx;
alter table transactions set (fillfactor = 80);
