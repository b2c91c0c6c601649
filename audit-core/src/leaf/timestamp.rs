//! RFC 3339 UTC timestamps (`2026-11-25T02:07:00.123456Z`), written as bytes without `core::fmt`:
//! every audit line has one, so it is on the writer's hot path.

use std::time::{SystemTime, UNIX_EPOCH};

/// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999999Z.
const LAST_SECOND: u64 = 253_402_300_799;

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds), 27 bytes. RFC 3339 has four-digit years: times
/// before 1970 are written as the epoch, times after 9999 as its last microsecond (a clock that
/// far off is wrong either way; a wrapped year would look plausible).
pub(crate) fn rfc3339_micros(time: SystemTime) -> [u8; 27] {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    if since.as_secs() > LAST_SECOND {
        return *b"9999-12-31T23:59:59.999999Z";
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    write_date_time(&mut out, since.as_secs());
    write_digits(&mut out[20..26], u64::from(since.subsec_micros()));
    out
}

/// `YYYYMMDDTHHMMSSZ`, for file names.
pub(crate) fn compact_seconds(time: SystemTime) -> String {
    let full = rfc3339_micros(time);
    let keep = |&b: &u8| b != b'-' && b != b':';
    let mut compact: Vec<u8> = full[..19].iter().copied().filter(keep).collect();
    compact.push(b'Z');
    String::from_utf8(compact).expect("ASCII")
}

fn write_date_time(out: &mut [u8; 27], secs: u64) {
    let days = secs / 86_400;
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    write_digits(&mut out[0..4], year);
    write_digits(&mut out[5..7], month);
    write_digits(&mut out[8..10], day);
    write_digits(&mut out[11..13], in_day / 3600);
    write_digits(&mut out[14..16], in_day % 3600 / 60);
    write_digits(&mut out[17..19], in_day % 60);
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Writes `value` right-aligned in `out` with leading zeros.
fn write_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> String {
        let time = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(u64::from(micros));
        String::from_utf8(rfc3339_micros(time).to_vec()).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z"); // a leap day of a /400 year
        assert_eq!(at(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(at(1_764_036_420, 123_456), "2025-11-25T02:07:00.123456Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z"); // 2100 is not a leap year
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
        // Past year 9999: the last instant there is, not a wrapped year.
        assert_eq!(at(253_402_300_800, 0), "9999-12-31T23:59:59.999999Z");
        assert_eq!(at(317_000_000_000, 5), "9999-12-31T23:59:59.999999Z"); // year 12015
        assert_eq!(compact_seconds(UNIX_EPOCH + Duration::from_secs(1_764_036_420)), "20251125T020700Z");
    }

    #[test]
    fn every_day_of_four_centuries_is_consecutive() {
        // Walks day by day through 1970..2370 checking the calendar's arithmetic on each step.
        let days_in = |y: u64, m: u64| match m {
            2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut expected = (1970, 1, 1);
        for day in 0..146_097 {
            assert_eq!(civil_from_days(day), expected, "day {day}");
            let (y, m, d) = expected;
            expected = if d < days_in(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }
}
