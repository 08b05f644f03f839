//! `webhook`: verifies an HMAC-SHA256-signed, fresh event and forwards it downstream
//! (see `thaw::webhook` for the statuses and `thaw::webhook::config` for the settings).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use thaw::checkpoints::Checkpoints;
use thaw::http_event::{HttpRequest, HttpResponse};
use thaw::webhook::config::WebhookConfig;

fn main() -> ExitCode {
    let mut checkpoints = Checkpoints::start("webhook");
    if thaw::allocator::report_if_asked() {
        return ExitCode::SUCCESS;
    }
    let (config, warnings) = WebhookConfig::from_env();
    for warning in warnings {
        eprintln!("webhook: {warning}");
    }
    // Misconfiguration answers every request with a 500; the runtime itself still starts,
    // so the problem shows in responses and logs rather than as an init crash loop.
    let config = config
        .inspect_err(|err| eprintln!("webhook: {err}; every request will be answered 500"))
        .ok();
    checkpoints.mark("config");
    let runtime = match thaw::runtime::build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("webhook: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    checkpoints.mark("runtime");
    let config = &config;
    let handler = service_fn(move |event: LambdaEvent<HttpRequest>| async move {
        Ok::<HttpResponse, Error>(
            thaw::webhook::handle(
                &event.payload,
                &event.context.request_id,
                config.as_ref(),
                || thaw::lazy_client::get().cloned().map_err(|e| e.to_string()),
                unix_seconds_now(),
            )
            .await,
        )
    });
    match runtime.block_on(lambda_runtime::run(handler)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("webhook: {err}");
            ExitCode::FAILURE
        }
    }
}

fn unix_seconds_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
