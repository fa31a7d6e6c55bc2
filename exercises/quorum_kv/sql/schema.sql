-- One replica's durable state. Each node has a database of its own, so a node
-- that is killed and started again finds exactly what it acknowledged: a replica
-- answers a write only after this transaction has committed.

-- The versions a replica holds for a key: one, or several concurrent siblings.
-- They are stored together, as one JSON array, because they are only ever read
-- and replaced together (a merge is read, reconcile, write back under a row lock).
CREATE TABLE IF NOT EXISTS kv (
    key      text PRIMARY KEY,
    siblings jsonb NOT NULL
);

-- Hinted handoff: versions this node accepted on behalf of another replica it
-- could not reach (a sloppy quorum in AP mode). Each row is delivered to
-- `target` and deleted once `target` has acknowledged it; until then it stays.
CREATE TABLE IF NOT EXISTS hints (
    id       bigserial PRIMARY KEY,
    target   integer NOT NULL,
    key      text NOT NULL,
    siblings jsonb NOT NULL
);
