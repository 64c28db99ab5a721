-- The current schema of txhook's database, generated from migrations/ by scripts/schema.sh
-- (PostgreSQL 15). Do not edit: after adding a migration run `scripts/schema.sh` and
-- commit this file with it; CI fails when the two disagree. The monthly partitions of
-- events (events_YYYY_MM) are left out: txhook creates them as the months come.

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
-- Name: console_sign_outs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.console_sign_outs (
    nonce text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

--
-- Name: consumer_positions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consumer_positions (
    name text NOT NULL,
    txid xid8 NOT NULL,
    sequence bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: delivery_order; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.delivery_order
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.deliveries (
    destination_id uuid NOT NULL,
    sequence bigint NOT NULL,
    ord bigint DEFAULT nextval('public.delivery_order'::regclass) NOT NULL,
    ordering_key text,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_until timestamp with time zone,
    lease_token uuid,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    failing_since timestamp with time zone,
    last_attempt_at timestamp with time zone,
    last_status integer,
    last_error text,
    delivered_at timestamp with time zone,
    CONSTRAINT deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'dead'::text])))
);

--
-- Name: delivery_attempts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.delivery_attempts (
    id bigint NOT NULL,
    destination_id uuid NOT NULL,
    sequence bigint NOT NULL,
    attempt integer NOT NULL,
    attempted_at timestamp with time zone DEFAULT now() NOT NULL,
    status integer,
    latency_ms integer NOT NULL,
    error text
);

--
-- Name: delivery_attempts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.delivery_attempts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.delivery_attempts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: destinations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.destinations (
    id uuid NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    filter jsonb DEFAULT '{}'::jsonb NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    txid xid8 NOT NULL,
    sequence bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

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
    transaction_type text,
    CONSTRAINT events_outcome_check CHECK ((outcome = ANY (ARRAY['stored'::text, 'quarantined'::text]))),
    CONSTRAINT events_source_check CHECK ((source = ANY (ARRAY['callback'::text, 'orangepill'::text])))
)
PARTITION BY RANGE (received_at);

--
-- Name: projection_failures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.projection_failures (
    sequence bigint NOT NULL,
    transaction_id text,
    error text NOT NULL,
    failed_at timestamp with time zone DEFAULT now() NOT NULL
);

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
-- Name: rejected_callbacks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rejected_callbacks (
    id bigint NOT NULL,
    received_at timestamp with time zone NOT NULL,
    reason text NOT NULL,
    source text,
    headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    body_size integer NOT NULL,
    body_sha256 text NOT NULL,
    body_head bytea NOT NULL
);

--
-- Name: rejected_callbacks_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.rejected_callbacks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.rejected_callbacks_id_seq
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
    first_sequence bigint NOT NULL,
    short_id text,
    external_id text,
    charge_for text
)
WITH (fillfactor='80');

--
-- Name: console_sign_outs console_sign_outs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.console_sign_outs
    ADD CONSTRAINT console_sign_outs_pkey PRIMARY KEY (nonce);

--
-- Name: consumer_positions consumer_positions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consumer_positions
    ADD CONSTRAINT consumer_positions_pkey PRIMARY KEY (name);

--
-- Name: deliveries deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (destination_id, sequence);

--
-- Name: delivery_attempts delivery_attempts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.delivery_attempts
    ADD CONSTRAINT delivery_attempts_pkey PRIMARY KEY (id);

--
-- Name: destinations destinations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.destinations
    ADD CONSTRAINT destinations_pkey PRIMARY KEY (id);

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
-- Name: projection_failures projection_failures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.projection_failures
    ADD CONSTRAINT projection_failures_pkey PRIMARY KEY (sequence);

--
-- Name: registrations registrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.registrations
    ADD CONSTRAINT registrations_pkey PRIMARY KEY (id);

--
-- Name: rejected_callbacks rejected_callbacks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rejected_callbacks
    ADD CONSTRAINT rejected_callbacks_pkey PRIMARY KEY (id);

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
-- Name: deliveries_dead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX deliveries_dead_idx ON public.deliveries USING btree (destination_id, sequence) WHERE (status = 'dead'::text);

--
-- Name: deliveries_due_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX deliveries_due_idx ON public.deliveries USING btree (destination_id, ord) WHERE (status = 'pending'::text);

--
-- Name: deliveries_ordering_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX deliveries_ordering_idx ON public.deliveries USING btree (destination_id, ordering_key, ord) WHERE (status = 'pending'::text);

--
-- Name: delivery_attempts_destination_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX delivery_attempts_destination_idx ON public.delivery_attempts USING btree (destination_id, id);

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
-- Name: rejected_callbacks_received_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rejected_callbacks_received_idx ON public.rejected_callbacks USING btree (received_at);

--
-- Name: transaction_states_transaction_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transaction_states_transaction_idx ON public.transaction_states USING btree (transaction_id, sequence);

--
-- Name: transactions_charge_for_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_charge_for_idx ON public.transactions USING btree (charge_for) WHERE (charge_for IS NOT NULL);

--
-- Name: transactions_currency_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_currency_idx ON public.transactions USING btree (currency, first_sequence);

--
-- Name: transactions_external_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_external_id_idx ON public.transactions USING btree (external_id) WHERE (external_id IS NOT NULL);

--
-- Name: transactions_first_sequence_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX transactions_first_sequence_idx ON public.transactions USING btree (first_sequence);

--
-- Name: transactions_short_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_short_id_idx ON public.transactions USING btree (short_id) WHERE (short_id IS NOT NULL);

--
-- Name: transactions_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_type_idx ON public.transactions USING btree (type, first_sequence);

--
-- Name: transactions_wallet_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transactions_wallet_id_idx ON public.transactions USING btree (wallet_id, first_sequence);

--
-- Name: deliveries deliveries_destination_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_destination_id_fkey FOREIGN KEY (destination_id) REFERENCES public.destinations(id) ON DELETE CASCADE;

--
-- Name: delivery_attempts delivery_attempts_destination_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.delivery_attempts
    ADD CONSTRAINT delivery_attempts_destination_id_fkey FOREIGN KEY (destination_id) REFERENCES public.destinations(id) ON DELETE CASCADE;
