-- The payments service's tables, applied to the primary by the tests (and
-- replicated to every standby from there).

-- The fencing epoch: one row, bumped whenever a new primary is promoted
-- (step 3). A write that carries an older (or newer) epoch than the row holds
-- comes from a client, or reaches a server, that missed a failover.
CREATE TABLE fencing (
    id    int    PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL
);
INSERT INTO fencing VALUES (1, 1);

-- One row per payment. `reference` is the client's own name for the payment;
-- it is deliberately not unique (the legacy schema this service inherited), so
-- a blind retry of a write that did commit is a second payment (step 2).
-- `id` comes from a sequence, which a failover can rewind (step 5).
CREATE TABLE payments (
    id         bigserial   PRIMARY KEY,
    reference  text        NOT NULL,
    amount     bigint      NOT NULL CHECK (amount > 0),
    epoch      bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_reference ON payments (reference);

-- A logged table that is simply empty: a post-failover checklist must not
-- mistake it for lost data (step 5).
CREATE TABLE refunds (
    id         bigserial PRIMARY KEY,
    payment_id bigint    NOT NULL,
    amount     bigint    NOT NULL
);

-- A cache the service rebuilds on demand. UNLOGGED: its writes skip the WAL,
-- so no standby ever has its rows, and a promoted standby starts with it empty.
CREATE UNLOGGED TABLE quotes_cache (
    currency text    PRIMARY KEY,
    rate     numeric NOT NULL
);
