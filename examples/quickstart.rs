//! A little dashboard service, audited. Run with `cargo run --example quickstart`.
//!
//! The audit trail goes to stdout as ECS JSON lines (one per event); a short narration of what the
//! service is doing goes to stderr, so `cargo run --example quickstart 2>/dev/null | jq .` shows
//! just the trail.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use audit_core::{audited, kibana, AuditContext, AuditErrorCode, AuditLogger, ConsoleSink, EcsFormat, User};

#[derive(Clone, Debug)]
pub struct Dashboard {
    pub id: u64,
    pub title: String,
}

#[derive(Debug)]
pub enum ServiceError {
    Forbidden(&'static str),
    NotFound(u64),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Forbidden(why) => write!(f, "forbidden: {why}"),
            ServiceError::NotFound(id) => write!(f, "dashboard {id} does not exist"),
        }
    }
}

impl std::error::Error for ServiceError {}

/// Gives audit events an `error.code`.
impl AuditErrorCode for ServiceError {
    fn audit_error_code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            ServiceError::Forbidden(_) => "forbidden".into(),
            ServiceError::NotFound(_) => "not_found".into(),
        })
    }
}

/// Role check, run by `#[audited(authorize = ...)]` before any write.
fn require_editor(ctx: &AuditContext) -> Result<(), ServiceError> {
    match ctx.user() {
        Some(user) if user.roles.iter().any(|r| r == "editor") => Ok(()),
        _ => Err(ServiceError::Forbidden("writing dashboards requires the editor role")),
    }
}

#[derive(Default)]
pub struct DashboardService {
    store: Mutex<BTreeMap<u64, Dashboard>>,
}

impl DashboardService {
    /// A write: logged with outcome `unknown` after authorization and before the body runs.
    #[audited(
        action = kibana::SAVED_OBJECT_CREATE,
        authorize = require_editor,
        resource(type = "dashboard", id = dashboard.id, name = dashboard.title)
    )]
    pub fn create(&self, dashboard: Dashboard) -> Result<(), ServiceError> {
        self.store.lock().unwrap().insert(dashboard.id, dashboard);
        Ok(())
    }

    /// The long form: everything spelt out.
    #[audited(
        action = "saved_object_update",
        category = "database",
        type = "change",
        timing = "before",
        authorize = require_editor,
        resource(type = "dashboard", id = id)
    )]
    pub fn rename(&self, id: u64, title: &str) -> Result<(), ServiceError> {
        let mut store = self.store.lock().unwrap();
        let dashboard = store.get_mut(&id).ok_or(ServiceError::NotFound(id))?;
        dashboard.title = title.to_owned();
        Ok(())
    }

    /// A read: logged after it completes, `success` or `failure` with `error.*`.
    #[audited(action = kibana::SAVED_OBJECT_GET, resource(type = "dashboard", id = id))]
    pub fn get(&self, id: u64) -> Result<Dashboard, ServiceError> {
        self.store.lock().unwrap().get(&id).cloned().ok_or(ServiceError::NotFound(id))
    }

    /// Bulk: one event per dashboard, all with the call's `trace.id`.
    #[audited(action = kibana::SAVED_OBJECT_GET, resource(type = "dashboard", each = ids))]
    pub fn bulk_get(&self, ids: &[u64]) -> Result<Vec<Dashboard>, ServiceError> {
        let store = self.store.lock().unwrap();
        ids.iter().map(|id| store.get(id).cloned().ok_or(ServiceError::NotFound(*id))).collect()
    }

    #[audited(action = kibana::SAVED_OBJECT_DELETE, authorize = require_editor, resource(type = "dashboard", id = id))]
    pub fn delete(&self, id: u64) -> Result<(), ServiceError> {
        self.store.lock().unwrap().remove(&id).map(drop).ok_or(ServiceError::NotFound(id))
    }
}

/// A request's context: who, from where, in which space, with one trace id for its events.
fn request(user: &str, roles: &[&str], session: &str, ip: &str) -> AuditContext {
    AuditContext::builder()
        .user(User::named(user).with_id(format!("u_{user}")).with_roles(roles.iter().copied()))
        .session_id(session)
        .space_id("default")
        .client_ip(ip.parse().expect("valid IP"))
        .new_trace_id()
        .build()
}

fn main() {
    AuditLogger::builder()
        .sink(ConsoleSink::stdout())
        .format(EcsFormat::default().with_service_name("quickstart"))
        .build()
        .install()
        .expect("the only audit logger of this process");

    let service = DashboardService::default();
    let say = |what: &str| eprintln!("-- {what}");

    say("alice (editor) creates three dashboards");
    request("alice", &["editor"], "s-alice", "10.0.0.7").in_scope(|| {
        for (id, title) in [(1, "Sales"), (2, "Ops"), (3, "Security")] {
            service.create(Dashboard { id, title: title.into() }).unwrap();
        }
    });

    say("alice renames dashboard 1 and reads it back");
    request("alice", &["editor"], "s-alice", "10.0.0.7").in_scope(|| {
        service.rename(1, "Revenue").unwrap();
        assert_eq!(service.get(1).unwrap().title, "Revenue");
    });

    say("bob (viewer) bulk-reads three dashboards");
    request("bob", &["viewer"], "s-bob", "10.0.0.9").in_scope(|| {
        assert_eq!(service.bulk_get(&[1, 2, 3]).unwrap().len(), 3);
    });

    say("bob tries to delete dashboard 2: denied, the body never runs");
    request("bob", &["viewer"], "s-bob", "10.0.0.9").in_scope(|| {
        assert!(matches!(service.delete(2), Err(ServiceError::Forbidden(_))));
    });

    say("alice reads dashboard 99, which does not exist");
    request("alice", &["editor"], "s-alice", "10.0.0.7").in_scope(|| {
        assert!(matches!(service.get(99), Err(ServiceError::NotFound(99))));
    });

    say("alice deletes dashboard 3");
    request("alice", &["editor"], "s-alice", "10.0.0.7").in_scope(|| service.delete(3).unwrap());

    say(&format!("{} dashboards left: the audit trail is on stdout", service.store.lock().unwrap().len()));
}
