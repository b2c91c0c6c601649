//! The example service's `/metrics`, scraped by a real Prometheus server: a refused call and a
//! best-effort sink's drops are read back through Prometheus' HTTP API.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use audit_core::metrics::MetricsReporter;
use audit_core::sink::BestEffortLimits;
use audit_core::{AuditLogger, MemorySink};

use crate::app;
use crate::common::sinks::{Hung, Switch};
use crate::servers::Prometheus;

/// The value of `query` in Prometheus (its first series), once there is one.
fn query(agent: &ureq::Agent, port: u16, query: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let mut response = agent.get(&url).query("query", query).call().ok()?;
    let body: serde_json::Value = response.body_mut().read_json().ok()?;
    body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_the_services_refusals_and_drops() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("one recorder");
    let switch = Switch::default();
    let hung = Hung::default();
    let logger = AuditLogger::builder()
        .sink(MemorySink::new())
        .sink(switch.clone())
        .best_effort_sink_with(hung.clone(), BestEffortLimits::default().queue(1))
        .build();
    let _reporter = MetricsReporter::new().logger(&logger).spawn(Duration::from_millis(200));
    let state = app::AppState::new(logger).unwrap().with_metrics(handle);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move {
        axum::serve(listener, app::router(state).into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://{address}");
    let get = |path: &str| agent.get(&format!("{base}{path}")).call().unwrap().status().as_u16();

    // Requests while the audit store is up (the hung best-effort sink drops most of them), then
    // one while it is down: refused.
    for _ in 0..5 {
        assert_eq!(get("/api/dashboards/d1"), 401, "no session: an audited refusal of access");
    }
    switch.refuse(true);
    get("/api/dashboards/d1");
    switch.refuse(false);
    // The service's own page has it (the reporter publishes every 200 ms).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = agent.get(&format!("{base}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
        if metrics.lines().any(|line| line.starts_with("audit_events_refused_total ") && !line.ends_with(" 0")) {
            break;
        }
        assert!(Instant::now() < deadline, "no refusal at /metrics:\n{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let prometheus = Prometheus::start(&address.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut refused, mut dropped, mut written) = (None, None, None);
    while Instant::now() < deadline {
        refused = query(&agent, prometheus.port, "audit_events_refused_total");
        dropped = query(&agent, prometheus.port, "audit_best_effort_dropped_total");
        written = query(&agent, prometheus.port, "audit_events_written_total");
        if refused.is_some_and(|n| n >= 1.0) && dropped.is_some_and(|n| n >= 1.0) && written.is_some_and(|n| n >= 5.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(refused.is_some_and(|n| n >= 1.0), "refused, as Prometheus has it: {refused:?}");
    assert!(dropped.is_some_and(|n| n >= 1.0), "dropped, as Prometheus has it: {dropped:?}");
    assert!(written.is_some_and(|n| n >= 5.0), "written, as Prometheus has it: {written:?}");
    hung.release();
}
