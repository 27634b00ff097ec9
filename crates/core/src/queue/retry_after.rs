//! `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.

/// Milliseconds to wait, or `None` if the header is not understood.
/// `now_ms` is the client clock, needed for the date form; a date in the
/// past means "now".
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<u32> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000).min(u32::MAX as u64) as u32);
    }
    let at = imf_fixdate_ms(v)?;
    Some((at - now_ms).clamp(0, u32::MAX as i64) as u32)
}

/// The one date format HTTP senders must use: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn imf_fixdate_ms(s: &str) -> Option<i64> {
    let (_, rest) = s.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: i64 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else { return None };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    Some((days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec) * 1000)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_form() {
        assert_eq!(parse_retry_after("120", 0), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(0));
    }

    #[test]
    fn date_form_relative_to_now() {
        // 1994-11-06T08:49:37Z = 784111777 s
        let at = 784_111_777_000;
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 5_000), Some(5_000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000), Some(0));
        assert_eq!(imf_fixdate_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(imf_fixdate_ms("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400_000));
    }

    #[test]
    fn nonsense_is_not_understood() {
        for v in ["", "soon", "-5", "1.5", "Sun, 06 Nov 1994 08:49:37 CET", "Sun, 32 Nov 1994 08:49:37 GMT"] {
            assert_eq!(parse_retry_after(v, 0), None, "{v:?}");
        }
    }
}
