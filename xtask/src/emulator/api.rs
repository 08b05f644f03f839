//! The HTTP side: Runtime API (`/2018-06-01/runtime/…`) and Extensions API
//! (`/2020-01-01/extension/…`) on one 127.0.0.1 port, as Lambda serves them.

use super::state::{FUNCTION_ARN, Outcome, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

pub type Reply = Response<Full<Bytes>>;

const RUNTIME: &str = "/2018-06-01/runtime";
const EXTENSION: &str = "/2020-01-01/extension";
const TELEMETRY: &str = "/2022-07-01/telemetry";
const EXT_NAME: &str = "lambda-extension-name";
const EXT_ID: &str = "lambda-extension-identifier";

fn reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn accepted() -> Reply {
    reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

fn error(status: StatusCode, kind: &str, message: &str) -> Reply {
    reply(status, json!({"errorType": kind, "errorMessage": message}))
}

pub async fn handle(state: Shared, function: FunctionInfo, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let ext_name = header(EXT_NAME);
    let ext_id = header(EXT_ID);
    let error_type =
        header("lambda-runtime-function-error-type").unwrap_or_else(|| "Unhandled".into());
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
    };
    if let Some(rest) = path.strip_prefix(RUNTIME) {
        return runtime(&state, &method, rest, body, error_type).await;
    }
    if path == TELEMETRY && method == Method::PUT {
        return subscribe(&state, ext_id, &body);
    }
    if let Some(rest) = path.strip_prefix(EXTENSION) {
        return extension(&state, &function, &method, rest, ext_name, ext_id, body).await;
    }
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("no route {method} {path}"),
    )
}

async fn runtime(
    state: &Shared,
    method: &Method,
    rest: &str,
    body: Vec<u8>,
    error_type: String,
) -> Reply {
    match (method, rest) {
        (&Method::GET, "/invocation/next") => {
            state.runtime_ready();
            // INIT gating, and after it: nothing reaches the runtime before every extension
            // waits for its next event.
            let inv = state.wait_for(super::state::State::take_invocation).await;
            let mut r = Response::new(Full::new(Bytes::from(inv.payload)));
            let h = r.headers_mut();
            for (name, value) in [
                ("lambda-runtime-aws-request-id", inv.request_id.clone()),
                ("lambda-runtime-deadline-ms", inv.deadline_ms.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    FUNCTION_ARN.to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    format!(
                        "Root=1-00000000-{}",
                        inv.request_id.replace('-', "")[..24].to_owned()
                    ),
                ),
                ("content-type", "application/json".to_owned()),
            ] {
                if let Ok(v) = value.parse() {
                    h.insert(name, v);
                }
            }
            r
        }
        (&Method::POST, "/init/error") => {
            state.update(|s| {
                s.init_errors
                    .push(String::from_utf8_lossy(&body).into_owned())
            });
            accepted()
        }
        (&Method::POST, rest) => {
            let Some(rest) = rest.strip_prefix("/invocation/") else {
                return error(StatusCode::NOT_FOUND, "NotFound", rest);
            };
            let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
            let outcome = match what {
                "response" => Outcome::Response(body),
                "error" => Outcome::Error { error_type, body },
                _ => return error(StatusCode::NOT_FOUND, "NotFound", rest),
            };
            if state.complete(id, outcome) {
                accepted()
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    &format!("no invocation {id} in flight"),
                )
            }
        }
        _ => error(StatusCode::NOT_FOUND, "NotFound", rest),
    }
}

/// What register answers about the function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub handler: String,
}

async fn extension(
    state: &Shared,
    function: &FunctionInfo,
    method: &Method,
    rest: &str,
    name: Option<String>,
    id: Option<String>,
    body: Vec<u8>,
) -> Reply {
    match (method, rest) {
        (&Method::POST, "/register") => {
            let Some(name) = name else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "missing Lambda-Extension-Name",
                );
            };
            let events: Vec<String> = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| serde_json::from_value(v["events"].clone()).ok())
                .unwrap_or_default();
            if events.iter().any(|e| e != "INVOKE" && e != "SHUTDOWN") {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidEventType",
                    &format!("{events:?}"),
                );
            }
            let id = state.register(&name, events);
            let mut r = reply(
                StatusCode::OK,
                json!({"functionName": function.name, "functionVersion": function.version, "handler": function.handler}),
            );
            if let Ok(v) = id.parse() {
                r.headers_mut().insert(EXT_ID, v);
            }
            r
        }
        (&Method::GET, "/event/next") => {
            let Some(id) = id else {
                return error(
                    StatusCode::FORBIDDEN,
                    "MissingExtensionIdentifier",
                    "no Lambda-Extension-Identifier",
                );
            };
            let known = state.update(|s| {
                let ext = s.extensions.iter_mut().find(|e| e.id == id)?;
                if !ext.ready {
                    ext.ready = true;
                    ext.ready_at = Some(std::time::Instant::now());
                }
                Some(())
            });
            if known.is_none() {
                return error(StatusCode::FORBIDDEN, "InvalidExtensionIdentifier", &id);
            }
            state.update(|s| {
                if let Some(ext) = s.extensions.iter_mut().find(|e| e.id == id) {
                    ext.waiting = true;
                }
            });
            let event = state
                .wait_for(|s| {
                    let ext = s.extensions.iter_mut().find(|e| e.id == id)?;
                    let event = ext.queue.pop_front()?;
                    ext.waiting = false;
                    Some(event)
                })
                .await;
            reply(StatusCode::OK, event)
        }
        (&Method::POST, "/init/error") | (&Method::POST, "/exit/error") => {
            let line = format!(
                "{}: {}",
                id.unwrap_or_default(),
                String::from_utf8_lossy(&body)
            );
            state.update(|s| {
                if rest == "/init/error" {
                    s.init_errors.push(line);
                } else {
                    s.exit_errors.push(line);
                }
            });
            accepted()
        }
        _ => error(StatusCode::NOT_FOUND, "NotFound", rest),
    }
}

/// `PUT /2022-07-01/telemetry`: a registered extension subscribes; delivery starts with
/// everything logged so far (Lambda buffers the INIT events for late subscribers).
fn subscribe(state: &Shared, id: Option<String>, body: &[u8]) -> Reply {
    let Some(id) = id.filter(|id| state.lock().extensions.iter().any(|e| &e.id == id)) else {
        return error(
            StatusCode::FORBIDDEN,
            "InvalidExtensionIdentifier",
            "unknown or missing Lambda-Extension-Identifier",
        );
    };
    let sub = match super::telemetry::parse_subscription(&id, body) {
        Ok(sub) => sub,
        Err(message) => return error(StatusCode::BAD_REQUEST, "ValidationError", &message),
    };
    let index = state.update(|s| {
        s.subscriptions.push(sub);
        s.subscriptions.len() - 1
    });
    let task = tokio::spawn(super::telemetry::deliver(state.clone(), index));
    state.update(|s| s.tasks.push(task.abort_handle()));
    reply(StatusCode::OK, json!("OK"))
}
