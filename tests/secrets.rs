//! Secrets never reach a sink in clear: values marked `secret(…)` or typed `Secret<T>` are
//! written as their HMAC, labels with an always-masked name as `[redacted]`, credentials in a
//! request's query as `[redacted]`. Every sink's bytes are scanned for the clear text.

mod common;

use audit_core::secret::{Concealer, Secret};
use audit_core::sink::{SyncFileSink, TracingSink};
use audit_core::trail::read_audit_trail;
use audit_core::{audited, AuditContext, AuditLogger, FileWriter, MemorySink, User};
use common::{Captured, TempDir};

const EMAIL: &str = "alice.secret@example.com";
const TOKEN: &str = "tok-9f8e7d6c5b4a";
const PASSWORD: &str = "hunter2-correct-horse";
const KEY: &[u8] = b"an investigator's key, kept elsewhere";

#[audited(action = "user_invite", category = "iam", type = "creation",
          message = "Inviting {email_hash}", fields(email_hash = secret(email), token = token, password = password))]
fn invite(email: &str, token: Secret<String>, password: &str) -> Result<(), String> {
    let _ = (email, token.expose(), password);
    Ok(())
}

fn assert_no_clear_text(sink: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [EMAIL, TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "{sink} holds `{secret}` in clear:\n{text}");
    }
}

#[test]
fn no_sink_ever_holds_a_secret_in_clear() {
    let dir = TempDir::new("secrets");
    let memory = MemorySink::new();
    let (writer, guard) = FileWriter::builder(dir.path("writer.log")).build().unwrap();
    let logger = AuditLogger::builder()
        .sink(memory.clone())
        .sink(SyncFileSink::open(dir.path("sync.log")).unwrap())
        .sink(writer)
        .sink(TracingSink::new())
        .hmac_key(KEY.to_vec())
        .build();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt().json().with_writer({
        let captured = captured.clone();
        move || captured.clone()
    });
    let ctx = AuditContext::builder().user(User::named("admin")).logger(logger.clone()).build();
    tracing::subscriber::with_default(subscriber.finish(), || {
        ctx.in_scope(|| invite(EMAIL, Secret::new(TOKEN.to_owned()), PASSWORD)).unwrap();
    });
    guard.shutdown().unwrap();

    let lines: Vec<String> = memory.lines();
    assert_no_clear_text("memory", lines.join("\n").as_bytes());
    assert_no_clear_text("sync file", &std::fs::read(dir.path("sync.log")).unwrap());
    assert_no_clear_text("file writer", &std::fs::read(dir.path("writer.log")).unwrap());
    assert_no_clear_text("tracing", &captured.0.lock().unwrap());

    // What is there instead: the HMAC an investigator can recompute with the key.
    let investigator = Concealer::new(KEY.to_vec());
    let event = &read_audit_trail(dir.path("writer.log")).unwrap().events[0];
    assert_eq!(event["labels"]["email_hash"], investigator.hash(EMAIL));
    assert_eq!(event["labels"]["token"], investigator.hash(TOKEN));
    assert_eq!(event["labels"]["password"], "[redacted]", "an always-masked name");
    assert_eq!(event["message"], format!("Inviting {}", investigator.hash(EMAIL)));
    assert!(String::from_utf8_lossy(&captured.0.lock().unwrap()).contains(&investigator.hash(TOKEN)));
}

#[test]
fn without_a_key_secrets_are_hashed_under_a_random_one() {
    let (logger, memory) = AuditLogger::capture();
    assert!(logger.concealer().is_random());
    let ctx = AuditContext::builder().logger(logger).build();
    ctx.in_scope(|| invite(EMAIL, Secret::new(TOKEN.to_owned()), PASSWORD)).unwrap();
    let event = &memory.json()[0];
    let email = event["labels"]["email_hash"].as_str().unwrap();
    assert!(email.starts_with("hmac-sha256:"));
    assert_ne!(email, Concealer::new(KEY.to_vec()).hash(EMAIL));
    assert_no_clear_text("memory", memory.lines().join("\n").as_bytes());
}
