//! thaw's Lambda-side kit, shared by the extension and every function: the global allocator,
//! init checkpoints, an explicitly sized Tokio runtime, a lazily built HTTPS client, the
//! extension's telemetry pipeline and the webhook function's logic.

pub mod allocator;
pub mod checkpoints;
pub mod debug;
pub mod extension;
pub mod http_event;
pub mod lazy_client;
pub mod runtime;
pub mod settings;
pub mod webhook;

#[cfg(test)]
mod test_support;
