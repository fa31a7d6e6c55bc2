-- Provided: the schema the exercise works on. (The reference runs this same file.)
--
-- Each node has a database of its own (standing for its own machine's disk).
-- The linearizable mode (step 5) instead shares one database between all nodes;
-- its tables are at the end.

-- A node's copy of each counter: one row per (counter, replica) slot. `incs`
-- and `decs` only ever grow, which is what makes merging safe: merge takes the
-- larger of two values per slot, so receiving the same state twice, or states
-- in any order, changes nothing.
CREATE TABLE counter_slots (
    counter text   NOT NULL,
    replica text   NOT NULL,
    incs    bigint NOT NULL DEFAULT 0 CHECK (incs >= 0),
    decs    bigint NOT NULL DEFAULT 0 CHECK (decs >= 0),
    PRIMARY KEY (counter, replica)
);

-- Request ids this node has applied, so a retried increment is applied once.
-- Written in the same transaction as the slot it increments.
CREATE TABLE applied_requests (
    counter    text NOT NULL,
    request_id text NOT NULL,
    PRIMARY KEY (counter, request_id)
);

-- Linearizable mode: one row per counter in one shared database, changed by a
-- single atomic UPDATE; and the requests it has applied.
CREATE TABLE shared_counters (
    counter text   PRIMARY KEY,
    value   bigint NOT NULL
);

CREATE TABLE shared_applied_requests (
    counter    text NOT NULL,
    request_id text NOT NULL,
    PRIMARY KEY (counter, request_id)
);
