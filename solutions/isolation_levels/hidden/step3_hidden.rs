//! Step 3, hidden: the rule is per shift.

use isolation_levels::oncall;
use isolation_levels::{Fix, Gate, OffCall, RosterError, go_off_call};

use crate::support;

/// The last doctor on call for shift 1 is refused even while shift 2 has
/// plenty on call: the count is of the doctor's own shift.
#[tokio::test]
async fn step3_hidden_the_last_on_call_is_counted_within_the_doctors_own_shift()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    for (base, fix) in [(0, Fix::Serializable), (100, Fix::LockRows)] {
        oncall::add_shift(pool, base + 1, &[base + 11, base + 12]).await?;
        oncall::add_shift(pool, base + 2, &[base + 21, base + 22, base + 23]).await?;
        let first = go_off_call(pool, fix, base + 11, &Gate::open()).await?;
        assert_eq!(first, OffCall::WentOff { still_on_call: 1 }, "{fix:?}");
        let last = go_off_call(pool, fix, base + 12, &Gate::open()).await;
        assert!(
            matches!(last, Err(RosterError::LastOnCall { .. })),
            "{fix:?}: doctor {} is the last on call for shift {}, whatever shift {} has; got \
             {last:?} (README, step 3)",
            base + 12,
            base + 1,
            base + 2
        );
        assert_eq!(oncall::on_call(pool, base + 1).await?, 1);
        assert_eq!(
            oncall::on_call(pool, base + 2).await?,
            3,
            "{fix:?}: shift 2 untouched"
        );
    }
    Ok(())
}
