//! The process-wide logger: before one is installed, events are counted and reported, never
//! silently lost; `install` works once.

use audit_core::dispatch::unlogged_events;
use audit_core::logger::LogError;
use audit_core::{audited, AuditLogger, MemorySink};

#[audited(action = "widget_get", category = "database")]
fn read_widget() -> u8 {
    7
}

#[test]
fn no_logger_then_global_install() {
    // No logger anywhere: the call still works, the event is counted as unlogged.
    let before = unlogged_events();
    assert_eq!(read_widget(), 7);
    assert_eq!(unlogged_events(), before + 1);
    let event = audit_core::AuditEvent::new(&audit_core::kibana::SPACE_GET);
    assert!(matches!(audit_core::dispatch::log(event), Err(LogError::NoLogger)));

    let memory = MemorySink::new();
    AuditLogger::builder().sink(memory.clone()).build().install().unwrap();
    let second = AuditLogger::builder().build().install();
    assert!(second.is_err(), "only the first install wins");

    assert_eq!(read_widget(), 7);
    assert_eq!(memory.actions(), ["widget_get"]);
    assert_eq!(unlogged_events(), before + 2);
}
