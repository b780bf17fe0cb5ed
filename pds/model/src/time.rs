//! Timestamps as Unix nanoseconds (u64, good until 2554) and their canonical RFC 3339
//! text `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. The cores never read a clock: adapters pass
//! the time in with each message.

use alloc::string::String;

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type UnixNanos = u64;

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: u64 = 86_400;
/// Length of the canonical text form.
pub const TIMESTAMP_TEXT_LEN: usize = 30;

/// Days since the epoch to (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since the epoch; `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Appends the canonical text of `nanos` to `out`. Hot path (one call per entry):
/// digits are written directly, without the formatting machinery.
pub fn write_timestamp(nanos: UnixNanos, out: &mut String) {
    let seconds = nanos / NANOS_PER_SECOND;
    let fraction = nanos % NANOS_PER_SECOND;
    let (year, month, day) = civil_from_days(seconds / SECONDS_PER_DAY);
    let second_of_day = seconds % SECONDS_PER_DAY;
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], second_of_day / 3_600);
    put_digits(&mut text[14..16], second_of_day / 60 % 60);
    put_digits(&mut text[17..19], second_of_day % 60);
    put_digits(&mut text[20..29], fraction);
    out.push_str(core::str::from_utf8(&text).expect("ASCII digits"));
}

/// Writes `value` as zero-padded decimal filling `slot` (value must fit).
fn put_digits(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    debug_assert_eq!(value, 0, "value wider than its slot");
}

/// The canonical text of `nanos`.
pub fn format_timestamp(nanos: UnixNanos) -> String {
    let mut out = String::with_capacity(TIMESTAMP_TEXT_LEN);
    write_timestamp(nanos, &mut out);
    out
}

/// Parses RFC 3339 UTC text (`Z` suffix, 0 to 9 fractional digits). Strict: the
/// canonical form is accepted, as are shorter fractions for human input. The subset of
/// [`parse_rfc3339`] the log writes: uppercase `T` and `Z`, no offset, at most nine
/// fractional digits, a time the log can hold.
pub fn parse_timestamp(text: &str) -> Option<UnixNanos> {
    let b = text.as_bytes();
    let fraction = text.get(19..text.len().saturating_sub(1)).unwrap_or("");
    let strict = b.len() >= 20
        && b[10] == b'T'
        && b[b.len() - 1] == b'Z'
        && (fraction.is_empty() || (fraction.starts_with('.') && fraction.len() <= 10));
    if !strict {
        return None;
    }
    parse_rfc3339(text).ok().flatten()
}

/// Text that is not an RFC 3339 date-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotRfc3339;

/// Parses any RFC 3339 date-time (`T` or `t`, `Z`, `z` or a `±hh:mm` offset, any number of
/// fractional digits, of which nine are kept), as JSON Schema's `date-time` allows, for
/// times a client gives. `Err` when the text is not RFC 3339; `Ok(None)` when it is, but
/// the time is not one the log can hold (before 1970, a leap second, past 2554).
pub fn parse_rfc3339(text: &str) -> Result<Option<UnixNanos>, NotRfc3339> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return Err(NotRfc3339);
    }
    let num = |range: core::ops::Range<usize>| -> Result<u64, NotRfc3339> {
        let s = text.get(range).ok_or(NotRfc3339)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(NotRfc3339);
        }
        s.parse().map_err(|_| NotRfc3339)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(NotRfc3339);
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(NotRfc3339);
    }
    let mut rest = &text[19..];
    let mut fraction = 0u64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(NotRfc3339);
        }
        for (i, c) in f.bytes().take(digits.min(9)).enumerate() {
            fraction += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
        }
        rest = &f[digits..];
    }
    let offset: i64 = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digit = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0')).ok_or(NotRfc3339);
            let (h, m) = (digit(h1)? * 10 + digit(h2)?, digit(m1)? * 10 + digit(m2)?);
            if h > 23 || m > 59 {
                return Err(NotRfc3339);
            }
            let minutes = h * 60 + m;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return Err(NotRfc3339),
    };
    if second == 60 {
        return Ok(None);
    }
    let Some(days) = days_from_civil(year, month, day) else {
        return Ok(None);
    };
    let local = (days * SECONDS_PER_DAY + hour * 3_600 + minute * 60 + second) as i64;
    let Ok(utc) = u64::try_from(local - offset * 60) else {
        return Ok(None);
    };
    Ok(utc.checked_mul(NANOS_PER_SECOND).and_then(|n| n.checked_add(fraction)))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_timestamp(1_795_000_000_123_456_789),
            "2026-11-18T11:06:40.123456789Z"
        );
        assert_eq!(
            format_timestamp(951_782_400 * NANOS_PER_SECOND),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            parse_timestamp("2000-02-29T00:00:00Z"),
            Some(951_782_400 * NANOS_PER_SECOND)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.5Z"), Some(500_000_000));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00+01:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn any_rfc_3339_time_a_client_gives() {
        let t = parse_timestamp("2026-01-01T10:00:00Z");
        assert_eq!(parse_rfc3339("2026-01-01T11:30:00+01:30"), Ok(t));
        assert_eq!(parse_rfc3339("2026-01-01t10:00:00.000000000123z"), Ok(t));
        assert_eq!(parse_rfc3339("2026-01-01T10:00:00.5Z"), Ok(t.map(|t| t + 500_000_000)));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(None));
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(parse_rfc3339("2026-06-30T23:59:60Z"), Ok(None));
        for bad in [
            "",
            "2026-01-01 10:00:00Z",
            "2026-01-01T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-01T10:00:00.Z",
            "2026-01-01T10:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339(bad), Err(NotRfc3339), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(nanos in 0u64..u64::MAX) {
            let text = format_timestamp(nanos);
            prop_assert_eq!(text.len(), TIMESTAMP_TEXT_LEN);
            prop_assert_eq!(parse_timestamp(&text), Some(nanos));
        }
    }
}
