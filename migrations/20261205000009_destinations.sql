-- Destinations: HTTP endpoints txhook pushes events to, each with its own secret, filter and
-- position in the log (src/push/). Each matching event becomes a delivery, tried until the
-- endpoint answers 2xx or the delivery is older than TXHOOK_DELIVERY_MAX_AGE (then dead:
-- kept, listed, replayable). Leases let one replica at a time try a delivery.

create table destinations (
    id          uuid        primary key,
    url         text        not null,
    -- The whsec_ secret deliveries are signed with (shown to the operator once, at creation).
    secret      text        not null,
    filter      jsonb       not null default '{}'::jsonb,
    paused      boolean     not null default false,
    -- The last event examined for this destination, in the log's tail order.
    txid        xid8        not null,
    sequence    bigint      not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create sequence delivery_order as bigint;

create table deliveries (
    destination_id  uuid        not null references destinations (id) on delete cascade,
    sequence        bigint      not null,
    -- Log order for this destination: a transaction's later event waits for its earlier ones.
    ord             bigint      not null default nextval('delivery_order'),
    -- The transaction id of a callback; null for events that need no order among themselves.
    ordering_key    text,
    status          text        not null default 'pending',
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_until     timestamptz,
    lease_token     uuid,
    enqueued_at     timestamptz not null default now(),
    failing_since   timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    primary key (destination_id, sequence),
    constraint deliveries_status_check check (status in ('pending', 'delivered', 'dead'))
);

create index deliveries_due_idx on deliveries (destination_id, ord) where status = 'pending';
create index deliveries_ordering_idx on deliveries (destination_id, ordering_key, ord)
    where status = 'pending';
create index deliveries_dead_idx on deliveries (destination_id, sequence) where status = 'dead';

create table delivery_attempts (
    id              bigint      generated always as identity primary key,
    destination_id  uuid        not null references destinations (id) on delete cascade,
    sequence        bigint      not null,
    attempt         integer     not null,
    attempted_at    timestamptz not null default now(),
    -- The HTTP status, when an answer came.
    status          integer,
    latency_ms      integer     not null,
    error           text
);

create index delivery_attempts_destination_idx on delivery_attempts (destination_id, id);
