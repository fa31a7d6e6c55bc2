//! What the Postgres and MariaDB per-test databases share: the URL of a
//! database next to the admin one, and a bounded connect whose error says
//! where the server was looked for and how to get one.

use std::time::Duration;

use anyhow::Context;
use sqlx::pool::{Pool, PoolOptions};

use crate::service::Endpoint;

/// The admin URL with its database replaced by `name`; credentials, host and
/// options stay as they are.
pub(crate) fn database_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url =
        url::Url::parse(admin_url).with_context(|| format!("not a database URL: {admin_url}"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// A pool of up to `max_connections` on `url`, or an error within `limit`
/// (TCP included) naming the endpoint and the ways to get a server.
pub(crate) async fn connect<DB: sqlx::Database>(
    endpoint: &Endpoint,
    url: &str,
    max_connections: u32,
    limit: Duration,
) -> anyhow::Result<Pool<DB>> {
    let attempt = PoolOptions::<DB>::new()
        .max_connections(max_connections)
        .acquire_timeout(limit)
        .connect(url);
    match crate::within(limit, endpoint.describe(), attempt).await {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!(
            "could not connect to {}; {}",
            endpoint.describe(),
            endpoint.unreachable_help()
        ))),
        Err(e) => Err(e.context(endpoint.unreachable_help())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database name replaces the path and keeps credentials and options,
    /// for both URL schemes.
    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgres://u:p@h:5432/postgres?sslmode=disable", "lab_x").unwrap(),
            "postgres://u:p@h:5432/lab_x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h", "lab_y").unwrap(),
            "postgres://h/lab_y"
        );
        assert_eq!(
            database_url(
                "mysql://root@127.0.0.1:3306/mysql?ssl-mode=disabled",
                "lab_x"
            )
            .unwrap(),
            "mysql://root@127.0.0.1:3306/lab_x?ssl-mode=disabled"
        );
    }
}
