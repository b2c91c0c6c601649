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

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
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
        let program = program("nats-server", "nats-server", &[]);
        let dir = TempDir::new("nats");
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let configs: Vec<PathBuf> = (0..size)
            .map(|i| {
                let others: Vec<String> =
                    (0..size).filter(|&j| j != i).map(|j| format!("nats-route://127.0.0.1:{}", routes[j])).collect();
                let config = format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: audit, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    ports[i],
                    dir.path(&format!("n{i}")).display(),
                    routes[i],
                    others.join(", ")
                );
                let path = dir.path(&format!("n{i}.conf"));
                std::fs::write(&path, config).unwrap();
                path
            })
            .collect();
        let mut cluster = NatsCluster { ports, configs, servers: Vec::new(), program, _dir: dir };
        cluster.servers = (0..size).map(|i| Some(cluster.spawn(i))).collect();
        for &port in &cluster.ports {
            wait_for_port(port, "nats-server");
        }
        cluster
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
        wait_for_port(self.ports[i], "nats-server");
    }
}
