//! The invoke endpoint, compatible with Lambda's runtime interface emulator:
//! `POST /2015-03-31/functions/function/invocations` with the event as the body.

use super::environment::Environment;
use super::state::Outcome;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// Serves invocations of `env` on `listener` until `stop` is notified. Each answered
/// invocation increments `count` and notifies `answered`.
pub async fn serve(
    listener: TcpListener,
    env: Arc<Environment>,
    count: Arc<AtomicU64>,
    answered: Arc<Notify>,
) {
    // Connections live in this set, so aborting `serve` ends them too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let (env, count, answered) = (env.clone(), count.clone(), answered.clone());
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (env, count, answered) = (env.clone(), count.clone(), answered.clone());
                async move {
                    let reply = handle(&env, req).await;
                    count.fetch_add(1, Ordering::SeqCst);
                    answered.notify_waiters();
                    Ok::<_, std::convert::Infallible>(reply)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response(
    status: StatusCode,
    body: Vec<u8>,
    function_error: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Some(kind) = function_error.and_then(|k| k.parse().ok()) {
        r.headers_mut().insert("x-amz-function-error", kind);
    }
    r
}

async fn handle(env: &Environment, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST || req.uri().path() != INVOKE_PATH {
        return response(
            StatusCode::NOT_FOUND,
            format!("POST {INVOKE_PATH}").into_bytes(),
            None,
        );
    }
    let payload = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return response(StatusCode::BAD_REQUEST, e.to_string().into_bytes(), None),
    };
    match env.invoke(payload).await {
        Outcome::Response(body) => response(StatusCode::OK, body, None),
        Outcome::Error { error_type, body } => response(StatusCode::OK, body, Some(&error_type)),
        Outcome::TimedOut => {
            let body = serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {:.2} seconds", env.spec.timeout.as_secs_f64()),
            });
            response(
                StatusCode::OK,
                body.to_string().into_bytes(),
                Some("Unhandled"),
            )
        }
    }
}
