//! Sinks and destinations the tests share: one that hangs until released, one that refuses while
//! switched off, and a destination that keeps the ids it is given.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use audit_core::ship::{DeliveryError, Destination, ShipRecord};
use audit_core::sink::{FailurePolicy, Record, SinkError};
use audit_core::AuditSink;

/// A sink that never finishes a write (or a flush) until released: a hung socket, a full queue.
#[derive(Clone, Default)]
pub struct Hung(Arc<(Mutex<bool>, Condvar)>);

impl Hung {
    pub fn wait(&self) {
        let mut released = self.0 .0.lock().unwrap();
        while !*released {
            released = self.0 .1.wait(released).unwrap();
        }
    }

    pub fn release(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
}

impl AuditSink for Hung {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        self.wait();
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        self.wait();
        Ok(())
    }
    fn describe(&self) -> String {
        "hung".to_owned()
    }
}

/// A sink that refuses every event (failing closed) while switched on.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    pub fn refuse(&self, refusing: bool) {
        self.0.store(refusing, Ordering::SeqCst);
    }
}

impl AuditSink for Switch {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        if self.0.load(Ordering::SeqCst) {
            return Err(FailurePolicy::FailClosed.failure(io::Error::other("down")));
        }
        Ok(())
    }
    fn is_accepting(&self) -> bool {
        !self.0.load(Ordering::SeqCst)
    }
    fn describe(&self) -> String {
        "switch".to_owned()
    }
}

/// A destination that keeps the ids of what it is given.
pub struct Ids(pub BTreeSet<String>);

impl Destination for Ids {
    fn name(&self) -> String {
        "collecting".into()
    }
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.0.extend(batch.iter().map(|record| record.id.clone()));
        Ok(())
    }
}
