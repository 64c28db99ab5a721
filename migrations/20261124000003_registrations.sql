-- Every attempt to register the callbackUrl with the provider, and what the provider said.
-- No secret is kept: the shared key and static header appear only as a SHA-256 fingerprint.
create table registrations (
    id              bigint generated always as identity primary key,
    attempted_at    timestamptz not null,
    -- the provider's base URL, without credentials
    provider_url    text        not null,
    callback_url    text        not null,
    -- SHA-256 of the key and static header sent: tells whether a success is still current
    key_fingerprint text        not null,
    -- 1 for the first attempt of a run of retries
    attempt         integer     not null,
    -- null when no answer came (connection error, timeout)
    http_status     integer,
    -- the provider's answer body (truncated, secrets removed), or why there was none
    answer          text        not null,
    -- 'registered', 'retrying' (a retry follows) or 'rejected' (not retried)
    outcome         text        not null,
    constraint registrations_outcome_check
        check (outcome in ('registered', 'retrying', 'rejected'))
);

create index registrations_current_idx
    on registrations (provider_url, callback_url, key_fingerprint, id);
