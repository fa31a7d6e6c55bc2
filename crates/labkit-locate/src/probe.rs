//! Short, bounded questions to a port: is anyone there, and is it what we think?
//!
//! The CLI depends on no service client, and resolution must stay cheap, so the
//! two handshakes needed here are spoken directly: Postgres's startup message
//! (does user `postgres` get in without a password?) and Redis's `PING`. Each is
//! a few bytes each way, under one deadline.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect to the first of `addr`'s addresses that accepts (`localhost` may
/// resolve to ::1 before 127.0.0.1, and clients try both).
fn connect(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let sockets: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last = std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{addr} is not a host:port"),
    );
    for socket in sockets {
        match TcpStream::connect_timeout(&socket, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Does anything accept a TCP connection on `addr` within `timeout`?
pub fn tcp_answers(addr: &str, timeout: Duration) -> bool {
    connect(addr, timeout).is_ok()
}

/// Why a Postgres login without a password did not get in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginProblem {
    /// The server asked for a password, by this method.
    PasswordRequired(&'static str),
    /// The server refused the login outright.
    Refused { sqlstate: String, message: String },
    /// Whatever answered did not speak Postgres's protocol.
    NotPostgres,
    /// The connection failed or went silent.
    Io(String),
}

impl fmt::Display for LoginProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginProblem::PasswordRequired(method) => {
                write!(
                    f,
                    "it asks user `postgres` for a password ({method} authentication)"
                )
            }
            LoginProblem::Refused { sqlstate, message } => {
                write!(
                    f,
                    "it refused user `postgres`: {message} (SQLSTATE {sqlstate})"
                )
            }
            LoginProblem::NotPostgres => f.write_str("whatever answers there is not Postgres"),
            LoginProblem::Io(e) => write!(f, "the login did not complete: {e}"),
        }
    }
}

/// Start a session as `user` on `database` without a password, and end it at
/// once. `Ok` means the lab can log in the way its default URL says.
pub fn postgres_login(
    addr: &str,
    user: &str,
    database: &str,
    timeout: Duration,
) -> Result<(), LoginProblem> {
    let io = |e: std::io::Error| LoginProblem::Io(e.to_string());
    let mut stream = connect(addr, timeout).map_err(io)?;
    // StartupMessage: length, protocol 3.0, then name/value pairs, then a NUL.
    let mut body = Vec::new();
    body.extend_from_slice(&196_608_i32.to_be_bytes());
    for (name, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    stream.write_all(&message).map_err(io)?;

    let mut header = [0u8; 5];
    stream.read_exact(&mut header).map_err(io)?;
    let length = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if !(4..=65_536).contains(&length) {
        return Err(LoginProblem::NotPostgres);
    }
    let mut payload = vec![0u8; length as usize - 4];
    stream.read_exact(&mut payload).map_err(io)?;
    let outcome = match header[0] {
        b'R' if payload.len() >= 4 => {
            match i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) {
                0 => Ok(()),
                3 => Err(LoginProblem::PasswordRequired("password")),
                5 => Err(LoginProblem::PasswordRequired("md5")),
                10 => Err(LoginProblem::PasswordRequired("SCRAM-SHA-256")),
                7 | 8 => Err(LoginProblem::PasswordRequired("GSSAPI")),
                _ => Err(LoginProblem::PasswordRequired("another")),
            }
        }
        b'E' => Err(error_response(&payload)),
        _ => Err(LoginProblem::NotPostgres),
    };
    // Terminate, so the server logs a clean disconnect rather than an EOF.
    let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
    outcome
}

/// ErrorResponse: fields of (code byte, NUL-terminated text), ended by a NUL.
fn error_response(payload: &[u8]) -> LoginProblem {
    let mut sqlstate = String::new();
    let mut message = String::new();
    for field in payload.split(|b| *b == 0) {
        let Some((code, text)) = field.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(text).into_owned();
        match code {
            b'C' => sqlstate = text,
            b'M' => message = text,
            _ => {}
        }
    }
    LoginProblem::Refused { sqlstate, message }
}

/// Read the greeting a MySQL-protocol server sends first: a packet header (3
/// bytes of length, a sequence number of 0) and protocol version 10. `Ok` with
/// the server's version string ("10.11.19-MariaDB-…").
pub fn mysql_greeting(addr: &str, timeout: Duration) -> Result<String, String> {
    let mut stream = connect(addr, timeout).map_err(|e| e.to_string())?;
    let mut header = [0u8; 5];
    stream
        .read_exact(&mut header)
        .map_err(|e| format!("it sent no MySQL greeting ({e})"))?;
    let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    if header[3] != 0 || header[4] != 10 || !(2..=1024).contains(&length) {
        return Err("its first bytes are not a MySQL protocol greeting".to_string());
    }
    let mut rest = vec![0u8; length - 1];
    stream
        .read_exact(&mut rest)
        .map_err(|e| format!("its greeting was cut short ({e})"))?;
    let version = rest.split(|b| *b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(version).into_owned())
}

/// Send `PING`; `Ok` if the answer is `+PONG`. An `-ERR`/`-NOAUTH` answer comes
/// back as the error text.
pub fn redis_ping(addr: &str, timeout: Duration) -> Result<(), String> {
    let mut stream = connect(addr, timeout).map_err(|e| e.to_string())?;
    stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer[..n]);
    if answer.starts_with("+PONG") {
        Ok(())
    } else if answer.is_empty() {
        // Said nothing: not a Redis, or one that is stuck.
        Err("the connection closed without an answer".to_string())
    } else {
        Err(answer.trim().to_string())
    }
}
