//! Calendar arithmetic on ms since the epoch, in UTC (no time zone database):
//! dates for reports, CSV cells and email `Date:` headers.

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `(year, month 1–12, day 1–31)` of a day number (days since 1970-01-01),
/// after Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2023-11-14`.
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2023-11-14T22:13:20.000Z`.
pub fn iso(ms: i64) -> String {
    let in_day = ms.rem_euclid(DAY_MS);
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{}T{h:02}:{min:02}:{s:02}.{milli:03}Z", date(ms))
}

/// RFC 5322 `Date:` value, e.g. `Tue, 14 Nov 2023 22:13:20 +0000`.
pub fn rfc5322(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = ms.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let in_day = ms.rem_euclid(DAY_MS) / 1000;
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!("{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} +0000", in_day / 3600, in_day / 60 % 60, in_day % 60)
}

/// Start (ms) of the UTC day, Monday-based week or month containing `ms`.
pub fn period_start(ms: i64, interval: Interval) -> i64 {
    let days = ms.div_euclid(DAY_MS);
    let start = match interval {
        Interval::Day => days,
        // 1970-01-01 was a Thursday: +3 makes Monday 0.
        Interval::Week => days - (days + 3).rem_euclid(7),
        Interval::Month => {
            let (y, m, _) = civil_from_days(days);
            days_from_civil(y, m, 1)
        }
    };
    start * DAY_MS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_periods() {
        let t = 1_700_000_000_000; // Tue 2023-11-14 22:13:20 UTC
        assert_eq!(iso(t), "2023-11-14T22:13:20.000Z");
        assert_eq!(rfc5322(t), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(date(period_start(t, Interval::Day)), "2023-11-14");
        assert_eq!(date(period_start(t, Interval::Week)), "2023-11-13");
        assert_eq!(date(period_start(t, Interval::Month)), "2023-11-01");
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(period_start(days_from_civil(2024, 3, 1) * DAY_MS - 1, Interval::Month)), "2024-02-01");
        for days in [-800_000, -1, 0, 59, 60, 11_016, 19_675, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
