//! `audit`: the command-line side of audit-core.
//!
//! ```text
//! audit verify <PATH>... [--key-file FILE] [--checkpoint FILE --public-key FILE] [--seal-key FILE] [--after-retention] [--json]
//! audit keygen <NAME> <PREFIX>
//! audit hash --key-file FILE <VALUE>
//! audit ship --config FILE [--until-caught-up [--deadline DURATION]] [--status-every DURATION] [--print-migration]
//! ```
//!
//! `verify` checks chained trails: a trail's active file (its rotated files are found beside
//! it), a directory (every trail in it), or several files checked as one trail in the order
//! given. It prints every finding with its file and line, then a summary (`--json`: one JSON
//! object per trail), and exits 0 only if every trail is intact, 1 if one is not, 2 when it
//! cannot run (a bad argument, an unreadable path).
//!
//! With a checkpoint (a signed note the writer wrote, kept elsewhere), `verify` also checks its
//! signature and that the trail still holds the line it vouches for: lines cut from the end and a
//! history rewritten since are found. `keygen` makes the signing key pair: `PREFIX.key` (secret,
//! for the writer) and `PREFIX.pub` (for verifiers).
//!
//! `hash` prints the `hmac-sha256:…` of a candidate value under a logger's HMAC key, to search a
//! trail for a secret (a leaked token, an e-mail address) without the trail ever holding it.
//!
//! `ship` runs the shippers that a service's configuration leaves to a process of their own
//! (`"in_process": false`): it follows each trail from its cursor and delivers it to PostgreSQL,
//! NATS JetStream or syslog until stopped (a SIGKILL included: it resumes from its cursor), or,
//! with `--until-caught-up`, until every trail is delivered to its end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use audit_core::checkpoint::{Checkpoint, PublicKey, SigningKey};
use audit_core::config::{DestinationKind, SinkConfig};
use audit_core::secret::Concealer;
use audit_core::ship::postgres::PostgresDestination;
use audit_core::trail::rotated_files;
use audit_core::verify::{verify_files, verify_trail, Options, Report};
use audit_core::AuditConfig;

const USAGE: &str = "usage:
  audit verify <PATH>... [--key-file FILE] [--checkpoint FILE --public-key FILE] [--seal-key FILE] [--after-retention] [--json]
      PATH: a trail's active file (rotated files beside it are included), a directory (every
      trail in it), or several files (checked as one trail, in the order given).
      --key-file FILE: the chain's HMAC key (a chain made with ChainHash::HmacSha256).
      --checkpoint FILE --public-key FILE: a signed checkpoint the trail must still hold.
      --seal-key FILE: check every rotated file against its seal, signed by this public key.
      --after-retention: the oldest files were removed by retention (Rotation::keep).
      --json: one JSON object per trail instead of text.
      Exits 0 if every trail is intact, 1 if one is not, 2 if it cannot check.
  audit keygen <NAME> <PREFIX>
      A checkpoint signing key pair named NAME: PREFIX.key (secret, mode 0600) and PREFIX.pub.
  audit hash --key-file FILE <VALUE>
      The hmac-sha256:... of VALUE under the logger's HMAC key (its hmac_key_file).
  audit ship --config FILE [--until-caught-up [--deadline DURATION]] [--status-every DURATION] [--print-migration]
      Ships the trails of FILE (the service's audit settings, JSON) to the destinations of its
      \"ship\" entries that have \"in_process\": false, until stopped, printing each shipper's
      stats as a JSON line every DURATION (default 1m).
      --until-caught-up: deliver every trail to its end, then exit (0; 1 if the deadline,
      default 60s, passed first).
      --print-migration: print the SQL that makes each PostgreSQL table, and exit.";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("audit: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next().map_err(|e| e.to_string())? {
        Some(Value(command)) => command.string().map_err(|e| e.to_string())?,
        Some(Long("help") | Short('h')) | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(other) => return Err(format!("{}\n{USAGE}", other.unexpected())),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut key_file: Option<PathBuf> = None;
    let mut json = false;
    let mut checkpoint: Option<PathBuf> = None;
    let mut public_key: Option<PathBuf> = None;
    let mut after_retention = false;
    let mut seal_key: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut until_caught_up = false;
    let mut deadline = std::time::Duration::from_secs(60);
    let mut print_migration = false;
    let mut status_every = std::time::Duration::from_secs(60);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("key-file") => key_file = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("json") if command == "verify" => json = true,
            Long("after-retention") if command == "verify" => after_retention = true,
            Long("seal-key") if command == "verify" => {
                seal_key = Some(parser.value().map_err(|e| e.to_string())?.into())
            }
            Long("checkpoint") if command == "verify" => {
                checkpoint = Some(parser.value().map_err(|e| e.to_string())?.into())
            }
            Long("public-key") if command == "verify" => {
                public_key = Some(parser.value().map_err(|e| e.to_string())?.into())
            }
            Long("config") if command == "ship" => config = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("until-caught-up") if command == "ship" => until_caught_up = true,
            Long("print-migration") if command == "ship" => print_migration = true,
            Long("deadline") if command == "ship" => deadline = duration(&mut parser, "deadline", true)?,
            Long("status-every") if command == "ship" => status_every = duration(&mut parser, "status-every", false)?,
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            Value(value) => paths.push(value.into()),
            other => return Err(format!("{}\n{USAGE}", other.unexpected())),
        }
    }
    let key = key_file.as_deref().map(read_key).transpose()?;
    match command.as_str() {
        "verify" => {
            let mut options = match key {
                Some(key) => Options::with_key(key),
                None => Options::default(),
            };
            if after_retention {
                options = options.after_retention();
            }
            if let Some(public) = seal_key {
                options = options.with_seals(PublicKey::from_file(&public)?);
            }
            match (checkpoint, public_key) {
                (Some(note), Some(public)) => {
                    let public = PublicKey::from_file(&public)?;
                    let text = std::fs::read_to_string(&note).map_err(|e| format!("{}: {e}", note.display()))?;
                    let checkpoint =
                        Checkpoint::verify(&text, &public).map_err(|e| format!("{}: {e}", note.display()))?;
                    options = options.expecting(checkpoint.link());
                }
                (None, None) => {}
                _ => return Err("--checkpoint and --public-key go together".to_owned()),
            }
            verify(&paths, options, json)
        }
        "keygen" => {
            let [name, prefix] = paths.as_slice() else {
                return Err(format!("`keygen` takes a key name and a file prefix\n{USAGE}"));
            };
            keygen(&name.to_string_lossy(), prefix)
        }
        "hash" => {
            let (Some(key), [value]) = (key, paths.as_slice()) else {
                return Err(format!("`hash` takes --key-file FILE and one value\n{USAGE}"));
            };
            println!("{}", Concealer::new(key).hash(&value.to_string_lossy()));
            Ok(ExitCode::SUCCESS)
        }
        "ship" => {
            let Some(config) = config else {
                return Err(format!("`ship` needs --config FILE\n{USAGE}"));
            };
            let text = std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
            let settings = AuditConfig::from_json(&text).map_err(|e| format!("{}: {e}", config.display()))?;
            if print_migration {
                return print_migrations(&settings);
            }
            ship(&settings, until_caught_up.then_some(deadline), status_every)
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

/// The value of `--name` as a duration (`30s`, `5m`); zero only where `zero_allowed`.
fn duration(parser: &mut lexopt::Parser, name: &str, zero_allowed: bool) -> Result<std::time::Duration, String> {
    use lexopt::ValueExt;
    let value = parser.value().map_err(|e| e.to_string())?.string().map_err(|e| e.to_string())?;
    match humantime::parse_duration(&value) {
        Ok(duration) if zero_allowed || !duration.is_zero() => Ok(duration),
        Err(error) if zero_allowed => Err(format!("--{name} {value}: {error}")),
        _ => Err(format!("--{name} {value}: not an interval (`30s`, `5m`)")),
    }
}

/// Runs the standalone shippers of `settings` together: until stopped, or until each has caught
/// up (`deadline`, shared by all: the command returns within it and one batch's delivery). A
/// shipper whose destination is down at start is tried again every few seconds while the
/// others deliver; a JSON line of each shipper's stats goes to standard output every
/// `status_every`.
fn ship(
    settings: &AuditConfig,
    deadline: Option<std::time::Duration>,
    status_every: std::time::Duration,
) -> Result<ExitCode, String> {
    use std::time::{Duration, Instant};
    let count = settings.standalone_shippers().map_err(|e| e.to_string())?.len();
    if count == 0 {
        return Err("no shipper to run: give a \"ship\" entry \"in_process\": false".to_owned());
    }
    let until = deadline.map(|deadline| Instant::now() + deadline);
    let retry_every = Duration::from_secs(5);
    // Each shipper: running, or not started yet (its last error, and when to try again).
    let mut slots: Vec<Slot> = (0..count).map(|_| Slot::Waiting { error: None, next: Instant::now() }).collect();
    // Each start (its destination's check, which may take a while) on a thread of its own: a
    // slow one holds no other.
    let (started, starts) = std::sync::mpsc::channel();
    let mut next_status = Instant::now() + status_every;
    loop {
        let now = Instant::now();
        if slots.iter().any(|slot| matches!(slot, Slot::Waiting { next, .. } if *next <= now)) {
            // Builders are made anew for each try (a failed start consumes its builder).
            let mut builders: Vec<Option<_>> =
                settings.standalone_shippers().map_err(|e| e.to_string())?.into_iter().map(Some).collect();
            for (index, slot) in slots.iter_mut().enumerate() {
                let Slot::Waiting { next, error } = slot else { continue };
                if *next > now {
                    continue;
                }
                let Some((at, builder)) = builders.get_mut(index).and_then(Option::take) else { continue };
                let started = started.clone();
                std::thread::spawn(move || drop(started.send((index, at, builder.spawn()))));
                *slot = Slot::Starting { error: error.take() };
            }
        }
        while let Ok((index, at, result)) = starts.try_recv() {
            slots[index] = match result {
                Ok(guard) => {
                    eprintln!("audit: {at}: shipping to {}", guard.stats().destination);
                    Slot::Running { at, guard }
                }
                Err(error) => {
                    eprintln!("audit: {at}: not started, tried again in {retry_every:?}: {error}");
                    Slot::Waiting { error: Some((at, error.to_string())), next: Instant::now() + retry_every }
                }
            };
        }
        let all_caught_up =
            slots.iter().all(|slot| matches!(slot, Slot::Running { guard, .. } if guard.stats().caught_up));
        if until.is_some() && all_caught_up {
            break;
        }
        if until.is_some_and(|until| Instant::now() >= until) {
            break;
        }
        if Instant::now() >= next_status {
            print_status(&slots);
            next_status += status_every;
        }
        let mut wake = next_status.min(Instant::now() + Duration::from_millis(50));
        if let Some(until) = until {
            wake = wake.min(until);
        }
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    // The deadline's end, or all caught up: each stops after the batch it is delivering.
    let mut all = true;
    for slot in &slots {
        if let Slot::Running { guard, .. } = slot {
            guard.begin_shutdown(Duration::ZERO);
        }
    }
    for slot in slots {
        match slot {
            Slot::Running { at, guard } => {
                let stats = guard.shutdown(Duration::ZERO);
                if stats.caught_up {
                    eprintln!("audit: {at}: {} events delivered to {}: caught up", stats.delivered, stats.destination);
                } else {
                    all = false;
                    let why = stats.last_error.as_deref().unwrap_or("the deadline came first");
                    eprintln!(
                        "audit: {at}: {} events delivered to {}: not caught up ({why})",
                        stats.delivered, stats.destination
                    );
                }
            }
            Slot::Waiting { error, .. } | Slot::Starting { error } => {
                all = false;
                if let Some((at, error)) = error {
                    eprintln!("audit: {at}: never started: {error}");
                }
            }
        }
    }
    Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A shipper of `audit ship`.
enum Slot {
    Running {
        at: String,
        guard: audit_core::ship::ShipperGuard,
    },
    /// Not started: why (with the setting), and when it is tried again.
    Waiting {
        error: Option<(String, String)>,
        next: std::time::Instant,
    },
    /// Being started (its destination checked) on a thread of its own; why the last try failed.
    Starting {
        error: Option<(String, String)>,
    },
}

/// A JSON line of each shipper's stats on standard output.
fn print_status(slots: &[Slot]) {
    for slot in slots {
        let line = match slot {
            Slot::Running { at, guard } => {
                let stats = guard.stats();
                serde_json::json!({
                    "shipper": at,
                    "destination": stats.destination,
                    "started": true,
                    "delivered": stats.delivered,
                    "failed_attempts": stats.failed_attempts,
                    "caught_up": stats.caught_up,
                    "seconds_behind": stats.seconds_behind,
                    "events_behind": stats.events_behind,
                    "last_error": stats.last_error,
                })
            }
            Slot::Waiting { error, .. } | Slot::Starting { error } => {
                let (at, error) = error.clone().unwrap_or_default();
                serde_json::json!({ "shipper": at, "started": false, "last_error": error })
            }
        };
        println!("{line}");
    }
}

/// Prints the SQL of every PostgreSQL destination's table.
fn print_migrations(settings: &AuditConfig) -> Result<ExitCode, String> {
    let mut any = false;
    for sink in &settings.sinks {
        let SinkConfig::RollingFile(file) = sink else { continue };
        for ship in file.ship.iter().filter(|ship| ship.to == DestinationKind::Postgres) {
            let table = ship.table.as_deref().unwrap_or(PostgresDestination::DEFAULT_TABLE);
            println!("-- {}: table {table}", file.path.display());
            println!("{}", PostgresDestination::migration_sql(table, &settings.namespace));
            any = true;
        }
    }
    if !any {
        return Err("no PostgreSQL destination in the configuration".to_owned());
    }
    Ok(ExitCode::SUCCESS)
}

/// A key file's bytes, a final newline left out.
fn read_key(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    Ok(bytes.strip_suffix(b"\r").unwrap_or(bytes).to_vec())
}

/// Writes a new signing key pair: `<prefix>.key` (owner-only) and `<prefix>.pub`.
fn keygen(name: &str, prefix: &Path) -> Result<ExitCode, String> {
    let key = SigningKey::generate(name)?;
    let with = |ext: &str| {
        let mut path = prefix.as_os_str().to_owned();
        path.push(ext);
        PathBuf::from(path)
    };
    let (private, public) = (with(".key"), with(".pub"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&private).map_err(|e| format!("{}: {e}", private.display()))?;
    std::io::Write::write_all(&mut file, key.to_text().as_bytes())
        .map_err(|e| format!("{}: {e}", private.display()))?;
    std::fs::write(&public, key.public_key().to_text()).map_err(|e| format!("{}: {e}", public.display()))?;
    println!("{} (secret: for the writer)\n{} (for verifiers)", private.display(), public.display());
    Ok(ExitCode::SUCCESS)
}

fn verify(paths: &[PathBuf], options: Options, json: bool) -> Result<ExitCode, String> {
    if paths.is_empty() {
        return Err(format!("`verify` needs a path\n{USAGE}"));
    }
    let mut reports: Vec<(String, Report)> = Vec::new();
    let check = |what: &Path, result: std::io::Result<Report>| {
        result.map(|report| (what.display().to_string(), report)).map_err(|e| format!("{}: {e}", what.display()))
    };
    match paths {
        [path] if path.is_dir() => {
            let trails = trails_in(path)?;
            if trails.is_empty() {
                return Err(format!("{}: no audit trail in this directory", path.display()));
            }
            for active in trails {
                reports.push(check(&active, verify_trail(&active, &options))?);
            }
        }
        [path] => reports.push(check(path, verify_trail(path, &options))?),
        files => reports.push(check(&files[0], verify_files(files, &options))?),
    }
    let intact = reports.iter().all(|(_, report)| report.is_intact());
    for (trail, report) in &reports {
        if json {
            let mut value = report.to_json();
            value["trail"] = serde_json::Value::String(trail.clone());
            println!("{value}");
        } else {
            print_report(trail, report);
        }
    }
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_report(trail: &str, report: &Report) {
    for finding in &report.findings {
        let note = if finding.expected { " (a crash: the writer resumed after it)" } else { "" };
        println!("{}:{}: {}: {}{note}", finding.file.display(), finding.line, finding.kind, finding.detail);
    }
    let range = match (report.first_sequence, report.last) {
        (Some(first), Some(last)) => format!("event.sequence {first} to {}", last.sequence),
        _ => "no chained line".to_owned(),
    };
    let verdict = if report.is_intact() { "intact" } else { "NOT INTACT" };
    let problems = report.findings.iter().filter(|f| !f.expected).count();
    println!(
        "{trail}: {verdict}: {} file(s), {} line(s), {} verified, {range}; {problems} finding(s)",
        report.files.len(),
        report.lines,
        report.verified
    );
}

/// The trails in `dir`: each `.log` file that is not a rotated file of another.
fn trails_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let mut rotated = Vec::new();
    for log in &logs {
        rotated.extend(rotated_files(log).map_err(|e| format!("{}: {e}", log.display()))?);
    }
    Ok(logs.into_iter().filter(|log| !rotated.contains(log)).collect())
}
