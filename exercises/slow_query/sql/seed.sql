-- Fill `orders` in one statement, inside Postgres (no round trip per row).
--   $1  rows     (500,000 × LAB_SCALE)
--   $2  scale    (LAB_SCALE, default 1)
--
-- `h` is a multiplicative hash of the row number (Knuth's constant modulo a
-- prime just under 2^32): deterministic, so every run and every machine get the
-- same table, and spread well enough to look random.
--
-- The shape the lesson needs:
--   * skew: 30% of all orders belong to five "whale" customers (ids 1-5, 6% each);
--     the other 70% spread over rows/10 customers (ids 6 and up, about 7 each).
--     Customer 9,000,000 and above have no orders at all: "a new customer".
--   * ties: eight consecutive orders share one created_at, so "ORDER BY
--     created_at" alone does not order a page (step 4).
--   * time runs with id, about three months in all at any scale (the step
--     between instants shrinks as the table grows), so step 5's monthly
--     partitions are the same few at LAB_SCALE=1 and at LAB_SCALE=100.
INSERT INTO orders (id, customer_id, created_at, status, total_cents, currency, items, shipping_address)
SELECT i,
       CASE WHEN h % 100 < 30 THEN 1 + (h / 100) % 5
            ELSE 6 + h % ($1 / 10) END,
       timestamptz '2026-01-01 00:00:00+00' + (i / 8) * (interval '120 seconds' / $2),
       (ARRAY['placed', 'paid', 'shipped', 'delivered', 'refunded'])[1 + h % 5],
       100 + h % 50000,
       (ARRAY['EUR', 'USD', 'GBP'])[1 + h % 3],
       jsonb_build_array(jsonb_build_object(
           'sku', 'SKU-' || (h % 997), 'qty', 1 + h % 3, 'price_cents', 100 + h % 5000)),
       (h % 9999) || ' Long Street, Apartment ' || (h % 97) || ', Springfield'
FROM (SELECT i, (i * 2654435761) % 4294967291 AS h
      FROM generate_series(1::bigint, $1::bigint) AS i) AS g;
