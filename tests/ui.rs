//! Compile-time checks of `#[audited]`: each file under `tests/ui/` is a mistake a user can make,
//! and its `.stderr` is the error they get. One `TestCases` run keeps this a single build.
//!
//! The snapshots hold rustc's own wording too, so they are pinned to the toolchain CI uses
//! (1.95): on another one the test is reported as ignored, not passed. After a toolchain change:
//! `TRYBUILD=overwrite cargo test --test ui`, review the diff, update the version below.

#[test]
#[rustversion::attr(not(stable(1.95)), ignore = "the UI snapshots were recorded with rustc 1.95")]
fn compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
