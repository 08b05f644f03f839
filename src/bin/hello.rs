//! `hello`: a Function URL / API Gateway v2 handler that answers with JSON.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::process::ExitCode;
use thaw::checkpoints::Checkpoints;
use thaw::http_event::{HttpRequest, HttpResponse};

fn main() -> ExitCode {
    let mut checkpoints = Checkpoints::start("hello");
    if thaw::allocator::report_if_asked() {
        return ExitCode::SUCCESS;
    }
    let runtime = match thaw::runtime::build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hello: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    checkpoints.mark("runtime");
    match runtime.block_on(lambda_runtime::run(service_fn(handle))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn handle(event: LambdaEvent<HttpRequest>) -> Result<HttpResponse, Error> {
    Ok(greet(&event.payload, &event.context.request_id))
}

fn greet(req: &HttpRequest, request_id: &str) -> HttpResponse {
    let name = req
        .query_string_parameters
        .get("name")
        .map(String::as_str)
        .unwrap_or("world");
    HttpResponse::json(
        200,
        &serde_json::json!({
            "message": format!("hello, {name}"),
            "method": req.request_context.http.method,
            "path": req.raw_path,
            "requestId": request_id,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_query_name_or_the_world() {
        let mut req: HttpRequest =
            serde_json::from_str(r#"{"rawPath":"/hi","requestContext":{"http":{"method":"GET"}}}"#)
                .expect("event");
        let body: serde_json::Value =
            serde_json::from_str(&greet(&req, "id-1").body).expect("json body");
        assert_eq!(body["message"], "hello, world");
        assert_eq!(body["path"], "/hi");
        assert_eq!(body["method"], "GET");
        assert_eq!(body["requestId"], "id-1");
        req.query_string_parameters
            .insert("name".into(), "ana".into());
        let body: serde_json::Value =
            serde_json::from_str(&greet(&req, "id-2").body).expect("json body");
        assert_eq!(body["message"], "hello, ana");
    }
}
