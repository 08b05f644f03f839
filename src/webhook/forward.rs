//! Forwarding a verified event downstream.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("downstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("downstream unreachable: {0}")]
    Unreachable(String),
    #[error("downstream answered HTTP {0}")]
    Status(u16),
}

/// POSTs `body` as JSON to `url`; Ok on a 2xx answer.
pub async fn forward(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: Vec<u8>,
    request_id: &str,
    timeout: Duration,
) -> Result<u16, ForwardError> {
    let exchange = async {
        let response = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-thaw-request-id", request_id)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        // Drain the body so the pooled connection stays usable for the next invocation.
        let _ = response.bytes().await;
        Ok::<_, reqwest::Error>(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(ForwardError::Timeout(timeout)),
        Ok(Err(err)) => Err(ForwardError::Unreachable(crate::lazy_client::error_chain(
            &err,
        ))),
        Ok(Ok(status)) if status.is_success() => Ok(status.as_u16()),
        Ok(Ok(status)) => Err(ForwardError::Status(status.as_u16())),
    }
}
