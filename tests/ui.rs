//! Compile-time checks of `#[audited]`: each file under `tests/ui/` is a mistake a user can make,
//! and its `.stderr` is the error they get. One `TestCases` run keeps this a single build.
//!
//! The snapshots pin rustc's wording to the toolchain in `rust-toolchain.toml`; regenerate them
//! with `TRYBUILD=overwrite cargo test --test ui` after a toolchain change and review the diff.

#[test]
fn compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
