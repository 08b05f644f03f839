//! The Lambda Extensions API, as thaw's extension uses it.

mod api;

pub use api::{Event, ExtensionApi, ExtensionApiError};
