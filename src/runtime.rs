//! The Tokio runtime, built explicitly and sized from the function's memory setting.

use std::io;

/// Lambda grants about one vCPU per this many MB of configured memory.
const MB_PER_VCPU: u64 = 1769;
/// Worker threads when the memory size is unknown.
const DEFAULT_WORKERS: usize = 2;
const MAX_WORKERS: usize = 4;

/// Worker threads for a function configured with `memory_size` (the raw value of
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB): one per vCPU Lambda grants, 1..=4.
/// `Err` carries the default and says why the value was not usable.
pub fn workers_for_memory(memory_size: Option<&str>) -> Result<usize, (usize, String)> {
    let Some(raw) = memory_size else {
        return Err((
            DEFAULT_WORKERS,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not set".into(),
        ));
    };
    match raw.trim().parse::<u64>() {
        Ok(mb) if mb > 0 => Ok((mb.div_ceil(MB_PER_VCPU) as usize).clamp(1, MAX_WORKERS)),
        _ => Err((
            DEFAULT_WORKERS,
            format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={raw:?} is not a positive number of MB"),
        )),
    }
}

/// Overrides the scheduler: `current_thread` or `multi_thread`.
pub const FLAVOR_VAR: &str = "THAW_RUNTIME";

/// Which scheduler a function with `workers` vCPUs gets, unless `THAW_RUNTIME` says.
/// With one vCPU (up to 1769 MB) a current-thread runtime: `xtask bench` measured it starting
/// faster (extension 0.26× naive against 0.34× for a one-worker multi-thread runtime) with
/// less memory; a second vCPU is only usable by a multi-thread runtime.
pub fn current_thread_for(workers: usize, flavor: Option<&str>) -> Result<bool, String> {
    match flavor {
        None => Ok(workers == 1),
        Some("current_thread") => Ok(true),
        Some("multi_thread") => Ok(false),
        Some(other) => Err(format!(
            "{FLAVOR_VAR}={other:?} is not current_thread or multi_thread; using {}",
            if workers == 1 {
                "current_thread"
            } else {
                "multi_thread"
            }
        )),
    }
}

/// The runtime for this function: see [`workers_for_memory`] and [`current_thread_for`].
pub fn build() -> io::Result<tokio::runtime::Runtime> {
    if cfg!(feature = "naive") {
        // What #[tokio::main] builds: a worker per core of the machine, not of the function.
        return tokio::runtime::Runtime::new();
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok();
    let workers = match workers_for_memory(memory.as_deref()) {
        Ok(n) => n,
        Err((n, why)) if memory.is_some() => {
            eprintln!("thaw: {why}; using {n} worker threads");
            n
        }
        Err((n, _)) => n,
    };
    let flavor = std::env::var(FLAVOR_VAR).ok();
    let current = current_thread_for(workers, flavor.as_deref()).unwrap_or_else(|why| {
        eprintln!("thaw: {why}");
        workers == 1
    });
    if current {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_follow_lambda_vcpu_steps() {
        assert_eq!(workers_for_memory(Some("128")), Ok(1));
        assert_eq!(workers_for_memory(Some("1769")), Ok(1));
        assert_eq!(workers_for_memory(Some("1770")), Ok(2));
        assert_eq!(workers_for_memory(Some("3538")), Ok(2));
        assert_eq!(workers_for_memory(Some("5307")), Ok(3));
        assert_eq!(workers_for_memory(Some("10240")), Ok(4));
    }

    #[test]
    fn unusable_memory_sizes_fall_back_to_two_with_a_reason() {
        for bad in [None, Some(""), Some("0"), Some("-5"), Some("lots")] {
            let (n, why) = workers_for_memory(bad).expect_err("must fall back");
            assert_eq!(n, 2);
            assert!(why.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{why}");
        }
    }

    #[test]
    fn one_vcpu_gets_a_current_thread_runtime_unless_told_otherwise() {
        assert_eq!(current_thread_for(1, None), Ok(true));
        assert_eq!(current_thread_for(2, None), Ok(false));
        assert_eq!(current_thread_for(1, Some("multi_thread")), Ok(false));
        assert_eq!(current_thread_for(4, Some("current_thread")), Ok(true));
        let why = current_thread_for(1, Some("fast")).expect_err("unknown flavor");
        assert!(
            why.contains("THAW_RUNTIME") && why.ends_with("current_thread"),
            "{why}"
        );
    }
}
