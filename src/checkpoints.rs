//! Init checkpoints: named phases with their delta and cumulative time since process start.
//!
//! **Where "process start" is.** `/proc/self/stat`'s `starttime` is in clock ticks (10 ms on
//! Linux), coarser than the whole init we measure, so it cannot anchor ns-resolution times.
//! Instead the origin is split in two:
//! - *exec → main*: read once at main entry from `/proc/self/schedstat`, the main thread's
//!   on-CPU plus run-queue time since it was forked, in ns. Before `main` the thread only
//!   execs, loads, relocates and runs initialisers, which is CPU and run-queue time, so this is
//!   the pre-main cost; it misses time blocked on I/O (page-ins of a cold binary), so it is a
//!   lower bound. It is recorded as the first phase, [`EXEC_TO_MAIN`].
//! - *main → now*: a monotonic [`Instant`] taken at main entry, exact to the ns.
//!
//! Cumulative time = exec → main + elapsed since main entry.
//!
//! A disabled recorder (debug off, and not asked to keep data) never reads `/proc`, never
//! allocates and never formats: [`Checkpoints::mark`] is a branch on a bool.

use std::time::{Duration, Instant};

/// The name of the synthetic first phase: process start to main entry.
pub const EXEC_TO_MAIN: &str = "exec_to_main";

/// One finished init phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    /// Time since the previous checkpoint.
    pub delta: Duration,
    /// Time since process start.
    pub cumulative: Duration,
}

impl Phase {
    pub fn delta_ms(&self) -> f64 {
        as_ms(self.delta)
    }

    pub fn cumulative_ms(&self) -> f64 {
        as_ms(self.cumulative)
    }
}

/// Milliseconds with ns resolution.
pub fn as_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Records init phases; see the module docs for what the times mean.
#[derive(Debug)]
pub struct Checkpoints {
    main_entry: Instant,
    pre_main: Duration,
    previous: Duration,
    phases: Vec<Phase>,
    recording: bool,
    logging: bool,
    prefix: &'static str,
}

impl Checkpoints {
    /// For functions: records and logs only when debug is on, free otherwise. Call first in
    /// `main`. `prefix` names the binary in log lines.
    pub fn start(prefix: &'static str) -> Self {
        let debug = crate::debug::enabled();
        Self::new(prefix, debug, debug)
    }

    /// Always records (the extension reports its phases), logs only when debug is on.
    pub fn start_recording(prefix: &'static str) -> Self {
        Self::new(prefix, true, crate::debug::enabled())
    }

    fn new(prefix: &'static str, recording: bool, logging: bool) -> Self {
        let main_entry = Instant::now();
        let mut this = Self {
            main_entry,
            pre_main: Duration::ZERO,
            previous: Duration::ZERO,
            phases: Vec::new(),
            recording,
            logging,
            prefix,
        };
        if recording {
            this.phases.reserve(16);
            this.pre_main = std::fs::read_to_string("/proc/self/schedstat")
                .ok()
                .and_then(|s| pre_main_from_schedstat(&s))
                .unwrap_or(Duration::ZERO);
            this.push(EXEC_TO_MAIN, this.pre_main);
        }
        this
    }

    /// Ends the phase called `name` now.
    pub fn mark(&mut self, name: &'static str) {
        if self.recording {
            let now = self.pre_main + self.main_entry.elapsed();
            self.push(name, now);
        }
    }

    fn push(&mut self, name: &'static str, cumulative: Duration) {
        let phase = Phase {
            name,
            delta: cumulative.saturating_sub(self.previous),
            cumulative,
        };
        self.previous = cumulative;
        self.phases.push(phase);
        if self.logging {
            eprintln!(
                "{}: init phase {} +{:.3} ms (at {:.3} ms)",
                self.prefix,
                name,
                phase.delta_ms(),
                phase.cumulative_ms()
            );
        }
    }

    /// Every phase so far, in order (empty when not recording).
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Time from process start to the last checkpoint.
    pub fn total(&self) -> Duration {
        self.previous
    }
}

/// `/proc/<pid>/schedstat` is "on-CPU ns, run-queue wait ns, timeslices".
fn pre_main_from_schedstat(text: &str) -> Option<Duration> {
    let mut fields = text.split_ascii_whitespace();
    let on_cpu: u64 = fields.next()?.parse().ok()?;
    let waiting: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_nanos(on_cpu.saturating_add(waiting)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_sums_cpu_and_wait_time() {
        assert_eq!(
            pre_main_from_schedstat("101915 2140967 2\n"),
            Some(Duration::from_nanos(2_242_882))
        );
        assert_eq!(pre_main_from_schedstat(""), None);
        assert_eq!(pre_main_from_schedstat("12 x 1"), None);
    }

    #[test]
    fn phases_chain_deltas_into_cumulative_times() {
        let mut cp = Checkpoints::new("test", true, false);
        std::thread::sleep(Duration::from_millis(2));
        cp.mark("first");
        cp.mark("second");
        let phases = cp.phases();
        assert_eq!(
            phases.iter().map(|p| p.name).collect::<Vec<_>>(),
            [EXEC_TO_MAIN, "first", "second"]
        );
        assert!(phases[1].delta >= Duration::from_millis(2), "{phases:?}");
        let mut sum = Duration::ZERO;
        for p in phases {
            sum += p.delta;
            assert_eq!(p.cumulative, sum, "{phases:?}");
        }
        assert_eq!(cp.total(), sum);
    }

    #[test]
    fn on_linux_exec_to_main_is_measured() {
        let cp = Checkpoints::new("test", true, false);
        // The test thread has run for a while, so its schedstat time cannot be zero.
        assert!(cp.phases()[0].cumulative > Duration::ZERO);
    }

    #[test]
    fn a_disabled_recorder_keeps_nothing_and_never_allocates() {
        let mut cp = Checkpoints::new("test", false, false);
        cp.mark("ignored");
        assert!(cp.phases().is_empty());
        assert_eq!(cp.phases.capacity(), 0);
        assert_eq!(cp.total(), Duration::ZERO);
    }

    #[test]
    fn milliseconds_keep_nanosecond_resolution() {
        assert_eq!(as_ms(Duration::from_nanos(1_234_567)), 1.234567);
    }
}
