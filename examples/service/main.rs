//! An audited HTTP service: `cargo run --example service`, then follow the printed `curl`s.
//! The audit trail goes to stdout as ECS JSON lines; `/metrics` serves the audit pipeline's
//! figures (events written, refused, dropped) for Prometheus.
//!
//! Users: `alice` / `alice-password` (editor: may write), `bob` / `bob-password` (viewer: may read).
//! Listens on 127.0.0.1:3000 (or `$PORT`).

mod app;

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{AuditLogger, ConsoleSink, EcsFormat};

#[tokio::main]
async fn main() {
    let logger = AuditLogger::builder()
        .sink(ConsoleSink::stdout())
        .format(EcsFormat::default().with_service_name("dashboards"))
        .build();
    // The audit pipeline's figures at /metrics, for Prometheus.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("one recorder");
    let _reporter = audit_core::metrics::MetricsReporter::new().logger(&logger).spawn(Duration::from_secs(5));
    let state = app::AppState::new(logger).expect("an in-memory database").with_metrics(metrics);
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    eprintln!("audited dashboards service on {base}; try:");
    eprintln!("  curl -c jar -H 'content-type: application/json' -d '{{\"username\":\"alice\",\"password\":\"alice-password\"}}' {base}/login");
    eprintln!("  curl -b jar -H 'content-type: application/json' -d '{{\"id\":\"d1\",\"title\":\"Sales\"}}' {base}/api/dashboards");
    eprintln!("  curl -b jar {base}/api/dashboards/d1");
    eprintln!("  curl -b jar -X PUT -H 'content-type: application/json' -d '{{\"title\":\"Sales 2026\",\"share_password\":\"open-sesame\"}}' {base}/api/dashboards/d1");
    eprintln!("  curl -b jar -X DELETE {base}/api/dashboards/d9      # a failed delete: its result is `failure`");
    eprintln!("  curl -b jar -X POST {base}/api/dashboards/d1/_export");
    eprintln!("  curl -b jar -X POST {base}/logout");
    eprintln!("  curl {base}/metrics                                  # the audit pipeline's figures");
    let service = app::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await.expect("the server runs");
}
