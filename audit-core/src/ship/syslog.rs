//! [`SyslogDestination`]: RFC 5424 messages over TCP with octet counting (RFC 6587), over TLS
//! (RFC 5425), or to the local syslog socket.
//!
//! Each event is one message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID - MSG`, where the
//! facility is `log audit` (13) by default, the severity `warning` for a failed outcome and
//! `notice` otherwise, MSGID the event's action and MSG the event's JSON line as the trail holds
//! it (without a BOM, so receivers can parse it as JSON).
//!
//! ```no_run
//! use audit_core::ship::syslog::SyslogDestination;
//! use audit_core::ship::{Shipper, TlsConfig};
//!
//! let destination = SyslogDestination::tls("siem.internal:6514", TlsConfig::ca_file("/etc/myapp/siem-ca.pem"));
//! let shipper = Shipper::builder("/var/log/myapp/audit.log", destination).spawn()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **What syslog guarantees.** Syslog has no acknowledgement of its own. Over TCP and TLS a
//! batch counts as delivered once the server's TCP stack has acknowledged every byte of it (the
//! socket's send queue is empty); the connection is checked before each batch, and a batch whose
//! bytes were not all acknowledged is sent again. An event can still be lost if the server dies
//! after its TCP stack received the bytes and before the server read them; use JetStream or
//! PostgreSQL where every event must be stored, and syslog to feed a SIEM. Receivers should
//! raise their message size limit (rsyslog's `maxMessageSize`, 8 KiB by default) to the format's
//! event limit (256 KiB by default).

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::destination::{DeliveryError, Destination};
use super::host::host_name;
use super::tls::TlsConfig;
use crate::trail::record::ShipRecord;

/// The facility `log audit` (RFC 5424, 13).
pub const FACILITY_LOG_AUDIT: u8 = 13;
/// The facility `security/authorization` (RFC 5424, 10: `authpriv`).
pub const FACILITY_AUTHPRIV: u8 = 10;

#[derive(Clone)]
enum Transport {
    Tcp(String),
    Tls(String, TlsConfig),
    #[cfg(unix)]
    Local(PathBuf),
}

enum Connection {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    #[cfg(unix)]
    Local(std::os::unix::net::UnixDatagram),
}

/// A syslog server that receives the trail. See the [module](self) docs.
pub struct SyslogDestination {
    transport: Transport,
    facility: u8,
    app_name: String,
    hostname: String,
    connect_timeout: Duration,
    write_timeout: Duration,
    connection: Option<Connection>,
    /// Of a batch whose delivery failed part-way over the local socket: its first event's id and
    /// how many of its datagrams were sent (each one is whole or not sent), so that trying the
    /// batch again sends only the rest.
    sent: Option<(String, usize)>,
}

impl std::fmt::Debug for SyslogDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogDestination").field("name", &self.name()).finish_non_exhaustive()
    }
}

impl SyslogDestination {
    fn with(transport: Transport) -> SyslogDestination {
        SyslogDestination {
            transport,
            facility: FACILITY_LOG_AUDIT,
            app_name: "audit".into(),
            hostname: printable(&host_name(), 255),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            connection: None,
            sent: None,
        }
    }

    /// Plain TCP to `address` (`host:port`), RFC 6587 octet counting.
    pub fn tcp(address: impl Into<String>) -> SyslogDestination {
        SyslogDestination::with(Transport::Tcp(address.into()))
    }

    /// TLS to `address` (`host:port`, usually 6514), RFC 5425; the server's certificate is
    /// checked for the host part of `address`.
    pub fn tls(address: impl Into<String>, tls: TlsConfig) -> SyslogDestination {
        SyslogDestination::with(Transport::Tls(address.into(), tls))
    }

    /// The local syslog socket (`/dev/log`, a Unix datagram socket), one datagram per event.
    #[cfg(unix)]
    pub fn local(path: impl Into<PathBuf>) -> SyslogDestination {
        SyslogDestination::with(Transport::Local(path.into()))
    }

    /// The facility (0 to 23; default [`FACILITY_LOG_AUDIT`]).
    ///
    /// # Panics
    /// Past 23.
    pub fn facility(mut self, facility: u8) -> Self {
        assert!(facility <= 23, "a syslog facility is 0 to 23, not {facility}");
        self.facility = facility;
        self
    }

    /// APP-NAME (default `audit`; up to 48 printable ASCII characters).
    pub fn app_name(mut self, name: &str) -> Self {
        self.app_name = printable(name, 48);
        self
    }

    /// HOSTNAME (default this machine's host name).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = printable(name, 255);
        self
    }

    /// How long connecting, and a batch's writing and acknowledgement, may take (defaults 10 s).
    pub fn timeouts(mut self, connect: Duration, write: Duration) -> Self {
        self.connect_timeout = connect;
        self.write_timeout = write;
        self
    }

    /// One event as an RFC 5424 message.
    pub fn message(&self, record: &ShipRecord) -> String {
        let severity = if record.outcome.as_deref() == Some("failure") { 4 } else { 5 };
        let pri = u16::from(self.facility) * 8 + severity;
        let timestamp = record.timestamp.as_deref().filter(|t| !t.is_empty() && t.is_ascii()).unwrap_or("-");
        let msgid = record.action.as_deref().map(|a| printable(a, 32)).unwrap_or_else(|| "-".into());
        format!("<{pri}>1 {timestamp} {} {} - {msgid} - {}", self.hostname, self.app_name, record.line)
    }

    fn connect(&self) -> Result<Connection, DeliveryError> {
        let tcp = |address: &str| -> Result<TcpStream, DeliveryError> {
            let mut last = None;
            for socket in address.to_socket_addrs().map_err(|e| DeliveryError::caused_by(address, e))? {
                match TcpStream::connect_timeout(&socket, self.connect_timeout) {
                    Ok(stream) => {
                        stream.set_write_timeout(Some(self.write_timeout))?;
                        stream.set_nodelay(true)?;
                        return Ok(stream);
                    }
                    Err(error) => last = Some(error),
                }
            }
            Err(DeliveryError::new(format!(
                "connecting to {address}: {}",
                last.map(|e| e.to_string()).unwrap_or_else(|| "no address".into())
            )))
        };
        match &self.transport {
            Transport::Tcp(address) => Ok(Connection::Tcp(tcp(address)?)),
            Transport::Tls(address, tls) => {
                let config: Arc<rustls::ClientConfig> = tls.client_config()?;
                let host = address.rsplit_once(':').map_or(address.as_str(), |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| DeliveryError::caused_by(host, e))?;
                let connection = rustls::ClientConnection::new(config, name).map_err(DeliveryError::new)?;
                let mut stream = rustls::StreamOwned::new(connection, tcp(address)?);
                // The handshake, now: a bad certificate is a start-up error, not a lost batch.
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| DeliveryError::caused_by(format!("TLS with {address}"), e))?;
                }
                Ok(Connection::Tls(Box::new(stream)))
            }
            #[cfg(unix)]
            Transport::Local(path) => {
                let socket = std::os::unix::net::UnixDatagram::unbound()?;
                socket
                    .connect(path)
                    .map_err(|e| DeliveryError::caused_by(format!("connecting to {}", path.display()), e))?;
                socket.set_write_timeout(Some(self.write_timeout))?;
                Ok(Connection::Local(socket))
            }
        }
    }

    fn try_deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        if self.connection.as_ref().is_some_and(|c| !c.is_open()) {
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let messages: Vec<String> = batch.iter().map(|record| self.message(record)).collect();
        let deadline = Instant::now() + self.write_timeout;
        match self.connection.as_mut().expect("connected") {
            Connection::Tcp(stream) => {
                stream.write_all(&framed(&messages))?;
                wait_acknowledged(stream, deadline)
            }
            Connection::Tls(stream) => {
                stream.write_all(&framed(&messages))?;
                stream.flush()?;
                wait_acknowledged(&stream.sock, deadline)
            }
            #[cfg(unix)]
            Connection::Local(socket) => {
                let first = batch.first().map(|record| record.id.clone()).unwrap_or_default();
                let already = match self.sent.take() {
                    Some((id, sent)) if id == first => sent.min(messages.len()),
                    _ => 0,
                };
                for (i, message) in messages.iter().enumerate().skip(already) {
                    if let Err(error) = socket.send(message.as_bytes()) {
                        self.sent = Some((first, i));
                        return Err(error.into());
                    }
                }
                Ok(())
            }
        }
    }
}

impl Connection {
    /// Whether a stream connection is still open (the server has not closed it): checked before
    /// each batch, so a batch is not written into a connection the server already left.
    fn is_open(&self) -> bool {
        let stream = match self {
            Connection::Tcp(stream) => stream,
            Connection::Tls(stream) => &stream.sock,
            #[cfg(unix)]
            Connection::Local(_) => return true,
        };
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let open = match stream.peek(&mut byte) {
            Ok(0) => false,                                          // closed by the server
            Ok(_) => true,                                           // it sent something
            Err(error) => error.kind() == io::ErrorKind::WouldBlock, // nothing to read: open
        };
        stream.set_nonblocking(false).is_ok() && open
    }
}

/// Octet-counted frames (RFC 6587 3.4.1): `LEN SP MSG`, one after another.
fn framed(messages: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for message in messages {
        out.extend_from_slice(message.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(message.as_bytes());
    }
    out
}

/// Waits until the server's TCP stack acknowledged every byte written (the send queue is empty).
fn wait_acknowledged(stream: &TcpStream, deadline: Instant) -> Result<(), DeliveryError> {
    loop {
        let queued = unacknowledged(stream)?;
        if queued == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DeliveryError::new(format!("{queued} bytes not acknowledged by the server in time")));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[cfg(target_os = "linux")]
fn unacknowledged(stream: &TcpStream) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
}

#[cfg(not(target_os = "linux"))]
fn unacknowledged(_stream: &TcpStream) -> io::Result<usize> {
    Ok(0)
}

/// `text` as printable ASCII (33 to 126), at most `max` characters, `-` when empty.
fn printable(text: &str, max: usize) -> String {
    let out: String = text.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

impl Destination for SyslogDestination {
    fn name(&self) -> String {
        match &self.transport {
            Transport::Tcp(address) => format!("syslog+tcp://{address}"),
            Transport::Tls(address, _) => format!("syslog+tls://{address}"),
            #[cfg(unix)]
            Transport::Local(path) => format!("syslog+unix://{}", path.display()),
        }
    }

    fn check(&mut self) -> Result<(), DeliveryError> {
        self.connection = Some(self.connect().map_err(|e| DeliveryError::caused_by(self.name(), e))?);
        Ok(())
    }

    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.try_deliver(batch).map_err(|error| {
            // A datagram socket keeps no state worth dropping; a stream is reconnected.
            #[cfg(unix)]
            if matches!(self.connection, Some(Connection::Local(_))) {
                return DeliveryError::caused_by(self.name(), error);
            }
            self.connection = None;
            DeliveryError::caused_by(self.name(), error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_rfc_5424_and_frames_count_octets() {
        let record = ShipRecord::parse(
            br#"{"@timestamp":"2026-12-01T10:00:00.000Z","event":{"id":"0123456789abcdef0123456789abcdef","action":"saved_object_delete","outcome":"failure"},"message":"\u00e9"}"#,
        )
        .unwrap();
        let destination = SyslogDestination::tcp("127.0.0.1:1").hostname("web 1").app_name("shop");
        let message = destination.message(&record);
        assert_eq!(
            message,
            format!("<108>1 2026-12-01T10:00:00.000Z web1 shop - saved_object_delete - {}", record.line),
            "facility 13 × 8 + warning (4)"
        );
        let frames = framed(&[message.clone(), "x".into()]);
        assert_eq!(frames, format!("{} {message}1 x", message.len()).into_bytes());
    }
}
