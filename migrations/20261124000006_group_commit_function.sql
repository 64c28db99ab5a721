-- Group commit in one statement. txhook_write_callbacks writes a batch of verified callbacks
-- (event keys, event log, current state by the state rules, history) where the data is, so a
-- batch costs the server one round trip and one commit whatever its size, instead of a round
-- trip per statement. The `single` write mode keeps its plain statements in Rust
-- (src/store/callbacks.rs); the API tests run in both modes and must agree.

-- The state rules of src/transaction/state.rs (`supersedes`): whether `inc`, received after
-- `cur`, becomes the current state. A test compares the two for every pair of states. (Not
-- strict, so that the planner inlines it.)
create function txhook_supersedes(cur text, inc text) returns boolean
    language sql immutable parallel safe
as $$
    select case
        when cur in ('SUCCESS', 'FAILED', 'REVERSED')
            then inc = cur or (cur = 'SUCCESS' and inc = 'REVERSED')
        else not (cur = 'PROCESSING' and inc in ('FUNDS_REQUIRED', 'PENDING', 'AWAITING_APPROVAL'))
    end
$$;

-- src/transaction/state.rs `applies_over`: events are judged in the order they were received
-- (their sequence), whatever order their database transactions reach the row lock in.
create function txhook_applies(cur text, cur_seq bigint, inc text, seq bigint) returns boolean
    language sql immutable parallel safe
as $$
    select case
        when seq > cur_seq then txhook_supersedes(cur, inc)
        else txhook_supersedes(cur, inc) and not txhook_supersedes(inc, cur)
    end
$$;

-- Writes a batch of callbacks, given as parallel arrays in the order they arrived (their dedup
-- keys distinct: the caller answers a repeat inside one batch as a duplicate of the first).
-- A callback with a quarantine reason is stored raw; the others are transactions (id and state
-- not null). Returns (position in the arrays, 1-based; sequence) of every callback whose key
-- was new; the others are duplicates. Runs in the caller's transaction, usually the implicit
-- one of the statement, so nothing is visible until it commits.
create function txhook_write_callbacks(
    p_keys text[], p_received timestamptz[], p_headers jsonb[], p_bodies bytea[],
    p_quarantine text[], p_ids text[], p_states text[], p_types text[], p_reasons text[],
    p_complete boolean[], p_wallets text[], p_amounts text[], p_currencies text[],
    p_created timestamptz[], p_completed timestamptz[])
returns table (ord integer, seq bigint)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_ord   integer[];
    v_seq   bigint[];
    v_rank  integer[]; -- among the batch's new events of one transaction, by sequence; 0: quarantined
    v_ranks integer;
begin
    -- Another batch (another writer or replica) may hold some of the same keys in another
    -- order, and inserting in batch order would deadlock: each waits for the other's
    -- uncommitted key. A lock per key, taken in one global order first, makes such batches
    -- queue instead. The inserts (and so the sequences) keep the order of arrival.
    if cardinality(p_keys) > 1 then
        perform pg_advisory_xact_lock(h)
           from (select distinct hashtextextended(k, 0) as h
                   from unnest(p_keys) as k order by h) as s;
    end if;

    -- One statement: the keys first (a held key, even one whose event sits in an old
    -- partition, means a duplicate); the events of the new ones; and each transaction's
    -- first new event applied (an upsert: inserted when the id is new, else locked and
    -- updated when the state rules say so) and recorded in its history. The upserts go in
    -- id order, so concurrent batches lock rows in one order and queue instead of
    -- deadlocking.
    with u as (
        select * from unnest(p_keys, p_received, p_headers, p_bodies, p_quarantine, p_ids,
                             p_states, p_types, p_reasons, p_complete, p_wallets, p_amounts,
                             p_currencies, p_created, p_completed)
                 with ordinality as u(k, r, h, b, q, id, st, ty, re, co, w, a, cu, ca, cpa, o)),
    key as (
        insert into event_keys (dedup_key, received_at)
        select u.k, u.r from u order by u.o
        on conflict (dedup_key) do nothing
        returning dedup_key, sequence),
    fresh as (
        select u.*, key.sequence as sq,
               case when u.id is null then 0
                    else (row_number() over (partition by u.id order by key.sequence))::integer
               end as rk
          from u join key on key.dedup_key = u.k),
    ev as (
        insert into events (sequence, source, dedup_key, received_at, headers, body, outcome,
                            quarantine_reason, transaction_id, state)
        select fresh.sq, 'callback', fresh.k, fresh.r, fresh.h, fresh.b,
               case when fresh.q is null then 'stored' else 'quarantined' end, fresh.q, fresh.id,
               fresh.st
          from fresh),
    up as (
        insert into transactions as t (id, current_sequence, first_sequence, type, state,
                                       reason, complete, wallet_id, amount, currency,
                                       created_at, completed_at, first_received_at, updated_at)
        select fresh.id, fresh.sq, fresh.sq, fresh.ty, fresh.st, fresh.re, fresh.co, fresh.w, fresh.a::numeric,
               fresh.cu, fresh.ca, fresh.cpa, fresh.r, fresh.r
          from fresh where fresh.rk = 1 order by fresh.id
        on conflict (id) do update
           set current_sequence = excluded.current_sequence,
               type = coalesce(excluded.type, t.type), state = excluded.state,
               reason = excluded.reason, complete = excluded.complete,
               wallet_id = coalesce(excluded.wallet_id, t.wallet_id),
               amount = coalesce(excluded.amount, t.amount),
               currency = coalesce(excluded.currency, t.currency),
               created_at = coalesce(excluded.created_at, t.created_at),
               completed_at = coalesce(excluded.completed_at, t.completed_at),
               updated_at = now()
         where txhook_applies(t.state, t.current_sequence, excluded.state,
                              excluded.current_sequence)
        returning t.id),
    hist as (
        insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                        currency, applied, received_at)
        select fresh.sq, fresh.id, fresh.st, fresh.re, fresh.a::numeric, fresh.cu, up.id is not null, fresh.r
          from fresh left join up on up.id = fresh.id
         where fresh.rk = 1)
    select array_agg(fresh.o::integer order by fresh.o), array_agg(fresh.sq order by fresh.o),
           array_agg(fresh.rk order by fresh.o), coalesce(max(fresh.rk), 0)
      into v_ord, v_seq, v_rank, v_ranks
      from fresh;

    -- A transaction with several new events in the batch: each is judged against the state
    -- the previous one left, round k taking every transaction's k-th new event.
    for v_round in 2 .. v_ranks loop
        with n as (select * from unnest(v_ord, v_seq, v_rank) as n(o, sq, rk) where n.rk = v_round),
        x as (
            select n.sq, u.* from n join unnest(p_ids, p_states, p_types, p_reasons,
                p_complete, p_wallets, p_amounts, p_currencies, p_created, p_completed,
                p_received) with ordinality as u(id, st, ty, re, co, w, a, cu, ca, cpa, r, o)
                on u.o = n.o),
        up as (
            update transactions t
               set current_sequence = x.sq, type = coalesce(x.ty, t.type), state = x.st,
                   reason = x.re, complete = x.co, wallet_id = coalesce(x.w, t.wallet_id),
                   amount = coalesce(x.a::numeric, t.amount),
                   currency = coalesce(x.cu, t.currency),
                   created_at = coalesce(x.ca, t.created_at),
                   completed_at = coalesce(x.cpa, t.completed_at), updated_at = now()
              from x
             where t.id = x.id and txhook_applies(t.state, t.current_sequence, x.st, x.sq)
            returning t.id)
        insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                        currency, applied, received_at)
        select x.sq, x.id, x.st, x.re, x.a::numeric, x.cu, up.id is not null, x.r
          from x left join up on up.id = x.id;
    end loop;

    return query select n.o, n.sq from unnest(v_ord, v_seq) as n(o, sq);
end
$$;
