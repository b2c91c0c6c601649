//! Shipping to a real rsyslog: RFC 5424 with octet counting over TCP and TLS, and over the local
//! socket; every event arrives through a stop and restart of the server.

use std::time::{Duration, Instant};

use audit_core::ship::syslog::SyslogDestination;
use audit_core::ship::{Shipper, TlsConfig};

use super::common::TempDir;
use super::servers::{Rsyslog, TestCertificates};
use super::{assert_same_ids, trail_ids, write_trail};

/// The event ids rsyslog received, each once, in the order first received; and the count of all.
fn ids_received(server: &Rsyslog) -> (Vec<String>, usize) {
    let lines = server.received();
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for line in &lines {
        let json = &line[line.find('{').unwrap_or_else(|| panic!("no event in {line}"))..];
        let event: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let id = event["event"]["id"].as_str().unwrap().to_owned();
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    (ids, lines.len())
}

fn wait_for(server: &Rsyslog, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids_received(server).0.len() < count {
        assert!(Instant::now() < deadline, "rsyslog has {} of {count} events", ids_received(server).0.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rsyslog_receives_every_event_over_tcp_through_a_restart() {
    let mut server = Rsyslog::start(None);
    let dir = TempDir::new("syslog-tcp");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 1000);
    let destination = SyslogDestination::tcp(format!("127.0.0.1:{}", server.port)).hostname("web-1").app_name("shop");
    let shipper = Shipper::builder(&path, destination)
        .max_batch(50, 1 << 20)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .spawn()
        .unwrap();
    wait_for(&server, 1000);
    server.stop();
    // Events written while the server is down wait in the trail.
    write_trail(&path, 1000, 500);
    std::thread::sleep(Duration::from_millis(500));
    assert!(shipper.stats().failed_attempts > 0, "{:?}", shipper.stats());
    server.restart();
    wait_for(&server, 1500);
    let stats = shipper.shutdown(Duration::from_secs(5));
    assert!(stats.caught_up, "{stats:?}");
    let (ids, all) = ids_received(&server);
    assert_same_ids(&ids, &trail_ids(&path));
    assert_eq!(all, 1500, "nothing received twice");
    // What rsyslog parsed out of each message: hostname, app-name, msgid, facility, severity.
    let first = &server.received()[0];
    assert!(first.starts_with("web-1 shop saved_object_get 13 5 {"), "{first}");
    let deletion = &server.received()[9];
    assert!(deletion.starts_with("web-1 shop saved_object_delete 13 5 {"), "{deletion}");
}

#[test]
fn rsyslog_receives_over_tls_and_a_wrong_certificate_authority_is_refused_at_start_up() {
    let certs_dir = TempDir::new("syslog-certs");
    let certs = TestCertificates::make(&certs_dir.0);
    let server = Rsyslog::start(Some(&certs));
    let dir = TempDir::new("syslog-tls");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 300);
    let address = format!("localhost:{}", server.port);
    Shipper::builder(&path, SyslogDestination::tls(address.clone(), TlsConfig::ca_file(&certs.ca)))
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    wait_for(&server, 300);
    assert_same_ids(&ids_received(&server).0, &trail_ids(&path));

    // Another CA: the server's certificate does not check out, and nothing is sent.
    let other_dir = TempDir::new("syslog-other-ca");
    let other = TestCertificates::make(&other_dir.0);
    let error = Shipper::builder(&path, SyslogDestination::tls(address, TlsConfig::ca_file(&other.ca)))
        .cursor(dir.path("other.cursor"))
        .spawn()
        .unwrap_err();
    assert!(error.to_string().contains("failed its start-up check"), "{error}");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");
}

#[test]
fn the_local_socket_receives_every_event() {
    let server = Rsyslog::start(None);
    let dir = TempDir::new("syslog-local");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 400);
    Shipper::builder(&path, SyslogDestination::local(&server.socket).hostname("web-2"))
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    wait_for(&server, 400);
    assert_same_ids(&ids_received(&server).0, &trail_ids(&path));
}
