//! Write results and diffs (BENCHMARKS.md, "Write results and diffs"):
//!
//! - `write`: the caller-side cost of an audited write with results off (the figure compared
//!   with the binary of the commit before results existed, run in turn);
//! - `results`: a write with results on (intent and result events), and with a recorded change,
//!   against the same write with results off, in interleaved rounds;
//! - `diff`: the diff of a 50-field struct with 3 changed fields against the `json-patch`
//!   crate's `diff` of the same values, as `serde_json::Value`s and from the structs.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use audit_core::changes::{self, DiffSettings};
use audit_core::{audited, kibana, AuditContext, AuditLogger, FileWriter};
use serde::Serialize;

use super::{context, count_lines, fresh, median, per_call, section, NotFound};

#[audited(action = kibana::SAVED_OBJECT_UPDATE, resource(type = "dashboard", id = id))]
fn audited_update(id: u64) -> Result<u64, NotFound> {
    Ok(black_box(id))
}

#[audited(action = kibana::SAVED_OBJECT_UPDATE, results, resource(type = "dashboard", id = id))]
fn audited_update_with_result(id: u64) -> Result<u64, NotFound> {
    Ok(black_box(id))
}

#[derive(Clone, Serialize)]
struct Small {
    title: String,
    description: String,
    version: u64,
}

#[audited(action = kibana::SAVED_OBJECT_UPDATE, results, resource(type = "dashboard", id = id))]
fn audited_update_with_diff(id: u64, before: &Small, after: &Small) -> Result<u64, NotFound> {
    changes::update(before, after);
    Ok(black_box(id))
}

const CALLS: u64 = 200_000;
const BURST: u64 = 10_000;

/// ns per call of `call` on a fresh `FileWriter`, every line checked to be there.
fn write_round(dir: &Path, name: &str, lines_per_call: usize, call: impl Fn(&AuditContext, u64)) -> f64 {
    let path = fresh(dir, name);
    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let ctx = context(Some(AuditLogger::builder().sink(writer.clone()).build()));
    let ns = per_call(CALLS, BURST, |i| call(&ctx, i), || writer.flush().unwrap());
    if std::env::var_os("AUDIT_BENCH_VERBOSE").is_some() {
        eprintln!("{name}: {ns:.0} ns, lines formatted by callers: {}", writer.stats().formatted_by_callers);
    }
    drop(guard);
    assert_eq!(count_lines(&path), CALLS as usize * lines_per_call);
    ns
}

fn without_results(ctx: &AuditContext, i: u64) {
    ctx.in_scope(|| drop(black_box(audited_update(i))));
}

/// The write with results off alone: the figure to compare across binaries.
pub(crate) fn write_cost(dir: &Path) {
    section("Write results: caller-side cost of an audited write, results off (single thread, bursts of 10,000)");
    let rounds: Vec<f64> = (0..5).map(|_| write_round(dir, "write-off.log", 1, without_results)).collect();
    println!("write, results off: median **{:.1} ns** per call (rounds: {:.0?})", median(rounds.clone()), rounds);
}

pub(crate) fn results_cost(dir: &Path) {
    section("Write results: a write with results on against off (interleaved rounds, ns per call)");
    let before = Small { title: "Sales".into(), description: "Quarterly".into(), version: 1 };
    let after = Small { title: "Sales 2026".into(), description: "Quarterly".into(), version: 2 };
    let (mut off, mut on, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        off.push(write_round(dir, "results-off.log", 1, without_results));
        on.push(write_round(dir, "results-on.log", 2, |ctx, i| {
            ctx.in_scope(|| drop(black_box(audited_update_with_result(i))))
        }));
        diff.push(write_round(dir, "results-diff.log", 2, |ctx, i| {
            ctx.in_scope(|| drop(black_box(audited_update_with_diff(i, &before, &after))))
        }));
    }
    let ratios = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    println!("| write | ns per call (median of 5) | / results off, pair by pair |\n| --- | ---: | ---: |");
    println!("| results off: the intent alone | {:.1} | 1 |", median(off.clone()));
    println!("| results on: intent and result | {:.1} | **{:.2}** |", median(on.clone()), ratios(&on, &off));
    println!(
        "| results on, a 3-field change recorded (diff of 2 fields) | {:.1} | {:.2} |",
        median(diff.clone()),
        ratios(&diff, &off)
    );
    println!("\ngoal: results on ≤ 1.3 × results off");
}

macro_rules! wide {
    ($($field:ident),*) => {
        /// A record of 50 fields.
        #[derive(Clone, Serialize)]
        struct Wide { $($field: String,)* }

        fn wide(seed: &str) -> Wide {
            Wide { $($field: format!("{}-{}", stringify!($field), seed),)* }
        }
    };
}

wide!(
    f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22,
    f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37, f38, f39, f40, f41, f42, f43, f44, f45,
    f46, f47, f48, f49
);

/// ns per iteration of `f` over `n` iterations.
fn per_iteration(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

pub(crate) fn diff_cost() {
    section("Diffs: a 50-field struct with 3 changed fields, ours against json-patch's `diff` (interleaved rounds)");
    let before = wide("a");
    let mut after = before.clone();
    after.f03 = "changed".into();
    after.f27 = "changed too".into();
    after.f48 = String::new();
    let (vb, va) = (serde_json::to_value(&before).unwrap(), serde_json::to_value(&after).unwrap());
    let settings = DiffSettings::new();
    assert_eq!(changes::diff(Some(&vb), Some(&va), &settings).ops.len(), 3);
    assert_eq!(json_patch::diff(&vb, &va).0.len(), 3);
    let n = 200_000;
    let (mut ours, mut theirs, mut ours_structs, mut theirs_structs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        ours.push(per_iteration(n, || drop(black_box(changes::diff(Some(black_box(&vb)), Some(&va), &settings)))));
        theirs.push(per_iteration(n, || drop(black_box(json_patch::diff(black_box(&vb), &va)))));
        ours_structs.push(per_iteration(n / 4, || {
            let (b, a) = (serde_json::to_value(black_box(&before)).unwrap(), serde_json::to_value(&after).unwrap());
            drop(black_box(changes::diff(Some(&b), Some(&a), &settings)))
        }));
        theirs_structs.push(per_iteration(n / 4, || {
            let (b, a) = (serde_json::to_value(black_box(&before)).unwrap(), serde_json::to_value(&after).unwrap());
            drop(black_box(json_patch::diff(&b, &a)))
        }));
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    println!("| diff | ours, ns | json-patch, ns | ours / json-patch, pair by pair |\n| --- | ---: | ---: | ---: |");
    println!(
        "| of the two `serde_json::Value`s (ours with old values) | {:.0} | {:.0} | **{:.2}** |",
        median(ours.clone()),
        median(theirs.clone()),
        ratio(&ours, &theirs)
    );
    println!(
        "| from the structs (`to_value` of both, then the diff) | {:.0} | {:.0} | {:.2} |",
        median(ours_structs.clone()),
        median(theirs_structs.clone()),
        ratio(&ours_structs, &theirs_structs)
    );
    println!("\ngoal: ours not slower (≤ 1.0)");
}
