//! Step 3: write skew, fixed twice.
//!
//! See the README's step 3 for what each fix must guarantee.

use sqlx::PgPool;

use crate::db::DbFailure;
use crate::gate::Gate;
use crate::oncall::{OffCall, RosterError};

/// How [`go_off_call`] keeps the rule under concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    /// Run the check and the write at SERIALIZABLE; a serialization failure
    /// comes back as [`RosterError::Conflict`].
    Serializable,
    /// Lock every row the check reads before deciding, at READ COMMITTED.
    LockRows,
}

/// Take `doctor` off call, unless that would leave the shift with nobody.
/// Call `gate.after_read().await` once the on-call doctors have been read.
pub async fn go_off_call(
    pool: &PgPool,
    fix: Fix,
    doctor: i32,
    gate: &Gate,
) -> Result<OffCall, RosterError> {
    match fix {
        // TODO(step 3): naive_go_off_call (oncall.rs) at SERIALIZABLE, with a
        // serialization failure mapped to RosterError::Conflict.
        Fix::Serializable => todo!("step 3: go off call under SERIALIZABLE (README step 3)"),
        // TODO(step 3): at READ COMMITTED, lock every row the rule reads
        // (FOR UPDATE) before counting.
        Fix::LockRows => todo!("step 3: go off call with the rows locked (README step 3)"),
    }
}
