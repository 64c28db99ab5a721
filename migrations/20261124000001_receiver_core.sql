-- The receiver's store: an append-only event log, the current state of every transaction,
-- and the history of the states each transaction's callbacks carried.

-- Every event received and verified, from either source, in the order it was committed.
-- Rows are never updated or deleted by txhook.
create table events (
    sequence        bigint generated always as identity primary key,
    -- 'callback' (provider webhook) or 'orangepill' (stream)
    source          text        not null,
    -- what makes two deliveries the same event (see transaction::canonical); unique forever
    dedup_key       text        not null,
    received_at     timestamptz not null default now(),
    -- the writing transaction's id: a tailing reader uses it to never skip a row that
    -- commits after a row with a higher sequence
    txid            xid8        not null default pg_current_xact_id(),
    -- request headers without secrets
    headers         jsonb       not null default '{}'::jsonb,
    body            bytea       not null,
    -- 'stored' or 'quarantined'
    outcome         text        not null,
    quarantine_reason text,
    transaction_id  text,
    state           text,
    event_name      text,
    entity_id       text,
    event_time      timestamptz,
    constraint events_dedup_key_unique unique (dedup_key),
    constraint events_source_check check (source in ('callback', 'orangepill')),
    constraint events_outcome_check check (outcome in ('stored', 'quarantined'))
);

create index events_transaction_id_idx on events (transaction_id) where transaction_id is not null;
create index events_quarantined_idx on events (sequence) where outcome = 'quarantined';

-- The current state of every transaction: the callback that set it (by the state rules)
-- and the columns read API filters use. The provider's own shape is that event's body.
create table transactions (
    id              text        primary key,
    current_sequence bigint     not null references events (sequence),
    type            text,
    state           text        not null,
    reason          text,
    complete        boolean,
    wallet_id       text,
    amount          numeric,
    currency        text,
    created_at      timestamptz,
    completed_at    timestamptz,
    first_received_at timestamptz not null,
    updated_at      timestamptz not null
);

create index transactions_state_idx on transactions (state);
create index transactions_type_idx on transactions (type);
create index transactions_wallet_id_idx on transactions (wallet_id);
create index transactions_updated_at_idx on transactions (updated_at, id);

-- One row per stored callback of a transaction: the state it carried and whether it
-- became the current state when it arrived.
create table transaction_states (
    sequence        bigint      primary key references events (sequence),
    transaction_id  text        not null,
    state           text        not null,
    reason          text,
    amount          numeric,
    currency        text,
    applied         boolean     not null,
    received_at     timestamptz not null
);

create index transaction_states_transaction_idx on transaction_states (transaction_id, sequence);
