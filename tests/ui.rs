//! Compile-time checks of `#[audited]`: each file under `tests/ui/` is a mistake a user can make,
//! and its `.stderr` is the error they get. One `TestCases` run keeps this a single build.
//!
//! The snapshots hold rustc's own wording too, so they are pinned to the toolchain CI uses
//! (`SNAPSHOT_RUSTC`); on another one the test says so and checks nothing. After a toolchain
//! change: `TRYBUILD=overwrite cargo test --test ui`, review the diff, update `SNAPSHOT_RUSTC`.

const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

#[test]
fn compile_errors() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc).arg("--version").output().expect("rustc runs");
    let version = String::from_utf8_lossy(&version.stdout);
    if !version.starts_with(SNAPSHOT_RUSTC) {
        eprintln!("UI snapshots were recorded with {SNAPSHOT_RUSTC}x; skipping them on {version}");
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
