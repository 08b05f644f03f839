//! A local Lambda on 127.0.0.1: the Runtime and Extensions APIs, INIT gating, invocations,
//! and a sandbox that starts extensions then the runtime, and shuts them down like Lambda.

mod api;
pub mod environment;
pub mod invoke;
pub mod sandbox;
pub mod state;
pub mod telemetry;

use anyhow::{Context, Result};
pub use api::FunctionInfo;
use hyper_util::rt::TokioIo;
use state::{Outcome, Shared, State};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running API server; dropping it stops the server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Shared,
    accept: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.state.lock().tasks.drain(..) {
            task.abort();
        }
    }
}

impl Server {
    /// Serves the Lambda APIs on an ephemeral 127.0.0.1 port.
    pub async fn start(function: FunctionInfo, memory_mb: u32) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the emulator's API port on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(State::new(memory_mb));
        let accept = tokio::spawn(accept_loop(listener, state.clone(), function));
        Ok(Self {
            addr,
            state,
            accept,
        })
    }

    /// Invokes the function with `payload`; `timeout` past the deadline is a time-out.
    pub async fn invoke(&self, payload: Vec<u8>, timeout: Duration) -> Outcome {
        let (id, rx) = self.state.enqueue(payload, timeout);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                self.state.complete(&id, Outcome::TimedOut);
                Outcome::TimedOut
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Shared, function: FunctionInfo) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let function = function.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let function = function.clone();
                async move { Ok::<_, std::convert::Infallible>(api::handle(state, function, req).await) }
            });
            // A connection error only ends that connection (clients hang up on shutdown).
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests;
