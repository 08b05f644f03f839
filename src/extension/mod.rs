//! The telemetry extension's parts: the Extensions and Telemetry API client, configuration,
//! the telemetry listener, parsing, metrics derivation and the EMF and OTLP exporters.

mod api;
pub mod config;
pub mod emf;
pub mod exporter;
pub mod listener;
pub mod metrics;
pub mod otlp;
pub mod pipeline;
pub mod shutdown;
pub mod subscription;
pub mod telemetry;

pub use api::{Event, ExtensionApi, ExtensionApiError};
