//! Step 1: read the plan before touching anything.
//!
//! `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) <query>` runs the query and
//! returns its plan as a JSON tree, with what each node actually did. Turn it
//! into a [`PlanSummary`]: the nodes in the order EXPLAIN prints them, the
//! sort (if any) and its method, the index each scan used and its condition,
//! what a Filter threw away, heap fetches, and the pages the statement
//! touched. README step 1 says which JSON fields hold what, and the two
//! details of the format that catch everyone out.

use serde_json::Value;
use sqlx::PgPool;

/// A bind parameter of a query to explain.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    BigInt(i64),
    Text(String),
}

/// One node of the plan, with what it actually did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanNode {
    /// `Node Type`: "Limit", "Sort", "Index Scan", "Seq Scan", …
    pub node_type: String,
    /// 0 for the root; a child is one deeper than its parent.
    pub depth: usize,
    /// `Relation Name`, for scans.
    pub relation: Option<String>,
    /// `Index Name`, for index scans of any kind.
    pub index_name: Option<String>,
    /// `Scan Direction` of an index scan: "Forward" or "Backward".
    pub scan_direction: Option<String>,
    /// `Index Cond`: what the index itself narrowed down.
    pub index_cond: Option<String>,
    /// `Filter`: what was checked on rows after reading them.
    pub filter: Option<String>,
    /// `Rows Removed by Filter`, over all loops.
    pub rows_removed_by_filter: u64,
    /// `Sort Method`: "top-N heapsort", "quicksort", "external merge", …
    pub sort_method: Option<String>,
    /// `Sort Key`, for sorts.
    pub sort_key: Vec<String>,
    /// `Heap Fetches`, for index-only scans.
    pub heap_fetches: Option<u64>,
    /// `Actual Rows`, over all loops.
    pub actual_rows: u64,
    /// `Actual Loops`: 0 means the node never ran.
    pub actual_loops: u64,
}

impl PlanNode {
    /// Whether the node ran at all (an Append under a Limit may stop before
    /// reaching its later children: "never executed").
    pub fn executed(&self) -> bool {
        // TODO(step 1): "never executed" in EXPLAIN's text is Actual Loops = 0.
        todo!("step 1: executed — see README step 1")
    }

    /// Whether this node sorts rows it has read: `Sort` or `Incremental Sort`.
    pub fn is_sort(&self) -> bool {
        // TODO(step 1): Sort, or Incremental Sort.
        todo!("step 1: is_sort — see README step 1")
    }
}

/// The plan of one statement, flattened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanSummary {
    /// Every node, depth first, parents before children, children in order.
    pub nodes: Vec<PlanNode>,
    /// Pages found in Postgres's buffer cache, for the whole statement.
    pub shared_hit_blocks: u64,
    /// Pages Postgres had to ask the OS for, for the whole statement.
    pub shared_read_blocks: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The query (or the EXPLAIN around it) failed.
    #[error("explaining the query failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The JSON is not what `EXPLAIN (FORMAT JSON)` returns.
    #[error("not an EXPLAIN (FORMAT JSON) plan: {0}")]
    Malformed(String),
}

impl PlanSummary {
    /// Read the output of `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`: an array
    /// holding one object whose `"Plan"` is the root node.
    pub fn from_json(explain: &Value) -> Result<PlanSummary, PlanError> {
        // TODO(step 1): read explain[0]["Plan"] and walk it: parents first, each child subtree in order.
        //     Malformed if the shape is not [{"Plan": {"Node Type": …}}] (every node needs a Node Type).
        //     Which node's buffers are the statement's? Which counts are per loop?
        todo!("step 1: from_json — see README step 1")
    }

    /// The node types, in the order of [`PlanSummary::nodes`].
    pub fn node_types(&self) -> Vec<&str> {
        // TODO(step 1): the node types, in the order of `nodes`.
        todo!("step 1: node_types — see README step 1")
    }

    /// The first node that sorts (`Sort` or `Incremental Sort`), if any.
    pub fn sort(&self) -> Option<&PlanNode> {
        // TODO(step 1): the first Sort or Incremental Sort.
        todo!("step 1: sort — see README step 1")
    }

    /// Every scan that used an index (`Index Scan`, `Index Only Scan`,
    /// `Bitmap Index Scan`), in plan order.
    pub fn index_scans(&self) -> Vec<&PlanNode> {
        // TODO(step 1): every node that used an index.
        todo!("step 1: index_scans — see README step 1")
    }

    /// Pages touched, from cache or not: hit + read.
    pub fn shared_blocks(&self) -> u64 {
        // TODO(step 1): hit + read.
        todo!("step 1: shared_blocks — see README step 1")
    }

    /// Heap fetches of every index-only scan together.
    pub fn heap_fetches(&self) -> u64 {
        // TODO(step 1): the sum over index-only scans.
        todo!("step 1: heap_fetches — see README step 1")
    }

    /// Rows read and then thrown away by a `Filter`, over the whole plan.
    pub fn rows_removed_by_filter(&self) -> u64 {
        // TODO(step 1): the sum over the plan.
        todo!("step 1: rows_removed_by_filter — see README step 1")
    }
}

/// Run `sql` under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` with `params`,
/// and summarise the plan.
///
/// ANALYZE *executes* the statement. Explaining an UPDATE would update, so it
/// runs in a transaction that is always rolled back: explaining changes nothing.
pub async fn explain(pool: &PgPool, sql: &str, params: &[Param]) -> Result<PlanSummary, PlanError> {
    // TODO(step 1): prefix EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), bind each Param in order, decode the one
    //     row as serde_json::Value (sqlx's `json` feature is on). ANALYZE executes the statement:
    //     what must explaining an UPDATE never do?
    todo!("step 1: explain — see README step 1")
}
