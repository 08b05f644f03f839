//! The HTTP event shape shared by Lambda Function URLs and API Gateway HTTP APIs
//! (payload format 2.0): only the fields thaw's functions read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRequest {
    pub raw_path: String,
    pub headers: BTreeMap<String, String>,
    pub query_string_parameters: BTreeMap<String, String>,
    pub request_context: RequestContext,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestContext {
    pub http: HttpContext,
    pub request_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpContext {
    pub method: String,
    pub path: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

impl HttpResponse {
    /// A JSON response with the right content type.
    pub fn json(status_code: u16, body: &serde_json::Value) -> Self {
        let headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
        Self {
            status_code,
            headers,
            body: body.to_string(),
            is_base64_encoded: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_function_url_event_and_ignores_unknown_fields() {
        let event = serde_json::json!({
            "version": "2.0",
            "rawPath": "/greet",
            "rawQueryString": "name=ana",
            "headers": {"host": "x.lambda-url.eu-west-1.on.aws"},
            "queryStringParameters": {"name": "ana"},
            "requestContext": {"http": {"method": "GET", "path": "/greet"}, "requestId": "r1"},
            "isBase64Encoded": false
        });
        let req: HttpRequest = serde_json::from_value(event).expect("valid event");
        assert_eq!(req.raw_path, "/greet");
        assert_eq!(req.request_context.http.method, "GET");
        assert_eq!(req.query_string_parameters["name"], "ana");
        assert_eq!(req.body, None);
    }

    #[test]
    fn an_empty_object_is_a_request_with_defaults() {
        let req: HttpRequest = serde_json::from_str("{}").expect("defaults");
        assert_eq!(req.raw_path, "");
        assert!(req.headers.is_empty());
    }

    #[test]
    fn responses_serialize_in_lambda_shape() {
        let res = HttpResponse::json(200, &serde_json::json!({"ok": true}));
        let v = serde_json::to_value(&res).expect("serializes");
        assert_eq!(v["statusCode"], 200);
        assert_eq!(v["headers"]["content-type"], "application/json");
        assert_eq!(v["body"], "{\"ok\":true}");
        assert_eq!(v["isBase64Encoded"], false);
    }
}
