//! Local HTTP servers for tests: an endpoint on 127.0.0.1 that records what it is sent and
//! answers with a chosen status, or never answers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    Answer(u16),
    /// Accepts the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

pub struct Sink {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Sink {
    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// Starts a sink on the current runtime.
pub async fn sink(behaviour: Behaviour) -> Sink {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let path = req.uri().path().to_owned();
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(n, v)| {
                                (n.to_string(), v.to_str().unwrap_or_default().to_owned())
                            })
                            .collect();
                        let body = req.into_body().collect().await?.to_bytes().to_vec();
                        log.lock().expect("not poisoned").push(Recorded {
                            path,
                            headers,
                            body,
                        });
                        let status = match behaviour {
                            Behaviour::Answer(status) => status,
                            Behaviour::Hang => std::future::pending().await,
                        };
                        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                        *response.status_mut() =
                            hyper::StatusCode::from_u16(status).expect("valid status");
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Sink { base, requests }
}

/// A URL on 127.0.0.1 where nothing listens: connections are refused.
pub fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("bound");
    drop(listener);
    format!("http://{addr}")
}
