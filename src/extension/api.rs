//! Client of the Lambda Extensions API (`/2020-01-01/extension/...`) and of the Telemetry
//! API's subscription call (`/2022-07-01/telemetry`).

use serde::Deserialize;

const API_VERSION: &str = "2020-01-01";
const TELEMETRY_API_VERSION: &str = "2022-07-01";
const NAME_HEADER: &str = "Lambda-Extension-Name";
const ID_HEADER: &str = "Lambda-Extension-Identifier";

#[derive(Debug, thiserror::Error)]
pub enum ExtensionApiError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda")]
    NoRuntimeApi,
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{call} request failed: {source}")]
    Request {
        call: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call} answered HTTP {status}: {body}")]
    Status {
        call: &'static str,
        status: u16,
        body: String,
    },
    #[error("register answered without a {ID_HEADER} header")]
    NoIdentifier,
    #[error("{call} answered a body that is not a valid event: {source}")]
    Decode {
        call: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// An event from `/event/next`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "eventType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    Invoke {
        request_id: String,
        deadline_ms: u64,
        #[serde(default)]
        invoked_function_arn: String,
    },
    #[serde(rename_all = "camelCase")]
    Shutdown {
        shutdown_reason: String,
        deadline_ms: u64,
    },
}

/// A registered extension. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct ExtensionApi {
    client: reqwest::Client,
    host: String,
    base: String,
    id: String,
}

impl ExtensionApi {
    /// Registers `name` for INVOKE and SHUTDOWN events with the Extensions API named by
    /// `AWS_LAMBDA_RUNTIME_API` (a bare `host:port`, as Lambda sets it).
    pub async fn register(name: &str) -> Result<Self, ExtensionApiError> {
        let host =
            std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| ExtensionApiError::NoRuntimeApi)?;
        Self::register_at(&host, name).await
    }

    pub async fn register_at(host: &str, name: &str) -> Result<Self, ExtensionApiError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(ExtensionApiError::Client)?;
        let base = format!("http://{host}/{API_VERSION}/extension");
        let call = "register";
        let response = client
            .post(format!("{base}/register"))
            .header(NAME_HEADER, name)
            .body(r#"{"events":["INVOKE","SHUTDOWN"]}"#)
            .send()
            .await
            .map_err(|source| ExtensionApiError::Request { call, source })?;
        let response = check(call, response).await?;
        let id = response
            .headers()
            .get(ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(ExtensionApiError::NoIdentifier)?
            .to_owned();
        Ok(Self {
            client,
            host: host.to_owned(),
            base,
            id,
        })
    }

    /// The identifier Lambda assigned at registration.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Subscribes to the Telemetry API with a JSON `body` (see
    /// [`super::subscription::request_body`]).
    pub async fn subscribe_telemetry(&self, body: String) -> Result<(), ExtensionApiError> {
        let call = "telemetry subscribe";
        let response = self
            .client
            .put(format!(
                "http://{}/{TELEMETRY_API_VERSION}/telemetry",
                self.host
            ))
            .header(ID_HEADER, &self.id)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| ExtensionApiError::Request { call, source })?;
        check(call, response).await.map(drop)
    }

    /// Blocks until Lambda has the next event for this extension.
    pub async fn next_event(&self) -> Result<Event, ExtensionApiError> {
        let call = "event/next";
        let response = self
            .client
            .get(format!("{}/event/next", self.base))
            .header(ID_HEADER, &self.id)
            .send()
            .await
            .map_err(|source| ExtensionApiError::Request { call, source })?;
        let body = check(call, response)
            .await?
            .bytes()
            .await
            .map_err(|source| ExtensionApiError::Request { call, source })?;
        serde_json::from_slice(&body).map_err(|source| ExtensionApiError::Decode { call, source })
    }
}

async fn check(
    call: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, ExtensionApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(ExtensionApiError::Status {
        call,
        status: status.as_u16(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_invoke_and_shutdown_events() {
        let invoke: Event = serde_json::from_str(
            r#"{"eventType":"INVOKE","deadlineMs":1,"requestId":"r","invokedFunctionArn":"a","tracing":{}}"#,
        )
        .expect("invoke");
        assert_eq!(
            invoke,
            Event::Invoke {
                request_id: "r".into(),
                deadline_ms: 1,
                invoked_function_arn: "a".into()
            }
        );
        let shutdown: Event = serde_json::from_str(
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":2}"#,
        )
        .expect("shutdown");
        assert!(matches!(shutdown, Event::Shutdown { deadline_ms: 2, .. }));
    }
}
