//! The Telemetry API's destination: a small HTTP/1 server in the sandbox. It is bound
//! synchronously before subscribing (Lambda delivers as soon as the subscription exists) and
//! answers 200 to everything: a 4xx would make Lambda redeliver the same batch forever.

use super::pipeline::Pipeline;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Lambda's largest batch is 1 MiB (`maxBytes`); more than this is not telemetry.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Binds `addr` now; port 0 picks a free port (see [`TcpListener::local_addr`]).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `listener` on the current Tokio runtime, feeding every body to `pipeline`.
pub fn serve(listener: TcpListener, pipeline: Arc<Pipeline>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let pipeline = Arc::clone(&pipeline);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let pipeline = Arc::clone(&pipeline);
                    async move {
                        match Limited::new(req.into_body(), MAX_BODY).collect().await {
                            Ok(body) => pipeline.ingest(&body.to_bytes()),
                            Err(_) => {
                                pipeline.stats().batches.fetch_add(1, Ordering::Relaxed);
                                pipeline
                                    .stats()
                                    .unparseable_batches
                                    .fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
                    }
                });
                // A broken connection only loses that delivery; Lambda retries it.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    async fn started() -> (String, Arc<Pipeline>, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = Arc::clone(&lines);
        let pipeline = Arc::new(Pipeline::with_line_sink(
            Some(("thaw".into(), "fn".into())),
            None,
            Box::new(move |line| sink_lines.lock().expect("lock").push(line.to_owned())),
        ));
        let listener = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("bound");
        serve(listener, Arc::clone(&pipeline)).expect("serve");
        (format!("http://{addr}"), pipeline, lines)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
    }

    #[tokio::test]
    async fn every_post_gets_200_and_good_batches_become_metrics() {
        let (url, pipeline, lines) = started().await;
        let client = client();
        let good = json!([{"time": "2024-05-01T10:00:00Z", "type": "platform.report",
            "record": {"requestId": "r", "metrics": {"durationMs": 1.5}}}]);
        let bodies: Vec<Vec<u8>> = vec![
            good.to_string().into_bytes(),
            b"garbage".to_vec(),
            b"\xff\x00\x01".to_vec(),
            Vec::new(),
            b"[{\"type\": 5}]".to_vec(),
        ];
        for body in bodies {
            let status = client
                .post(&url)
                .body(body)
                .send()
                .await
                .expect("answered")
                .status();
            assert_eq!(status, 200);
        }
        let stats = pipeline.stats();
        assert_eq!(stats.batches.load(Ordering::Relaxed), 5);
        assert_eq!(stats.unparseable_batches.load(Ordering::Relaxed), 3);
        assert_eq!(stats.malformed_items.load(Ordering::Relaxed), 1);
        assert_eq!(lines.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn an_oversized_body_is_counted_and_still_answered_200() {
        let (url, pipeline, _lines) = started().await;
        let body = vec![b' '; MAX_BODY + 1];
        let status = client()
            .post(&url)
            .body(body)
            .send()
            .await
            .expect("answered")
            .status();
        assert_eq!(status, 200);
        assert_eq!(
            pipeline.stats().unparseable_batches.load(Ordering::Relaxed),
            1
        );
    }
}
