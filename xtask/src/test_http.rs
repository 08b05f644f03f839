//! Test helpers that speak plain HTTP/1.1 over loopback: a one-shot client and a sink server
//! that records request bodies and answers as told (or refuses, or hangs).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One exchange with `Connection: close`: (status, lower-cased head, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .expect("status")
        .parse()
        .expect("code");
    (status, head.to_lowercase(), body.to_owned())
}

/// How a [`Sink`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status500,
    /// Reads the request, then never answers (until the test ends).
    Hang,
    /// Nothing listens on the port: connections are refused.
    Refuse,
}

/// A server on 127.0.0.1 that records every request body.
pub struct Sink {
    pub addr: SocketAddr,
    pub bodies: Arc<Mutex<Vec<String>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Requests served at most; the sink stops by itself after that.
const MAX_REQUESTS: usize = 20_000;

impl Sink {
    pub async fn start(mode: Mode) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        if mode == Mode::Refuse {
            drop(listener);
            return Sink {
                addr,
                bodies,
                task: None,
            };
        }
        let seen = bodies.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            for _ in 0..MAX_REQUESTS {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let Some(body) = read_request(&mut stream).await else {
                    continue;
                };
                seen.lock().expect("lock").push(body);
                match mode {
                    Mode::Ok => {
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    }
                    Mode::Status500 => {
                        let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    }
                    Mode::Hang | Mode::Refuse => held.push(stream),
                }
            }
        });
        Sink {
            addr,
            bodies,
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the bodies so far, or `timeout`.
    pub async fn wait(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let bodies = self.bodies();
            if done(&bodies) || tokio::time::Instant::now() > deadline {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Reads one request (head and Content-Length body); `None` if the peer went away.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return Some(body[..len].to_owned());
            }
        }
    }
}
