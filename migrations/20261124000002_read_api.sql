-- The read API: a stable listing order for transactions, indexes for each filter, and the
-- index the event-log tail walks.

-- The sequence of a transaction's first stored callback: never changes, so a cursor over it
-- returns every transaction exactly once however often states change during the walk.
alter table transactions add column first_sequence bigint;
update transactions t
   set first_sequence = coalesce(
       (select min(s.sequence) from transaction_states s where s.transaction_id = t.id),
       t.current_sequence);
alter table transactions alter column first_sequence set not null;
create unique index transactions_first_sequence_idx on transactions (first_sequence);

-- Each filter with the listing order, so a filtered page is an index range scan.
drop index transactions_state_idx;
drop index transactions_type_idx;
drop index transactions_wallet_id_idx;
create index transactions_state_idx on transactions (state, first_sequence);
create index transactions_type_idx on transactions (type, first_sequence);
create index transactions_wallet_id_idx on transactions (wallet_id, first_sequence);
create index transactions_currency_idx on transactions (currency, first_sequence);

-- The event tail is read in (writing transaction id, sequence) order; see store::events.
create index events_tail_idx on events (txid, sequence);
