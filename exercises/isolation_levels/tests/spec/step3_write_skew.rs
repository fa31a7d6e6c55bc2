//! Step 3: write skew on the on-call roster, shown and fixed twice.

use isolation_levels::oncall::{self, naive_go_off_call};
use isolation_levels::{Fix, Gate, OffCall, RosterError, go_off_call};

use crate::support::{self, BOUND};

/// Two doctors of one shift go off call at once, both past their check
/// before either writes.
async fn race_off_call(
    pool: &sqlx::PgPool,
    fix: Option<Fix>,
    doctors: [i32; 2],
) -> anyhow::Result<Vec<Result<OffCall, RosterError>>> {
    let gate = Gate::barrier(2);
    let mut tasks = Vec::new();
    for doctor in doctors {
        let (pool, gate) = (pool.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            match fix {
                None => naive_go_off_call(&pool, doctor, &gate).await,
                Some(fix) => go_off_call(&pool, fix, doctor, &gate).await,
            }
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(labkit::within(BOUND, "a doctor going off call", task).await??);
    }
    Ok(results)
}

/// Under REPEATABLE READ both doctors go off and nobody is left on call;
/// under SERIALIZABLE one of the two is refused or told to retry.
#[tokio::test]
async fn step3_repeatable_read_lets_both_doctors_go_off_call_and_serializable_does_not()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    oncall::add_shift(pool, 1, &[1, 2]).await?;
    let naive = race_off_call(pool, None, [1, 2]).await?;
    assert!(
        naive.iter().all(|r| r.is_ok()),
        "the provided code lets both go: {naive:?}"
    );
    assert_eq!(
        oncall::on_call(pool, 1).await?,
        0,
        "write skew: nobody on call"
    );

    oncall::add_shift(pool, 2, &[3, 4]).await?;
    let fixed = race_off_call(pool, Some(Fix::Serializable), [3, 4]).await?;
    let went = fixed
        .iter()
        .filter(|r| matches!(r, Ok(OffCall::WentOff { .. })))
        .count();
    assert_eq!(
        went, 1,
        "with Fix::Serializable exactly one of two racing doctors may go off call; the other \
         gets Conflict (or LastOnCall); got {fixed:?} (README, step 3)"
    );
    assert!(
        fixed.iter().any(|r| matches!(
            r,
            Err(RosterError::Conflict | RosterError::LastOnCall { .. })
        )),
        "the doctor who lost the race should get Conflict or LastOnCall, got {fixed:?}"
    );
    assert_eq!(oncall::on_call(pool, 2).await?, 1);
    Ok(())
}

/// Fix::LockRows locks every on-call row of the shift, not only the doctor's
/// own, before it decides.
#[tokio::test]
async fn step3_lock_rows_locks_every_on_call_row_of_the_shift_before_deciding() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    oncall::add_shift(pool, 1, &[1, 2, 3]).await?;
    oncall::add_shift(pool, 2, &[4, 5]).await?;
    let (gate, held) = Gate::hold();
    let doctor = {
        let pool = pool.clone();
        tokio::spawn(async move { go_off_call(&pool, Fix::LockRows, 1, &gate).await })
    };
    assert!(
        held.reached().await,
        "Fix::LockRows never called gate.after_read() after its read"
    );
    // FOR SHARE NOWAIT fails only against a FOR UPDATE (or stronger) lock:
    // two shared locks do not exclude each other.
    let share_nowait = async |id: i32| {
        let probe = sqlx::query("SELECT 1 FROM doctors WHERE id = $1 FOR SHARE NOWAIT")
            .bind(id)
            .execute(pool)
            .await;
        support::sqlstate(&probe).as_deref() == Some("55P03")
    };
    let mut unlocked = Vec::new();
    for id in [1, 2, 3] {
        if !share_nowait(id).await {
            unlocked.push(id);
        }
    }
    let mut overlocked = Vec::new();
    for id in [4, 5] {
        if share_nowait(id).await {
            overlocked.push(id);
        }
    }
    held.release();
    assert!(
        unlocked.is_empty(),
        "while doctor 1 decides, every on-call row of shift 1 must be locked FOR UPDATE, \
         but rows {unlocked:?} could still be share-locked by another session (README, step 3)"
    );
    assert!(
        overlocked.is_empty(),
        "doctor 1's decision reads shift 1 only, yet rows {overlocked:?} of shift 2 are locked \
         too: lock what the rule reads, nothing more (README, step 3)"
    );
    let outcome = labkit::within(BOUND, "the held doctor", doctor).await???;
    assert_eq!(outcome, OffCall::WentOff { still_on_call: 2 });
    Ok(())
}

/// With two on call the first may go and the second is refused as the last;
/// a doctor already off, or unknown, gets their own answer — for each fix.
#[tokio::test]
async fn step3_the_last_doctor_on_call_is_refused_for_each_fix() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    for (shift, fix) in [(1, Fix::Serializable), (2, Fix::LockRows)] {
        let (a, b) = (shift * 10 + 1, shift * 10 + 2);
        oncall::add_shift(pool, shift, &[a, b]).await?;
        let first = go_off_call(pool, fix, a, &Gate::open()).await;
        assert!(
            matches!(first, Ok(OffCall::WentOff { still_on_call: 1 })),
            "{fix:?}: with two on call the first may go, leaving 1; got {first:?} (README, step 3)"
        );
        let last = go_off_call(pool, fix, b, &Gate::open()).await;
        assert!(
            matches!(last, Err(RosterError::LastOnCall { doctor, shift: s }) if doctor == b && s == shift),
            "{fix:?}: the last one on call must be refused with LastOnCall, got {last:?} (README, step 3)"
        );
        let again = go_off_call(pool, fix, a, &Gate::open()).await;
        assert!(
            matches!(again, Ok(OffCall::AlreadyOff)),
            "{fix:?}: a doctor already off call gets AlreadyOff, got {again:?} (README, bad input)"
        );
        let unknown = go_off_call(pool, fix, 999, &Gate::open()).await;
        assert!(
            matches!(unknown, Err(RosterError::UnknownDoctor(999))),
            "{fix:?}: doctor 999 does not exist, so UnknownDoctor(999), got {unknown:?} (README, bad input)"
        );
        assert_eq!(oncall::on_call(pool, shift).await?, 1);
    }
    Ok(())
}

/// 200 randomized concurrent requests to go off and on call never leave a
/// shift with nobody on call, for each fix; LockRows never even conflicts.
#[tokio::test]
async fn step3_the_rule_holds_over_200_randomized_concurrent_attempts() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    for (base, fix) in [(100, Fix::Serializable), (200, Fix::LockRows)] {
        let shifts = [base + 1, base + 2];
        for shift in shifts {
            let doctors: Vec<i32> = (0..4).map(|d| shift * 10 + d).collect();
            oncall::add_shift(pool, shift, &doctors).await?;
        }
        let mut conflicts_seen = 0;
        for round in 0..20 {
            let mut tasks = Vec::new();
            for _ in 0..10 {
                let shift = shifts[fastrand::usize(..2)];
                let doctor = shift * 10 + fastrand::i32(0..4);
                let off = fastrand::u8(..4) != 0;
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    if !off {
                        oncall::go_on_call(&pool, doctor).await?;
                        return Ok::<u32, anyhow::Error>(0);
                    }
                    let mut conflicts = 0;
                    loop {
                        match go_off_call(&pool, fix, doctor, &Gate::open()).await {
                            Err(RosterError::Conflict) if conflicts < 20 => conflicts += 1,
                            Err(RosterError::Conflict) => anyhow::bail!("20 conflicts in a row"),
                            Err(RosterError::Db(e)) => return Err(e.into()),
                            _ => return Ok(conflicts),
                        }
                    }
                }));
            }
            for task in tasks {
                conflicts_seen += labkit::within(BOUND, "a roster request", task).await???;
            }
            for shift in shifts {
                let n = oncall::on_call(pool, shift).await?;
                assert!(
                    n >= 1,
                    "{fix:?}: after round {round} shift {shift} has {n} doctors on call; the rule \
                     is at least one (README, step 3)"
                );
            }
        }
        if fix == Fix::LockRows {
            assert_eq!(
                conflicts_seen, 0,
                "Fix::LockRows runs at READ COMMITTED and waits instead: it should never report \
                 Conflict, but did {conflicts_seen} times"
            );
        }
    }
    Ok(())
}

/// The same doctor's request sent twice at once (a client retry): with
/// Fix::LockRows one takes the doctor off call and the other, having waited
/// for the first's locks, answers AlreadyOff.
#[tokio::test]
async fn step3_a_request_sent_twice_at_once_takes_the_doctor_off_once() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    oncall::add_shift(pool, 1, &[1, 2, 3]).await?;
    let (gate, held) = Gate::hold();
    let first = {
        let (pool, gate) = (pool.clone(), gate.clone());
        tokio::spawn(async move { go_off_call(&pool, Fix::LockRows, 1, &gate).await })
    };
    assert!(
        held.reached().await,
        "Fix::LockRows never called gate.after_read() after its read"
    );
    let second = {
        let (pool, gate) = (pool.clone(), gate.clone());
        tokio::spawn(async move { go_off_call(&pool, Fix::LockRows, 1, &gate).await })
    };
    // The first request is at the gate, not waiting: only the second can be.
    support::seen_before_it_finished(
        pool,
        &second,
        support::SOMEONE_WAITS_FOR_A_LOCK,
        "the second request",
    )
    .await?;
    held.release();
    let first = labkit::within(BOUND, "the first request", first).await??;
    let second = labkit::within(BOUND, "the second request", second).await??;
    assert!(
        matches!(first, Ok(OffCall::WentOff { still_on_call: 2 })),
        "the first request takes doctor 1 off, leaving 2; got {first:?} (README, step 3)"
    );
    assert!(
        matches!(second, Ok(OffCall::AlreadyOff)),
        "the second request waited for the first's locks; once it has them doctor 1 is off \
         call, so AlreadyOff; got {second:?} (README, step 3)"
    );
    assert_eq!(oncall::on_call(pool, 1).await?, 2);
    Ok(())
}
