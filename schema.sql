-- The current schema of txhook's database, generated from migrations/ by scripts/schema.sh
-- (PostgreSQL 15). Do not edit: after adding a migration run `scripts/schema.sh` and
-- commit this file with it; CI fails when the two disagree. The monthly partitions of
-- events (events_YYYY_MM) are left out: txhook creates them as the months come.

--
-- Name: txhook_applies(text, bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.txhook_applies(cur text, cur_seq bigint, inc text, seq bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    select case
        when seq > cur_seq then txhook_supersedes(cur, inc)
        else txhook_supersedes(cur, inc) and not txhook_supersedes(inc, cur)
    end
$$;

--
-- Name: txhook_ensure_event_partitions(date, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.txhook_ensure_event_partitions(from_month date, months_ahead integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: txhook_supersedes(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.txhook_supersedes(cur text, inc text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    select case
        when cur in ('SUCCESS', 'FAILED', 'REVERSED')
            then inc = cur or (cur = 'SUCCESS' and inc = 'REVERSED')
        else not (cur = 'PROCESSING' and inc in ('FUNDS_REQUIRED', 'PENDING', 'AWAITING_APPROVAL'))
    end
$$;

--
-- Name: txhook_write_callbacks(text[], timestamp with time zone[], jsonb[], bytea[], text[], text[], text[], text[], text[], boolean[], text[], text[], text[], timestamp with time zone[], timestamp with time zone[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.txhook_write_callbacks(p_keys text[], p_received timestamp with time zone[], p_headers jsonb[], p_bodies bytea[], p_quarantine text[], p_ids text[], p_states text[], p_types text[], p_reasons text[], p_complete boolean[], p_wallets text[], p_amounts text[], p_currencies text[], p_created timestamp with time zone[], p_completed timestamp with time zone[]) RETURNS TABLE(ord integer, seq bigint)
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: event_sequence; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.event_sequence
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: event_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_keys (
    dedup_key text NOT NULL,
    sequence bigint DEFAULT nextval('public.event_sequence'::regclass) NOT NULL,
    received_at timestamp with time zone NOT NULL
);

--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    sequence bigint DEFAULT nextval('public.event_sequence'::regclass) NOT NULL,
    source text NOT NULL,
    dedup_key text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    txid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    body bytea NOT NULL,
    outcome text NOT NULL,
    quarantine_reason text,
    transaction_id text,
    state text,
    event_name text,
    entity_id text,
    event_time timestamp with time zone,
    CONSTRAINT events_outcome_check CHECK ((outcome = ANY (ARRAY['stored'::text, 'quarantined'::text]))),
    CONSTRAINT events_source_check CHECK ((source = ANY (ARRAY['callback'::text, 'orangepill'::text])))
)
PARTITION BY RANGE (received_at);

--
-- Name: registrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.registrations (
    id bigint NOT NULL,
    attempted_at timestamp with time zone NOT NULL,
    provider_url text NOT NULL,
    callback_url text NOT NULL,
    key_fingerprint text NOT NULL,
    attempt integer NOT NULL,
    http_status integer,
    answer text NOT NULL,
    outcome text NOT NULL,
    CONSTRAINT registrations_outcome_check CHECK ((outcome = ANY (ARRAY['registered'::text, 'retrying'::text, 'rejected'::text])))
);

--
-- Name: registrations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.registrations ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.registrations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: transaction_states; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transaction_states (
    sequence bigint NOT NULL,
    transaction_id text NOT NULL,
    state text NOT NULL,
    reason text,
    amount numeric,
    currency text,
    applied boolean NOT NULL,
    received_at timestamp with time zone NOT NULL
);

--
-- Name: transactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transactions (
    id text NOT NULL,
    current_sequence bigint NOT NULL,
    type text,
    state text NOT NULL,
    reason text,
    complete boolean,
    wallet_id text,
    amount numeric,
    currency text,
    created_at timestamp with time zone,
    completed_at timestamp with time zone,
    first_received_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    first_sequence bigint NOT NULL
)
WITH (fillfactor='80');

--
-- Name: event_keys event_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_keys
    ADD CONSTRAINT event_keys_pkey PRIMARY KEY (dedup_key);

--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (sequence, received_at);

--
-- Name: registrations registrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.registrations
    ADD CONSTRAINT registrations_pkey PRIMARY KEY (id);

--
-- Name: transaction_states transaction_states_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transaction_states
    ADD CONSTRAINT transaction_states_pkey PRIMARY KEY (sequence);

--
-- Name: transactions transactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transactions
    ADD CONSTRAINT transactions_pkey PRIMARY KEY (id);

--
-- Name: events_quarantined_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_quarantined_idx ON ONLY public.events USING btree (sequence) WHERE (outcome = 'quarantined'::text);

--
-- Name: events_tail_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_tail_idx ON ONLY public.events USING btree (txid, sequence);

--
-- Name: registrations_current_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX registrations_current_idx ON public.registrations USING btree (provider_url, callback_url, key_fingerprint, id);

--
-- Name: transaction_states_transaction_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transaction_states_transaction_idx ON public.transaction_states USING btree (transaction_id, sequence);

--
-- Name: transactions_currency_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_currency_idx ON public.transactions USING btree (currency, first_sequence);

--
-- Name: transactions_first_sequence_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX transactions_first_sequence_idx ON public.transactions USING btree (first_sequence);

--
-- Name: transactions_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_type_idx ON public.transactions USING btree (type, first_sequence);

--
-- Name: transactions_wallet_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_wallet_id_idx ON public.transactions USING btree (wallet_id, first_sequence);
