-- The event log grows forever, so it is partitioned by month of received_at (native
-- declarative partitioning): old months can be detached, archived and dropped without
-- touching the rest.
--
-- A unique constraint on a partitioned table must include the partition key, so
-- deduplication moves to its own table, event_keys, which is not partitioned: a retry that
-- arrives after a month boundary (the provider retries for 7 days) still finds its key.
-- Event sequences come from one sequence shared by both tables.

-- Foreign keys cannot point at a partitioned table without its partition key; the store
-- writes these rows in the same transaction as the event, which is what the keys checked.
alter table transactions drop constraint transactions_current_sequence_fkey;
alter table transaction_states drop constraint transaction_states_sequence_fkey;

alter table events rename to events_unpartitioned;
alter table events_unpartitioned rename constraint events_pkey to events_unpartitioned_pkey;
alter table events_unpartitioned
    rename constraint events_dedup_key_unique to events_unpartitioned_dedup_key_unique;
alter index events_transaction_id_idx rename to events_unpartitioned_transaction_id_idx;
alter index events_quarantined_idx rename to events_unpartitioned_quarantined_idx;
alter index events_tail_idx rename to events_unpartitioned_tail_idx;

create sequence event_sequence as bigint;

create table event_keys (
    -- what makes two deliveries the same event (see transaction::canonical); kept forever
    dedup_key   text        primary key,
    sequence    bigint      not null default nextval('event_sequence'),
    received_at timestamptz not null
);

create table events (
    sequence        bigint      not null default nextval('event_sequence'),
    source          text        not null,
    dedup_key       text        not null,
    received_at     timestamptz not null default now(),
    txid            xid8        not null default pg_current_xact_id(),
    headers         jsonb       not null default '{}'::jsonb,
    body            bytea       not null,
    outcome         text        not null,
    quarantine_reason text,
    transaction_id  text,
    state           text,
    event_name      text,
    entity_id       text,
    event_time      timestamptz,
    -- sequence leads, so a lookup by sequence alone is an index scan in each partition
    constraint events_pkey primary key (sequence, received_at),
    constraint events_source_check check (source in ('callback', 'orangepill')),
    constraint events_outcome_check check (outcome in ('stored', 'quarantined'))
) partition by range (received_at);

create index events_transaction_id_idx on events (transaction_id) where transaction_id is not null;
create index events_quarantined_idx on events (sequence) where outcome = 'quarantined';
create index events_tail_idx on events (txid, sequence);

-- Monthly partitions (UTC months) from `from_month` to `months_ahead` months after the
-- current one. Idempotent, and safe when several replicas call it at once. txhook calls it
-- at start and every hour, so a month's partition exists long before its first event.
create function txhook_ensure_event_partitions(from_month date, months_ahead int)
returns int language plpgsql as $$
declare
    m date := date_trunc('month', from_month)::date;
    last date := date_trunc('month', (now() at time zone 'utc') + make_interval(months => months_ahead))::date;
    created int := 0;
    name text;
begin
    perform pg_advisory_xact_lock(hashtext('txhook.event_partitions'));
    while m <= last loop
        name := 'events_' || to_char(m, 'YYYY_MM');
        if to_regclass(name) is null then
            execute format(
                'create table %I partition of events for values from (%L) to (%L)',
                name, m::text || ' 00:00:00+00', (m + interval '1 month')::date::text || ' 00:00:00+00');
            created := created + 1;
        end if;
        m := (m + interval '1 month')::date;
    end loop;
    return created;
end $$;

-- Partitions for every month the log already holds, the previous month, and 3 ahead.
select txhook_ensure_event_partitions(
    least(
        coalesce((select min(received_at) at time zone 'utc' from events_unpartitioned)::date,
                 current_date),
        ((now() at time zone 'utc') - interval '1 month')::date),
    3);

insert into events (sequence, source, dedup_key, received_at, txid, headers, body, outcome,
                    quarantine_reason, transaction_id, state, event_name, entity_id, event_time)
select sequence, source, dedup_key, received_at, txid, headers, body, outcome,
       quarantine_reason, transaction_id, state, event_name, entity_id, event_time
  from events_unpartitioned;
insert into event_keys (dedup_key, sequence, received_at)
select dedup_key, sequence, received_at from events_unpartitioned;
select setval('event_sequence', coalesce((select max(sequence) from events_unpartitioned), 0) + 1, false);

drop table events_unpartitioned;
