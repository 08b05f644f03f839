//! Any bytes POSTed to the telemetry listener must parse or fail cleanly, never panic, and a
//! batch that parses must account for every item: as an event or as malformed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use thaw::extension::telemetry::parse_batch;

fuzz_target!(|body: &[u8]| {
    let Ok(batch) = parse_batch(body) else {
        return;
    };
    // Counted through serde_json's generic `Value`, not the parser's borrowed items.
    if let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(body) {
        assert_eq!(batch.events.len() + batch.malformed, items.len());
    }
});
