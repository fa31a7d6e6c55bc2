//! Step 1: read the plan before touching anything.
//!
//! `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` runs the query and returns the
//! plan tree with what each node actually did. [`PlanSummary`] flattens the
//! tree into the facts an engineer reads first:
//!
//! * which nodes ran, in order (a `Sort` above a scan means Postgres read
//!   every matching row before it could return ten);
//! * the sort method (`top-N heapsort` keeps only N rows, but still reads all);
//! * the index each scan used and its `Index Cond`, against the `Filter` that
//!   threw rows away after reading them;
//! * the pages touched (`shared hit` from the buffer cache, `shared read` from
//!   the OS): the one cost that does not depend on how fast this machine is.
//!
//! Two details of the format matter. A node's buffer counts *include* its
//! children's, so the query's total is the root's, not a sum over nodes. And
//! `Actual Rows` and `Rows Removed by Filter` are averages *per loop*: a node
//! that ran three times (a parallel scan with two workers, the inner side of a
//! nested loop) did three times what it says.

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
        self.actual_loops > 0
    }

    /// Whether this node sorts rows it has read: `Sort` or `Incremental Sort`.
    pub fn is_sort(&self) -> bool {
        self.node_type == "Sort" || self.node_type == "Incremental Sort"
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
        let root = explain
            .as_array()
            .and_then(|statements| statements.first())
            .and_then(|statement| statement.get("Plan"))
            .ok_or_else(|| PlanError::Malformed("expected [{\"Plan\": {…}}]".into()))?;
        let mut summary = PlanSummary {
            nodes: Vec::new(),
            // The root's counts already include every child's.
            shared_hit_blocks: count(root, "Shared Hit Blocks"),
            shared_read_blocks: count(root, "Shared Read Blocks"),
        };
        walk(root, 0, &mut summary.nodes)?;
        Ok(summary)
    }

    /// The node types, in the order of [`PlanSummary::nodes`].
    pub fn node_types(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.node_type.as_str()).collect()
    }

    /// The first node that sorts (`Sort` or `Incremental Sort`), if any.
    pub fn sort(&self) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.is_sort())
    }

    /// Every scan that used an index (`Index Scan`, `Index Only Scan`,
    /// `Bitmap Index Scan`), in plan order.
    pub fn index_scans(&self) -> Vec<&PlanNode> {
        self.nodes
            .iter()
            .filter(|n| n.index_name.is_some())
            .collect()
    }

    /// Pages touched, from cache or not: hit + read.
    pub fn shared_blocks(&self) -> u64 {
        self.shared_hit_blocks + self.shared_read_blocks
    }

    /// Heap fetches of every index-only scan together.
    pub fn heap_fetches(&self) -> u64 {
        self.nodes.iter().filter_map(|n| n.heap_fetches).sum()
    }

    /// Rows read and then thrown away by a `Filter`, over the whole plan.
    pub fn rows_removed_by_filter(&self) -> u64 {
        self.nodes.iter().map(|n| n.rows_removed_by_filter).sum()
    }
}

/// Parents before children: the order EXPLAIN prints them in.
fn walk(node: &Value, depth: usize, out: &mut Vec<PlanNode>) -> Result<(), PlanError> {
    let node_type = node
        .get("Node Type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            PlanError::Malformed(format!("a plan node without \"Node Type\": {node}"))
        })?;
    let loops = count(node, "Actual Loops");
    let text = |key: &str| node.get(key).and_then(Value::as_str).map(str::to_string);
    out.push(PlanNode {
        node_type: node_type.to_string(),
        depth,
        relation: text("Relation Name"),
        index_name: text("Index Name"),
        scan_direction: text("Scan Direction"),
        index_cond: text("Index Cond"),
        filter: text("Filter"),
        // Per-loop averages, so times the loops.
        rows_removed_by_filter: count(node, "Rows Removed by Filter") * loops,
        sort_method: text("Sort Method"),
        sort_key: node
            .get("Sort Key")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        heap_fetches: node
            .get("Heap Fetches")
            .map(|_| count(node, "Heap Fetches")),
        actual_rows: count(node, "Actual Rows") * loops,
        actual_loops: loops,
    });
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for child in children {
            walk(child, depth + 1, out)?;
        }
    }
    Ok(())
}

/// A count from the plan: EXPLAIN prints whole numbers, as floats in places
/// (per-loop averages); absent is 0.
fn count(node: &Value, key: &str) -> u64 {
    node.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.round() as u64)))
        .unwrap_or(0)
}

/// Run `sql` under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` with `params`,
/// and summarise the plan.
///
/// ANALYZE *executes* the statement. Explaining an UPDATE would update, so it
/// runs in a transaction that is always rolled back: explaining changes nothing.
pub async fn explain(pool: &PgPool, sql: &str, params: &[Param]) -> Result<PlanSummary, PlanError> {
    let statement = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}");
    let mut query = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(statement));
    for param in params {
        query = match param {
            Param::BigInt(n) => query.bind(*n),
            Param::Text(s) => query.bind(s.clone()),
        };
    }
    let mut tx = pool.begin().await?;
    let plan = query.fetch_one(&mut *tx).await;
    tx.rollback().await?;
    PlanSummary::from_json(&plan?)
}
