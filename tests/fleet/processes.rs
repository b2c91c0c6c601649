//! Several service processes, each with its own trail, shipping at once to the same JetStream
//! cluster and the same PostgreSQL table, configured as a service is: one `AuditConfig`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audit_core::ship::nats::NatsDestination;
use audit_core::ship::Destination;

use super::common::TempDir;
use super::servers::{Killed, NatsCluster, Postgres};
use super::{assert_same_ids, trail_ids};

const TRAIL: &str = "AUDIT_FLEET_SERVICE_TRAIL";
const PG_URL: &str = "AUDIT_FLEET_SERVICE_PG";
const NATS_URLS: &str = "AUDIT_FLEET_SERVICE_NATS";
const ORIGIN: &str = "AUDIT_FLEET_SERVICE_ORIGIN";
const EVENTS: u32 = 400;

/// One service process: logs its events through a configuration that ships its trail to both
/// destinations in process, waits until both have everything, and stops.
#[test]
#[ignore = "a child process of several_service_processes_ship_to_one_cluster_and_one_table"]
fn fleet_service_child() {
    let (Ok(trail), Ok(pg), Ok(nats), Ok(origin)) =
        (std::env::var(TRAIL), std::env::var(PG_URL), std::env::var(NATS_URLS), std::env::var(ORIGIN))
    else {
        return;
    };
    let config = audit_core::AuditConfig::from_json(&format!(
        r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{trail}", "chain": true, "max_size": "32kb", "compress": true,
              "ship": [
                {{ "to": "postgres", "url": "{pg}", "migrate": true, "origin": "{origin}", "max_batch_events": 64 }},
                {{ "to": "nats", "servers": "{nats}", "origin": "{origin}", "max_batch_events": 64 }}
              ] }}] }}"#
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    let base: u32 = origin.trim_start_matches("service-").parse().unwrap();
    for id in 0..EVENTS {
        logger.log(super::event(base * 100_000 + id)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while guards.shippers().iter().any(|stats| stats.delivered < u64::from(EVENTS)) {
        assert!(Instant::now() < deadline, "{:?}", guards.shippers());
        std::thread::sleep(Duration::from_millis(20));
    }
    guards.shutdown().unwrap();
}

#[test]
fn several_service_processes_ship_to_one_cluster_and_one_table() {
    let server = Postgres::start();
    let cluster = NatsCluster::start(3);
    // The stream, made once by an operator (the services only check it is there).
    let deadline = Instant::now() + Duration::from_secs(60);
    while NatsDestination::new(&cluster.urls()).unwrap().manage_stream(3).check().is_err() {
        assert!(Instant::now() < deadline, "the cluster never got ready");
        std::thread::sleep(Duration::from_millis(250));
    }
    let dirs: Vec<TempDir> = (0..3).map(|i| TempDir::new(&format!("fleet-service-{i}"))).collect();
    let children: Vec<Killed> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            Killed(
                Command::new(std::env::current_exe().unwrap())
                    .args(["processes::fleet_service_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                    .env(TRAIL, dir.path("audit.log"))
                    .env(PG_URL, server.url())
                    .env(NATS_URLS, cluster.urls())
                    .env(ORIGIN, format!("service-{i}"))
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for mut child in children {
        let status = child.0.wait().unwrap();
        assert!(status.success(), "a service process failed: {status}");
    }
    let mut client = server.client();
    for (i, dir) in dirs.iter().enumerate() {
        let origin = format!("service-{i}");
        let want = trail_ids(&dir.path("audit.log"));
        assert_eq!(want.len(), EVENTS as usize);
        let in_table: Vec<String> = client
            .query("SELECT event_id FROM audit_events WHERE origin = $1 ORDER BY row_id", &[&origin])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_same_ids(&in_table, &want);
        assert_same_ids(&super::nats_tests::ids_in_stream(&cluster, &origin).0, &want);
    }
}
