//! The observed period: `--from`/`--to` parsing, its length, and the short-period warning.
//!
//! ```
//! use nsgflow::harden::period::{parse_time, format_time};
//! let ms = parse_time("2026-03-02T10:00:44Z").unwrap();
//! assert_eq!(format_time(ms), "2026-03-02T10:00:44Z");
//! assert_eq!(parse_time("2026-03-02").unwrap(), parse_time("2026-03-02T00:00:00Z").unwrap());
//! assert!(parse_time("2026-13-02").is_err());
//! ```

use crate::time::{days_from_civil, format_rfc3339_ms};

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]` (UTC) to ms since the epoch.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a UTC time like 2026-03-02 or 2026-03-02T10:00:00Z");
    let t = s.trim().trim_end_matches('Z');
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, tm)) => (d, Some(tm)),
        None => (t, None),
    };
    let mut dp = date.split('-');
    let num = |x: Option<&str>, max: u32| -> Result<u32, String> {
        x.and_then(|v| v.parse::<u32>().ok())
            .filter(|&v| v <= max)
            .ok_or_else(bad)
    };
    let y = num(dp.next(), 9999)?;
    let m = num(dp.next(), 12)?;
    let d = num(dp.next(), 31)?;
    if dp.next().is_some() || m == 0 || d == 0 {
        return Err(bad());
    }
    let mut ms: u64 = 0;
    if let Some(tm) = time {
        let mut tp = tm.split(':');
        let h = num(tp.next(), 23)?;
        let mi = num(tp.next(), 59)?;
        let (sec, frac) = match tp.next() {
            Some(sv) => match sv.split_once('.') {
                Some((a, f)) => (num(Some(a), 60)?, f),
                None => (num(Some(sv), 60)?, ""),
            },
            None => (0, ""),
        };
        if tp.next().is_some() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let millis: u64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
        ms = (u64::from(h) * 3600 + u64::from(mi) * 60 + u64::from(sec)) * 1000 + millis;
    }
    let days = days_from_civil(i64::from(y), m, d);
    if days < 0 {
        return Err(bad());
    }
    Ok(days as u64 * 86_400_000 + ms)
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(ms: u64) -> String {
    let mut buf = [0u8; 24];
    format_rfc3339_ms(ms, &mut buf);
    format!("{}Z", String::from_utf8_lossy(&buf[..19]))
}

/// The period a proposal rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    /// First and last event time seen (in the window).
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
}

impl Period {
    pub fn duration_ms(&self) -> u64 {
        match (self.first_ms, self.last_ms) {
            (Some(f), Some(l)) => l.saturating_sub(f),
            _ => 0,
        }
    }

    pub fn days(&self) -> f64 {
        self.duration_ms() as f64 / 86_400_000.0
    }

    /// `3.2 days`, `5.0 hours`, `12 minutes`.
    pub fn describe(&self) -> String {
        let ms = self.duration_ms();
        if ms >= 86_400_000 {
            format!("{:.1} days", self.days())
        } else if ms >= 3_600_000 {
            format!("{:.1} hours", ms as f64 / 3_600_000.0)
        } else {
            format!("{} minutes", ms / 60_000)
        }
    }

    /// The warning when the period is shorter than `min_days`.
    pub fn short_warning(&self, min_days: f64) -> Option<String> {
        (self.days() < min_days).then(|| {
            format!(
                "the observed period is {}, shorter than {min_days} days: traffic that happens weekly or monthly (backups, patching, batch jobs, failovers) may be missing from the proposal; observe longer before applying it",
                self.describe()
            )
        })
    }
}
