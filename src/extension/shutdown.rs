//! The time the extension gives itself to flush on SHUTDOWN.
//!
//! Lambda allows extensions 2 s in total after SHUTDOWN and says when in the event's
//! `deadlineMs` (ms since the Unix epoch). We stop a margin before it, so the process has
//! exited before Lambda's SIGKILL, and never plan beyond 2 s whatever the clock says.

use std::time::Duration;

/// Kept back from the deadline for writing the last lines and exiting.
pub const MARGIN: Duration = Duration::from_millis(200);
/// Lambda's whole SHUTDOWN budget, less the margin.
pub const MAX_BUDGET: Duration = Duration::from_millis(1_800);
/// Even past the deadline, a short chance to write the last EMF lines.
pub const MIN_BUDGET: Duration = Duration::from_millis(50);
/// On SIGTERM there is no deadline to read; assume half the budget.
pub const SIGTERM_BUDGET: Duration = Duration::from_millis(1_000);

/// How long to spend flushing, given the event's deadline and the time now (both ms since
/// the Unix epoch).
pub fn budget(deadline_ms: u64, now_ms: u64) -> Duration {
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    remaining
        .saturating_sub(MARGIN)
        .clamp(MIN_BUDGET, MAX_BUDGET)
}

/// Of `budget`, the part spent waiting for the last invocation's telemetry; the rest is for
/// sending it.
pub fn report_wait(budget: Duration) -> Duration {
    budget / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_margin_and_stays_within_lambdas_two_seconds() {
        assert_eq!(budget(10_000, 8_000), Duration::from_millis(1_800));
        assert_eq!(budget(10_000, 9_000), Duration::from_millis(800));
        assert_eq!(budget(10_000, 9_900), MIN_BUDGET);
        assert_eq!(budget(10_000, 20_000), MIN_BUDGET);
        assert_eq!(budget(u64::MAX, 0), MAX_BUDGET);
        assert_eq!(budget(0, 0), MIN_BUDGET);
        assert_eq!(
            report_wait(Duration::from_millis(800)),
            Duration::from_millis(400)
        );
    }
}
