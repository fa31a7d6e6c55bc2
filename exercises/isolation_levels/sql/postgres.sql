-- PROVIDED: the tables of steps 2 to 6 on Postgres (step 1's `test` table is
-- made afresh by the scheduler for every run).

-- Step 2: seats left per event, and one row per successful purchase. There is
-- deliberately no CHECK (available >= 0): the constraint would be a fourth
-- fix, and the tests must see an oversell to prove the first three.
CREATE TABLE seats (
    event_id  int PRIMARY KEY,
    available int NOT NULL
);
CREATE TABLE purchases (
    id       bigserial PRIMARY KEY,
    event_id int NOT NULL REFERENCES seats (event_id),
    quantity int NOT NULL
);

-- Step 3: the on-call roster. The rule "at least one doctor of each shift stays
-- on call" lives in the application, which is what makes write skew possible.
CREATE TABLE doctors (
    id      int PRIMARY KEY,
    shift   int NOT NULL,
    on_call boolean NOT NULL
);

-- Step 4: orders against a credit limit, and the outbox of emails to send.
-- Every attempt to insert an order takes a value from orders_id_seq, and a
-- rollback does not give it back: the sequence counts attempts.
CREATE TABLE customers (
    id           int PRIMARY KEY,
    email        text NOT NULL,
    credit_cents bigint NOT NULL
);
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers (id),
    total_cents bigint NOT NULL
);
CREATE TABLE outbox (
    id       bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id),
    email    text NOT NULL,
    body     text NOT NULL,
    sent_at  timestamptz
);

-- Step 6: receipts go into the current batch; closing a batch moves
-- `current_batch` on, after which the closed batch's total is reported.
CREATE TABLE control (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    current_batch int NOT NULL
);
INSERT INTO control (current_batch) VALUES (1);
CREATE TABLE receipts (
    id           bigserial PRIMARY KEY,
    batch        int NOT NULL,
    amount_cents bigint NOT NULL
);
