//! The example service's application: dashboards and spaces in an embedded SQLite database,
//! login sessions, viewer and editor roles, bulk operations and a background export task.
//! Every operation is audited: the HTTP layer logs each request and makes its context ambient;
//! `#[audited]` logs each service operation; login and logout use the authentication events.
//!
//! Shared by `main.rs` (the runnable example) and `tests/service_e2e.rs` (which drives it over
//! real HTTP on a loopback port).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use audit_core::http::AuditLayer;
use audit_core::{
    audited, auth, changes, kibana, Action, AuditContext, AuditErrorCode, AuditLogger, AuditRefused, Category,
    EventType, User,
};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Scheduling an export creates a background task; the task reads the dashboard when it runs.
/// Two events, one at each end, linked by the request's `trace.id`.
pub const EXPORT_SCHEDULE: Action = Action::new("dashboard_export_schedule", Category::Database, EventType::Creation)
    .with_verbs("schedule an export of", "scheduling an export of", "scheduled an export of");
pub const EXPORT_RUN: Action = Action::new("dashboard_export_run", Category::Database, EventType::Access).with_verbs(
    "export",
    "exporting",
    "exported",
);

#[derive(Debug, PartialEq, Eq)]
pub enum ServiceError {
    Unauthenticated,
    /// A login with an unknown user or a wrong password.
    BadCredentials,
    Forbidden(&'static str),
    NotFound(String),
    Conflict(String),
    Invalid(String),
    AuditUnavailable(String),
    Database(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Unauthenticated => f.write_str("log in first"),
            ServiceError::BadCredentials => f.write_str("invalid username or password"),
            ServiceError::Forbidden(why) => write!(f, "forbidden: {why}"),
            ServiceError::NotFound(what) => write!(f, "{what} not found"),
            ServiceError::Conflict(what) => write!(f, "{what} already exists"),
            ServiceError::Invalid(why) => write!(f, "invalid request: {why}"),
            ServiceError::AuditUnavailable(why) => write!(f, "audit trail unavailable: {why}"),
            ServiceError::Database(why) => write!(f, "database error: {why}"),
        }
    }
}

impl AuditErrorCode for ServiceError {
    fn audit_error_code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(
            match self {
                ServiceError::Unauthenticated => "unauthenticated",
                ServiceError::BadCredentials => "bad_credentials",
                ServiceError::Forbidden(_) => "forbidden",
                ServiceError::NotFound(_) => "not_found",
                ServiceError::Conflict(_) => "conflict",
                ServiceError::Invalid(_) => "invalid",
                ServiceError::AuditUnavailable(_) => "audit_unavailable",
                ServiceError::Database(_) => "database",
            }
            .into(),
        )
    }
}

impl From<AuditRefused> for ServiceError {
    fn from(refused: AuditRefused) -> Self {
        ServiceError::AuditUnavailable(refused.to_string())
    }
}

impl From<rusqlite::Error> for ServiceError {
    fn from(error: rusqlite::Error) -> Self {
        ServiceError::Database(error.to_string())
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = match &self {
            ServiceError::Unauthenticated | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::AuditUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub id: String,
    pub title: String,
}

/// A dashboard as stored: what its writes' diffs are made of. `share_password` protects its
/// public link; the attributes of the writes mark it secret, so the trail holds only its HMAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredDashboard {
    pub title: String,
    pub share_password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub id: String,
    pub name: String,
}

fn roles_of(ctx: &AuditContext) -> Vec<String> {
    ctx.user().map(|user| user.roles.clone()).unwrap_or_default()
}

/// Viewers may read; editors may read and write.
fn require_viewer(ctx: &AuditContext) -> Result<(), ServiceError> {
    let roles = roles_of(ctx);
    if ctx.user().is_none() {
        Err(ServiceError::Unauthenticated)
    } else if roles.iter().any(|r| r == "viewer" || r == "editor") {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("reading requires the viewer role"))
    }
}

fn require_editor(ctx: &AuditContext) -> Result<(), ServiceError> {
    if ctx.user().is_none() {
        Err(ServiceError::Unauthenticated)
    } else if roles_of(ctx).iter().any(|r| r == "editor") {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("writing requires the editor role"))
    }
}

/// The space of the request being served (the ambient context's).
fn current_space() -> String {
    AuditContext::current().and_then(|ctx| ctx.space_id().map(str::to_owned)).unwrap_or_else(|| "default".to_owned())
}

/// Called with a description of each write once it reached the database.
type EffectHook = Box<dyn Fn(&str) + Send + Sync>;

/// The data layer: every operation on a resource the service owns is an audited function.
pub struct Store {
    db: Mutex<Connection>,
    /// Called after each write reaches the database: lets the tests see that the write's audit
    /// event was logged *before* its effect.
    effect_hook: Option<EffectHook>,
}

impl Store {
    pub fn open_in_memory() -> Result<Store, ServiceError> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(
            "CREATE TABLE spaces (id TEXT PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE dashboards (space TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL,
                                      share_password TEXT, PRIMARY KEY (space, id));
             CREATE TABLE exports (space TEXT NOT NULL, dashboard TEXT NOT NULL, content TEXT NOT NULL);
             INSERT INTO spaces VALUES ('default', 'Default');",
        )?;
        Ok(Store { db: Mutex::new(db), effect_hook: None })
    }

    fn effect(&self, what: &str) {
        if let Some(hook) = &self.effect_hook {
            hook(what);
        }
    }

    /// A write with results: its intent before the insert, its result (with the created
    /// attributes as a diff from nothing) after.
    #[audited(action = kibana::SAVED_OBJECT_CREATE, authorize = require_editor, results(secret = ["share_password"]),
              resource(type = "dashboard", id = dashboard.id, name = dashboard.title))]
    pub fn create_dashboard(&self, dashboard: &Dashboard) -> Result<(), ServiceError> {
        let space = current_space();
        let inserted = self.db.lock().unwrap().execute(
            "INSERT OR IGNORE INTO dashboards VALUES (?1, ?2, ?3, NULL)",
            params![space, dashboard.id, dashboard.title],
        )?;
        if inserted == 0 {
            return Err(ServiceError::Conflict(format!("dashboard {}", dashboard.id)));
        }
        self.effect(&format!("create dashboard {}", dashboard.id));
        changes::create(&StoredDashboard { title: dashboard.title.clone(), share_password: None });
        Ok(())
    }

    /// The stored attributes of a dashboard of the current space.
    fn stored(&self, id: &str) -> Result<Option<StoredDashboard>, ServiceError> {
        let space = current_space();
        Ok(self
            .db
            .lock()
            .unwrap()
            .query_row(
                "SELECT title, share_password FROM dashboards WHERE space = ?1 AND id = ?2",
                params![space, id],
                |row| Ok(StoredDashboard { title: row.get(0)?, share_password: row.get(1)? }),
            )
            .optional()?)
    }

    #[audited(action = kibana::SAVED_OBJECT_GET, authorize = require_viewer, resource(type = "dashboard", id = id))]
    pub fn get_dashboard(&self, id: &str) -> Result<Dashboard, ServiceError> {
        self.get_dashboard_unaudited(id)
    }

    /// Renames a dashboard, and sets or clears its share password when `share_password` is
    /// given. Its result carries the old and new attributes, the password as HMACs.
    #[audited(action = kibana::SAVED_OBJECT_UPDATE, authorize = require_editor, results(secret = ["share_password"]),
              resource(type = "dashboard", id = id))]
    pub fn update_dashboard(
        &self,
        id: &str,
        title: &str,
        share_password: Option<Option<&str>>,
    ) -> Result<(), ServiceError> {
        let space = current_space();
        let before = self.stored(id)?.ok_or_else(|| ServiceError::NotFound(format!("dashboard {id}")))?;
        let password = share_password.unwrap_or(before.share_password.as_deref());
        self.db.lock().unwrap().execute(
            "UPDATE dashboards SET title = ?3, share_password = ?4 WHERE space = ?1 AND id = ?2",
            params![space, id, title, password],
        )?;
        self.effect(&format!("update dashboard {id}"));
        let after = StoredDashboard { title: title.to_owned(), share_password: password.map(str::to_owned) };
        changes::update(&before, &after);
        Ok(())
    }

    #[audited(action = kibana::SAVED_OBJECT_DELETE, authorize = require_editor, results(secret = ["share_password"]),
              resource(type = "dashboard", id = id))]
    pub fn delete_dashboard(&self, id: &str) -> Result<(), ServiceError> {
        let space = current_space();
        let before = self.stored(id)?.ok_or_else(|| ServiceError::NotFound(format!("dashboard {id}")))?;
        self.db.lock().unwrap().execute("DELETE FROM dashboards WHERE space = ?1 AND id = ?2", params![space, id])?;
        self.effect(&format!("delete dashboard {id}"));
        changes::delete(&before);
        Ok(())
    }

    /// Like Kibana's bulk get: one `saved_object_get` event per dashboard.
    #[audited(action = kibana::SAVED_OBJECT_GET, authorize = require_viewer, resource(type = "dashboard", each = ids))]
    pub fn bulk_get_dashboards(&self, ids: &[String]) -> Result<Vec<Dashboard>, ServiceError> {
        ids.iter().map(|id| self.get_dashboard_unaudited(id)).collect()
    }

    /// One `saved_object_delete` intent per dashboard, all before any is deleted; one result
    /// per dashboard after, each with what was deleted.
    #[audited(action = kibana::SAVED_OBJECT_DELETE, authorize = require_editor, results(secret = ["share_password"]),
              resource(type = "dashboard", each = ids))]
    pub fn bulk_delete_dashboards(&self, ids: &[String]) -> Result<usize, ServiceError> {
        let space = current_space();
        let mut deleted = 0;
        for id in ids {
            let Some(before) = self.stored(id)? else { continue };
            let db = self.db.lock().unwrap();
            deleted += db.execute("DELETE FROM dashboards WHERE space = ?1 AND id = ?2", params![space, id])?;
            drop(db);
            changes::of(id).delete(&before);
        }
        self.effect(&format!("bulk delete {} dashboards", ids.len()));
        Ok(deleted)
    }

    /// The read inside a bulk operation, already audited by the bulk call.
    fn get_dashboard_unaudited(&self, id: &str) -> Result<Dashboard, ServiceError> {
        let space = current_space();
        self.db
            .lock()
            .unwrap()
            .query_row("SELECT id, title FROM dashboards WHERE space = ?1 AND id = ?2", params![space, id], |row| {
                Ok(Dashboard { id: row.get(0)?, title: row.get(1)? })
            })
            .optional()?
            .ok_or_else(|| ServiceError::NotFound(format!("dashboard {id}")))
    }

    #[audited(action = EXPORT_SCHEDULE, authorize = require_editor, resource(type = "dashboard", id = id))]
    pub fn schedule_export(&self, id: &str) -> Result<(), ServiceError> {
        self.get_dashboard_unaudited(id).map(drop)
    }

    /// Runs in the background task, with the scheduling request's context (and `trace.id`).
    #[audited(action = EXPORT_RUN, resource(type = "dashboard", id = id))]
    pub fn run_export(&self, id: &str) -> Result<usize, ServiceError> {
        let dashboard = self.get_dashboard_unaudited(id)?;
        let space = current_space();
        let content = serde_json::to_string(&dashboard).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        self.db.lock().unwrap().execute("INSERT INTO exports VALUES (?1, ?2, ?3)", params![space, id, content])?;
        self.effect(&format!("export dashboard {id}"));
        Ok(content.len())
    }

    #[allow(dead_code)] // used by the end-to-end test
    pub fn export_count(&self) -> usize {
        self.db.lock().unwrap().query_row("SELECT COUNT(*) FROM exports", [], |row| row.get::<_, i64>(0)).unwrap_or(0)
            as usize
    }

    #[audited(action = kibana::SPACE_CREATE, authorize = require_editor, resource(type = "space", id = space.id, name = space.name))]
    pub fn create_space(&self, space: &Space) -> Result<(), ServiceError> {
        let inserted = self
            .db
            .lock()
            .unwrap()
            .execute("INSERT OR IGNORE INTO spaces VALUES (?1, ?2)", params![space.id, space.name])?;
        if inserted == 0 {
            return Err(ServiceError::Conflict(format!("space {}", space.id)));
        }
        self.effect(&format!("create space {}", space.id));
        Ok(())
    }

    #[audited(action = kibana::SPACE_GET, authorize = require_viewer, resource(type = "space", id = id))]
    pub fn get_space(&self, id: &str) -> Result<Space, ServiceError> {
        self.db
            .lock()
            .unwrap()
            .query_row("SELECT id, name FROM spaces WHERE id = ?1", params![id], |row| {
                Ok(Space { id: row.get(0)?, name: row.get(1)? })
            })
            .optional()?
            .ok_or_else(|| ServiceError::NotFound(format!("space {id}")))
    }

    #[audited(action = kibana::SPACE_UPDATE, authorize = require_editor, resource(type = "space", id = id))]
    pub fn update_space(&self, id: &str, name: &str) -> Result<(), ServiceError> {
        let changed =
            self.db.lock().unwrap().execute("UPDATE spaces SET name = ?2 WHERE id = ?1", params![id, name])?;
        if changed == 0 {
            return Err(ServiceError::NotFound(format!("space {id}")));
        }
        self.effect(&format!("update space {id}"));
        Ok(())
    }

    #[audited(action = kibana::SPACE_DELETE, authorize = require_editor, resource(type = "space", id = id))]
    pub fn delete_space(&self, id: &str) -> Result<(), ServiceError> {
        let deleted = self.db.lock().unwrap().execute("DELETE FROM spaces WHERE id = ?1", params![id])?;
        if deleted == 0 {
            return Err(ServiceError::NotFound(format!("space {id}")));
        }
        self.effect(&format!("delete space {id}"));
        Ok(())
    }
}

/// A logged-in session.
#[derive(Clone, Debug)]
struct Session {
    /// The session's id in the audit trail: not the cookie's token, which is a credential.
    audit_id: String,
    user: String,
    roles: Vec<String>,
}

/// `bytes` random bytes from the operating system's CSPRNG, as hex: session tokens and ids are
/// secrets an attacker must not guess.
fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random number generator works");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

/// The service's state: the store, the sessions, the users it knows, and its audit logger.
pub struct AppState {
    pub store: Store,
    sessions: Mutex<HashMap<String, Session>>,
    users: HashMap<String, (String, Vec<String>)>,
    provider: auth::Provider,
    logger: AuditLogger,
    /// The Prometheus exporter's handle, for `/metrics` (the audit pipeline's figures).
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    /// A service with two users, `alice` (editor) and `bob` (viewer), auditing to `logger`.
    pub fn new(logger: AuditLogger) -> Result<Arc<AppState>, ServiceError> {
        let users = [("alice", "alice-password", "editor"), ("bob", "bob-password", "viewer")]
            .into_iter()
            .map(|(name, password, role)| (name.to_owned(), (password.to_owned(), vec![role.to_owned()])))
            .collect();
        Ok(Arc::new(AppState {
            store: Store::open_in_memory()?,
            sessions: Mutex::new(HashMap::new()),
            users,
            provider: auth::Provider::new("basic", "basic1").with_realm("native1"),
            logger,
            metrics: None,
        }))
    }

    /// Serves `/metrics` from `handle` (Prometheus' text format).
    pub fn with_metrics(mut self: Arc<Self>, handle: metrics_exporter_prometheus::PrometheusHandle) -> Arc<Self> {
        Arc::get_mut(&mut self).expect("set before the service starts").metrics = Some(handle);
        self
    }

    /// Calls `hook` after every write reaches the database (see [`Store`]).
    #[allow(dead_code)] // used by the end-to-end test
    pub fn with_effect_hook(mut self: Arc<Self>, hook: impl Fn(&str) + Send + Sync + 'static) -> Arc<Self> {
        Arc::get_mut(&mut self).expect("set before the service starts").store.effect_hook = Some(Box::new(hook));
        self
    }

    fn session_id(headers: &axum::http::HeaderMap) -> Option<String> {
        let cookies = headers.get("cookie")?.to_str().ok()?;
        cookies.split(';').find_map(|c| c.trim().strip_prefix("sid=")).map(str::to_owned)
    }

    /// Who is calling: the HTTP layer asks this for every request.
    fn identity(&self, request: &axum::http::request::Parts) -> audit_core::context::AuditContextBuilder {
        let mut builder = AuditContext::builder().logger(self.logger.clone());
        let space = request.headers.get("x-space").and_then(|v| v.to_str().ok()).unwrap_or("default");
        builder = builder.space_id(space);
        if let Some(sid) = Self::session_id(&request.headers) {
            if let Some(session) = self.sessions.lock().unwrap().get(&sid) {
                builder = builder
                    .user(
                        User::named(&session.user)
                            .with_id(format!("u_{}", session.user))
                            .with_roles(session.roles.clone()),
                    )
                    .session_id(session.audit_id.clone());
            }
        }
        builder
    }
}

/// The service's routes, audited by the HTTP layer.
pub fn router(state: Arc<AppState>) -> Router {
    let identity_state = Arc::clone(&state);
    let layer = AuditLayer::new(move |request| identity_state.identity(request))
        .client_ip(|request| request.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip()));
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/api/dashboards", post(create_dashboard))
        .route("/api/dashboards/_bulk_get", post(bulk_get))
        .route("/api/dashboards/_bulk_delete", post(bulk_delete))
        .route("/api/dashboards/{id}", get(get_dashboard).put(update_dashboard).delete(delete_dashboard))
        .route("/api/dashboards/{id}/_export", post(schedule_export))
        .route("/api/spaces", post(create_space))
        .route("/api/spaces/{id}", get(get_space).put(update_space).delete(delete_space))
        .layer(layer)
        // Not audited: scraped every few seconds, it is no one's action.
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The audit pipeline's figures in Prometheus' text format (404 when the service exports none).
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match &state.metrics {
        Some(handle) => handle.render().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(State(state): State<Arc<AppState>>, Json(credentials): Json<Credentials>) -> Response {
    let known = state.users.get(&credentials.username).filter(|(password, _)| *password == credentials.password);
    let Some((_, roles)) = known else {
        let event = auth::login_failure(Some(&credentials.username), &state.provider, "invalid username or password");
        let _ = audit_core::dispatch::log(event);
        return ServiceError::BadCredentials.into_response();
    };
    // The cookie's token is a credential, kept out of the trail; the trail knows the session by
    // an id of its own.
    let sid = random_hex(32);
    let audit_id = random_hex(16);
    let user =
        User::named(&credentials.username).with_id(format!("u_{}", credentials.username)).with_roles(roles.clone());
    // The login is on record before the session exists.
    let _ = audit_core::dispatch::log(auth::login_success(user, &state.provider, &audit_id));
    let session = Session { audit_id, user: credentials.username, roles: roles.clone() };
    state.sessions.lock().unwrap().insert(sid.clone(), session);
    (StatusCode::OK, [("set-cookie", format!("sid={sid}; HttpOnly; SameSite=Strict; Path=/"))], "logged in")
        .into_response()
}

async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(sid) = AppState::session_id(&headers) else { return ServiceError::Unauthenticated.into_response() };
    let Some(session) = state.sessions.lock().unwrap().get(&sid).cloned() else {
        return ServiceError::Unauthenticated.into_response();
    };
    let user = User::named(&session.user).with_id(format!("u_{}", session.user)).with_roles(session.roles.clone());
    let _ = audit_core::dispatch::log(auth::logout(user, &state.provider, &session.audit_id));
    state.sessions.lock().unwrap().remove(&sid);
    (StatusCode::OK, [("set-cookie", "sid=; Max-Age=0; Path=/".to_owned())], "logged out").into_response()
}

async fn create_dashboard(
    State(state): State<Arc<AppState>>,
    Json(dashboard): Json<Dashboard>,
) -> Result<StatusCode, ServiceError> {
    state.store.create_dashboard(&dashboard).map(|()| StatusCode::CREATED)
}

async fn get_dashboard(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Dashboard>, ServiceError> {
    state.store.get_dashboard(&id).map(Json)
}

/// `PUT /api/dashboards/{id}`: a new title, and a share password to set (a string) or clear
/// (`null`); left out, the password stays as it is.
#[derive(Deserialize)]
struct Rename {
    title: String,
    #[serde(default, deserialize_with = "present")]
    share_password: Option<Option<String>>,
}

/// A field that is present (`Some`, its value possibly `null`), as opposed to left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

async fn update_dashboard(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(rename): Json<Rename>,
) -> Result<StatusCode, ServiceError> {
    let password = rename.share_password.as_ref().map(Option::as_deref);
    state.store.update_dashboard(&id, &rename.title, password).map(|()| StatusCode::NO_CONTENT)
}

async fn delete_dashboard(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ServiceError> {
    state.store.delete_dashboard(&id).map(|()| StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

async fn bulk_get(
    State(state): State<Arc<AppState>>,
    Json(body): Json<Ids>,
) -> Result<Json<Vec<Dashboard>>, ServiceError> {
    state.store.bulk_get_dashboards(&body.ids).map(Json)
}

async fn bulk_delete(State(state): State<Arc<AppState>>, Json(body): Json<Ids>) -> Result<Json<usize>, ServiceError> {
    state.store.bulk_delete_dashboards(&body.ids).map(Json)
}

/// Schedules the export (audited now), then runs it in a background task that carries the
/// request's context: its event has the same user, space and `trace.id`.
async fn schedule_export(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ServiceError> {
    state.store.schedule_export(&id)?;
    let task_state = Arc::clone(&state);
    audit_core::task::spawn(async move {
        tokio::task::yield_now().await;
        let _ = task_state.store.run_export(&id);
    });
    Ok(StatusCode::ACCEPTED)
}

async fn create_space(
    State(state): State<Arc<AppState>>,
    Json(space): Json<Space>,
) -> Result<StatusCode, ServiceError> {
    state.store.create_space(&space).map(|()| StatusCode::CREATED)
}

async fn get_space(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Space>, ServiceError> {
    state.store.get_space(&id).map(Json)
}

#[derive(Deserialize)]
struct SpaceName {
    name: String,
}

async fn update_space(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(body): Json<SpaceName>,
) -> Result<StatusCode, ServiceError> {
    state.store.update_space(&id, &body.name).map(|()| StatusCode::NO_CONTENT)
}

async fn delete_space(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<StatusCode, ServiceError> {
    state.store.delete_space(&id).map(|()| StatusCode::NO_CONTENT)
}
