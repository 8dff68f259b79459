// The time a bench counts, shared by the benches and examples (included with `include!`).

use std::time::{Duration, Instant};

/// The time the bench counts: this thread's CPU time where the OS keeps it (Linux,
/// `CLOCK_THREAD_CPUTIME_ID`), so that other processes sharing the pinned core do not
/// count (their cache pollution still does); wall time elsewhere.
pub enum Clock {
    Cpu(Duration),
    Wall(Instant),
}

impl Clock {
    pub fn now() -> Clock {
        #[cfg(target_os = "linux")]
        {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid timespec for the call to fill.
            if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
                return Clock::Cpu(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
        }
        Clock::Wall(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        match (self, Clock::now()) {
            (Clock::Cpu(a), Clock::Cpu(b)) => b.saturating_sub(*a),
            (Clock::Wall(a), _) => a.elapsed(),
            (Clock::Cpu(_), Clock::Wall(_)) => Duration::ZERO,
        }
    }
}
