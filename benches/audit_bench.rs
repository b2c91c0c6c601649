//! Measures the figures in BENCHMARKS.md, each against its baseline in the same run:
//!
//! 1. caller-side cost of an audited call to the `FileWriter` vs. one `tracing::info!` audit event
//!    through tracing-subscriber's JSON layer and tracing-appender's lossless `non_blocking` writer;
//! 2. events lost in a burst of 1,000,000 from 2 threads while another process loads the CPU
//!    (ours with `Backpressure::Block`, tracing-appender's lossy default and `lossy(false)`);
//! 3. an audited call dropped by an ignore filter vs. the same function un-annotated;
//! 4. `durable` with 64 concurrent callers vs. one `fsync` per event;
//! 5. sustained events/s and MB/s of one `FileWriter` vs. raw sequential writes to the same disk.
//!
//! `cargo bench --bench audit_bench` (all), or name sections: `cargo bench --bench audit_bench -- filter durable`.
//! The shipping section (`ship`, see `shipping/mod.rs`) needs PostgreSQL and nats-server and runs
//! only when named.
//! Files go to `$AUDIT_BENCH_DIR` (default: a directory under the system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "results/mod.rs"]
mod results_bench;
#[allow(dead_code)]
#[path = "../tests/fleet/servers.rs"]
mod servers;
#[path = "shipping/mod.rs"]
mod ship_bench;
#[path = "trail/mod.rs"]
mod trail_bench;

use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use audit_core::writer::WriterStats;
use audit_core::{
    audited, kibana, AuditContext, AuditEvent, AuditLogger, Durability, FileWriter, IgnoreFilter, Outcome, Resource,
    User,
};

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("AUDIT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("audit-bench-{}", std::process::id())));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = fs::remove_file(&path);
    path
}

fn count_lines(path: &Path) -> usize {
    fs::read(path).map(|bytes| bytes.iter().filter(|b| **b == b'\n').count()).unwrap_or(0)
}

fn context(logger: Option<AuditLogger>) -> AuditContext {
    let mut builder = AuditContext::builder()
        .user(User::named("alice").with_id("u_alice").with_roles(["editor", "viewer"]))
        .session_id("c2f7e7a1-6b1e-4c7a-9f1e-0d6f2b9a4e11")
        .space_id("default")
        .client_ip("10.0.0.7".parse().unwrap())
        .new_trace_id();
    if let Some(logger) = logger {
        builder = builder.logger(logger);
    }
    builder.build()
}

#[derive(Debug)]
pub(crate) struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

#[audited(action = "saved_object_get", resource(type = "dashboard", id = id))]
fn audited_get(id: u64) -> Result<u64, NotFound> {
    Ok(black_box(id))
}

#[inline(never)]
fn plain_get(id: u64) -> Result<u64, NotFound> {
    Ok(black_box(id))
}

/// The baseline: what a Rust team writes today, one `tracing` event per audited call.
#[inline(never)]
fn tracing_get(id: u64) -> Result<u64, NotFound> {
    let result = Ok(black_box(id));
    tracing::info!(
        target: "audit",
        {
            event.action = "saved_object_get",
            event.category = "database",
            event.type = "access",
            event.outcome = "success",
            user.id = "u_alice",
            user.name = "alice",
            user.roles = "editor,viewer",
            kibana.space_id = "default",
            kibana.session_id = "c2f7e7a1-6b1e-4c7a-9f1e-0d6f2b9a4e11",
            saved_object.type = "dashboard",
            saved_object.id = id,
            client.ip = "10.0.0.7",
            trace.id = "4bf92f3577b34da6a3ce929d0e0e4736",
        },
        "User has accessed dashboard [id={id}]"
    );
    result
}

/// A lean baseline: the fewest fields an audit event can have and still say who did what.
#[inline(never)]
fn tracing_get_lean(id: u64) -> Result<u64, NotFound> {
    let result = Ok(black_box(id));
    tracing::info!(target: "audit", action = "saved_object_get", outcome = "success", user = "alice", id, "audit");
    result
}

fn tracing_dispatch(writer: tracing_appender::non_blocking::NonBlocking) -> tracing::Dispatch {
    let subscriber = tracing_subscriber::fmt().json().with_writer(writer).with_max_level(tracing::Level::INFO).finish();
    tracing::Dispatch::new(subscriber)
}

fn section(title: &str) {
    println!("\n## {title}\n");
}

/// Nanoseconds per call of `f` over `calls` calls, in bursts of `burst` (the `between` closure
/// runs untimed after each burst, to drain queues).
fn per_call(calls: u64, burst: u64, mut f: impl FnMut(u64), mut between: impl FnMut()) -> f64 {
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < calls {
        let start = Instant::now();
        for i in done..(done + burst).min(calls) {
            f(i);
        }
        timed += start.elapsed();
        done += burst;
        between();
    }
    timed.as_nanos() as f64 / calls as f64
}

fn caller_cost(dir: &Path) {
    section("1. Caller-side cost of one audited call (single thread, bursts of 50,000 within queue capacity)");
    let calls = 500_000;
    let burst = 50_000;

    let path = fresh(dir, "caller-ours.log");
    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let ctx = context(Some(AuditLogger::builder().sink(writer.clone()).build()));
    let ours = ctx.in_scope(|| per_call(calls, burst, |i| drop(black_box(audited_get(i))), || writer.flush().unwrap()));
    let formatted_by_callers = writer.stats().formatted_by_callers;
    drop(guard);
    assert_eq!(count_lines(&path), calls as usize);

    let path = fresh(dir, "caller-tracing.log");
    let (non_blocking, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(fs::File::create(&path).unwrap());
    let baseline = tracing::dispatcher::with_default(&tracing_dispatch(non_blocking), || {
        per_call(calls, burst, |i| drop(black_box(tracing_get(i))), || std::thread::sleep(Duration::from_millis(200)))
    });
    drop(guard);
    assert_eq!(count_lines(&path), calls as usize);

    let path = fresh(dir, "caller-tracing-lean.log");
    let (non_blocking, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(fs::File::create(&path).unwrap());
    let lean = tracing::dispatcher::with_default(&tracing_dispatch(non_blocking), || {
        per_call(
            calls,
            burst,
            |i| drop(black_box(tracing_get_lean(i))),
            || std::thread::sleep(Duration::from_millis(200)),
        )
    });
    drop(guard);

    let plain = per_call(calls, burst, |i| drop(black_box(plain_get(i))), || {});
    println!("| call | ns per call |\n| --- | ---: |");
    println!("| un-annotated function | {plain:.1} |");
    println!("| baseline: `tracing::info!` with the same content (13 fields) → JSON layer → `non_blocking` (lossless) | {baseline:.1} |");
    println!("| lean baseline: `tracing::info!` with 4 fields → JSON layer → `non_blocking` (lossless) | {lean:.1} |");
    println!("| `#[audited]` → `FileWriter` (full ECS event: user, roles, session, space, IP, trace, resource) | {ours:.1} |");
    println!(
        "\nratio ours / same-content baseline: **{:.3}** (goal ≤ 0.333); ours / lean baseline: {:.3}",
        ours / baseline,
        ours / lean
    );
    println!(
        "lines our callers formatted themselves (the writer being over half a queue behind): {formatted_by_callers}"
    );
}

/// The caller-side cost of section 1 with the audit pipeline's metrics published (a Prometheus
/// recorder installed, a `MetricsReporter` publishing every 10 ms) and without (no reporter), in
/// interleaved rounds. The recorder, once installed, stays: the rounds without a reporter still
/// have it, which is the cost of the feature when nothing is reported.
fn metrics_cost(dir: &Path) {
    section("Metrics: the caller-side cost with the metrics published, against without (interleaved rounds)");
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("one recorder");
    let (calls, burst) = (300_000, 50_000);
    println!("| round | without, ns per call | with, ns per call | with / without |");
    println!("| ---: | ---: | ---: | ---: |");
    let mut ratios = Vec::new();
    for round in 1..=5 {
        let one = |with: bool| {
            let path = fresh(dir, "caller-metrics.log");
            let (writer, guard) = FileWriter::builder(&path).build().unwrap();
            let logger = AuditLogger::builder().sink(writer.clone()).build();
            let reporter = with.then(|| {
                audit_core::metrics::MetricsReporter::new()
                    .logger(&logger)
                    .writer(&writer)
                    .spawn(Duration::from_millis(10))
            });
            let ctx = context(Some(logger));
            let cost = ctx
                .in_scope(|| per_call(calls, burst, |i| drop(black_box(audited_get(i))), || writer.flush().unwrap()));
            drop(reporter);
            drop(guard);
            cost
        };
        let (without, with) = (one(false), one(true));
        println!("| {round} | {without:.0} | {with:.0} | {:.2} |", with / without);
        ratios.push(with / without);
    }
    let rendered = handle.render();
    assert!(rendered.contains("audit_events_written_total"), "the reporter published");
    println!("\nwith / without, median: **{:.2}** (goal: no regression beyond the noise)", median(ratios));
}

/// Two busy-looping processes, one per core, for the duration of a burst.
struct CpuLoad(Vec<Child>);

impl CpuLoad {
    fn start() -> CpuLoad {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CpuLoad(
            (0..cores)
                .map(|_| Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("sh for CPU load"))
                .collect(),
        )
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn burst_from_two_threads(f: impl Fn(u64) + Send + Sync + 'static) -> Duration {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(2));
    let start = Instant::now();
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..500_000 {
                    f(t * 1_000_000 + i);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    start.elapsed()
}

fn burst_loss(dir: &Path) {
    section("2. Events lost in a burst of 1,000,000 from 2 threads while other processes load every core");
    println!("| writer | written | lost | burst took |\n| --- | ---: | ---: | ---: |");
    for lossy in [true, false] {
        let path = fresh(dir, "burst-tracing.log");
        let (non_blocking, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(lossy)
            .finish(fs::File::create(&path).unwrap());
        let dispatch = tracing_dispatch(non_blocking);
        let load = CpuLoad::start();
        let took = burst_from_two_threads(move |i| {
            tracing::dispatcher::with_default(&dispatch, || drop(black_box(tracing_get(i))));
        });
        drop(load);
        drop(guard);
        let written = count_lines(&path);
        let name = if lossy {
            "baseline: tracing-appender `non_blocking` (default, lossy)"
        } else {
            "baseline: `non_blocking` with `lossy(false)`"
        };
        println!("| {name} | {written} | {} | {:.2} s |", 1_000_000 - written, took.as_secs_f64());
    }
    let path = fresh(dir, "burst-ours.log");
    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let ctx = context(Some(logger));
    let load = CpuLoad::start();
    let took = burst_from_two_threads(move |i| {
        ctx.in_scope(|| drop(black_box(audited_get(i))));
    });
    drop(load);
    guard.shutdown().unwrap();
    let written = count_lines(&path);
    println!(
        "| `FileWriter` (`Backpressure::Block`, default) | {written} | {} | {:.2} s |",
        1_000_000 - written,
        took.as_secs_f64()
    );
    println!(
        "\nours lost: **{}** (goal 0); dropped by the writer's own count: {}",
        1_000_000 - written,
        writer.stats().dropped
    );
}

fn filter_cost() {
    section("3. An audited call removed by an ignore filter vs. the un-annotated call");
    let logger = AuditLogger::builder().ignore(IgnoreFilter::new().actions(["saved_object_get"])).build();
    let ctx = context(Some(logger.clone()));
    let calls = 20_000_000;
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let plain = per_call(calls, calls, |i| drop(black_box(plain_get(black_box(i)))), || {});
        let filtered = ctx.in_scope(|| per_call(calls, calls, |i| drop(black_box(audited_get(black_box(i)))), || {}));
        best = (best.0.min(plain), best.1.min(filtered));
    }
    assert_eq!(logger.stats().written, 0);
    println!("| call | ns per call (best of 5 runs of 20M) |\n| --- | ---: |");
    println!("| un-annotated | {:.2} |", best.0);
    println!("| `#[audited]`, dropped by an ignore filter | {:.2} |", best.1);
    println!("\noverhead: **{:.2} ns** (goal ≤ 25 ns)", best.1 - best.0);
}

/// One round of section 4: every figure measured back to back, so that all of them see the same
/// state of the disk (this virtual machine's `fsync` time drifts by half between minutes).
struct DurableRound {
    /// One event written and `fdatasync`ed at a time.
    fsync_each: Duration,
    /// 64 events' bytes written and `fdatasync`ed at a time: the disk's own ceiling.
    group_sync: Duration,
    threads: DurableRun,
    tasks: DurableRun,
    /// The tokio runtime's own floor for a group's round trip, with no I/O and no audit code.
    wake_floor: Duration,
}

struct DurableRun {
    rate: f64,
    waits: Vec<Duration>,
    syncs: u64,
}

const DURABLE_CALLERS: u64 = 64;

fn durable_round(dir: &Path, per_caller: u64) -> DurableRound {
    let line = audit_core::EcsFormat::default().to_line(&sample_event(0));
    let path = fresh(dir, "fsync-baseline.log");
    let mut file = fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let n = 300;
    let start = Instant::now();
    for _ in 0..n {
        file.write_all(line.as_bytes()).unwrap();
        file.write_all(b"\n").unwrap();
        file.sync_data().unwrap();
    }
    let fsync_each = start.elapsed() / n;
    let group: Vec<u8> = (0..DURABLE_CALLERS).flat_map(|_| line.bytes().chain(std::iter::once(b'\n'))).collect();
    let rounds = 100;
    let start = Instant::now();
    for _ in 0..rounds {
        file.write_all(&group).unwrap();
        file.sync_data().unwrap();
    }
    let group_sync = start.elapsed() / rounds;
    DurableRound {
        fsync_each,
        group_sync,
        threads: durable_threads(dir, per_caller),
        tasks: durable_tasks(dir, per_caller),
        wake_floor: task_wake_floor(group_sync),
    }
}

/// What group commit costs the runtime alone: another thread wakes 64 parked tasks, each polls
/// and registers again (as a caller does with its next event), and the thread waits until all
/// 64 are back. Between rounds it sleeps `pause` (a group's `fsync`), so the runtime's worker
/// threads park as they do while a real group is being synced. No writer can close a group faster.
fn task_wake_floor(pause: Duration) -> Duration {
    use std::sync::{Condvar, Mutex};
    use std::task::{Poll, Waker};
    struct Hub {
        /// Generation, registered wakers, and how many registered in this generation.
        state: Mutex<(u64, Vec<Waker>, u64)>,
        all_back: Condvar,
    }
    struct Wait {
        hub: Arc<Hub>,
        generation: u64,
        registered: bool,
    }
    impl std::future::Future for Wait {
        type Output = ();
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
            let hub = Arc::clone(&self.hub);
            let mut state = hub.state.lock().unwrap();
            if state.0 > self.generation {
                return Poll::Ready(());
            }
            if !self.registered {
                state.1.push(cx.waker().clone());
                state.2 += 1;
                if state.2 == DURABLE_CALLERS {
                    hub.all_back.notify_one();
                }
                self.registered = true;
            }
            Poll::Pending
        }
    }
    let hub = Arc::new(Hub { state: Mutex::new((0, Vec::new(), 0)), all_back: Condvar::new() });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    for _ in 0..DURABLE_CALLERS {
        let hub = Arc::clone(&hub);
        runtime.spawn(async move {
            loop {
                let generation = hub.state.lock().unwrap().0;
                Wait { hub: Arc::clone(&hub), generation, registered: false }.await;
            }
        });
    }
    let wait_all_back = || {
        let mut state = hub.state.lock().unwrap();
        while state.2 < DURABLE_CALLERS {
            state = hub.all_back.wait(state).unwrap();
        }
    };
    let (warmup, cycles) = (50, 300);
    let mut total = Duration::ZERO;
    for cycle in 0..warmup + cycles {
        wait_all_back();
        std::thread::sleep(pause);
        let start = Instant::now();
        let wakers = {
            let mut state = hub.state.lock().unwrap();
            state.0 += 1;
            state.2 = 0;
            std::mem::take(&mut state.1)
        };
        wakers.into_iter().for_each(Waker::wake);
        wait_all_back();
        if cycle >= warmup {
            total += start.elapsed();
        }
    }
    runtime.shutdown_background();
    total / cycles
}

fn durable_event(ctx: &AuditContext, caller: u64, i: u64) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_UPDATE)
        .with_context(ctx)
        .with_outcome(Outcome::Unknown)
        .with_resource(Resource::new("dashboard", (caller * 100_000 + i).to_string()))
}

/// 64 threads, each logging `per_caller` events and blocking until each is `fsync`ed.
fn durable_threads(dir: &Path, per_caller: u64) -> DurableRun {
    let path = fresh(dir, "durable-threads.log");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Durable).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let barrier = Arc::new(Barrier::new(DURABLE_CALLERS as usize + 1));
    let threads: Vec<_> = (0..DURABLE_CALLERS)
        .map(|t| {
            let (logger, barrier) = (logger.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let ctx = context(None);
                barrier.wait();
                let mut waits = Vec::with_capacity(per_caller as usize);
                for i in 0..per_caller {
                    let began = Instant::now();
                    logger.log(durable_event(&ctx, t, i)).unwrap();
                    waits.push(began.elapsed());
                }
                waits
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let waits: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let took = start.elapsed();
    guard.shutdown().unwrap();
    let events = (DURABLE_CALLERS * per_caller) as usize;
    assert_eq!(count_lines(&path), events);
    DurableRun { rate: events as f64 / took.as_secs_f64(), waits, syncs: writer.stats().syncs }
}

/// 64 tokio tasks on a 2-thread runtime, each awaiting durability instead of blocking.
fn durable_tasks(dir: &Path, per_caller: u64) -> DurableRun {
    let path = fresh(dir, "durable-tasks.log");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Durable).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let (took, waits) = runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..DURABLE_CALLERS)
            .map(|t| {
                let logger = logger.clone();
                tokio::spawn(async move {
                    let ctx = context(None);
                    let mut waits = Vec::with_capacity(per_caller as usize);
                    for i in 0..per_caller {
                        let began = Instant::now();
                        logger.log_async(durable_event(&ctx, t, i)).await.unwrap();
                        waits.push(began.elapsed());
                    }
                    waits
                })
            })
            .collect();
        let mut waits = Vec::new();
        for task in tasks {
            waits.extend(task.await.unwrap());
        }
        (start.elapsed(), waits)
    });
    guard.shutdown().unwrap();
    let events = (DURABLE_CALLERS * per_caller) as usize;
    assert_eq!(count_lines(&path), events);
    DurableRun { rate: events as f64 / took.as_secs_f64(), waits, syncs: writer.stats().syncs }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn durable_group_commit(dir: &Path) {
    section("4. `durable` with 64 concurrent callers vs. one fsync per event");
    let (rounds, per_caller) = (7, 100);
    let all: Vec<DurableRound> = (0..rounds).map(|_| durable_round(dir, per_caller)).collect();
    let events = (DURABLE_CALLERS * per_caller) as f64;

    println!("{rounds} rounds; in each, every row is measured back to back (64 callers x {per_caller} events each)\n");
    println!(
        "| round | fsync per event | 64 events' bytes + fsync | runtime round trip (64 tasks) | disk ceiling | \
         disk + runtime ceiling | threads | tasks | events per fsync (tasks) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (i, round) in all.iter().enumerate() {
        let baseline = 1.0 / round.fsync_each.as_secs_f64();
        println!(
            "| {} | {:.2?} | {:.2?} | {:.2?} | {:.1}x | {:.1}x | {:.1}x | {:.1}x | {:.1} |",
            i + 1,
            round.fsync_each,
            round.group_sync,
            round.wake_floor,
            DURABLE_CALLERS as f64 / round.group_sync.as_secs_f64() / baseline,
            DURABLE_CALLERS as f64 / (round.group_sync + round.wake_floor).as_secs_f64() / baseline,
            round.threads.rate / baseline,
            round.tasks.rate / baseline,
            events / round.tasks.syncs as f64
        );
    }
    let ratio = |pick: &dyn Fn(&DurableRound) -> f64| {
        let ratios: Vec<f64> = all.iter().map(|r| pick(r) * r.fsync_each.as_secs_f64()).collect();
        let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        (median(ratios), low, high)
    };
    let (tasks, tasks_low, tasks_high) = ratio(&|r| r.tasks.rate);
    let (threads, threads_low, threads_high) = ratio(&|r| r.threads.rate);
    let (ceiling, ceiling_low, ceiling_high) = ratio(&|r| DURABLE_CALLERS as f64 / r.group_sync.as_secs_f64());
    let (reachable, reachable_low, reachable_high) =
        ratio(&|r| DURABLE_CALLERS as f64 / (r.group_sync + r.wake_floor).as_secs_f64());

    // Waits, in units of the same round's one-event fsync, over all rounds.
    let in_fsyncs = |pick: &dyn Fn(&DurableRound) -> &DurableRun| {
        let mut waits: Vec<f64> = all
            .iter()
            .flat_map(|r| pick(r).waits.iter().map(|w| w.as_secs_f64() / r.fsync_each.as_secs_f64()))
            .collect();
        waits.sort_by(f64::total_cmp);
        let at = |p: f64| waits[((waits.len() - 1) as f64 * p) as usize];
        format!("p50 {:.1}, p99 {:.1}, max {:.1} fsyncs", at(0.5), at(0.99), at(1.0))
    };
    println!("\nmedian over the rounds (lowest to highest round in brackets):");
    println!(
        "tasks: **{tasks:.1}x** the baseline's throughput (goal ≥ 30x) [{tasks_low:.1} to {tasks_high:.1}]; waits {}",
        in_fsyncs(&|r| &r.tasks)
    );
    println!(
        "threads: **{threads:.1}x** [{threads_low:.1} to {threads_high:.1}]; waits {}",
        in_fsyncs(&|r| &r.threads)
    );
    println!(
        "the disk itself allows at most {ceiling:.1}x [{ceiling_low:.1} to {ceiling_high:.1}] (64 events' bytes synced \
         back to back); tasks reach {:.0}% of that",
        100.0 * tasks / ceiling
    );
    println!(
        "with 64 tasks on this runtime, at most {reachable:.1}x [{reachable_low:.1} to {reachable_high:.1}] \
         (the group's fsync plus the runtime's own round trip for 64 tasks); tasks reach {:.0}% of that",
        100.0 * tasks / reachable
    );
}

fn sample_event(i: u64) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_context(&context(None))
        .with_outcome(Outcome::Success)
        .with_duration(Duration::from_micros(42))
        .with_resource(Resource::new("dashboard", i.to_string()))
}

/// CPU time a thread has run, from its scheduler statistics file (zero if unreadable).
fn schedstat_cpu(path: impl AsRef<Path>) -> Duration {
    let stat = fs::read_to_string(path).unwrap_or_default();
    Duration::from_nanos(stat.split_whitespace().next().and_then(|ns| ns.parse().ok()).unwrap_or(0))
}

/// CPU time this thread has run (Linux; zero elsewhere).
fn thread_cpu() -> Duration {
    schedstat_cpu("/proc/thread-self/schedstat")
}

/// CPU time of this process's thread named `name` (Linux; zero elsewhere).
fn named_thread_cpu(name: &str) -> Duration {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else { return Duration::ZERO };
    tasks
        .flatten()
        .filter(|task| fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name))
        .map(|task| schedstat_cpu(task.path().join("schedstat")))
        .sum()
}

fn throughput(dir: &Path) {
    section("5. Sustained throughput of one FileWriter vs. raw sequential writes to the same disk");
    // Best of three rounds on fresh files, for both sides: the first writes into never-touched
    // memory of this virtual machine pay the host's first-touch faults inside the kernel's copy
    // into the page cache, which says nothing about either writer.
    let events = 1_000_000u64;
    let mut best: Option<(Duration, u64, WriterStats, Duration, Duration)> = None;
    for _ in 0..3 {
        let path = fresh(dir, "throughput-ours.log");
        let (writer, guard) = FileWriter::builder(&path).build().unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        let ctx = context(Some(logger));
        let start = Instant::now();
        let writer_cpu = named_thread_cpu("audit-file-writ");
        let producers_cpu = two_producers(&ctx, events);
        let produced = start.elapsed();
        writer.flush().unwrap();
        let took = start.elapsed();
        let writer_cpu = named_thread_cpu("audit-file-writ") - writer_cpu;
        let per_event = |cpu: Duration| cpu.as_nanos() as f64 / events as f64;
        eprintln!(
            "round: producers done after {produced:.2?}, written and fsynced after {took:.2?}; \
             CPU per event: producers {:.0} ns, writer {:.0} ns",
            per_event(producers_cpu),
            per_event(writer_cpu)
        );
        guard.shutdown().unwrap();
        let bytes = fs::metadata(&path).unwrap().len();
        assert_eq!(count_lines(&path), events as usize);
        if best.as_ref().is_none_or(|(t, ..)| took < *t) {
            best = Some((took, bytes, writer.stats(), producers_cpu, writer_cpu));
        }
        let _ = fs::remove_file(&path);
    }
    let (took, bytes, stats, producers_cpu, writer_cpu) = best.unwrap();

    let mut raw_best = Duration::MAX;
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..3 {
        let raw_path = fresh(dir, "throughput-raw.bin");
        let mut raw = fs::File::create(&raw_path).unwrap();
        let start = Instant::now();
        let mut written = 0;
        while written < bytes {
            raw.write_all(&chunk).unwrap();
            written += chunk.len() as u64;
        }
        raw.sync_all().unwrap();
        raw_best = raw_best.min(start.elapsed());
        let _ = fs::remove_file(&raw_path);
    }

    let mb = |b: u64, d: Duration| b as f64 / 1e6 / d.as_secs_f64();
    println!("| best of 3 rounds | events/s | MB/s |\n| --- | ---: | ---: |");
    println!("| raw sequential write (1 MiB writes + fsync), same bytes | | {:.0} |", mb(bytes, raw_best));
    println!(
        "| `FileWriter`, 2 producer threads, until written and fsynced | {:.0} | {:.0} |",
        events as f64 / took.as_secs_f64(),
        mb(bytes, took)
    );
    println!(
        "\n**{:.2} M events/s** (goal ≥ 1 M/s), {:.0}% of the disk's raw speed; average line {} bytes",
        events as f64 / took.as_secs_f64() / 1e6,
        100.0 * mb(bytes, took) / mb(bytes, raw_best),
        bytes / events
    );
    println!(
        "writer: {} write calls ({:.0} events, {:.0} KiB each on average), {} fsyncs; \
         {:.0}% of the lines formatted by their callers (the writer was over half a queue behind)",
        stats.batches,
        events as f64 / stats.batches as f64,
        bytes as f64 / 1024.0 / stats.batches as f64,
        stats.syncs,
        100.0 * stats.formatted_by_callers as f64 / events as f64
    );
    let per_event = |cpu: Duration| cpu.as_nanos() as f64 / events as f64;
    println!(
        "CPU per event: producers {:.0} ns, writer thread {:.0} ns ({:.1} of 2 cores busy on average)",
        per_event(producers_cpu),
        per_event(writer_cpu),
        (producers_cpu + writer_cpu).as_secs_f64() / took.as_secs_f64()
    );
}

/// Whether rotating with gzip makes callers wait: the same steady load through rotations every
/// 64 MiB, without and with compression. Compression runs on a thread of its own; were it on the
/// writer thread, the queue would fill while a file is compressed and callers would wait for it.
fn rotation_stalls(dir: &Path) {
    section("Rotation with gzip vs. without: what callers wait for");
    println!("| rotation every 64 MiB | events/s | rotations | longest `log` call | p99.99 `log` call |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for compress in [false, true] {
        let sub = dir.join(if compress { "rotation-gz" } else { "rotation-plain" });
        let _ = fs::remove_dir_all(&sub);
        fs::create_dir_all(&sub).unwrap();
        let rotation = audit_core::writer::Rotation::by_size(64 << 20).compress(compress);
        let (writer, guard) = FileWriter::builder(sub.join("audit.log")).rotation(rotation).build().unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        let ctx = context(None);
        let events = 1_000_000u64;
        let mut calls = Vec::with_capacity(events as usize);
        let start = Instant::now();
        for i in 0..events {
            let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
                .with_context(&ctx)
                .with_outcome(Outcome::Success)
                .with_resource(Resource::new("dashboard", i.to_string()));
            let began = Instant::now();
            logger.log(event).unwrap();
            calls.push(began.elapsed());
            // A steady load the writer keeps up with (about 250,000 events/s), not a burst.
            if i % 100 == 99 {
                while start.elapsed() < Duration::from_nanos(i * 4000) {
                    std::hint::spin_loop();
                }
            }
        }
        let took = start.elapsed();
        guard.shutdown().unwrap();
        calls.sort();
        println!(
            "| {} | {:.0} | {} | {:.2?} | {:.2?} |",
            if compress { "with gzip" } else { "without compression" },
            events as f64 / took.as_secs_f64(),
            writer.stats().rotations,
            calls[calls.len() - 1],
            calls[calls.len() * 9999 / 10000]
        );
        let _ = fs::remove_dir_all(&sub);
    }
}

fn format_cost() {
    section("Formatting cost (one event → one ECS line)");
    let format = audit_core::EcsFormat::default();
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut format_all = |events: &[AuditEvent]| format_each(&format, events, &mut buffer);
    // Best of 5 rounds, each on events never formatted before.
    let (mut own, mut shared) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let events: Vec<AuditEvent> = (0..100_000).map(sample_event).collect();
        own = own.min(format_all(&events));
        let ctx = context(None);
        let events: Vec<AuditEvent> = (0..100_000).map(|i| sample_event(i).with_context(&ctx)).collect();
        shared = shared.min(format_all(&events));
    }
    println!("{own:.0} ns per event, 100,000 events each with a context of its own (cache-cold)");
    println!(
        "{shared:.0} ns per event, 100,000 events of one context (a request's, a job's: its user, session, \
         space, client and trace are serialized once)"
    );
    let hot: Vec<AuditEvent> = (0..64).map(sample_event).collect();
    let hot_rounds = (0..20_000).map(|_| format_all(&hot)).fold(f64::MAX, f64::min);
    println!("{hot_rounds:.0} ns per event, 64 events formatted over and over (cache-hot; best of 20,000 rounds)");
}

/// Nanoseconds per event of formatting each of `events` with `format` into `buffer` (emptied
/// as it fills).
fn format_each(format: &audit_core::EcsFormat, events: &[AuditEvent], buffer: &mut Vec<u8>) -> f64 {
    let start = Instant::now();
    for event in events {
        format.write_line(event, buffer);
        buffer.push(b'\n');
        if buffer.len() > (1 << 20) - 4096 {
            buffer.clear();
        }
    }
    start.elapsed().as_nanos() as f64 / events.len() as f64
}

/// OCSF lines against ECS lines of the same events, in interleaved rounds: events each with a
/// context of its own, and events of one shared context (whose fields ECS serializes once).
fn ocsf_cost() {
    section("OCSF formatting against ECS formatting of the same events (interleaved rounds)");
    let ecs = audit_core::EcsFormat::default();
    let ocsf = audit_core::EcsFormat::ocsf();
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut format_all =
        |format: &audit_core::EcsFormat, events: &[AuditEvent]| format_each(format, events, &mut buffer);
    println!(
        "| round | own contexts: ECS / OCSF, ns per event | ratio | one context: ECS / OCSF, ns per event | ratio |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let (mut own_ratios, mut shared_ratios) = (Vec::new(), Vec::new());
    for round in 1..=5 {
        // Fresh events for each format (a context caches what ECS made of it).
        let own = |_: ()| (0..100_000).map(sample_event).collect::<Vec<AuditEvent>>();
        let (ecs_own, ocsf_own) = (format_all(&ecs, &own(())), format_all(&ocsf, &own(())));
        let shared = |_: ()| {
            let ctx = context(None);
            (0..100_000).map(|i| sample_event(i).with_context(&ctx)).collect::<Vec<AuditEvent>>()
        };
        let (ecs_shared, ocsf_shared) = (format_all(&ecs, &shared(())), format_all(&ocsf, &shared(())));
        println!(
            "| {round} | {ecs_own:.0} / {ocsf_own:.0} | {:.2} | {ecs_shared:.0} / {ocsf_shared:.0} | {:.2} |",
            ocsf_own / ecs_own,
            ocsf_shared / ecs_shared
        );
        own_ratios.push(ocsf_own / ecs_own);
        shared_ratios.push(ocsf_shared / ecs_shared);
    }
    println!(
        "\nOCSF / ECS, medians: own contexts **{:.2}**, one context **{:.2}** (goal ≤ 1.2)",
        median(own_ratios),
        median(shared_ratios)
    );
}

/// The sustained load: 2 threads log `events` in all through the context's logger, each as fast
/// as it can; their CPU time.
fn two_producers(ctx: &AuditContext, events: u64) -> Duration {
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let ctx = ctx.clone();
            // Named, so that a profile tells them from the main thread.
            std::thread::Builder::new()
                .name(format!("producer-{t}"))
                .spawn(move || {
                    let event =
                        AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_context(&ctx).with_outcome(Outcome::Success);
                    let logger = ctx.logger().unwrap();
                    let cpu = thread_cpu();
                    for i in 0..events / 2 {
                        let id = (t * events + i).to_string();
                        logger.log(event.clone().with_resource(Resource::new("dashboard", id))).unwrap();
                    }
                    thread_cpu() - cpu
                })
                .unwrap()
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// One round of the sustained-throughput load (2 producers, `events` in all) on a writer with or
/// without the line chain: how long until everything is written and synced, and the file's size.
fn chained_round(dir: &Path, events: u64, chain: bool) -> (Duration, u64, Duration) {
    let path = fresh(dir, "chain-round.log");
    let mut builder = FileWriter::builder(&path);
    if chain {
        builder = builder.chain(audit_core::chain::ChainHash::Sha256);
    }
    let (writer, guard) = builder.build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let ctx = context(Some(logger));
    let start = Instant::now();
    let (writer_cpu, chainer_cpu) = (named_thread_cpu("audit-file-writ"), named_thread_cpu("audit-chainer"));
    let producers_cpu = two_producers(&ctx, events);
    writer.flush().unwrap();
    let took = start.elapsed();
    let writer_cpu = named_thread_cpu("audit-file-writ") - writer_cpu;
    let chainer_cpu = named_thread_cpu("audit-chainer") - chainer_cpu;
    let stats = writer.stats();
    let per = |cpu: Duration| cpu.as_nanos() as f64 / events as f64;
    eprintln!(
        "round (chain {chain}): writer thread {:.0} ns per event, chainer thread {:.0} ns; {:.0}% formatted by callers",
        per(writer_cpu),
        per(chainer_cpu),
        100.0 * stats.formatted_by_callers as f64 / events as f64
    );
    guard.shutdown().unwrap();
    let bytes = fs::metadata(&path).unwrap().len();
    assert_eq!(count_lines(&path), events as usize);
    let _ = fs::remove_file(&path);
    (took, bytes, producers_cpu)
}

fn chain_cost(dir: &Path) {
    section("Chain: a chained FileWriter vs. the same writer unchained (interleaved rounds)");
    let events = 1_000_000u64;
    println!("| round | unchained events/s | chained events/s | chained / unchained | producers' CPU per event, unchained → chained |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let mut ratios = Vec::new();
    let mut chained_rates = Vec::new();
    for round in 1..=5 {
        let (plain, _, plain_cpu) = chained_round(dir, events, false);
        let (chained, _, chained_cpu) = chained_round(dir, events, true);
        let rate = |took: Duration| events as f64 / took.as_secs_f64();
        let ratio = rate(chained) / rate(plain);
        ratios.push(ratio);
        chained_rates.push(rate(chained));
        let per = |cpu: Duration| cpu.as_nanos() as f64 / events as f64;
        println!(
            "| {round} | {:.0} | {:.0} | {ratio:.2} | {:.0} → {:.0} ns |",
            rate(plain),
            rate(chained),
            per(plain_cpu),
            per(chained_cpu)
        );
    }
    ratios.sort_by(f64::total_cmp);
    chained_rates.sort_by(f64::total_cmp);
    println!(
        "\nchained: **{:.2} M events/s** median (goal ≥ 1 M/s); chained / unchained median **{:.2}**",
        chained_rates[2] / 1e6,
        ratios[2]
    );
}

/// The caller-side cost of section 1 (single thread, bursts of 50,000 within the queue's
/// capacity) on an unchained and a chained writer, in turn: ns per call, and how many lines the
/// callers formatted (and, chained, hashed) themselves.
fn chain_caller_cost(dir: &Path) {
    section("Chain: the caller-side cost of section 1, unchained vs. chained writer (interleaved rounds)");
    let (calls, burst) = (500_000, 50_000);
    let one = |chain: bool| {
        let path = fresh(dir, "chain-caller.log");
        let mut builder = FileWriter::builder(&path);
        if chain {
            builder = builder.chain(audit_core::chain::ChainHash::Sha256);
        }
        let (writer, guard) = builder.build().unwrap();
        let ctx = context(Some(AuditLogger::builder().sink(writer.clone()).build()));
        let ns =
            ctx.in_scope(|| per_call(calls, burst, |i| drop(black_box(audited_get(i))), || writer.flush().unwrap()));
        let by_callers = writer.stats().formatted_by_callers;
        guard.shutdown().unwrap();
        assert_eq!(count_lines(&path), calls as usize);
        let _ = fs::remove_file(&path);
        (ns, by_callers)
    };
    println!("| round | unchained, ns per call | chained, ns per call | chained / unchained | lines formatted by callers, unchained / chained |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let mut ratios = Vec::new();
    for round in 1..=5 {
        let (plain, plain_by_callers) = one(false);
        let (chained, chained_by_callers) = one(true);
        ratios.push(chained / plain);
        println!(
            "| {round} | {plain:.0} | {chained:.0} | {:.2} | {plain_by_callers} / {chained_by_callers} |",
            chained / plain
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!("\ncaller-side cost, chained / unchained: **{:.2}** median (goal: unchanged)", ratios[2]);
}

fn verify_speed(dir: &Path) {
    section("Verify: checking a chained trail vs. reading its files (`cat FILES > /dev/null`)");
    let path = fresh(dir, "verify.log");
    let (writer, guard) = FileWriter::builder(&path)
        .rotation(audit_core::writer::Rotation::by_size(64 << 20))
        .chain(audit_core::chain::ChainHash::Sha256)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    let ctx = context(Some(logger.clone()));
    let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_context(&ctx).with_outcome(Outcome::Success);
    for i in 0..1_000_000u64 {
        logger.log(event.clone().with_resource(Resource::new("dashboard", i.to_string()))).unwrap();
    }
    guard.shutdown().unwrap();
    let mut files = audit_core::trail::rotated_files(&path).unwrap();
    files.push(path.clone());
    let bytes: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    let mut ratios = Vec::new();
    // The goal is against the disk's sequential read speed: drop the page cache before each
    // read where allowed (root), so both read the disk; otherwise both read the cache.
    let drop_cache = || fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
    let from = if drop_cache() { "the disk (page cache dropped before each read)" } else { "the page cache" };
    println!("reading from {from}\n");
    println!(
        "| round | cat FILES > /dev/null, MB/s | audit verify, MB/s | verify / cat |\n| ---: | ---: | ---: | ---: |"
    );
    for round in 1..=5 {
        drop_cache();
        let start = Instant::now();
        let status = Command::new("cat").args(&files).stdout(std::process::Stdio::null()).status().unwrap();
        assert!(status.success());
        let cat = start.elapsed();
        drop_cache();
        let start = Instant::now();
        let report = audit_core::verify::verify_trail(&path, &audit_core::verify::Options::default()).unwrap();
        let verify = start.elapsed();
        assert!(report.is_intact() && report.verified == 1_000_000, "{:?}", report.findings);
        let mb = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
        ratios.push(mb(verify) / mb(cat));
        println!("| {round} | {:.0} | {:.0} | {:.2} |", mb(cat), mb(verify), mb(verify) / mb(cat));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "\n{} files, {} MB; verify / cat median **{:.2}** (goal ≥ 0.5)",
        files.len(),
        bytes / 1_000_000,
        ratios[2]
    );
    for file in files {
        let _ = fs::remove_file(file);
    }
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    let dir = bench_dir();
    println!(
        "# audit-core benchmarks ({} cores; files in {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.display()
    );
    if run("caller") {
        caller_cost(&dir);
    }
    if run("burst") {
        burst_loss(&dir);
    }
    if run("filter") {
        filter_cost();
    }
    if run("durable") {
        durable_group_commit(&dir);
    }
    if run("format") {
        format_cost();
    }
    if run("metrics") {
        metrics_cost(&dir);
    }
    if run("ocsf") {
        ocsf_cost();
    }
    if run("throughput") {
        throughput(&dir);
    }
    if run("rotation") {
        rotation_stalls(&dir);
    }
    if run("chain") {
        chain_cost(&dir);
    }
    if run("chain-caller") {
        chain_caller_cost(&dir);
    }
    if run("verify") {
        verify_speed(&dir);
    }
    if wanted.iter().any(|w| w == "write") {
        // Only when named: the figure compared with another binary.
        results_bench::write_cost(&dir);
    }
    if run("results") {
        results_bench::results_cost(&dir);
    }
    if run("diff") {
        results_bench::diff_cost();
    }
    if run("long-trail") {
        trail_bench::long_trail(&dir);
    }
    // Only when named (they need servers): `ship` for all, or `ship-pg`, `ship-nats`, `ship-otlp`, `ship-lag`.
    let shipping = |name: &str| wanted.iter().any(|w| w == "ship" || w == name);
    if shipping("ship-pg") {
        ship_bench::memory(&dir);
        ship_bench::postgres_rate(&dir);
    }
    if shipping("ship-nats") {
        ship_bench::nats_rate(&dir);
    }
    if shipping("ship-otlp") {
        ship_bench::otlp_rate(&dir);
    }
    if shipping("ship-lag") {
        ship_bench::lag_and_caller_cost(&dir);
    }
    if std::env::var_os("AUDIT_BENCH_DIR").is_none() {
        let _ = fs::remove_dir_all(&dir);
    }
}
