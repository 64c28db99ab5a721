-- The operator console (src/console/): finding a transaction by the provider's other ids,
-- its related charges, and the callbacks refused as not authentic.

alter table transactions add column short_id text;
alter table transactions add column external_id text;
alter table transactions add column charge_for text;
create index transactions_short_id_idx on transactions (short_id) where short_id is not null;
create index transactions_external_id_idx on transactions (external_id)
    where external_id is not null;
create index transactions_charge_for_idx on transactions (charge_for) where charge_for is not null;

-- Recent callbacks refused as not authentic. They come from anyone, so the table is kept
-- small: txhook records at most a few per second and keeps the newest 1,000 of the last 7
-- days; the rest is only counted (txhook_callbacks_rejected_total).
create table rejected_callbacks (
    id          bigint      generated always as identity primary key,
    received_at timestamptz not null,
    reason      text        not null,
    source      text,
    -- Request headers without credentials or the static header.
    headers     jsonb       not null default '{}'::jsonb,
    body_size   integer     not null,
    body_sha256 text        not null,
    -- The body's first bytes.
    body_head   bytea       not null
);

create index rejected_callbacks_received_idx on rejected_callbacks (received_at);
