//! Real servers for the fleet tests, each started by the test on loopback in a temporary
//! directory and stopped when dropped: PostgreSQL, a three-server NATS JetStream cluster and
//! rsyslog. A missing server program is a failure that says what to install, never a skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TempDir;

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Finds a server program on PATH or in the distribution's places for it.
fn program(name: &str, package: &str, extra_dirs: &[&str]) -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for pattern in extra_dirs {
        if let Some(parent) = pattern.strip_suffix("/*/bin") {
            if let Ok(entries) = std::fs::read_dir(parent) {
                let mut versions: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect();
                versions.sort();
                dirs.extend(versions.into_iter().rev());
            }
        } else {
            dirs.push(PathBuf::from(pattern));
        }
    }
    dirs.into_iter().map(|dir| dir.join(name)).find(|path| path.is_file()).unwrap_or_else(|| {
        panic!("`{name}` is not installed: these tests need it (`apt-get install {package}`; `.ci/run` installs it)")
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Waits until `port` on loopback accepts connections.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on port {port} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A PostgreSQL server of its own.
pub struct Postgres {
    pub port: u16,
    dir: TempDir,
    bin: PathBuf,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(None)
    }

    /// A server that takes TCP connections over TLS only (with `certs`' server certificate);
    /// the tests' own queries go through its Unix socket.
    pub fn start_tls(certs: &TestCertificates) -> Postgres {
        Postgres::start_with(Some(certs))
    }

    fn start_with(tls: Option<&TestCertificates>) -> Postgres {
        let initdb = program("initdb", "postgresql", &["/usr/lib/postgresql/*/bin"]);
        let bin = initdb.parent().unwrap().to_path_buf();
        let dir = TempDir::new("postgres");
        let data = dir.path("data");
        std::fs::create_dir_all(&data).unwrap();
        if is_root() {
            // PostgreSQL refuses to run as root: its files belong to the `postgres` user.
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir.0));
        }
        run(as_postgres(&initdb).args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"]).arg(&data));
        if let Some(certs) = tls {
            std::fs::copy(&certs.cert, data.join("server.pem")).unwrap();
            std::fs::copy(&certs.key, data.join("server.key")).unwrap();
            std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
                .unwrap();
            std::fs::write(
                data.join("postgresql.auto.conf"),
                "ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n",
            )
            .unwrap();
            if is_root() {
                run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&data));
            }
            run(Command::new("chmod").arg("600").arg(data.join("server.key")));
        }
        let postgres = Postgres { port: free_port(), dir, bin };
        postgres.start_server();
        postgres
    }

    fn start_server(&self) {
        let data = self.dir.path("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50",
            self.port,
            self.dir.0.display()
        );
        run(as_postgres(&self.bin.join("pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .args(["-l"])
            .arg(self.dir.path("server.log"))
            .args(["-o", &options, "start"]));
        wait_for_port(self.port, "PostgreSQL");
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (`immediate`: as if the machine lost power; a crash recovery at
    /// the next start).
    pub fn stop(&self) {
        run(as_postgres(&self.bin.join("pg_ctl")).args(["-D"]).arg(self.dir.path("data")).args([
            "-m",
            "immediate",
            "stop",
        ]));
    }

    pub fn restart(&self) {
        self.start_server();
    }

    /// A client of the tests' own, through the server's Unix socket.
    pub fn client(&self) -> postgres::Client {
        let config = format!("host={} port={} user=postgres dbname=postgres", self.dir.0.display(), self.port);
        postgres::Client::connect(&config, postgres::NoTls).unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(self.dir.path("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A cluster of NATS servers with JetStream, on loopback.
pub struct NatsCluster {
    pub ports: Vec<u16>,
    configs: Vec<PathBuf>,
    servers: Vec<Option<Killed>>,
    program: PathBuf,
    _dir: TempDir,
}

impl NatsCluster {
    pub fn start(size: usize) -> NatsCluster {
        NatsCluster::start_with(size, None)
    }

    /// A cluster whose client connections are TLS only, with `certs`' server certificate.
    pub fn start_tls(size: usize, certs: &TestCertificates) -> NatsCluster {
        NatsCluster::start_with(size, Some(certs))
    }

    fn start_with(size: usize, tls: Option<&TestCertificates>) -> NatsCluster {
        // A port found free can be taken by another test before the server binds it; the server
        // then exits at once. A new set of ports, then, a few times before giving up.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match NatsCluster::try_start(size, tls) {
                Ok(cluster) => return cluster,
                Err(why) if attempts < 4 => eprintln!("nats-server: {why}; again on other ports"),
                Err(why) => panic!("{why}"),
            }
        }
    }

    fn try_start(size: usize, tls: Option<&TestCertificates>) -> Result<NatsCluster, String> {
        let program = program("nats-server", "nats-server", &[]);
        let dir = TempDir::new("nats");
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let configs: Vec<PathBuf> = (0..size)
            .map(|i| {
                let others: Vec<String> =
                    (0..size).filter(|&j| j != i).map(|j| format!("nats-route://127.0.0.1:{}", routes[j])).collect();
                let mut config = format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: audit, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    ports[i],
                    dir.path(&format!("n{i}")).display(),
                    routes[i],
                    others.join(", ")
                );
                if let Some(certs) = tls {
                    config.push_str(&format!(
                        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
                        certs.cert.display(),
                        certs.key.display()
                    ));
                }
                let path = dir.path(&format!("n{i}.conf"));
                std::fs::write(&path, config).unwrap();
                path
            })
            .collect();
        let mut cluster = NatsCluster { ports, configs, servers: Vec::new(), program, _dir: dir };
        cluster.servers = (0..size).map(|i| Some(cluster.spawn(i))).collect();
        for i in 0..size {
            cluster.wait_listening(i)?;
        }
        Ok(cluster)
    }

    /// Waits until server `i` accepts connections; an error, with its log, if it exits first.
    fn wait_listening(&mut self, i: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = self.ports[i];
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let server = self.servers[i].as_mut().expect("server i was started");
            if let Ok(Some(status)) = server.0.try_wait() {
                let log = std::fs::read_to_string(self.configs[i].with_extension("log")).unwrap_or_default();
                return Err(format!("server {i} exited ({status}) before listening on port {port}: {log}"));
            }
            if Instant::now() >= deadline {
                return Err(format!("nats-server did not listen on port {port} within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn spawn(&self, i: usize) -> Killed {
        let log = std::fs::File::create(self.configs[i].with_extension("log")).unwrap();
        Killed(
            Command::new(&self.program)
                .arg("-c")
                .arg(&self.configs[i])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    /// The servers' urls, comma-separated.
    pub fn urls(&self) -> String {
        self.ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// SIGKILLs server `i`.
    pub fn kill(&mut self, i: usize) {
        self.servers[i] = None;
    }

    pub fn restart(&mut self, i: usize) {
        self.servers[i] = Some(self.spawn(i));
        if let Err(why) = self.wait_listening(i) {
            panic!("{why}");
        }
    }
}

/// An rsyslog server of its own, receiving on TCP (plain or TLS) and on a local socket, writing
/// each message's MSG part (the event's line) to `received.log`.
pub struct Rsyslog {
    pub port: u16,
    pub socket: PathBuf,
    pub received: PathBuf,
    config: PathBuf,
    dir: TempDir,
    process: Option<Killed>,
}

/// The TLS files of a test certificate authority: `ca.pem`, and `server.pem`/`server.key` for
/// `localhost`, made with the `openssl` command.
pub struct TestCertificates {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCertificates {
    pub fn make(dir: &Path) -> TestCertificates {
        let openssl = program("openssl", "openssl", &[]);
        let at = |name: &str| dir.join(name);
        run(Command::new(&openssl)
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=audit test CA"])
            .arg("-keyout")
            .arg(at("ca.key"))
            .arg("-out")
            .arg(at("ca.pem")));
        run(Command::new(&openssl)
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(at("server.key"))
            .arg("-out")
            .arg(at("server.csr")));
        std::fs::write(at("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
        run(Command::new(&openssl)
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(at("server.csr"))
            .arg("-CA")
            .arg(at("ca.pem"))
            .arg("-CAkey")
            .arg(at("ca.key"))
            .arg("-extfile")
            .arg(at("ext.cnf"))
            .arg("-out")
            .arg(at("server.pem")));
        TestCertificates { ca: at("ca.pem"), cert: at("server.pem"), key: at("server.key") }
    }
}

impl Rsyslog {
    /// Starts rsyslog; with `tls`, its TCP input speaks TLS with those certificates.
    pub fn start(tls: Option<&TestCertificates>) -> Rsyslog {
        let dir = TempDir::new("rsyslog");
        let port = free_port();
        let socket = dir.path("log.sock");
        let received = dir.path("received.log");
        let (global_tls, tcp_module) = match tls {
            None => (String::new(), "module(load=\"imtcp\")".to_owned()),
            Some(certs) => (
                format!(
                    "global(DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{}\" \
                     DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")",
                    certs.ca.display(),
                    certs.cert.display(),
                    certs.key.display()
                ),
                "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")"
                    .to_owned(),
            ),
        };
        let config = format!(
            "global(workDirectory=\"{dir}\" maxMessageSize=\"256k\")\n{global_tls}\n{tcp_module}\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{socket}\" CreatePath=\"on\" UseSpecialParser=\"off\" ParseHostname=\"on\")\n\
             template(name=\"line\" type=\"string\" string=\"%hostname% %app-name% %msgid% %syslogfacility% %syslogseverity% %msg%\\n\")\n\
             action(type=\"omfile\" file=\"{received}\" template=\"line\")\n",
            dir = dir.0.display(),
            socket = socket.display(),
            received = received.display(),
        );
        let config_path = dir.path("rsyslog.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut rsyslog = Rsyslog { port, socket, received, config: config_path, dir, process: None };
        rsyslog.restart();
        rsyslog
    }

    /// Stops rsyslog the way a service manager does (SIGTERM), and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let pid = process.0.id().to_string();
            run(Command::new("kill").args(["-TERM", &pid]));
            let _ = process.0.wait();
        }
    }

    pub fn restart(&mut self) {
        let program = program("rsyslogd", "rsyslog", &["/usr/sbin"]);
        let log = std::fs::File::create(self.dir.path("rsyslogd.out")).unwrap();
        let child = Command::new(program)
            .arg("-n")
            .arg("-f")
            .arg(&self.config)
            .arg("-i")
            .arg(self.dir.path("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(Killed(child));
        wait_for_port(self.port, "rsyslogd");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.socket.exists() {
            assert!(Instant::now() < deadline, "rsyslogd made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines received so far: `hostname app-name msgid facility severity msg`. Only whole
    /// lines: rsyslog may be in the middle of writing the last one.
    pub fn received(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.received).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole.lines().map(str::to_owned).collect()
    }
}

/// A Prometheus server of its own, scraping `target` (`host:port`, path `/metrics`) every second.
pub struct Prometheus {
    pub port: u16,
    _dir: TempDir,
    _process: Killed,
}

impl Prometheus {
    pub fn start(target: &str) -> Prometheus {
        let binary = program("prometheus", "prometheus", &["/usr/bin"]);
        let dir = TempDir::new("prometheus");
        let config = dir.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: service\n    \
                 metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path("prometheus.log")).unwrap();
        let process = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let process = Killed(process);
        wait_for_port(port, "prometheus");
        Prometheus { port, _dir: dir, _process: process }
    }
}

/// The `rotel-agent` program of the PyPI package `rotel` (an OpenTelemetry collector): inside
/// the package, found through the Python that has it.
fn rotel_agent() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import rotel, os; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))"])
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            assert!(path.is_file(), "rotel's agent is not at {}", path.display());
            path
        }
        _ => panic!("the OpenTelemetry collector `rotel` is not installed: these tests need it (`pip install rotel`; `.ci/run` installs it)"),
    }
}

/// An OpenTelemetry collector (rotel) on loopback, printing every log record it receives.
pub struct Collector {
    pub http_port: u16,
    pub grpc_port: u16,
    /// Whether it prints what it receives (the tests read it; a benchmark measures without).
    printing: bool,
    pub output: PathBuf,
    dir: TempDir,
    process: Option<Killed>,
}

impl Collector {
    pub fn start() -> Collector {
        Collector::started(true)
    }

    /// One that prints nothing of what it receives.
    #[allow(dead_code)] // the benchmarks' (they include this file)
    pub fn start_quiet() -> Collector {
        Collector::started(false)
    }

    fn started(printing: bool) -> Collector {
        let dir = TempDir::new("rotel");
        let output = dir.path("records.log");
        let mut collector =
            Collector { http_port: free_port(), grpc_port: free_port(), printing, output, dir, process: None };
        collector.restart();
        collector
    }

    /// Starts it (again, on the same ports, appending to the same output).
    pub fn restart(&mut self) {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.output).unwrap();
        let mut command = Command::new(rotel_agent());
        command
            .arg("start")
            .arg(format!("--otlp-http-endpoint=127.0.0.1:{}", self.http_port))
            .arg(format!("--otlp-grpc-endpoint=127.0.0.1:{}", self.grpc_port))
            .args(["--exporter", "blackhole"]);
        if self.printing {
            command.args(["--debug-log", "logs", "--debug-log-verbosity", "detailed"]);
        }
        let process = command
            .current_dir(self.dir.path(""))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("rotel starts");
        self.process = Some(Killed(process));
        wait_for_port(self.http_port, "rotel");
    }

    /// Kills it (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// What it printed so far.
    pub fn printed(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.output).unwrap_or_default()).into_owned()
    }
}
