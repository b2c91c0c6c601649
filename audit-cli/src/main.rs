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
//! NATS JetStream, syslog or an OpenTelemetry collector until stopped (a SIGKILL included: it resumes from its cursor), or,
//! with `--until-caught-up`, until every trail is delivered to its end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use audit_core::checkpoint::{Checkpoint, PublicKey, SigningKey};
use audit_core::config::{DestinationKind, SinkConfig};
use audit_core::secret::Concealer;
use audit_core::ship::postgres::PostgresDestination;
use audit_core::trail::rotated_files;
use audit_core::verify::{verify_files, verify_trail, Options, Report};
use audit_core::AuditConfig;

/// The `audit` command.
#[derive(Debug, Parser)]
#[command(
    name = "audit",
    version,
    about = "Verify chained audit trails, ship them to central stores, hash candidate secrets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check chained trails: every line, file and link.
    ///
    /// Prints every finding with its file and line, then a summary. Exits 0 if every trail is
    /// intact, 1 if one is not, 2 if it cannot check.
    Verify(VerifyArgs),
    /// Make a checkpoint signing key pair named NAME: PREFIX.key (secret, mode 0600) and
    /// PREFIX.pub (for verifiers).
    Keygen {
        /// The key's name (written in every checkpoint it signs).
        name: String,
        /// Where the pair goes: PREFIX.key and PREFIX.pub.
        prefix: PathBuf,
    },
    /// Print the hmac-sha256:… of VALUE under a logger's HMAC key (its hmac_key_file), to search
    /// a trail for a secret without the trail ever holding it.
    Hash {
        /// The logger's HMAC key file.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The candidate value.
        value: String,
    },
    /// Ship the trails of a service's audit settings to the destinations of its "ship" entries
    /// that have "in_process": false.
    ///
    /// Runs until stopped (a SIGKILL included: each shipper resumes from its cursor), printing
    /// each shipper's stats as a JSON line every --status-every; or, with --until-caught-up,
    /// until every trail is delivered to its end. A destination down at start is tried again
    /// every few seconds while the others deliver.
    Ship(ShipArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// A trail's active file (rotated files beside it are included), a directory (every trail
    /// in it), or several files (checked as one trail, in the order given).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The chain's HMAC key (a chain made with ChainHash::HmacSha256).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// A signed checkpoint the trail must still hold (with --public-key).
    #[arg(long, value_name = "FILE", requires = "public_key")]
    checkpoint: Option<PathBuf>,
    /// The public key the checkpoint is signed with.
    #[arg(long, value_name = "FILE", requires = "checkpoint")]
    public_key: Option<PathBuf>,
    /// Check every rotated file against its seal, signed by this public key.
    #[arg(long, value_name = "FILE")]
    seal_key: Option<PathBuf>,
    /// The oldest files were removed by retention (Rotation::keep).
    #[arg(long)]
    after_retention: bool,
    /// One JSON object per trail instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShipArgs {
    /// The service's audit settings (JSON).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Deliver every trail to its end, then exit: 0, or 1 if the deadline passed first.
    #[arg(long)]
    until_caught_up: bool,
    /// With --until-caught-up: the time allowed, for all shippers together (`30s`, `5m`).
    #[arg(long, value_name = "DURATION", requires = "until_caught_up", default_value = "60s", value_parser = duration)]
    deadline: std::time::Duration,
    /// How often each shipper's stats are printed (`30s`, `5m`).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = interval)]
    status_every: std::time::Duration,
    /// Print the SQL that makes each PostgreSQL table, and exit.
    #[arg(long)]
    print_migration: bool,
}

fn main() -> ExitCode {
    // A bad argument exits 2 with clap's message; --help and --version exit 0.
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("audit: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Verify(args) => {
            let mut options = match args.key_file.as_deref().map(read_key).transpose()? {
                Some(key) => Options::with_key(key),
                None => Options::default(),
            };
            if args.after_retention {
                options = options.after_retention();
            }
            if let Some(public) = args.seal_key {
                options = options.with_seals(PublicKey::from_file(&public)?);
            }
            if let (Some(note), Some(public)) = (args.checkpoint, args.public_key) {
                let public = PublicKey::from_file(&public)?;
                let text = std::fs::read_to_string(&note).map_err(|e| format!("{}: {e}", note.display()))?;
                let checkpoint = Checkpoint::verify(&text, &public).map_err(|e| format!("{}: {e}", note.display()))?;
                options = options.expecting(checkpoint.link());
            }
            verify(&args.paths, options, args.json)
        }
        Command::Keygen { name, prefix } => keygen(&name, &prefix),
        Command::Hash { key_file, value } => {
            println!("{}", Concealer::new(read_key(&key_file)?).hash(&value));
            Ok(ExitCode::SUCCESS)
        }
        Command::Ship(args) => {
            let config = &args.config;
            let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
            let settings = AuditConfig::from_json(&text).map_err(|e| format!("{}: {e}", config.display()))?;
            if args.print_migration {
                return print_migrations(&settings);
            }
            ship(&settings, args.until_caught_up.then_some(args.deadline), args.status_every)
        }
    }
}

/// A duration (`30s`, `5m`), zero allowed.
fn duration(value: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(value).map_err(|error| error.to_string())
}

/// A duration that is not zero.
fn interval(value: &str) -> Result<std::time::Duration, String> {
    match duration(value)? {
        zero if zero.is_zero() => Err("not an interval: zero".to_owned()),
        interval => Ok(interval),
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
