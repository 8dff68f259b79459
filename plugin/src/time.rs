//! RFC 3339 timestamps with milliseconds, written without allocating.
//!
//! ```
//! use nsgflow::time::write_rfc3339_ms;
//! let mut out = Vec::new();
//! write_rfc3339_ms(&mut out, 1_542_110_402_000);
//! assert_eq!(out, b"2018-11-13T12:00:02.000Z");
//! ```

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for `ms` milliseconds since the Unix epoch (UTC).
pub fn write_rfc3339_ms(out: &mut Vec<u8>, ms: u64) {
    let mut buf = [0u8; 24];
    format_rfc3339_ms(ms, &mut buf);
    out.extend_from_slice(&buf);
}

/// Formats timestamps, keeping the text of the last minute it saw: the tuples of a flow
/// log record share their minute, so the calendar and clock arithmetic runs once a minute,
/// not once a tuple, and only the seconds and milliseconds are written each time.
#[derive(Debug, Clone, Default)]
pub struct Rfc3339Writer {
    /// The minute since the epoch `text` holds, if any.
    minute: Option<u64>,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for that minute; seconds and milliseconds filled per call.
    text: [u8; 24],
}

impl Rfc3339Writer {
    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for `ms` milliseconds since the Unix epoch.
    #[inline]
    pub fn write(&mut self, out: &mut Vec<u8>, ms: u64) {
        const MAX_MS: u64 = 253_402_300_799_999;
        let ms = ms.min(MAX_MS);
        let minute = ms / 60_000;
        if self.minute != Some(minute) {
            format_rfc3339_ms(minute * 60_000, &mut self.text);
            self.minute = Some(minute);
        }
        let in_minute = (ms % 60_000) as u32;
        let (s, millis) = (in_minute / 1000, in_minute % 1000);
        let d = |v: u32| b'0' + v as u8;
        self.text[17] = d(s / 10);
        self.text[18] = d(s % 10);
        self.text[20] = d(millis / 100);
        self.text[21] = d(millis / 10 % 10);
        self.text[22] = d(millis % 10);
        out.extend_from_slice(&self.text);
    }
}

/// Formats into a fixed 24-byte buffer (years 0000-9999; later times saturate at 9999).
pub fn format_rfc3339_ms(ms: u64, buf: &mut [u8; 24]) {
    const MAX_MS: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ms = ms.min(MAX_MS);
    let secs = ms / 1000;
    let millis = (ms % 1000) as u32;
    let days = (secs / 86_400) as i64;
    let sod = (secs % 86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let two = |buf: &mut [u8], at: usize, v: u32| {
        buf[at] = b'0' + (v / 10) as u8;
        buf[at + 1] = b'0' + (v % 10) as u8;
    };
    let y = y as u32;
    two(buf, 0, y / 100);
    two(buf, 2, y % 100);
    buf[4] = b'-';
    two(buf, 5, m);
    buf[7] = b'-';
    two(buf, 8, d);
    buf[10] = b'T';
    two(buf, 11, sod / 3600);
    buf[13] = b':';
    two(buf, 14, sod / 60 % 60);
    buf[16] = b':';
    two(buf, 17, sod % 60);
    buf[19] = b'.';
    buf[20] = b'0' + (millis / 100) as u8;
    two(buf, 21, millis % 100);
    buf[23] = b'Z';
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 for a civil date (the inverse of `civil_from_days`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a UTC time as a person writes it on a command line: `2026-03-02`,
/// `2026-03-02T10:00`, `2026-03-02 10:00:30`, `2026-03-02T10:00:30.5Z` (a trailing `Z` is
/// optional; other offsets are not accepted). Returns epoch milliseconds.
///
/// ```
/// use nsgflow::time::parse_utc_ms;
/// assert_eq!(parse_utc_ms("1970-01-02"), Ok(86_400_000));
/// assert_eq!(parse_utc_ms("2026-03-02T10:05:58.000Z"), Ok(1_772_445_958_000));
/// assert_eq!(parse_utc_ms("2026-03-02 10:05"), Ok(1_772_445_900_000));
/// assert!(parse_utc_ms("yesterday").is_err());
/// ```
pub fn parse_utc_ms(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("`{text}` is not a UTC time: write 2026-03-02, 2026-03-02T10:00 or 2026-03-02T10:00:30Z")
    };
    let s = text.trim().trim_end_matches(['Z', 'z']);
    let (date, clock) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut d = date.split('-');
    let (Some(y), Some(m), Some(dd), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let dd: u32 = dd.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) || y < 1970 {
        return Err(bad());
    }
    let mut ms: u64 = 0;
    if !clock.is_empty() {
        let mut c = clock.split(':');
        let h: u64 = c.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let mi: u64 = c.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let sec: f64 = match c.next() {
            Some(x) => x.parse().map_err(|_| bad())?,
            None => 0.0,
        };
        if c.next().is_some() || h > 23 || mi > 59 || !(0.0..61.0).contains(&sec) {
            return Err(bad());
        }
        ms = (h * 3600 + mi * 60) * 1000 + (sec * 1000.0).round() as u64;
    }
    let days = days_from_civil(y, m, dd);
    Ok(days as u64 * 86_400_000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: u64) -> String {
        let mut out = Vec::new();
        write_rfc3339_ms(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(fmt(1_663_146_003_606), "2022-09-14T09:00:03.606Z");
        assert_eq!(fmt(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(fmt(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn cached_writer_agrees() {
        let mut w = Rfc3339Writer::default();
        for ms in [
            0,
            86_399_999,
            86_400_000,
            1_663_146_003_606,
            1_663_146_003_607,
            951_782_400_000,
            u64::MAX,
        ] {
            let mut a = Vec::new();
            w.write(&mut a, ms);
            assert_eq!(String::from_utf8(a).unwrap(), fmt(ms), "{ms}");
        }
    }

    #[test]
    fn round_trips_days() {
        for days in (-1000..100_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
