//! The shipping figures of BENCHMARKS.md (`cargo bench --bench audit_bench -- ship`; needs the
//! fleet tests' servers, `.ci/install-servers`): each beside its naive baseline in one run,
//! rounds interleaved.

use std::path::Path;
use std::time::{Duration, Instant};

use audit_core::chain::ChainHash;
use audit_core::ship::nats::NatsDestination;
use audit_core::ship::postgres::PostgresDestination;
use audit_core::ship::{Destination, Shipper};
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, Outcome, Resource};

use crate::servers::{Collector, NatsCluster, Postgres};

const ROUNDS: usize = 3;

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", i.to_string()))
}

fn write_trail(path: &Path, events: u64) {
    let (writer, guard) =
        FileWriter::builder(path).chain(ChainHash::Sha256).rotation(Rotation::by_size(16 << 20)).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for i in 0..events {
        logger.log(event(i)).unwrap();
    }
    guard.shutdown().unwrap();
}

/// The trail's lines, for the naive baselines.
fn lines(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).unwrap();
            (json["event"]["id"].as_str().unwrap().to_owned(), line.to_owned())
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn ship_once(path: &Path, destination: impl Destination, cursor: &Path) -> f64 {
    let started = Instant::now();
    let stats =
        Shipper::builder(path, destination).cursor(cursor).run_until_caught_up(Duration::from_secs(600)).unwrap();
    stats.delivered as f64 / started.elapsed().as_secs_f64()
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The shipper's memory with a large backlog: the peak RSS while it ships 300,000 events (about
/// 130 MB of trail) to a destination that acknowledges at once, above the RSS before.
pub fn memory(dir: &Path) {
    crate::section("The shipper's memory with a backlog");
    let trail = dir.join("ship-memory.log");
    let _ = std::fs::remove_file(&trail);
    write_trail(&trail, 300_000);
    let files = audit_core::trail::rotated_files(&trail).unwrap().into_iter().chain([trail.clone()]);
    let bytes: u64 = files.map(|f| std::fs::metadata(f).unwrap().len()).sum();
    // Reset the peak to the current RSS (Linux: `5` to clear_refs).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let (before, _) = rss();
    let delivered = ship_once(&trail, Discard, &dir.join("memory.cursor"));
    let (_, peak) = rss();
    println!("| backlog | peak RSS above the RSS before |\n| --- | ---: |");
    println!(
        "| {:.0} MB, 300,000 events, shipped at {delivered:.0} events/s | {} KiB |",
        bytes as f64 / 1e6,
        peak.saturating_sub(before)
    );
}

pub fn postgres_rate(dir: &Path) {
    crate::section("Shipping to PostgreSQL: batched COPY vs one INSERT per event (events/s, autocommit)");
    let server = Postgres::start();
    let (ours_events, naive_events) = (100_000, 3_000);
    let trail = dir.join("ship-pg.log");
    write_trail(&trail, ours_events);
    let naive_lines: Vec<(String, String)> = lines(&trail).into_iter().take(naive_events).collect();
    let mut client = server.client();
    let (mut ours, mut naive, mut ceiling) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        ceiling.push(ship_once(&trail, Discard, &dir.join(format!("discard-{round}.cursor"))));
        let table = format!("bench_ours_{round}");
        let destination = PostgresDestination::new(&server.url()).unwrap().table(&table).migrate(true);
        ours.push(ship_once(&trail, destination, &dir.join(format!("pg-{round}.cursor"))));

        let table = format!("bench_naive_{round}");
        client.batch_execute(&PostgresDestination::migration_sql(&table, "kibana")).unwrap();
        let insert = format!(
            "INSERT INTO {table} (event_id, ts, origin, line, event) VALUES ($1, now(), 'bench', $2::text, $2::text::jsonb) \
             ON CONFLICT (event_id) DO NOTHING"
        );
        let statement = client.prepare(&insert).unwrap();
        let started = Instant::now();
        for (id, line) in &naive_lines {
            client.execute(&statement, &[id, line]).unwrap();
        }
        naive.push(naive_lines.len() as f64 / started.elapsed().as_secs_f64());
    }
    let (ours, naive, ceiling) = (median(ours), median(naive), median(ceiling));
    println!("| delivery | events/s (median of {ROUNDS} rounds) |\n| --- | ---: |");
    println!("| the shipper's own ceiling: reading, parsing, saving its cursor; a destination that costs nothing | {ceiling:.0} |");
    println!("| baseline: one `INSERT … ON CONFLICT DO NOTHING` per event, each committed | {naive:.0} |");
    println!("| shipper: `COPY` batches of 1000 into staging, one transaction each | {ours:.0} |");
    println!("\nratio ours / baseline: **{:.1}**", ours / naive);
}

pub fn nats_rate(dir: &Path) {
    crate::section("Shipping to a 3-server JetStream cluster (R3): pipelined batches vs one publish awaited per event");
    let cluster = NatsCluster::start(3);
    let ready = |origin: &str| loop {
        let mut destination = NatsDestination::new(&cluster.urls()).unwrap().origin(origin).manage_stream(3);
        if destination.check().is_ok() {
            return destination;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let (ours_events, naive_events) = (100_000, 3_000);
    let trail = dir.join("ship-nats.log");
    write_trail(&trail, ours_events);
    let naive_lines: Vec<(String, String)> = lines(&trail).into_iter().take(naive_events).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let servers: Vec<async_nats::ServerAddr> = cluster.urls().split(',').map(|u| u.parse().unwrap()).collect();
    let context = runtime.block_on(async { async_nats::jetstream::new(async_nats::connect(servers).await.unwrap()) });
    let (mut ours, mut naive) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let destination = ready(&format!("bench-ours-{round}"));
        ours.push(ship_once(&trail, destination, &dir.join(format!("nats-{round}.cursor"))));

        let subject = format!("audit.events.bench-naive-{round}");
        let started = Instant::now();
        runtime.block_on(async {
            for (id, line) in &naive_lines {
                let publish =
                    async_nats::jetstream::context::Publish::build().payload(line.clone().into()).message_id(id);
                context.send_publish(subject.clone(), publish).await.unwrap().await.unwrap();
            }
        });
        naive.push(naive_lines.len() as f64 / started.elapsed().as_secs_f64());
    }
    let (ours, naive) = (median(ours), median(naive));
    println!("| delivery | events/s (median of {ROUNDS} rounds) |\n| --- | ---: |");
    println!("| baseline: one publish, its acknowledgement awaited, per event | {naive:.0} |");
    println!("| shipper: batches of 1000 published at once, then every acknowledgement awaited | {ours:.0} |");
    println!("\nratio ours / baseline: **{:.1}**", ours / naive);
}

/// Shipping to an OpenTelemetry collector (rotel, OTLP/HTTP): batches of 1000 events per export
/// request, against one request per event, interleaved rounds.
pub fn otlp_rate(dir: &Path) {
    use audit_core::ship::otlp::OtlpDestination;
    crate::section("Shipping to an OpenTelemetry collector (OTLP/HTTP): batches vs one export request per event");
    // Printing nothing: what is measured is the delivery, not the collector's console.
    let collector = Collector::start_quiet();
    let endpoint = format!("http://127.0.0.1:{}", collector.http_port);
    let (ours_events, naive_events) = (50_000, 3_000);
    let trail = dir.join("ship-otlp.log");
    write_trail(&trail, ours_events);
    let naive_trail = dir.join("ship-otlp-naive.log");
    write_trail(&naive_trail, naive_events);
    let (mut ours, mut naive) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let destination = OtlpDestination::http(&endpoint).unwrap();
        ours.push(ship_once(&trail, destination, &dir.join(format!("otlp-{round}.cursor"))));
        // The same destination, one record per export request, its answer awaited (no cursor).
        let mut destination = OtlpDestination::http(&endpoint).unwrap();
        let records: Vec<audit_core::ship::ShipRecord> = lines(&naive_trail)
            .iter()
            .map(|(_, line)| audit_core::ship::ShipRecord::parse(line.as_bytes()).unwrap())
            .collect();
        let started = Instant::now();
        for record in &records {
            destination.deliver(std::slice::from_ref(record)).unwrap();
        }
        assert_eq!(records.len() as u64, naive_events);
        naive.push(naive_events as f64 / started.elapsed().as_secs_f64());
    }
    let (ours, naive) = (median(ours), median(naive));
    println!("| delivery | events/s (median of {ROUNDS} rounds) |\n| --- | ---: |");
    println!("| baseline: one export request, its answer awaited, per event | {naive:.0} |");
    println!("| shipper: batches of 1000 events, one export request each | {ours:.0} |");
    println!("\nratio ours / baseline: **{:.1}** (goal ≥ 20)", ours / naive);
}

pub fn lag_and_caller_cost(dir: &Path) {
    crate::section("End-to-end lag at a steady load, and the caller's cost with a shipper running");
    let server = Postgres::start();
    // Lag: 20,000 events/s for 5 s; every 10 ms, note how many were logged; the lag of an event
    // is from its logging to the moment the table's count covers it.
    let path = dir.join("ship-lag.log");
    let _ = std::fs::remove_file(&path);
    let (writer, guard) = FileWriter::builder(&path).chain(ChainHash::Sha256).build().unwrap();
    let destination = PostgresDestination::new(&server.url()).unwrap().table("bench_lag").migrate(true);
    // In process, as a configuration starts it: woken by the writer's writes.
    let shipper = Shipper::builder(&path, destination).cursor(dir.join("lag.cursor")).follow(&writer).spawn().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let rate = 5_000u64;
    let seconds = 5;
    let marks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Instant, u64)>::new()));
    let counting = {
        let marks = std::sync::Arc::clone(&marks);
        let url = server.url();
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut lags = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(seconds + 30);
            let total = rate * seconds;
            let mut next = 0;
            while Instant::now() < deadline {
                let count: i64 = client.query_one("SELECT count(*) FROM bench_lag", &[]).unwrap().get(0);
                let now = Instant::now();
                let marks = marks.lock().unwrap().clone();
                while next < marks.len() && marks[next].1 <= count as u64 {
                    lags.push(now.duration_since(marks[next].0).as_secs_f64() * 1000.0);
                    next += 1;
                }
                if count as u64 >= total {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            lags
        })
    };
    let started = Instant::now();
    let mut logged = 0u64;
    while logged < rate * seconds {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while logged < due.min(rate * seconds) {
            logger.log(event(logged)).unwrap();
            logged += 1;
        }
        marks.lock().unwrap().push((Instant::now(), logged));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut lags = counting.join().unwrap();
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    shipper.shutdown(Duration::from_secs(10));
    drop(guard);
    let at = |q: f64| lags[((lags.len() - 1) as f64 * q) as usize];
    println!("| end-to-end lag, {rate} events/s for {seconds} s, trail → shipper → PostgreSQL | ms |\n| --- | ---: |");
    println!("| median | {:.0} |\n| p99 | {:.0} |\n| max | {:.0} |", at(0.5), at(0.99), at(1.0));

    // The caller's cost: audited calls with no shipper, with a shipper to a destination that
    // costs nothing (the shipper's own share of the machine), and with one to the PostgreSQL on
    // this same machine (whose server then competes for the same 2 cores).
    let calls = 200_000;
    let mut figures: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for (kind, figures) in figures.iter_mut().enumerate() {
            let path = dir.join(format!("ship-caller-{round}-{kind}.log"));
            let _ = std::fs::remove_file(&path);
            let (writer, guard) = FileWriter::builder(&path).build().unwrap();
            let cursor = dir.join(format!("caller-{round}-{kind}.cursor"));
            let shipper = match kind {
                0 => None,
                1 => Some(Shipper::builder(&path, Discard).cursor(&cursor).spawn().unwrap()),
                _ => {
                    let destination = PostgresDestination::new(&server.url())
                        .unwrap()
                        .table(&format!("bench_caller_{round}"))
                        .migrate(true);
                    Some(Shipper::builder(&path, destination).cursor(&cursor).spawn().unwrap())
                }
            };
            let ctx = crate::context(Some(AuditLogger::builder().sink(writer.clone()).build()));
            let ns = ctx.in_scope(|| {
                crate::per_call(
                    calls,
                    50_000,
                    |i| drop(std::hint::black_box(crate::audited_get(i))),
                    || writer.flush().unwrap(),
                )
            });
            if let Some(shipper) = shipper {
                let stats = shipper.shutdown(Duration::from_secs(60));
                assert!(stats.delivered > 0, "{stats:?}");
            }
            figures.push(ns);
            drop(guard);
        }
    }
    let [none, discard, postgres] = figures.map(median);
    println!("\n| caller, `#[audited]` → `FileWriter` | ns per call (median of {ROUNDS} rounds) |\n| --- | ---: |");
    println!("| no shipper | {none:.0} |");
    println!("| a shipper following the trail, its destination costing nothing | {discard:.0} |");
    println!("| a shipper to the PostgreSQL server on the same 2 cores | {postgres:.0} |");
    println!(
        "\nratio with / without: **{:.2}** (shipper alone), {:.2} (with the database server on the same cores)",
        discard / none,
        postgres / none
    );
}

/// A destination that acknowledges everything at once: the shipper's own cost, nothing else.
struct Discard;

impl Destination for Discard {
    fn name(&self) -> String {
        "discard".into()
    }
    fn deliver(&mut self, batch: &[audit_core::ship::ShipRecord]) -> Result<(), audit_core::ship::DeliveryError> {
        std::hint::black_box(batch);
        Ok(())
    }
}
