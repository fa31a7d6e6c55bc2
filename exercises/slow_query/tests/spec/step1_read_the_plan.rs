//! Step 1: read the plan before touching anything.
//!
//! `PlanSummary::from_json` on the provided plans in `tests/spec/plans/`
//! (recorded from this very table), then `explain` on live queries.

use serde_json::json;
use slow_query::{Param, PlanError, PlanSummary, explain, schema};

use crate::support::{Lab, plans::fixture};

fn summary(name: &str) -> PlanSummary {
    PlanSummary::from_json(&fixture(name))
        .unwrap_or_else(|e| panic!("README step 1: the provided plan {name} did not parse: {e}"))
}

/// The question's query with no index: Limit → Gather Merge → Sort (top-N
/// heapsort) → Seq Scan, and the whole table's pages.
#[test]
fn step1_a_seq_scan_and_sort_plan_reads_as_it_ran() {
    let plan = summary("seq_scan_then_sort");
    assert_eq!(
        plan.node_types(),
        ["Limit", "Gather Merge", "Sort", "Seq Scan"],
        "README step 1: nodes parents first, in EXPLAIN's order"
    );
    let sort = plan
        .sort()
        .expect("README step 1: sort() must find the Sort node");
    assert_eq!(sort.sort_method.as_deref(), Some("top-N heapsort"));
    assert_eq!(sort.sort_key, ["created_at DESC"]);
    assert_eq!(
        (
            plan.shared_hit_blocks,
            plan.shared_read_blocks,
            plan.shared_blocks()
        ),
        (114, 12_821, 12_935),
        "README step 1: the statement's pages are the root's counts (they include the children's)"
    );
    let scan = &plan.nodes[3];
    assert_eq!(scan.relation.as_deref(), Some("orders"));
    assert_eq!(scan.filter.as_deref(), Some("(customer_id = 1)"));
    assert_eq!(scan.index_name, None);
    assert_eq!(
        plan.nodes.iter().map(|n| n.depth).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
}

/// A node that ran in three processes (a parallel scan: the leader and two
/// workers) reports per-loop averages: the totals are those times the loops.
#[test]
fn step1_per_loop_counts_are_multiplied_by_the_loops() {
    let plan = summary("seq_scan_then_sort");
    let scan = &plan.nodes[3];
    assert_eq!(scan.actual_loops, 3);
    assert_eq!(
        scan.rows_removed_by_filter, 470_001,
        "README step 1: Rows Removed by Filter is per loop (156,667 × 3 loops)"
    );
    assert_eq!(
        scan.actual_rows, 30_000,
        "Actual Rows is per loop too (10,000 × 3)"
    );
    assert_eq!(plan.rows_removed_by_filter(), 470_001);

    let nested = summary("nested_loop");
    assert_eq!(nested.nodes[2].actual_loops, 11);
    assert_eq!(
        nested.nodes[2].rows_removed_by_filter, 154,
        "14 per loop × 11 loops"
    );
    assert_eq!(nested.rows_removed_by_filter(), 154);

    // Heap Fetches, though, is a total: 4 rows fetched in each of 12 loops.
    let fetches = summary("nested_loop_heap_fetches");
    assert_eq!(fetches.nodes[2].actual_loops, 12);
    assert_eq!(fetches.nodes[2].actual_rows, 240, "20 per loop × 12 loops");
    assert_eq!(
        fetches.nodes[2].heap_fetches,
        Some(48),
        "README step 1: Heap Fetches is a total over the loops already (not × 12)"
    );
    assert_eq!(fetches.nodes[1].heap_fetches, Some(1));
    assert_eq!(
        fetches.heap_fetches(),
        49,
        "README step 1: the plan's heap fetches are every index-only scan's, added up"
    );
}

/// An index on `customer_id` alone: a Bitmap Index Scan finds the whale's
/// 30,000 rows, a Bitmap Heap Scan reads them (every page of the table), and
/// a top-N heapsort keeps ten.
#[test]
fn step1_a_bitmap_scan_plan_shows_its_index_and_its_sort() {
    let plan = summary("bitmap_heap_scan_then_sort");
    assert_eq!(
        plan.node_types(),
        ["Limit", "Sort", "Bitmap Heap Scan", "Bitmap Index Scan"]
    );
    let scans = plan.index_scans();
    assert_eq!(
        scans.len(),
        1,
        "README step 1: a Bitmap Index Scan uses an index too: {scans:?}"
    );
    assert_eq!(scans[0].node_type, "Bitmap Index Scan");
    assert_eq!(scans[0].index_name.as_deref(), Some("o_cust"));
    assert_eq!(scans[0].index_cond.as_deref(), Some("(customer_id = 1)"));
    assert_eq!(scans[0].actual_rows, 30_000);
    assert_eq!(
        plan.sort().and_then(|s| s.sort_method.as_deref()),
        Some("top-N heapsort")
    );
    assert_eq!(plan.shared_blocks(), 12_855);
}

/// An index on `created_at` alone, walked backward: the index gives the
/// order, a Filter throws away everyone else's rows, 25,363 pages for ten.
#[test]
fn step1_a_backward_index_scan_with_a_filter_shows_what_it_threw_away() {
    let plan = summary("backward_scan_with_filter");
    assert_eq!(plan.node_types(), ["Limit", "Index Scan"]);
    let scan = &plan.nodes[1];
    assert_eq!(scan.index_name.as_deref(), Some("o_created"));
    assert_eq!(scan.scan_direction.as_deref(), Some("Backward"));
    assert_eq!(
        scan.index_cond, None,
        "this index narrows nothing: no Index Cond"
    );
    assert_eq!(scan.filter.as_deref(), Some("(customer_id = 777)"));
    assert_eq!(scan.rows_removed_by_filter, 348_103);
    assert_eq!(plan.shared_blocks(), 25_363);
    assert!(plan.sort().is_none(), "the index gives the order: no sort");
    assert_eq!(plan.index_scans().len(), 1);
}

/// The plan the exercise is after: Limit → Index Scan with an Index Cond on
/// the customer, no sort, eleven pages.
#[test]
fn step1_a_good_index_scan_has_an_index_cond_and_no_sort() {
    let plan = summary("good_index_scan");
    assert_eq!(plan.node_types(), ["Limit", "Index Scan"]);
    assert!(plan.sort().is_none());
    let scans = plan.index_scans();
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].index_name.as_deref(), Some("o_right"));
    assert_eq!(scans[0].index_cond.as_deref(), Some("(customer_id = 1)"));
    assert_eq!(scans[0].filter, None);
    assert_eq!(scans[0].rows_removed_by_filter, 0);
    assert_eq!(plan.shared_blocks(), 11);
    assert_eq!(plan.heap_fetches(), 0);
}

/// An Incremental Sort is a sort too (the index gave only part of the
/// order), and an index-only scan reports its heap fetches.
#[test]
fn step1_an_incremental_sort_counts_as_a_sort_and_heap_fetches_are_read() {
    let plan = summary("incremental_sort");
    assert_eq!(
        plan.node_types(),
        ["Limit", "Incremental Sort", "Index Scan"]
    );
    let sort = plan
        .sort()
        .expect("README step 1: an Incremental Sort is a sort: the plan still sorts rows");
    assert_eq!(sort.node_type, "Incremental Sort");
    assert_eq!(sort.sort_key, ["created_at DESC", "id DESC"]);

    let only = summary("index_only_scan");
    assert_eq!(only.node_types(), ["Limit", "Index Only Scan"]);
    assert_eq!(only.nodes[1].heap_fetches, Some(3));
    assert_eq!(only.heap_fetches(), 3);
    assert_eq!(
        only.nodes[0].heap_fetches, None,
        "a Limit has no heap fetches at all"
    );
}

/// Children come right after their parent, subtree by subtree (depth
/// first), and a node that never ran says so.
#[test]
fn step1_nodes_come_depth_first_and_never_executed_is_visible() {
    let plan = PlanSummary::from_json(&json!([{
        "Plan": {
            "Node Type": "Limit", "Actual Loops": 1, "Shared Hit Blocks": 7, "Shared Read Blocks": 0,
            "Plans": [
                { "Node Type": "Append", "Actual Loops": 1, "Plans": [
                    { "Node Type": "Index Scan", "Index Name": "p2_idx", "Actual Loops": 1 },
                    { "Node Type": "Index Scan", "Index Name": "p1_idx", "Actual Loops": 0 }
                ]},
                { "Node Type": "Result", "Actual Loops": 1 }
            ]
        }
    }]))
    .expect("a well-formed plan");
    assert_eq!(
        plan.node_types(),
        ["Limit", "Append", "Index Scan", "Index Scan", "Result"],
        "README step 1: parents first, each subtree before the next sibling"
    );
    assert_eq!(
        plan.nodes.iter().map(|n| n.depth).collect::<Vec<_>>(),
        [0, 1, 2, 2, 1]
    );
    assert!(plan.nodes[2].executed());
    assert!(
        !plan.nodes[3].executed(),
        "Actual Loops 0 is \"never executed\""
    );
    assert_eq!(plan.shared_blocks(), 7);
}

/// Anything that is not EXPLAIN's JSON is refused with `Malformed`, never a panic.
#[test]
fn step1_json_that_is_not_a_plan_is_refused() {
    for bad in [
        json!({"Plan": {"Node Type": "Limit"}}),
        json!([]),
        json!([{"Query": {}}]),
        json!([{"Plan": {"Actual Loops": 1}}]),
        json!([{"Plan": {"Node Type": "Limit", "Plans": [{"Actual Rows": 3}]}}]),
        json!("Seq Scan on orders"),
    ] {
        match PlanSummary::from_json(&bad) {
            Err(PlanError::Malformed(_)) => {}
            other => panic!("README step 1: {bad} must be Malformed, got {other:?}"),
        }
    }
}

/// On the live table: the whale's latest ten without an index is a scan of
/// every page and a sort, with the parameter bound, not pasted in.
#[tokio::test]
async fn step1_explain_runs_the_query_and_reads_its_plan() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let plan = explain(
        lab.pool(),
        schema::LATEST_ORDERS_SQL,
        &[Param::BigInt(schema::WHALE)],
    )
    .await?;
    let oracle = lab
        .plan(schema::LATEST_ORDERS_SQL, &[Param::BigInt(schema::WHALE)])
        .await?;
    assert!(
        plan.sort().is_some(),
        "README step 1: no index yet, so Postgres sorts: {plan:?}"
    );
    assert_eq!(
        plan.node_types(),
        oracle
            .nodes()
            .iter()
            .map(|n| n["Node Type"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
    );
    let pages: i64 =
        sqlx::query_scalar("SELECT relpages::bigint FROM pg_class WHERE relname = 'orders'")
            .fetch_one(lab.pool())
            .await?;
    assert!(
        plan.shared_blocks() as i64 >= pages,
        "README step 1: a scan of the whole table touches all its {pages} pages; got {}",
        plan.shared_blocks()
    );
    // A quote in a text parameter: bound, it is just a value; pasted into
    // the SQL, it ends the string literal.
    let text = explain(
        lab.pool(),
        "SELECT * FROM orders WHERE status = $1 AND customer_id = $2",
        &[Param::Text("it's refunded".into()), Param::BigInt(7)],
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!("README step 1: bind the parameters, never paste them into the SQL: {e}")
    })?;
    let filters: Vec<&str> = text
        .nodes
        .iter()
        .filter_map(|n| n.filter.as_deref())
        .collect();
    assert!(
        filters
            .iter()
            .any(|f| f.contains("refunded") || f.contains("$1")),
        "the text parameter reached the query: {filters:?}"
    );
    Ok(())
}

/// EXPLAIN ANALYZE executes the statement: explaining an UPDATE must not
/// update anything.
#[tokio::test]
async fn step1_explaining_a_write_changes_nothing() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let before: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(total_cents), 0)::bigint FROM orders WHERE customer_id = 777",
    )
    .fetch_one(lab.pool())
    .await?;
    let plan = explain(
        lab.pool(),
        "UPDATE orders SET total_cents = 0 WHERE customer_id = $1",
        &[Param::BigInt(777)],
    )
    .await?;
    assert_eq!(plan.nodes[0].node_type, "ModifyTable");
    assert!(before > 0, "customer 777 has orders");
    let after: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(total_cents), 0)::bigint FROM orders WHERE customer_id = 777",
    )
    .fetch_one(lab.pool())
    .await?;
    assert_eq!(
        before, after,
        "README step 1: explain() ran the UPDATE for real; run it in a transaction and roll back"
    );
    Ok(())
}

/// A query Postgres rejects comes back as `PlanError::Database`, and leaves
/// the pool usable.
#[tokio::test]
async fn step1_a_query_postgres_rejects_is_a_database_error() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    for bad in [
        "SELECT * FROM no_such_table",
        "SELECT * FROM orders WHERE customer_id = $1",
    ] {
        match explain(lab.pool(), bad, &[]).await {
            Err(PlanError::Database(_)) => {}
            other => {
                panic!("README step 1: {bad:?} with no parameters must be Database, got {other:?}")
            }
        }
    }
    let ok = explain(lab.pool(), "SELECT 1", &[]).await?;
    assert_eq!(ok.node_types(), ["Result"]);
    Ok(())
}
