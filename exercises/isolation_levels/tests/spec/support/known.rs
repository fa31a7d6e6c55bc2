//! The known answers: what each engine does with each schedule at each level.
//!
//! Postgres's columns are Hermitage's (Kleppmann, 2014), re-observed here on
//! Postgres 15, where READ UNCOMMITTED is READ COMMITTED. MariaDB's are
//! InnoDB's as observed on MariaDB 10.11 with `innodb_snapshot_isolation` off
//! (its default in the 10.x series) and, in a session that turns it on, with
//! it on. The README's table is this file.

use isolation_levels::{Anomaly, Engine, Level, Outcome};

use Outcome::{
    Happened as H, PreventedByBlocking as B, PreventedByError as E, PreventedBySnapshot as S,
};

/// (READ UNCOMMITTED, READ COMMITTED, REPEATABLE READ, SERIALIZABLE) on Postgres.
fn postgres(anomaly: Anomaly) -> [Outcome; 4] {
    match anomaly {
        Anomaly::DirtyWrite => [B, B, E, E],
        Anomaly::AbortedRead => [S, S, S, S],
        Anomaly::IntermediateRead => [S, S, S, S],
        // At SERIALIZABLE the schedule is also a write skew (each reads what
        // the other writes), and SSI aborts one of the two.
        Anomaly::CircularInformationFlow => [S, S, S, E],
        Anomaly::ObservedTransactionVanishes => [B, B, E, E],
        Anomaly::PredicateManyPreceders => [H, H, S, S],
        Anomaly::LostUpdate => [H, H, E, E],
        Anomaly::ReadSkew => [H, H, S, S],
        Anomaly::WriteSkew => [H, H, H, E],
        Anomaly::PredicateWriteSkew => [H, H, H, E],
    }
}

/// (READ UNCOMMITTED, READ COMMITTED, REPEATABLE READ, SERIALIZABLE) on
/// MariaDB, with `innodb_snapshot_isolation` as given.
fn mariadb(anomaly: Anomaly, snapshot_isolation: bool) -> [Outcome; 4] {
    // With the switch on, a locking read or write of a row changed since the
    // transaction's snapshot fails with error 1020 instead of proceeding.
    let si = snapshot_isolation;
    match anomaly {
        Anomaly::DirtyWrite => [B, B, B, if si { E } else { B }],
        Anomaly::AbortedRead => [H, S, S, B],
        Anomaly::IntermediateRead => [H, S, S, if si { E } else { B }],
        Anomaly::CircularInformationFlow => [H, S, S, E],
        Anomaly::ObservedTransactionVanishes => [B, B, B, if si { E } else { B }],
        Anomaly::PredicateManyPreceders => [H, H, S, B],
        // InnoDB's REPEATABLE READ updates the row as it is now: the lost
        // update goes through, unless the snapshot check refuses it (1020).
        Anomaly::LostUpdate => [H, H, if si { E } else { H }, E],
        Anomaly::ReadSkew => [H, H, S, B],
        Anomaly::WriteSkew => [H, H, H, E],
        Anomaly::PredicateWriteSkew => [H, H, H, E],
    }
}

/// The known outcome of `anomaly`'s schedule on `engine` at `level`.
pub fn outcome(
    engine: Engine,
    anomaly: Anomaly,
    level: Level,
    snapshot_isolation: bool,
) -> Outcome {
    let row = match engine {
        Engine::Postgres => postgres(anomaly),
        Engine::MariaDb => mariadb(anomaly, snapshot_isolation),
    };
    match level {
        Level::ReadUncommitted => row[0],
        Level::ReadCommitted => row[1],
        Level::RepeatableRead => row[2],
        Level::Serializable => row[3],
    }
}
