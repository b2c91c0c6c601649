//! The `audit` command, run as a user runs it: on a real chained trail, intact and tampered.

use std::path::{Path, PathBuf};
use std::process::Command;

use audit_core::chain::ChainHash;
use audit_core::secret::Concealer;
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, Outcome, Resource};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("audit-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_trail(path: &Path, events: u32) {
    let (writer, guard) = FileWriter::builder(path)
        .rotation(Rotation::by_size(4096).compress(true))
        .chain(ChainHash::Sha256)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for id in 0..events {
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("dashboard", id.to_string()));
        logger.log(event).unwrap();
    }
    guard.shutdown().unwrap();
}

fn audit(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_audit")).args(args).output().expect("the binary runs");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn verify_says_intact_and_exits_zero_for_an_untouched_trail() {
    let dir = Dir::new("intact");
    let path = dir.0.join("audit.log");
    write_trail(&path, 60);
    let (code, out) = audit(&["verify", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(": intact:") && out.contains("60 verified") && out.contains("event.sequence 1 to 60"),
        "{out}"
    );
    // The directory holds one trail: the same verdict.
    let (code, out) = audit(&["verify", dir.0.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((report["intact"].as_bool(), report["verified"].as_u64()), (Some(true), Some(60)));
    assert!(report["files"].as_array().unwrap().len() > 2, "rotated and compressed files are read");
}

#[test]
fn verify_names_the_file_and_line_of_a_change_and_exits_one() {
    let dir = Dir::new("tampered");
    let path = dir.0.join("audit.log");
    write_trail(&path, 60);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "the active file has lines to change");
    let changed = text.replacen(lines[1], &lines[1].replace("saved_object_get", "saved_object_xyz"), 1);
    std::fs::write(&path, changed).unwrap();
    let (code, out) = audit(&["verify", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{}:2: modified:", path.display())), "{out}");
    assert!(out.contains("NOT INTACT"), "{out}");
}

#[test]
fn bad_arguments_exit_two_and_hash_matches_the_library() {
    assert_eq!(audit(&["verify"]).0, 2);
    assert_eq!(audit(&["frobnicate"]).0, 2);
    assert_eq!(audit(&["verify", "/nonexistent/audit.log", "--bogus"]).0, 2);
    let dir = Dir::new("hash");
    let key = dir.0.join("hmac.key");
    std::fs::write(&key, "a key kept away from the trail\n").unwrap();
    let (code, out) = audit(&["hash", "--key-file", key.to_str().unwrap(), "alice@example.com"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), Concealer::new(b"a key kept away from the trail".to_vec()).hash("alice@example.com"));
}

#[test]
fn keygen_then_verify_against_a_checkpoint_finds_a_cut_tail() {
    use audit_core::checkpoint::SigningKey;
    use audit_core::writer::CheckpointPolicy;
    let dir = Dir::new("checkpoint");
    let prefix = dir.0.join("signer");
    let (code, out) = audit(&["keygen", "test.example/audit", prefix.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let key = SigningKey::from_file(prefix.with_extension("key")).unwrap();
    let path = dir.0.join("audit.log");
    let checkpoint = dir.0.join("audit.checkpoint");
    let policy = CheckpointPolicy::new("test.example/audit", key, &checkpoint);
    let (writer, guard) = FileWriter::builder(&path).chain(ChainHash::Sha256).checkpoints(policy).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for id in 0..10 {
        logger
            .log(AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success).with_label("n", id.to_string()))
            .unwrap();
    }
    guard.shutdown().unwrap();
    let public = prefix.with_extension("pub");
    let args = |p: &Path| {
        vec![
            "verify".to_owned(),
            p.display().to_string(),
            "--checkpoint".to_owned(),
            checkpoint.display().to_string(),
            "--public-key".to_owned(),
            public.display().to_string(),
        ]
    };
    let run = |p: &Path| {
        let args = args(p);
        audit(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(run(&path).0, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().take(7).collect();
    std::fs::write(&path, format!("{}\n", kept.join("\n"))).unwrap();
    let (code, out) = run(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cut-tail") && out.contains("3 line(s) cut from the end"), "{out}");
}

#[test]
fn ship_delivers_a_trail_to_the_local_syslog_socket_and_prints_migrations() {
    let dir = Dir::new("ship");
    let trail = dir.0.join("audit.log");
    write_trail(&trail, 120);
    // The receiving end of a local syslog socket, as rsyslog's imuxsock would hold it.
    let socket = dir.0.join("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    receiver.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
    let config = dir.0.join("audit.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "ship": [
                  {{ "to": "syslog", "transport": "unix", "socket": "{}", "in_process": false }},
                  {{ "to": "postgres", "url": "postgresql://shipper@db/audit", "table": "shop_audit" }} ] }}] }}"#,
            trail.display(),
            socket.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // Read as a syslog daemon does, while the shipper sends (a datagram socket's queue is short:
    // the shipper waits when it is full, and sends each event once).
    let reading = std::thread::spawn(move || {
        let mut ids = Vec::new();
        let mut buffer = vec![0u8; 1 << 20];
        while let Ok(n) = receiver.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            assert!(message.starts_with("<109>1 "), "log audit, notice: {message}");
            let event: serde_json::Value = serde_json::from_str(&message[message.find('{').unwrap()..]).unwrap();
            ids.push(event["event"]["id"].as_str().unwrap().to_owned());
            if ids.len() == 120 {
                break;
            }
        }
        (ids, receiver, buffer)
    });
    let (code, _) = audit(&["ship", "--config", config, "--until-caught-up", "--deadline", "20s"]);
    assert_eq!(code, 0);
    let (ids, receiver, mut buffer) = reading.join().unwrap();
    let expected: Vec<String> = audit_core::trail::read_audit_trail(&trail)
        .unwrap()
        .events
        .iter()
        .map(|e| e["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 120);
    assert_eq!(ids, expected, "every event, in order");

    // Again: nothing new to deliver, the cursor held.
    let (code, _) = audit(&["ship", "--config", config, "--until-caught-up"]);
    assert_eq!(code, 0);
    assert!(receiver.recv(&mut buffer).is_err(), "nothing sent twice");

    let (code, sql) = audit(&["ship", "--config", config, "--print-migration"]);
    assert_eq!(code, 0);
    assert!(sql.contains("CREATE TABLE IF NOT EXISTS shop_audit ("), "{sql}");
    assert!(sql.contains("append-only"), "{sql}");

    // A destination that cannot work is tried again until the deadline, then exit code 1.
    std::fs::remove_file(&socket).unwrap();
    let (code, _) = audit(&["ship", "--config", config, "--until-caught-up", "--deadline", "1s"]);
    assert_eq!(code, 1);
}

/// A trail of 120 events in `dir`, a configuration shipping it to `first` (a ship entry, as JSON)
/// and to a local syslog socket this test reads, and the thread that counts what the socket
/// receives (until 120, or half a second of quiet).
fn two_destinations(dir: &Dir, first: &str) -> (PathBuf, std::thread::JoinHandle<(usize, std::time::Duration)>) {
    let trail = dir.0.join("audit.log");
    write_trail(&trail, 120);
    let up = dir.0.join("up.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&up).unwrap();
    receiver.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
    let config = dir.0.join("audit.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "ship": [ {first},
                  {{ "to": "syslog", "transport": "unix", "socket": "{}", "in_process": false }} ] }}] }}"#,
            trail.display(),
            up.display()
        ),
    )
    .unwrap();
    let reading = std::thread::spawn(move || {
        let mut buffer = vec![0u8; 1 << 20];
        let (mut received, started) = (0, std::time::Instant::now());
        while received < 120 && receiver.recv(&mut buffer).is_ok() {
            received += 1;
        }
        (received, started.elapsed())
    });
    (config, reading)
}

/// Two destinations, one down at start: the other delivers while it is tried again, the
/// command returns by its deadline, and its status lines say which one never started.
#[test]
fn ship_until_caught_up_runs_destinations_together_within_its_deadline() {
    let dir = Dir::new("ship-together");
    let down = dir.0.join("down.sock");
    let first =
        format!(r#"{{ "to": "syslog", "transport": "unix", "socket": "{}", "in_process": false }}"#, down.display());
    let (config, reading) = two_destinations(&dir, &first);
    let started = std::time::Instant::now();
    let config = config.to_str().unwrap();
    let (code, status) =
        audit(&["ship", "--config", config, "--until-caught-up", "--deadline", "2s", "--status-every", "200ms"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "one destination never caught up");
    assert!(took < std::time::Duration::from_secs(4), "returned after {took:?}");
    assert_eq!(reading.join().unwrap().0, 120, "the other delivered everything meanwhile");
    let lines: Vec<serde_json::Value> = status.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert!(lines.iter().any(|l| l["shipper"] == "sinks[0].ship[0]" && l["started"] == false), "{status}");
    assert!(lines.iter().any(|l| l["shipper"] == "sinks[0].ship[1]" && l["delivered"] == 120), "{status}");
}

#[test]
fn verify_of_a_trail_that_is_not_there_is_an_error_not_intact() {
    let dir = Dir::new("missing");
    let missing = dir.0.join("audit.log");
    let output =
        Command::new(env!("CARGO_BIN_EXE_audit")).args(["verify", missing.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no audit trail"), "{stderr}");
}

#[test]
fn ship_until_stopped_prints_each_shippers_stats_and_resumes_after_a_kill() {
    use std::io::BufRead;
    let dir = Dir::new("ship-forever");
    let trail = dir.0.join("audit.log");
    write_trail(&trail, 40);
    let socket = dir.0.join("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = std::sync::Arc::clone(&received);
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 1 << 20];
        while receiver.recv(&mut buffer).is_ok() {
            counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let config = dir.0.join("audit.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "ship": [
                  {{ "to": "syslog", "transport": "unix", "socket": "{}", "in_process": false }} ] }}] }}"#,
            trail.display(),
            socket.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["ship", "--config", config.to_str().unwrap(), "--status-every", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut caught_up = None;
    for line in stdout.lines() {
        let status: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(status["shipper"], "sinks[0].ship[0]");
        if status["caught_up"] == true && status["delivered"] == 40 {
            caught_up = Some(status);
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: its cursor was saved after its batch
    child.wait().unwrap();
    let status = caught_up.expect("a status line saying every event was delivered");
    assert!(status["last_error"].is_null(), "{status}");
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 40);
    // Killed and started again: nothing to deliver twice.
    write_trail(&trail, 5);
    let (code, _) = audit(&["ship", "--config", config.to_str().unwrap(), "--until-caught-up"]);
    assert_eq!(code, 0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 45, "only the 5 new ones");
}

/// A destination whose check hangs (a server that accepts and never answers) holds no other:
/// each shipper starts on a thread of its own.
#[test]
fn a_slow_start_up_check_holds_no_other_shipper() {
    let dir = Dir::new("ship-slow-check");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let first = format!(r#"{{ "to": "nats", "servers": "nats://127.0.0.1:{silent_port}", "in_process": false }}"#);
    let (config, reading) = two_destinations(&dir, &first);
    let config = config.to_str().unwrap();
    let (code, _) = audit(&["ship", "--config", config, "--until-caught-up", "--deadline", "4s"]);
    assert_eq!(code, 1, "the silent server's shipper never started");
    let (received, after) = reading.join().unwrap();
    assert_eq!(received, 120, "the other shipper delivered everything meanwhile");
    assert!(after < std::time::Duration::from_secs(3), "without waiting for the other's check: {after:?}");
    drop(silent);
}

#[test]
fn each_subcommand_has_its_own_help() {
    let (code, ship) = audit(&["ship", "--help"]);
    assert_eq!(code, 0, "{ship}");
    assert!(ship.contains("--until-caught-up") && ship.contains("--print-migration"), "{ship}");
    assert!(!ship.contains("--seal-key"), "the ship help is about ship alone: {ship}");
    let (code, verify) = audit(&["help", "verify"]);
    assert_eq!(code, 0, "{verify}");
    assert!(verify.contains("--seal-key") && verify.contains("--after-retention"), "{verify}");
    assert!(!verify.contains("--print-migration"), "{verify}");
    let (code, all) = audit(&["--help"]);
    assert_eq!(code, 0);
    for command in ["verify", "keygen", "hash", "ship"] {
        assert!(all.contains(command), "{command} is listed: {all}");
    }
    // A flag of another subcommand is refused by name.
    let (code, _) = audit(&["verify", "/tmp/audit.log", "--until-caught-up"]);
    assert_eq!(code, 2);
    // A deadline without --until-caught-up means nothing: refused rather than ignored.
    let (code, _) = audit(&["ship", "--config", "/nonexistent.json", "--deadline", "5s"]);
    assert_eq!(code, 2);
}
