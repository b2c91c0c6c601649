//! Shipping to a three-server NATS JetStream cluster: every event once and in order on its
//! machine's subject, deduplicated by event id, through the SIGKILL of a server mid-stream.

use std::time::{Duration, Instant};

use audit_core::ship::nats::NatsDestination;
use audit_core::ship::{Destination, Shipper};

use super::common::TempDir;
use super::servers::NatsCluster;
use super::{assert_same_ids, trail_ids, write_trail};

fn destination(cluster: &NatsCluster, origin: &str) -> NatsDestination {
    NatsDestination::new(&cluster.urls()).unwrap().origin(origin).manage_stream(3)
}

/// A destination that passed its check: the cluster has elected its leaders and made the
/// stream (it may take a few seconds after the servers start).
fn ready(cluster: &NatsCluster, origin: &str) -> NatsDestination {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut destination = destination(cluster, origin);
        match destination.check() {
            Ok(()) => return destination,
            Err(error) => assert!(Instant::now() < deadline, "the cluster never got ready: {error}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The ids stored on `origin`'s subject, in stream order, and the number of messages.
pub fn ids_in_stream(cluster: &NatsCluster, origin: &str) -> (Vec<String>, u64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let servers: Vec<async_nats::ServerAddr> = cluster.urls().split(',').map(|u| u.parse().unwrap()).collect();
        let client = async_nats::connect(servers).await.unwrap();
        let context = async_nats::jetstream::new(client);
        let mut stream = context.get_stream("AUDIT").await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let subject = format!("audit.events.{origin}");
        let mut ids = Vec::new();
        for sequence in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(sequence).await else { continue };
            if message.subject.as_str() != subject {
                continue;
            }
            let id = message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| panic!("{:?}", message.headers));
            let line: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            assert_eq!(line["event"]["id"].as_str(), Some(id.as_str()), "the message id is the event's id");
            ids.push(id);
        }
        (ids, state.messages)
    })
}

#[test]
fn a_nats_cluster_keeps_every_event_once_in_order_through_a_server_kill() {
    let mut cluster = NatsCluster::start(3);
    let dir = TempDir::new("nats-kill");
    let path = dir.path("audit.log");
    // Long enough a stream that the server dies while it is under way.
    write_trail(&path, 0, 6000);
    let shipper = Shipper::builder(&path, ready(&cluster, "host-n"))
        .max_batch(100, 1 << 20)
        .backoff(Duration::from_millis(20), Duration::from_millis(500))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while shipper.stats().delivered < 600 {
        assert!(Instant::now() < deadline, "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(2));
    }
    // The first server is the one the client connected to.
    cluster.kill(0);
    let at_kill = shipper.stats().delivered;
    assert!(at_kill < 6000, "killed mid-stream ({at_kill} delivered)");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !shipper.stats().caught_up {
        assert!(Instant::now() < deadline, "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = shipper.shutdown(Duration::from_secs(5));
    assert_eq!(stats.delivered, 6000, "{stats:?}");
    cluster.restart(0);
    let (ids, _) = ids_in_stream(&cluster, "host-n");
    // Every event once. The order is the trail's but for the exception the README states: a
    // batch whose delivery failed part-way (the leader killed mid-batch) is published again,
    // and a message lost the first time is stored after one that followed it; the events'
    // `event.sequence` (and the `Audit-Sequence` header) give the trail's order.
    let trail = trail_ids(&path);
    let position: std::collections::HashMap<&String, usize> = trail.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut in_trail_order = ids.clone();
    in_trail_order.sort_by_key(|id| position.get(id).copied().unwrap_or(usize::MAX));
    assert_same_ids(&in_trail_order, &trail);
    let displaced = ids.iter().zip(&trail).filter(|(a, b)| a != b).count();
    assert!(displaced <= 200, "only a re-published batch is out of place: {displaced} of {}", ids.len());
}

#[test]
fn jetstream_deduplicates_a_batch_delivered_again() {
    let cluster = NatsCluster::start(3);
    let dir = TempDir::new("nats-dedup");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 500);
    let cursor = dir.path("nats.cursor");
    for _ in 0..2 {
        Shipper::builder(&path, ready(&cluster, "host-d"))
            .cursor(&cursor)
            .run_until_caught_up(Duration::from_secs(60))
            .unwrap();
        std::fs::remove_file(&cursor).unwrap(); // as if the cursor were lost: all of it again
    }
    let (ids, messages) = ids_in_stream(&cluster, "host-d");
    assert_eq!(messages, 500, "delivered twice, stored once");
    assert_same_ids(&ids, &trail_ids(&path));
}

#[test]
fn several_machines_publish_to_one_stream_each_in_its_own_order() {
    let cluster = NatsCluster::start(3);
    super::three_machines_ship_at_once(
        "nats-fleet",
        600,
        50,
        |origin| ready(&cluster, origin),
        |origin| ids_in_stream(&cluster, origin).0,
    );
}

#[test]
fn a_tls_only_cluster_is_reached_over_tls_and_a_wrong_certificate_authority_is_refused() {
    use super::servers::TestCertificates;
    let certs_dir = TempDir::new("nats-certs");
    let certs = TestCertificates::make(&certs_dir.0);
    let cluster = NatsCluster::start_tls(3, &certs);
    let urls = cluster.ports.iter().map(|p| format!("tls://localhost:{p}")).collect::<Vec<_>>().join(",");
    let dir = TempDir::new("nats-tls");
    let path = dir.path("audit.log");
    write_trail(&path, 0, 200);
    let destination = || NatsDestination::new(&urls).unwrap().origin("host-tls").manage_stream(3);
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let mut candidate = destination().tls(Some(certs.ca.clone()));
        match candidate.check() {
            Ok(()) => break candidate,
            Err(error) => assert!(Instant::now() < deadline, "never ready over TLS: {error}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    Shipper::builder(&path, ready).run_until_caught_up(Duration::from_secs(30)).unwrap();
    // Read back over TLS too.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stored = runtime.block_on(async {
        let servers: Vec<async_nats::ServerAddr> = urls.split(',').map(|u| u.parse().unwrap()).collect();
        let client = async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(certs.ca.clone())
            .connect(servers)
            .await
            .unwrap();
        let mut stream = async_nats::jetstream::new(client).get_stream("AUDIT").await.unwrap();
        stream.info().await.unwrap().state.messages
    });
    assert_eq!(stored, 200);

    let other_dir = TempDir::new("nats-other-ca");
    let other = TestCertificates::make(&other_dir.0);
    let mut wrong = destination().tls(Some(other.ca.clone())).timeouts(Duration::from_secs(3), Duration::from_secs(3));
    assert!(wrong.check().is_err(), "a server certificate from another CA is refused");
}

/// A stream that is not there: the error says what to set, in the configuration and in code.
#[test]
fn a_missing_stream_names_the_setting_that_makes_it() {
    let cluster = NatsCluster::start(3);
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let mut unmanaged = NatsDestination::new(&cluster.urls()).unwrap().origin("host-m").stream("NOT_MADE");
        match unmanaged.check() {
            Err(error) if error.to_string().contains("not there") => break error,
            other => assert!(Instant::now() < deadline, "{other:?}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let text = error.to_string();
    assert!(text.contains("\"replicas\""), "the configuration's setting: {text}");
    assert!(text.contains("manage_stream"), "the builder's method: {text}");
}
