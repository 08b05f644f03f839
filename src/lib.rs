//! thaw's Lambda-side kit, shared by the extension and every function: the global allocator,
//! an explicitly sized Tokio runtime, and the Extensions API client.

pub mod extension;
pub mod http_event;
pub mod runtime;

/// jemalloc for every thaw binary. Its configuration (`narenas:1`) is compiled in through
/// `JEMALLOC_SYS_WITH_MALLOC_CONF`: the prefixed build never reads `MALLOC_CONF` at run time.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
