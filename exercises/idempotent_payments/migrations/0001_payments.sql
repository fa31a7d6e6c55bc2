-- Provided: the schema the exercise works on. (The reference runs this same file.)
--
-- Money is an integer number of minor units (cents, pence, yen) in a bigint:
-- never a float, which cannot represent 0.10 exactly.

-- Accounts hold money in one currency. A balance is never stored: it is the
-- opening balance plus the sum of the account's ledger entries, so it cannot
-- disagree with the ledger.
CREATE TABLE accounts (
    id              text    PRIMARY KEY,
    currency        char(3) NOT NULL,
    opening_balance bigint  NOT NULL DEFAULT 0 CHECK (opening_balance >= 0)
);

-- One row per payment, created when its money moves (status 'pending') and
-- marked 'succeeded' once the card processor has charged, or 'failed' if it
-- declined (the ledger movement is then reversed, never deleted).
--
-- `seq` orders payments for pagination. Listing newest first with
-- `seq < cursor` neither repeats nor skips a row while others are inserted:
-- new rows get larger values and land before the cursor, and a transaction
-- that commits late with a smaller value is still ahead of the reader.
CREATE TABLE payments (
    seq         bigserial PRIMARY KEY,
    id          text      NOT NULL UNIQUE,
    client_id   text      NOT NULL,
    amount      bigint    NOT NULL CHECK (amount > 0),
    currency    char(3)   NOT NULL,
    source      text      NOT NULL REFERENCES accounts (id),
    destination text      NOT NULL REFERENCES accounts (id),
    description text      NOT NULL,
    status      text      NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    charge_id   text,
    created_ms  bigint    NOT NULL,
    CHECK (source <> destination)
);
CREATE INDEX payments_by_client ON payments (client_id, seq DESC);

-- Double entry: a payment debits its source and credits its destination by the
-- same amount (signed: debits negative), so all entries always sum to zero. A
-- declined charge adds two 'reversal' entries; rows are never updated or deleted.
CREATE TABLE ledger_entries (
    id         bigserial PRIMARY KEY,
    payment_id text   NOT NULL REFERENCES payments (id),
    account_id text   NOT NULL REFERENCES accounts (id),
    amount     bigint NOT NULL CHECK (amount <> 0),
    kind       text   NOT NULL CHECK (kind IN ('transfer', 'reversal'))
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id);
CREATE INDEX ledger_entries_by_payment ON ledger_entries (payment_id);

-- One row per (client, Idempotency-Key). The primary key is what makes twenty
-- concurrent requests with one key produce one payment: only one INSERT wins.
--
-- recovery_point records how far the request got, so a retry after a crash
-- resumes instead of starting over:
--   started         the key is claimed; nothing else exists yet
--   payment_created the payment and its ledger entries are committed
--   charge_created  the card processor charged (charge id on the payment)
--   finished        the response is stored; retries replay it
--
-- locked_until_ms is a lease: while it lies in the future, a request is working
-- on the key and duplicates get 409. A crashed request's lease simply expires.
CREATE TABLE idempotency_keys (
    client_id       text    NOT NULL,
    key             text    NOT NULL,
    fingerprint     text    NOT NULL,
    recovery_point  text    NOT NULL
        CHECK (recovery_point IN ('started', 'payment_created', 'charge_created', 'finished')),
    locked_until_ms bigint,
    payment_id      text    REFERENCES payments (id),
    response_status integer,
    response_body   text,
    created_ms      bigint  NOT NULL,
    PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_ms);
