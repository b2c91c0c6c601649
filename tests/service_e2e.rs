//! The example service over real HTTP: a realistic session against the real app on a loopback
//! port, and the exact audit trail it must leave, compared with Kibana's documented events.

#[path = "../examples/service/app.rs"]
#[allow(dead_code)]
mod app;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_core::{AuditLogger, MemorySink};
use serde_json::{json, Value};

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Option<String>) {
        let url = format!("{}{}", self.base, path);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = match body {
            Some(body) => {
                self.agent.run(request.header("content-type", "application/json").body(body.to_string()).unwrap())
            }
            None => self.agent.run(request.body(()).unwrap()),
        }
        .expect("the service answers");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        (response.status().as_u16(), cookie)
    }
}

/// The example service on a loopback port: its runtime (dropping it stops the service), its
/// address, and a client for it.
fn serve(state: Arc<app::AppState>) -> (tokio::runtime::Runtime, Client) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move {
        axum::serve(listener, app::router(state).into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    (runtime, Client { agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(), base })
}

fn kibana_events() -> BTreeMap<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/audit-schema/data/kibana_audit_events.json");
    let events: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    events.into_iter().map(|e| (e["action"].as_str().unwrap().to_owned(), e)).collect()
}

#[test]
fn a_realistic_session_leaves_the_exact_audit_trail() {
    let (logger, trail): (AuditLogger, MemorySink) = AuditLogger::capture();
    let effects: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let state = {
        let (effects, trail) = (Arc::clone(&effects), trail.clone());
        app::AppState::new(logger)
            .unwrap()
            .with_effect_hook(move |what| effects.lock().unwrap().push((what.to_owned(), trail.len())))
    };
    let store_state = Arc::clone(&state);
    let (runtime, client) = serve(state);

    // alice (editor) logs in, creates a space and three dashboards, reads one.
    let (status, alice) =
        client.send("POST", "/login", None, Some(json!({"username": "alice", "password": "alice-password"})), &[]);
    assert_eq!(status, 200);
    let alice = alice.expect("a session cookie");
    let a = Some(alice.as_str());
    assert_eq!(
        client.send("POST", "/api/spaces", a, Some(json!({"id": "marketing", "name": "Marketing"})), &[]).0,
        201
    );
    for (id, title) in [("d1", "Sales"), ("d2", "Ops"), ("d3", "Security")] {
        assert_eq!(client.send("POST", "/api/dashboards", a, Some(json!({"id": id, "title": title})), &[]).0, 201);
    }
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(client.send("GET", "/api/dashboards/d1", a, None, &[("traceparent", traceparent)]).0, 200);

    // bob (viewer) logs in, is denied a delete, bulk-reads the three dashboards.
    let (_, bob) =
        client.send("POST", "/login", None, Some(json!({"username": "bob", "password": "bob-password"})), &[]);
    let bob = bob.expect("a session cookie");
    let b = Some(bob.as_str());
    assert_eq!(client.send("DELETE", "/api/dashboards/d2", b, None, &[]).0, 403);
    assert_eq!(
        client.send("POST", "/api/dashboards/_bulk_get", b, Some(json!({"ids": ["d1", "d2", "d3"]})), &[]).0,
        200
    );

    // A failed login; alice exports a dashboard in the background, then logs out.
    let wrong = json!({"username": "mallory", "password": "guess"});
    assert_eq!(client.send("POST", "/login", None, Some(wrong), &[("x-forwarded-for", "203.0.113.9")]).0, 401);
    assert_eq!(client.send("POST", "/api/dashboards/d1/_export", a, None, &[]).0, 202);
    // The export runs in the background; its (read) event is logged when it completes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !trail.actions().iter().any(|a| a == "dashboard_export_run") {
        assert!(Instant::now() < deadline, "the export task never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store_state.store.export_count(), 1);
    assert_eq!(client.send("POST", "/logout", a, None, &[]).0, 200);
    drop(runtime);

    let events = trail.json();
    // The session cookies are credentials: no line holds one, and nor does any other secret the
    // requests carried (passwords in login bodies).
    let all = trail.lines().join("\n");
    for secret in
        [alice.trim_start_matches("sid="), bob.trim_start_matches("sid="), "alice-password", "bob-password", "guess"]
    {
        assert!(!all.contains(secret), "the trail holds `{secret}`");
    }
    assert_eq!(alice.trim_start_matches("sid=").len(), 64, "a 32-byte token from the CSPRNG: {alice}");
    let summary = |e: &Value| {
        (
            e["event"]["action"].as_str().unwrap().to_owned(),
            e["event"]["outcome"].as_str().unwrap().to_owned(),
            e["user"]["name"].as_str().unwrap_or("-").to_owned(),
        )
    };
    let operations: Vec<(String, String, String)> =
        events.iter().filter(|e| e["event"]["action"] != "http_request").map(summary).collect();
    let expected = [
        ("user_login", "success", "alice"),
        ("space_create", "unknown", "alice"),
        // Dashboard writes carry results: the intent, then the result.
        ("saved_object_create", "unknown", "alice"),
        ("saved_object_create", "success", "alice"),
        ("saved_object_create", "unknown", "alice"),
        ("saved_object_create", "success", "alice"),
        ("saved_object_create", "unknown", "alice"),
        ("saved_object_create", "success", "alice"),
        ("saved_object_get", "success", "alice"),
        ("user_login", "success", "bob"),
        ("saved_object_delete", "failure", "bob"),
        ("saved_object_get", "success", "bob"),
        ("saved_object_get", "success", "bob"),
        ("saved_object_get", "success", "bob"),
        ("user_login", "failure", "mallory"),
        ("dashboard_export_schedule", "unknown", "alice"),
        ("dashboard_export_run", "success", "alice"),
        ("user_logout", "unknown", "alice"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, o, u)| (a.to_string(), o.to_string(), u.to_string())).collect();
    assert_eq!(operations, expected);

    // One http_request per request (12), each first in its trace; events of a request share its
    // trace id, different requests have different ones; the export task shares its request's.
    let requests: Vec<&Value> = events.iter().filter(|e| e["event"]["action"] == "http_request").collect();
    assert_eq!(requests.len(), 12);
    let mut by_trace: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for event in &events {
        by_trace
            .entry(event["trace"]["id"].as_str().expect("every event has a trace id").to_owned())
            .or_default()
            .push(event);
    }
    assert_eq!(by_trace.len(), 12, "one trace id per request");
    for group in by_trace.values() {
        assert_eq!(group[0]["event"]["action"], "http_request", "the request event comes first");
        assert_eq!(group.iter().filter(|e| e["event"]["action"] == "http_request").count(), 1);
    }
    let export_trace =
        events.iter().find(|e| e["event"]["action"] == "dashboard_export_run").unwrap()["trace"]["id"].clone();
    let export_group = &by_trace[export_trace.as_str().unwrap()];
    let actions: Vec<&str> = export_group.iter().map(|e| e["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["http_request", "dashboard_export_schedule", "dashboard_export_run"]);
    let get_with_traceparent = &by_trace["4bf92f3577b34da6a3ce929d0e0e4736"];
    assert_eq!(get_with_traceparent[1]["event"]["action"], "saved_object_get", "an incoming traceparent is honoured");

    // The bulk read: one event per dashboard, in the bulk request's trace.
    let bulk = by_trace.values().find(|g| g[0]["url"]["path"] == "/api/dashboards/_bulk_get").unwrap();
    let ids: Vec<&str> = bulk[1..].iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["d1", "d2", "d3"]);

    // What every request event records.
    for request in &requests {
        assert_eq!(request["client"]["ip"], "127.0.0.1");
        assert_eq!(request["kibana"]["space_id"], "default");
        assert!(request["message"].as_str().unwrap().starts_with("User is requesting ["));
    }
    let denied = events.iter().find(|e| e["event"]["action"] == "saved_object_delete").unwrap();
    assert_eq!(denied["error"]["code"], "forbidden");
    assert_eq!(denied["kibana"]["saved_object"], json!({"type": "dashboard", "id": "d2"}));
    let failed_login =
        events.iter().find(|e| e["event"]["action"] == "user_login" && e["event"]["outcome"] == "failure").unwrap();
    assert_eq!(failed_login["http"]["request"]["headers"]["x-forwarded-for"], "203.0.113.9");
    assert_eq!(failed_login["kibana"]["authentication_provider"], "basic1");
    let delete_request = by_trace.values().find(|g| g[0]["url"]["path"] == "/api/dashboards/d2").unwrap();
    assert_eq!(delete_request[0]["http"]["request"]["method"], "delete");
    assert_eq!(delete_request[0]["user"]["name"], "bob");

    // Writes are on record before their effects: when each write reached the database, its
    // event was already in the trail.
    let effects = effects.lock().unwrap().clone();
    let writes: Vec<&(String, usize)> = effects.iter().filter(|(what, _)| what.starts_with("create ")).collect();
    assert_eq!(writes.len(), 4, "{effects:?}");
    for (what, logged_before) in writes {
        let (action, id) = match what.split(' ').collect::<Vec<_>>()[..] {
            ["create", "dashboard", id] => ("saved_object_create", id),
            ["create", "space", id] => ("space_create", id),
            _ => panic!("unexpected effect {what}"),
        };
        let position = events
            .iter()
            .position(|e| e["event"]["action"] == action && e["kibana"]["saved_object"]["id"] == id)
            .unwrap_or_else(|| panic!("no {action} event for {id}"));
        assert!(
            position < *logged_before,
            "{what}: its event (#{position}) must precede the effect (trail had {logged_before})"
        );
    }
    // A read is logged after it completes: the export's event follows its effect.
    let (_, export_logged_before) = effects.iter().find(|(what, _)| what == "export dashboard d1").unwrap();
    let export_position = events.iter().position(|e| e["event"]["action"] == "dashboard_export_run").unwrap();
    assert!(export_position >= *export_logged_before);

    // Compared with Kibana's documented events: same category and type, and an outcome Kibana
    // documents for it, for every action Kibana has.
    let kibana = kibana_events();
    for event in &events {
        let action = event["event"]["action"].as_str().unwrap();
        let Some(documented) = kibana.get(action) else {
            assert!(
                action.starts_with("dashboard_export"),
                "{action} is ours only where the service has no Kibana counterpart"
            );
            continue;
        };
        assert_eq!(event["event"]["category"], documented["category"], "{action}");
        let types = event["event"].get("type").cloned().unwrap_or(json!([]));
        assert_eq!(types, documented["type"], "{action}");
        let outcome = event["event"]["outcome"].as_str().unwrap();
        if event["kibana"].get("intent_event_id").is_some() {
            // A write's result: Kibana's reference documents intents only (its results, with
            // diffs, are being added in 2026: a second event per object, `success`).
            continue;
        }
        assert!(
            documented["outcomes"].get(outcome).is_some(),
            "{action} with outcome {outcome}: Kibana documents {}",
            documented["outcomes"]
        );
    }
}

/// What changed, and did it take effect, over real HTTP: a rename's old and new title, a failed
/// delete's `failure` joined to its intent, a secret changed without its clear text anywhere in
/// the trail, and a bulk delete's result per dashboard.
#[test]
fn write_results_and_diffs_over_http() {
    let (logger, trail): (AuditLogger, MemorySink) = AuditLogger::capture();
    let (runtime, client) = serve(app::AppState::new(logger).unwrap());
    let (_, alice) =
        client.send("POST", "/login", None, Some(json!({"username": "alice", "password": "alice-password"})), &[]);
    let alice = alice.expect("a session cookie");
    let a = Some(alice.as_str());
    for (id, title) in [("d1", "Sales"), ("d2", "Ops")] {
        assert_eq!(client.send("POST", "/api/dashboards", a, Some(json!({"id": id, "title": title})), &[]).0, 201);
    }
    let rename = json!({"title": "Sales 2026"});
    assert_eq!(client.send("PUT", "/api/dashboards/d1", a, Some(rename), &[]).0, 204);
    let password = json!({"title": "Sales 2026", "share_password": "open-sesame"});
    assert_eq!(client.send("PUT", "/api/dashboards/d1", a, Some(password), &[]).0, 204);
    assert_eq!(client.send("DELETE", "/api/dashboards/d9", a, None, &[]).0, 404);
    let bulk = json!({"ids": ["d1", "d2"]});
    assert_eq!(client.send("POST", "/api/dashboards/_bulk_delete", a, Some(bulk), &[]).0, 200);
    drop(runtime);

    let events = trail.json();
    let by_id: BTreeMap<&str, &Value> = events.iter().map(|e| (e["event"]["id"].as_str().unwrap(), e)).collect();
    let results: Vec<&Value> = events.iter().filter(|e| e["kibana"].get("intent_event_id").is_some()).collect();
    // Every result names an intent of the same action, resource and trace, logged before it.
    for result in &results {
        let intent = by_id[result["kibana"]["intent_event_id"].as_str().unwrap()];
        assert_eq!(intent["event"]["outcome"], "unknown");
        assert_eq!(intent["event"]["action"], result["event"]["action"]);
        assert_eq!(intent["kibana"]["saved_object"], result["kibana"]["saved_object"]);
        assert_eq!(intent["trace"]["id"], result["trace"]["id"]);
    }
    let summary: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["event"]["action"].as_str().unwrap(),
                r["kibana"]["saved_object"]["id"].as_str().unwrap(),
                r["event"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("saved_object_create", "d1", "success"),
            ("saved_object_create", "d2", "success"),
            ("saved_object_update", "d1", "success"),
            ("saved_object_update", "d1", "success"),
            ("saved_object_delete", "d9", "failure"),
            ("saved_object_delete", "d1", "success"),
            ("saved_object_delete", "d2", "success"),
        ]
    );
    let op = |result: &Value, path: &str| -> Value {
        result["kibana"]["diff"]["ops"].as_array().unwrap().iter().find(|op| op["path"] == path).cloned().unwrap()
    };
    // The rename: old and new title, in Kibana's shape.
    assert_eq!(results[2]["kibana"]["diff"]["format"], "json_patch_extended");
    assert_eq!(
        op(results[2], "/title"),
        json!({"op": "replace", "path": "/title", "value": "Sales 2026", "oldValue": "Sales"})
    );
    // The password set: its HMAC, never its clear text, anywhere in the trail.
    let set = op(results[3], "/share_password");
    assert!(set["value"].as_str().unwrap().starts_with("hmac-sha256:"), "{set}");
    assert_eq!(set["oldValue"], Value::Null);
    assert!(!trail.lines().join("\n").contains("open-sesame"), "the secret in clear");
    // The failed delete: `failure` with its error, joined to its intent.
    assert_eq!(results[4]["error"]["code"], "not_found");
    assert_eq!(results[4]["error"]["message"], "dashboard d9 not found");
    // The bulk delete: each dashboard's own attributes removed, the password as its HMAC.
    assert_eq!(op(results[5], "/title")["oldValue"], "Sales 2026");
    assert_eq!(op(results[5], "/share_password")["oldValue"], set["value"]);
    assert_eq!(op(results[6], "/title")["oldValue"], "Ops");
}

/// A wrong password is answered as what it is, not as a request that needs a login.
#[test]
fn a_wrong_password_is_answered_as_one() {
    let (logger, _trail): (AuditLogger, MemorySink) = AuditLogger::capture();
    let (runtime, client) = serve(app::AppState::new(logger).unwrap());
    let mut response = client
        .agent
        .post(&format!("{}/login", client.base))
        .send_json(json!({"username": "alice", "password": "wrong"}))
        .expect("the service answers");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid username or password");
    drop(runtime);
}
