//! [`PostgresDestination`]: batched `COPY` into an append-only PostgreSQL table, idempotent on
//! the event id.
//!
//! Each batch is one transaction: the lines are copied into a temporary staging table, then
//! inserted with `ON CONFLICT (event_id) DO NOTHING`, so a batch delivered again (the shipper
//! restarted before it saved its cursor, or the commit's acknowledgement was lost) adds nothing.
//! The table keeps each line exactly as the trail holds it (`line`, which the trail's chain
//! covers) and as `jsonb` (`event`), with indexed columns for what an auditor filters on.
//!
//! ```no_run
//! use audit_core::ship::postgres::PostgresDestination;
//! use audit_core::ship::Shipper;
//!
//! let destination = PostgresDestination::new("postgresql://audit_shipper@db.internal/audit")?
//!     .table("audit_events")
//!     // Creates the table, its indexes and its append-only trigger if they are missing; or
//!     // print `PostgresDestination::migration_sql(…)` and have a DBA run it.
//!     .migrate(true);
//! let shipper = Shipper::builder("/var/log/myapp/audit.log", destination).spawn()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;
use std::time::Duration;

use super::destination::{DeliveryError, Destination};
use super::host::host_name;
use super::tls::TlsConfig;
use crate::trail::record::ShipRecord;

/// A PostgreSQL table that receives the trail. See the [module](self) docs.
pub struct PostgresDestination {
    config: postgres::Config,
    name: String,
    table: String,
    namespace: String,
    origin: String,
    tls: Option<TlsConfig>,
    migrate: bool,
    client: Option<postgres::Client>,
}

impl std::fmt::Debug for PostgresDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDestination")
            .field("name", &self.name)
            .field("table", &self.table)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl PostgresDestination {
    /// The table events go to unless [`table`](Self::table) names another.
    pub const DEFAULT_TABLE: &'static str = "audit_events";

    /// A destination for the database at `url` (`postgresql://user:password@host:port/db`, or
    /// the `key=value` form libpq takes), table `audit_events`, events known as this machine's
    /// host name. Connections time out after 10 s and statements after 30 s.
    ///
    /// # Errors
    /// When `url` does not parse (the error does not repeat a password).
    pub fn new(url: &str) -> Result<PostgresDestination, DeliveryError> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|error| DeliveryError::caused_by("the PostgreSQL url does not parse", error))?;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("audit-shipper");
        config.options("-c statement_timeout=30000");
        let name = describe(&config);
        Ok(PostgresDestination {
            config,
            name,
            table: PostgresDestination::DEFAULT_TABLE.into(),
            namespace: "kibana".into(),
            origin: host_name(),
            tls: None,
            migrate: false,
            client: None,
        })
    }

    /// The password, when it is not in the url (read it from a file of its own).
    pub fn password(mut self, password: &str) -> Self {
        self.config.password(password);
        self
    }

    /// Whether `name` is a table name [`table`](Self::table) takes.
    pub fn is_table_name(name: &str) -> bool {
        is_table_name(name)
    }

    /// The table (`name` or `schema.name`; letters, digits and `_`).
    ///
    /// # Panics
    /// When `table` is not such a name (it is written into SQL).
    pub fn table(mut self, table: &str) -> Self {
        assert!(is_table_name(table), "`{table}` is not a table name (letters, digits and `_`, optionally `schema.`)");
        self.table = table.to_owned();
        self
    }

    /// The namespace of the events' resource fields ([`EcsFormat::with_namespace`](crate::EcsFormat::with_namespace),
    /// `kibana` by default), where the `space_id` column is read from.
    ///
    /// # Panics
    /// When `namespace` is not letters, digits, `_` and `-`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        assert!(
            !namespace.is_empty() && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "`{namespace}` is not a namespace"
        );
        self.namespace = namespace.to_owned();
        self
    }

    /// The name this machine's events are known by in the `origin` column (its host name by
    /// default).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Connects over TLS, checking the server's certificate.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether the start-up check creates the table, its indexes and its trigger when they are
    /// missing (default: no; it then only checks that they are there and writable).
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// How long one connection attempt and one statement may take (defaults 10 s and 30 s).
    pub fn timeouts(mut self, connect: Duration, statement: Duration) -> Self {
        self.config.connect_timeout(connect);
        self.config.options(&format!("-c statement_timeout={}", statement.as_millis().max(1)));
        self
    }

    /// The SQL that makes `table` (with `namespace`'s `space_id` column): the table, its indexes,
    /// and triggers that refuse `UPDATE`, `DELETE` and `TRUNCATE` on it. Idempotent.
    ///
    /// The shipper's role needs `INSERT` and `SELECT` on the table and nothing more; the
    /// triggers stop even the table's owner from changing a row (a superuser can drop them:
    /// keep superusers away from the audit database, and ship to more than one place).
    pub fn migration_sql(table: &str, namespace: &str) -> String {
        let base = table.replace('.', "_");
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (
    row_id bigint GENERATED ALWAYS AS IDENTITY,
    event_id text PRIMARY KEY,
    ts timestamptz NOT NULL,
    origin text NOT NULL,
    sequence bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    line text NOT NULL,
    event jsonb NOT NULL,
    action text GENERATED ALWAYS AS (event #>> '{{event,action}}') STORED,
    outcome text GENERATED ALWAYS AS (event #>> '{{event,outcome}}') STORED,
    user_name text GENERATED ALWAYS AS (event #>> '{{user,name}}') STORED,
    space_id text GENERATED ALWAYS AS (event #>> '{{{namespace},space_id}}') STORED,
    trace_id text GENERATED ALWAYS AS (event #>> '{{trace,id}}') STORED
);
CREATE INDEX IF NOT EXISTS {base}_ts ON {table} (ts);
CREATE INDEX IF NOT EXISTS {base}_action_ts ON {table} (action, ts);
CREATE INDEX IF NOT EXISTS {base}_outcome_ts ON {table} (outcome, ts);
CREATE INDEX IF NOT EXISTS {base}_user_ts ON {table} (user_name, ts);
CREATE INDEX IF NOT EXISTS {base}_space_ts ON {table} (space_id, ts);
CREATE INDEX IF NOT EXISTS {base}_trace ON {table} (trace_id);
CREATE INDEX IF NOT EXISTS {base}_origin_sequence ON {table} (origin, sequence);
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS intent_event_id text
    GENERATED ALWAYS AS (event #>> '{{{namespace},intent_event_id}}') STORED;
CREATE INDEX IF NOT EXISTS {base}_intent ON {table} (intent_event_id);
CREATE OR REPLACE FUNCTION {base}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE TRIGGER {base}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {base}_append_only();
CREATE OR REPLACE TRIGGER {base}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {base}_append_only();
"
        )
    }

    fn client(&mut self) -> Result<&mut postgres::Client, DeliveryError> {
        if self.client.as_ref().is_none_or(|client| client.is_closed()) {
            answers_in_time(&self.config, &self.name)?;
            let client = match &self.tls {
                None => self.config.connect(postgres::NoTls),
                Some(tls) => {
                    let config = tls.client_config()?;
                    self.config.connect(tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone()))
                }
            }
            .map_err(|error| {
                DeliveryError::new(format!("connecting to {}: {}", self.name, error_text(&error))).with_cause(error)
            })?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("just connected"))
    }

    fn try_deliver(&mut self, batch: &[ShipRecord]) -> Result<(), postgres::Error> {
        let origin = self.origin.clone();
        let insert = format!(
            "INSERT INTO {table} (event_id, ts, origin, sequence, line, event)
             SELECT event_id, coalesce(ts, now()), origin, sequence, line, replace(line, '\\u0000', '\\ufffd')::jsonb
             FROM audit_ship_staging ORDER BY n
             ON CONFLICT (event_id) DO NOTHING",
            table = self.table
        );
        let client = self.client.as_mut().expect("connected");
        let mut transaction = client.transaction()?;
        transaction.batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS audit_ship_staging
                (n int, event_id text, ts timestamptz, origin text, sequence bigint, line text)
                ON COMMIT DELETE ROWS",
        )?;
        let mut copy = transaction.copy_in("COPY audit_ship_staging FROM STDIN")?;
        let mut rows = String::with_capacity(batch.iter().map(|r| r.line.len() + 128).sum());
        for (n, record) in batch.iter().enumerate() {
            let _ = write!(rows, "{n}\t");
            copy_field(&mut rows, Some(&record.id));
            rows.push('\t');
            copy_field(&mut rows, record.timestamp.as_deref());
            rows.push('\t');
            copy_field(&mut rows, Some(&origin));
            rows.push('\t');
            copy_field(&mut rows, record.sequence.map(|s| s.to_string()).as_deref());
            rows.push('\t');
            copy_field(&mut rows, Some(&record.line));
            rows.push('\n');
        }
        // A failed write surfaces as the error of `finish`.
        let _ = copy.write_all(rows.as_bytes());
        copy.finish()?;
        transaction.execute(insert.as_str(), &[])?;
        transaction.commit()
    }
}

impl Destination for PostgresDestination {
    fn name(&self) -> String {
        self.name.clone()
    }

    /// The user, the servers as a set, the database and the table.
    fn identity(&self) -> String {
        let ports = self.config.get_ports();
        let mut hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let host = match host {
                    postgres::config::Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    postgres::config::Host::Unix(path) => path.display().to_string(),
                };
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                format!("{host}:{port}")
            })
            .collect();
        hosts.sort();
        hosts.dedup();
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or(user);
        format!("postgresql://{user}@{}/{db} table {}", hosts.join(","), self.table)
    }

    fn check(&mut self) -> Result<(), DeliveryError> {
        let (table, migrate) = (self.table.clone(), self.migrate);
        let sql = PostgresDestination::migration_sql(&self.table, &self.namespace);
        let name = self.name.clone();
        let client = self.client()?;
        let failed =
            |error: postgres::Error| DeliveryError::new(format!("{name}: {}", error_text(&error))).with_cause(error);
        if migrate {
            // Several shippers may start at once: one migrates, the others wait for it.
            let mut transaction = client.transaction().map_err(failed)?;
            transaction.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&table]).map_err(failed)?;
            transaction.batch_execute(&sql).map_err(failed)?;
            transaction.commit().map_err(failed)?;
        }
        client
            .batch_execute(&format!("SELECT event_id, ts, origin, sequence, line, event FROM {table} LIMIT 0"))
            .map_err(|error| {
                DeliveryError::new(format!(
                    "{name}: table {table} is not usable ({}); run the SQL of `PostgresDestination::migration_sql` \
                     (or `audit ship --print-migration`), or enable `migrate`",
                    error_text(&error)
                ))
                .with_cause(error)
            })?;
        let row = client.query_one("SELECT has_table_privilege($1, 'INSERT')", &[&table]).map_err(failed)?;
        if !row.get::<_, bool>(0) {
            return Err(DeliveryError::new(format!("{name}: this role may not INSERT into {table}")));
        }
        Ok(())
    }

    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.client()?;
        self.try_deliver(batch).map_err(|error| {
            // Whatever failed, start the next attempt on a fresh connection.
            self.client = None;
            DeliveryError::new(format!("{}: {}", self.name, error_text(&error))).with_cause(error)
        })
    }
}

/// The server's message when there is one (postgres's `Display` says only "db error"), else the
/// error with its causes ("error performing TLS handshake: invalid peer certificate: …").
fn error_text(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One field of a `COPY … FROM STDIN` text row: `\N` for null, else escaped.
fn copy_field(out: &mut String, value: Option<&str>) {
    let Some(value) = value else {
        out.push_str("\\N");
        return;
    };
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn is_table_name(name: &str) -> bool {
    let part = |p: &str| {
        p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    match name.split_once('.') {
        Some((schema, table)) => part(schema) && part(table),
        None => part(name),
    }
}

/// `postgresql://user@host:port/db table`, without the password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgresql://{user}@{host}:{port}/{db}")
}

/// Whether the server answers at all: the client library bounds the socket's connection by
/// `connect_timeout`, but not the wait for the server's first words, so a server that accepts the
/// connection and never answers would hold a shipper's start for ever. PostgreSQL's first
/// question (an SSLRequest) is asked here, bounded by the same timeout; a server that answers it
/// (either way), or cannot be reached at all, is left to the connection proper and its errors.
fn answers_in_time(config: &postgres::Config, name: &str) -> Result<(), DeliveryError> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let timeout = config.get_connect_timeout().copied().unwrap_or(Duration::from_secs(10));
    let Some(host) = config.get_hosts().iter().find_map(|host| match host {
        postgres::config::Host::Tcp(host) => Some(host.clone()),
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => None,
    }) else {
        return Ok(());
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let Some(address) = (host.as_str(), port).to_socket_addrs().ok().and_then(|mut addresses| addresses.next()) else {
        return Ok(());
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else { return Ok(()) };
    // Length 8, then the SSLRequest code 80877103: the server answers one byte, `S` or `N`.
    let request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let mut answer = [0u8; 1];
    let asked = stream.set_read_timeout(Some(timeout)).and_then(|()| stream.write_all(&request));
    match asked.and_then(|()| stream.read(&mut answer)) {
        Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Err(DeliveryError::caused_by(
                format!("connecting to {name}: no answer within {timeout:?} (is it a PostgreSQL server?)"),
                error,
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_has_the_table_and_the_servers_as_a_set() {
        let identity = |url: &str, table: &str| PostgresDestination::new(url).unwrap().table(table).identity();
        let url = "postgresql://audit@db1:5432,db2:5433/audit";
        assert_ne!(identity(url, "audit_a"), identity(url, "audit_b"));
        assert_eq!(identity(url, "audit_a"), identity("postgresql://audit@db2:5433,db1:5432/audit", "audit_a"));
    }

    #[test]
    fn copy_fields_are_escaped_and_names_checked() {
        let mut out = String::new();
        copy_field(&mut out, Some("a\\b\tc\nd"));
        copy_field(&mut out, None);
        assert_eq!(out, "a\\\\b\\tc\\nd\\N");
        assert!(is_table_name("audit_events") && is_table_name("audit.events"));
        assert!(!is_table_name("events; drop table x") && !is_table_name("1x") && !is_table_name("a.b.c"));
    }

    #[test]
    fn the_name_never_holds_the_password() {
        let destination = PostgresDestination::new("postgresql://shipper:s3cret@db.internal:5433/audit").unwrap();
        assert_eq!(destination.name(), "postgresql://shipper@db.internal:5433/audit");
        let error = PostgresDestination::new("postgresql://x:s3cret@[bad").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
