//! Step 1, hidden: plans as other tools produce them.

use serde_json::json;
use slow_query::PlanSummary;

/// A plan from `EXPLAIN (ANALYZE, FORMAT JSON)` without BUFFERS has no page
/// counts: it still reads, with zero pages, rather than being refused.
#[test]
fn step1_hidden_a_plan_without_buffers_still_reads() {
    let plan = PlanSummary::from_json(&json!([{
        "Plan": {
            "Node Type": "Limit", "Actual Rows": 10, "Actual Loops": 1,
            "Plans": [{ "Node Type": "Index Scan", "Index Name": "i", "Index Cond": "(customer_id = 1)",
                        "Actual Rows": 10, "Actual Loops": 1 }]
        },
        "Planning Time": 0.1, "Execution Time": 0.2
    }]))
    .expect("README step 1: a plan without buffer counts is still a plan");
    assert_eq!(plan.node_types(), ["Limit", "Index Scan"]);
    assert_eq!(plan.shared_blocks(), 0);
    assert_eq!(
        plan.nodes[1].index_cond.as_deref(),
        Some("(customer_id = 1)")
    );
}

/// A plan without ANALYZE (no Actual fields at all) reads as nodes that
/// never ran, with no rows and no loops.
#[test]
fn step1_hidden_a_plan_without_analyze_has_no_actual_counts() {
    let plan = PlanSummary::from_json(&json!([{
        "Plan": { "Node Type": "Seq Scan", "Relation Name": "orders", "Filter": "(customer_id = 1)",
                  "Total Cost": 25000.0 }
    }]))
    .expect("a plan");
    assert_eq!(plan.nodes[0].actual_loops, 0);
    assert_eq!(plan.nodes[0].rows_removed_by_filter, 0);
    assert!(!plan.nodes[0].executed());
}
