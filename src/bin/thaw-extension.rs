//! thaw's Lambda extension: registers for INVOKE and SHUTDOWN and follows the event loop
//! until SHUTDOWN. (Telemetry collection is built on this loop.)

use std::process::ExitCode;
use thaw::extension::{Event, ExtensionApi};

/// The name Lambda knows the extension by: the file name in `/opt/extensions/`.
const NAME: &str = "thaw-extension";

fn main() -> ExitCode {
    let runtime = match thaw::runtime::build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{NAME}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{NAME}: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), thaw::extension::ExtensionApiError> {
    let api = ExtensionApi::register(NAME).await?;
    let mut invocations: u64 = 0;
    loop {
        match api.next_event().await? {
            Event::Invoke { .. } => invocations += 1,
            Event::Shutdown {
                shutdown_reason, ..
            } => {
                println!("{NAME}: shutdown ({shutdown_reason}) after {invocations} invocations");
                return Ok(());
            }
        }
    }
}
