//! Signed amounts as bank statements write them ("-12.50", "0.00"), exactly, in minor
//! units of the statement's currency: the ledger's own decimal rule (`Amount::parse`),
//! plus a sign and zero.

use alloc::string::String;

use ledgerfs_model::{Amount, Currency, ResultCode};

/// Parses `[-|+]digits[.digits]` into signed minor units of `currency`. Zero is allowed
/// (a closing balance may be nil); more decimals than the currency has are refused.
pub fn parse_signed(text: &str, currency: Currency) -> Result<i128, ResultCode> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let is_zero = !digits.is_empty()
        && digits.bytes().all(|b| b == b'0' || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    if is_zero {
        let scale = digits.split_once('.').map_or(0, |(_, f)| f.len());
        if scale > usize::from(currency.exponent()) {
            return Err(ResultCode::AmountTooPrecise);
        }
        return Ok(0);
    }
    let minor = Amount::parse(digits, currency)?.0;
    let minor = i128::try_from(minor).map_err(|_| ResultCode::AmountTooLarge)?;
    Ok(if negative { -minor } else { minor })
}

/// Canonical decimal text of signed minor units ("-12.50", "0.00"): the model's one
/// rule for signed balances (`ledgerfs_model::amount::format_signed`).
pub fn format_signed(minor: i128, currency: Currency) -> String {
    let magnitude = minor.unsigned_abs();
    match minor < 0 {
        false => ledgerfs_model::amount::format_signed(magnitude, 0, currency),
        true => ledgerfs_model::amount::format_signed(0, magnitude, currency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn signed_amounts_round_trip() {
        for (text, minor, canonical) in [
            ("12.5", 1250, "12.50"),
            ("-12.50", -1250, "-12.50"),
            ("+3", 300, "3.00"),
            ("0", 0, "0.00"),
            ("0.00", 0, "0.00"),
            (" 7.01 ", 701, "7.01"),
        ] {
            assert_eq!(parse_signed(text, eur()), Ok(minor), "{text}");
            assert_eq!(format_signed(minor, eur()), canonical);
        }
        for bad in ["", "-", "1.234", "1,00", "1e3", ".5", "0.", "--1", "0.000"] {
            assert!(parse_signed(bad, eur()).is_err(), "{bad}");
        }
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(format_signed(0, jpy), "0");
        assert_eq!(parse_signed("-15", jpy), Ok(-15));
    }
}
