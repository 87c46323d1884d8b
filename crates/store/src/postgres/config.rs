//! `[postgres]` section of the config, credentials, and URI redaction.
//!
//! The connection string is never printed as written: logs and errors show [`redact_uri`]'s
//! rendering, rebuilt from the parsed settings with the password replaced by `***` (or
//! `<unparseable connection string>` when it does not parse).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::Host;

use crate::error::StoreError;

/// `[postgres]` section of the config.
///
/// ```toml
/// [postgres]
/// uri = "postgresql://tickrec@db.internal:5432/market"   # password from PGPASSWORD
/// pool_size = 2
/// connect_timeout_ms = 5000
/// statement_timeout_ms = 30000
/// tls = false
/// ```
#[derive(Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connection string: a URL (`postgresql://user:password@host:port/dbname?options`) or
    /// libpq-style `key=value` pairs (`host=… port=… dbname=…`). When it names no user, `PGUSER`
    /// is used; when it holds no password, `PGPASSWORD` is used (if set). It is never logged or
    /// put into an error message as written (see [`redact_uri`]).
    /// Default `postgresql://localhost:5432/tickrec`.
    pub uri: String,
    /// Connections tickrec may open to the server (default 2, at least 1). The writer holds one
    /// (batches are transactions on a single connection, in order); the rest are for the
    /// `tickrec migrate` command and the query API.
    pub pool_size: usize,
    /// Give up a connection attempt after this many milliseconds (default 5000; 0 = the OS
    /// default). A failed reconnect is retried with back-off.
    pub connect_timeout_ms: u64,
    /// Server-side `statement_timeout` of the writer's session in milliseconds (default 30000;
    /// 0 = none). A statement cancelled by it is a transient error (rolled back and retried).
    /// The client also gives up on a silent server after twice this long and reconnects.
    pub statement_timeout_ms: u64,
    /// Encrypt the connection. Not implemented yet (TODO: `tokio-postgres-rustls` with the
    /// webpki roots the WebSocket client already uses); `true` is refused at start-up rather than
    /// silently connecting in clear text.
    pub tls: bool,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            uri: "postgresql://localhost:5432/tickrec".to_string(),
            pool_size: 2,
            connect_timeout_ms: 5000,
            statement_timeout_ms: 30_000,
            tls: false,
        }
    }
}

/// Debug output redacts the URI (configs end up in logs).
impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("uri", &redact_uri(&self.uri))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("tls", &self.tls)
            .finish()
    }
}

impl PostgresConfig {
    /// The URI with its password masked, for logs and error messages.
    pub fn redacted_uri(&self) -> String {
        redact_uri(&self.uri)
    }

    /// Client settings: the parsed URI plus credentials from the environment (`PGUSER`,
    /// `PGPASSWORD`) where the URI has none, the connect timeout, TCP keep-alives and
    /// `application_name = tickrec` (unless the URI sets one).
    ///
    /// # Errors
    /// [`StoreError::PostgresConfig`] for an unparseable URI, `pool_size = 0` or `tls = true`;
    /// the message never contains the password.
    pub fn client_config(&self) -> Result<tokio_postgres::Config, StoreError> {
        self.client_config_with_env(|k| std::env::var(k).ok())
    }

    /// [`client_config`](Self::client_config) with an explicit environment (tests).
    pub(crate) fn client_config_with_env(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<tokio_postgres::Config, StoreError> {
        if self.pool_size == 0 {
            return Err(StoreError::PostgresConfig(
                "[postgres] pool_size must be at least 1".into(),
            ));
        }
        if self.tls {
            return Err(StoreError::PostgresConfig(
                "[postgres] tls = true is not supported yet (TODO); use a private network or an \
                 SSH/stunnel tunnel, and set tls = false"
                    .into(),
            ));
        }
        let mut pg = tokio_postgres::Config::from_str(&self.uri).map_err(|e| {
            StoreError::PostgresConfig(format!(
                "[postgres] uri is not a valid connection string ({})",
                crate::error::pg_error_text(&e)
            ))
        })?;
        if pg.get_user().is_none() {
            if let Some(user) = env("PGUSER").filter(|u| !u.is_empty()) {
                pg.user(user);
            }
        }
        if pg.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD") {
                pg.password(pw);
            }
        }
        if pg.get_user().is_none() {
            return Err(StoreError::PostgresConfig(format!(
                "[postgres] no user: put one in the uri ({}) or set PGUSER",
                describe(&pg)
            )));
        }
        if self.connect_timeout_ms > 0 {
            pg.connect_timeout(Duration::from_millis(self.connect_timeout_ms));
        }
        pg.keepalives(true);
        pg.keepalives_idle(Duration::from_secs(30));
        if pg.get_application_name().is_none() {
            pg.application_name("tickrec");
        }
        Ok(pg)
    }
}

/// `uri` with its password masked: rebuilt from the parsed settings as
/// `postgresql://user:***@host:port/dbname`, or `<unparseable connection string>`. Never returns
/// any part of the password, whatever form (URL user-info, `?password=`, `password=` pair) it
/// was given in.
pub fn redact_uri(uri: &str) -> String {
    match tokio_postgres::Config::from_str(uri) {
        Ok(pg) => describe(&pg),
        Err(_) => "<unparseable connection string>".to_string(),
    }
}

/// `postgresql://user:***@host1:port1,host2/dbname` from parsed settings (password masked).
pub(crate) fn describe(pg: &tokio_postgres::Config) -> String {
    let mut s = String::from("postgresql://");
    if let Some(user) = pg.get_user() {
        s.push_str(user);
        if pg.get_password().is_some() {
            s.push_str(":***");
        }
        s.push('@');
    } else if pg.get_password().is_some() {
        s.push_str(":***@");
    }
    let ports = pg.get_ports();
    for (i, host) in pg.get_hosts().iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match host {
            Host::Tcp(h) => s.push_str(h),
            #[cfg(unix)]
            Host::Unix(p) => s.push_str(&p.display().to_string()),
        }
        if let Some(port) = ports.get(i).or(if ports.len() == 1 {
            ports.first()
        } else {
            None
        }) {
            s.push(':');
            s.push_str(&port.to_string());
        }
    }
    s.push('/');
    if let Some(db) = pg.get_dbname() {
        s.push_str(db);
    }
    s
}
