-- The event log is the spine. A callback is acknowledged once its key and raw event are
-- committed; each transaction's current state and history are derived from the log by the
-- projector (src/projection/), which keeps its position here and advances it in the same
-- database transaction as the rows it writes. The state rules live once, in Rust
-- (src/transaction/state.rs): the SQL copies used by the old group-commit function go.

create table consumer_positions (
    name        text        primary key,
    -- A position in the log's tail order, (txid, sequence): see src/store/events.rs.
    txid        xid8        not null,
    sequence    bigint      not null,
    updated_at  timestamptz not null default now()
);

-- Everything logged so far was projected as it arrived.
insert into consumer_positions (name, txid, sequence)
select 'projector', coalesce(last.txid, '0'::xid8), coalesce(last.sequence, 0)
  from (select 1) as one
  left join lateral (select txid, sequence from events
                      order by txid desc, sequence desc limit 1) as last on true;

-- Events the projector could not apply (PostgreSQL refused the derived row, e.g. an
-- over-long indexed field): kept here, counted and shown, and projection goes on.
create table projection_failures (
    sequence        bigint      primary key,
    transaction_id  text,
    error           text        not null,
    failed_at       timestamptz not null default now()
);

-- A callback's transaction type, beside its id and state, for consumers' filters.
alter table events add column transaction_type text;

drop function txhook_write_callbacks;
drop function txhook_applies;
drop function txhook_supersedes;
