//! Shipping to PostgreSQL: every event once and in order, the table append-only, through a
//! server restart, the shipper's SIGKILL, and several machines at once.

use std::time::{Duration, Instant};

use audit_core::ship::postgres::PostgresDestination;
use audit_core::ship::Shipper;

use super::common::TempDir;
use super::servers::Postgres;
use super::{assert_same_ids, trail_ids, write_trail};

/// The ids in the table from `origin`, in the order stored; none while the table is not made
/// yet (a shipper killed before its first migration, on a loaded machine).
fn ids_in_table(server: &Postgres, origin: &str) -> Vec<String> {
    let mut client = server.client();
    let exists: Option<String> = client.query_one("SELECT to_regclass('audit_events')::text", &[]).unwrap().get(0);
    if exists.is_none() {
        return Vec::new();
    }
    client
        .query("SELECT event_id FROM audit_events WHERE origin = $1 ORDER BY row_id", &[&origin])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn destination(server: &Postgres, origin: &str) -> PostgresDestination {
    PostgresDestination::new(&server.url()).unwrap().origin(origin).migrate(true)
}

#[test]
fn postgres_keeps_every_event_once_in_order_and_refuses_changes() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-all");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 1500);
    let want = trail_ids(&path);
    let stats = Shipper::builder(&path, destination(&server, "host-a"))
        .max_batch(200, 1 << 20)
        .run_until_caught_up(Duration::from_secs(60))
        .unwrap();
    assert_eq!(stats.delivered, 1500);
    assert_same_ids(&ids_in_table(&server, "host-a"), &want);

    // Delivered again from the start (the cursor lost): nothing doubled.
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".cursor") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let again = Shipper::builder(&path, destination(&server, "host-a"))
        .max_batch(333, 1 << 20)
        .run_until_caught_up(Duration::from_secs(60))
        .unwrap();
    assert_eq!(again.delivered, 1500, "all of it delivered again");
    assert_same_ids(&ids_in_table(&server, "host-a"), &want);

    // The columns an auditor filters on, and the line exactly as the trail holds it.
    let mut client = server.client();
    let row = client
        .query_one(
            "SELECT action, outcome, user_name, space_id, sequence, line, event->'event'->>'id' FROM audit_events \
             ORDER BY row_id OFFSET 9 LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "saved_object_delete");
    assert_eq!(row.get::<_, String>(1), "unknown");
    assert_eq!(row.get::<_, String>(2), "user0");
    assert_eq!(row.get::<_, String>(3), "default");
    assert_eq!(row.get::<_, i64>(4), 10, "the chain's sequence (1-based)");
    let line: String = row.get(5);
    let trail = std::fs::read_to_string(audit_core::trail::rotated_files(&path).unwrap()[0].with_extension(""))
        .or_else(|_| read_gz(&audit_core::trail::rotated_files(&path).unwrap()[0]))
        .unwrap();
    assert_eq!(line, trail.lines().nth(9).unwrap(), "byte for byte");
    assert_eq!(row.get::<_, String>(6), want[9]);

    // The auditor's question from the README: who deleted dashboards in space `default` lately?
    let rows = client
        .query(
            "SELECT user_name, count(*) FROM audit_events
             WHERE action = 'saved_object_delete' AND space_id = $1 AND ts > now() - interval '7 days'
               AND event #>> '{kibana,saved_object,type}' = 'dashboard'
             GROUP BY user_name ORDER BY user_name",
            &[&"default"],
        )
        .unwrap();
    let counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(counts, [("user0".to_owned(), 50), ("user1".to_owned(), 50), ("user2".to_owned(), 50)]);

    // Append-only, even for the table's owner.
    for change in ["UPDATE audit_events SET origin = 'forged'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
        let error = client.batch_execute(change).unwrap_err();
        let message = error.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(message.contains("append-only"), "{change}: {error:?}");
    }
    assert_eq!(ids_in_table(&server, "host-a").len(), 1500);
}

fn read_gz(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    Ok(text)
}

#[test]
fn a_postgres_restart_mid_stream_loses_and_doubles_nothing() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-restart");
    let path = dir.path("audit.log");
    // Long enough a stream that the server stops while it is under way.
    write_trail(&path, 0, 10_000);
    let shipper = Shipper::builder(&path, destination(&server, "host-r"))
        .max_batch(50, 1 << 20)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .spawn()
        .unwrap();
    // Stop the server once some (not all) of the trail is in.
    let deadline = Instant::now() + Duration::from_secs(30);
    while shipper.stats().delivered < 500 {
        assert!(Instant::now() < deadline, "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    std::thread::sleep(Duration::from_millis(700));
    let during = shipper.stats();
    assert!(during.failed_attempts > 0, "deliveries failed while the server was down: {during:?}");
    assert!(during.delivered < 10_000, "{during:?}");
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shipper.stats().caught_up {
        assert!(Instant::now() < deadline, "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    shipper.shutdown(Duration::from_secs(5));
    assert_same_ids(&ids_in_table(&server, "host-r"), &trail_ids(&path));
}

#[test]
fn several_machines_ship_to_one_table_each_in_its_own_order() {
    let server = Postgres::start();
    super::three_machines_ship_at_once(
        "pg-fleet",
        800,
        64,
        |origin| destination(&server, origin),
        |origin| ids_in_table(&server, origin),
    );
}

const CHILD_TRAIL: &str = "AUDIT_FLEET_CHILD_TRAIL";
const CHILD_URL: &str = "AUDIT_FLEET_CHILD_URL";

/// The shipper process that the SIGKILL test kills: ships until killed.
#[test]
#[ignore = "the child process of a_shipper_killed_mid_batch_resumes_and_loses_and_doubles_nothing"]
fn postgres_ship_child() {
    let (Ok(trail), Ok(url)) = (std::env::var(CHILD_TRAIL), std::env::var(CHILD_URL)) else { return };
    let destination = PostgresDestination::new(&url).unwrap().origin("host-k").migrate(true);
    let _shipper = Shipper::builder(&trail, destination).max_batch(37, 1 << 20).spawn().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_shipper_killed_mid_batch_resumes_and_loses_and_doubles_nothing() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-kill");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 4000);
    let mut killed_midway = 0;
    for round in 0..6u64 {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["postgres_tests::postgres_ship_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_TRAIL, &path)
            .env(CHILD_URL, server.url())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let child = super::servers::Killed(child);
        std::thread::sleep(Duration::from_millis(150 + 37 * round));
        drop(child); // SIGKILL, wherever it is: mid-batch, mid-commit, mid-cursor-save
        let rows = ids_in_table(&server, "host-k").len();
        if rows > 0 && rows < 4000 {
            killed_midway += 1;
        }
    }
    assert!(killed_midway >= 2, "the kills fell mid-stream at least twice ({killed_midway})");
    Shipper::builder(&path, destination(&server, "host-k")).run_until_caught_up(Duration::from_secs(60)).unwrap();
    assert_same_ids(&ids_in_table(&server, "host-k"), &trail_ids(&path));
}

#[test]
fn a_configured_service_ships_its_trail_in_process() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-config");
    let path = dir.path("audit.log");
    let config = audit_core::AuditConfig::from_json(&format!(
        r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "chain": true, "max_size": "16kb",
              "ship": [{{ "to": "postgres", "url": "{}", "migrate": true, "origin": "host-c", "max_batch_events": 25 }}] }}] }}"#,
        path.display(),
        server.url()
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    for id in 0..300 {
        logger.log(super::event(id)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while guards.shippers()[0].delivered < 300 {
        assert!(Instant::now() < deadline, "{:?}", guards.shippers());
        std::thread::sleep(Duration::from_millis(10));
    }
    guards.shutdown().unwrap();
    assert_same_ids(&ids_in_table(&server, "host-c"), &trail_ids(&path));
}

#[test]
fn checkpoints_shipped_with_the_trail_show_a_local_cut_from_the_central_store() {
    use audit_core::checkpoint::{Checkpoint, SigningKey};
    use audit_core::verify::{verify_trail, FindingKind, Options};
    let server = Postgres::start();
    let dir = TempDir::new("pg-checkpoint");
    let path = dir.path("audit.log");
    let key = SigningKey::generate("web-1.example/audit").unwrap();
    std::fs::write(dir.path("signing.key"), key.to_text()).unwrap();
    let config = audit_core::AuditConfig::from_json(&format!(
        r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "checkpoint_in_trail": true,
              "checkpoint_key_file": "{}", "checkpoint_every_lines": 50,
              "ship": [{{ "to": "postgres", "url": "{}", "migrate": true, "origin": "web-1" }}] }}] }}"#,
        path.display(),
        dir.path("signing.key").display(),
        server.url()
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    for id in 0..200 {
        logger.log(super::event(id)).unwrap();
    }
    guards.shutdown().unwrap();
    // The shipper stopped after the writer: the last checkpoint reached the table, or will at
    // the next start; deliver what is left as a restarted service would.
    Shipper::builder(&path, destination(&server, "web-1")).run_until_caught_up(Duration::from_secs(30)).unwrap();

    // An intruder cuts the machine's trail back by 30 lines. The chain alone cannot tell.
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The sequence of the last event (not a checkpoint): how many checkpoint lines come before
    // it depends on how the writer's batches fell.
    let last_event = lines
        .iter()
        .rev()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|line| line["event"]["action"] != "audit_checkpoint")
        .and_then(|line| line["event"]["sequence"].as_u64())
        .unwrap();
    std::fs::write(&path, lines[..lines.len() - 30].iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    assert!(verify_trail(&path, &Options::default()).unwrap().is_intact());

    // The auditor takes the machine's latest checkpoint from the central store...
    let note: String = server
        .client()
        .query_one(
            "SELECT event #>> '{labels,checkpoint}' FROM audit_events
             WHERE origin = 'web-1' AND action = 'audit_checkpoint' ORDER BY sequence DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let checkpoint = Checkpoint::verify(&note, &key.public_key()).unwrap();
    assert!(
        checkpoint.size >= last_event,
        "the last checkpoint covers every event ({} < {last_event})",
        checkpoint.size
    );
    // ...and checks the machine's trail against it.
    let report = verify_trail(&path, &Options::default().expecting(checkpoint.link())).unwrap();
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::CutTail]);
}

#[test]
fn postgres_over_tls_and_a_wrong_certificate_authority_is_refused_at_start_up() {
    use super::servers::TestCertificates;
    use audit_core::ship::TlsConfig;
    let certs_dir = TempDir::new("pg-certs");
    let certs = TestCertificates::make(&certs_dir.0);
    let server = Postgres::start_tls(&certs);
    let dir = TempDir::new("pg-tls");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 200);
    let url = format!("postgresql://postgres@localhost:{}/postgres", server.port);
    // Without TLS the server refuses the connection (its TCP connections are `hostssl` only).
    let plain = Shipper::builder(&path, PostgresDestination::new(&url).unwrap().origin("host-t").migrate(true))
        .cursor(dir.path("plain.cursor"))
        .spawn()
        .unwrap_err();
    assert!(plain.to_string().contains("failed its start-up check"), "{plain}");
    let destination =
        PostgresDestination::new(&url).unwrap().origin("host-t").migrate(true).tls(TlsConfig::ca_file(&certs.ca));
    Shipper::builder(&path, destination).run_until_caught_up(Duration::from_secs(30)).unwrap();
    assert_same_ids(&ids_in_table(&server, "host-t"), &trail_ids(&path));

    let other_dir = TempDir::new("pg-other-ca");
    let other = TestCertificates::make(&other_dir.0);
    let destination = PostgresDestination::new(&url).unwrap().tls(TlsConfig::ca_file(&other.ca));
    let error = Shipper::builder(&path, destination).cursor(dir.path("other.cursor")).spawn().unwrap_err();
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");
}

#[audit_core::audited(action = audit_core::kibana::SAVED_OBJECT_UPDATE, results, resource(type = "dashboard", id = id))]
fn rename(id: &str, fail: bool) -> Result<(), String> {
    if fail {
        return Err(format!("dashboard {id} not found"));
    }
    audit_core::changes::update(&serde_json::json!({"title": "Sales"}), &serde_json::json!({"title": "Sales 2026"}));
    Ok(())
}

/// The README's query for "did it take effect, and what changed", on a real table: each write's
/// intent joined to its result by `intent_event_id`; an intent with no result (the process died
/// mid-write) shows as such.
#[test]
fn write_results_join_their_intents_in_postgres() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-results");
    let path = dir.path("audit.log");
    {
        let (writer, guard) = audit_core::FileWriter::builder(&path).build().unwrap();
        let logger = audit_core::AuditLogger::builder().sink(writer).build();
        let ctx =
            audit_core::AuditContext::builder().user(audit_core::User::named("alice")).logger(logger.clone()).build();
        ctx.in_scope(|| {
            rename("d1", false).unwrap();
            rename("d2", true).unwrap_err();
        });
        // An intent whose process died before the result: logged by hand, no result follows.
        let orphan = audit_core::AuditEvent::new(&audit_core::kibana::SAVED_OBJECT_UPDATE)
            .with_outcome(audit_core::Outcome::Unknown)
            .with_resource(audit_core::Resource::new("dashboard", "d3"))
            .with_user(audit_core::User::named("alice"));
        logger.log(orphan).unwrap();
        guard.shutdown().unwrap();
    }
    Shipper::builder(&path, destination(&server, "host-r")).run_until_caught_up(Duration::from_secs(60)).unwrap();
    let rows = server
        .client()
        .query(
            "SELECT i.event #>> '{kibana,saved_object,id}' AS dashboard, i.user_name,
                    coalesce(r.outcome, 'no result') AS took_effect,
                    r.event #>> '{error,message}' AS error,
                    r.event #>> '{kibana,diff,ops}' AS changed
             FROM audit_events i
             LEFT JOIN audit_events r ON r.intent_event_id = i.event_id
             WHERE i.action = 'saved_object_update' AND i.outcome = 'unknown' AND i.intent_event_id IS NULL
             ORDER BY i.ts, i.row_id",
            &[],
        )
        .unwrap();
    /// dashboard, user, took effect, error, what changed
    type Row = (String, String, String, Option<String>, Option<serde_json::Value>);
    let got: Vec<Row> = rows
        .iter()
        .map(|r| {
            let changed: Option<String> = r.get(4);
            (r.get(0), r.get(1), r.get(2), r.get(3), changed.map(|ops| serde_json::from_str(&ops).unwrap()))
        })
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].2.as_str()), ("d1", "success"));
    assert_eq!(
        got[0].4,
        Some(serde_json::json!([{"op": "replace", "path": "/title", "value": "Sales 2026", "oldValue": "Sales"}]))
    );
    assert_eq!((got[1].0.as_str(), got[1].2.as_str()), ("d2", "failure"));
    assert_eq!(got[1].3.as_deref(), Some("dashboard d2 not found"));
    assert_eq!((got[2].0.as_str(), got[2].2.as_str()), ("d3", "no result"));
}

/// A cursor follows the whole identity of its destination: another table is another
/// destination, which gets every event of the trail, never a "caught up" with nothing delivered.
#[test]
fn changing_the_table_ships_everything_to_the_new_table() {
    let server = Postgres::start();
    let dir = TempDir::new("pg-table-change");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 300);
    let to = |table: &str| destination(&server, "host-t").table(table);
    for table in ["audit_a", "audit_b"] {
        let stats = Shipper::builder(&path, to(table)).run_until_caught_up(Duration::from_secs(60)).unwrap();
        assert_eq!(stats.delivered, 300, "{table}: {stats:?}");
        let rows: i64 = server.client().query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0);
        assert_eq!(rows, 300, "{table}");
    }
}
