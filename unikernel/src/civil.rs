//! Calendar arithmetic for the wall clock (the CMOS RTC gives a date).

/// Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970).
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// Seconds since the Unix epoch of a UTC date and time, or `None` when a
/// field is out of range (a clock that reads as nonsense) or the date is
/// before 1970.
pub fn unix_time(year: u64, month: u8, day: u8, hour: u8, min: u8, sec: u8) -> Option<u64> {
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, u64::from(month), u64::from(day)) * 86_400 + u64::from(hour) * 3600 + u64::from(min) * 60 + u64::from(sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // `date -u -d 2026-11-26T18:21:43 +%s`
        assert_eq!(unix_time(2026, 11, 26, 18, 21, 43), Some(1_795_717_303));
        // 2024 is a leap year, 2100 is not.
        assert_eq!(days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28), 2);
        assert_eq!(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
    }

    #[test]
    fn nonsense_is_none() {
        assert_eq!(unix_time(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(unix_time(2026, 1, 0, 0, 0, 0), None);
        assert_eq!(unix_time(2026, 1, 1, 24, 0, 0), None);
        assert_eq!(unix_time(1969, 12, 31, 23, 59, 59), None);
    }
}
