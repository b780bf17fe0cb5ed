//! Exact money: an amount is an unsigned integer count of a currency's minor units.
//! Decimal text is parsed with `rust_decimal` after a strict lexical check, so "10.50"
//! in EUR is exactly 1050 cents. Floating point never appears.

use alloc::string::String;
use core::str::FromStr;

use rust_decimal::Decimal;

use crate::code::ResultCode;
use crate::currency::Currency;
use crate::limits::MAX_AMOUNT_TEXT_LEN;

/// A non-negative amount in minor units of some currency (which the caller tracks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Amount {
    /// Parses a positive plain decimal (`digits[.digits]`, no sign, exponent, spaces or
    /// separators) whose scale fits `currency`'s minor unit.
    pub fn parse(text: &str, currency: Currency) -> Result<Amount, ResultCode> {
        if text.is_empty() || text.len() > MAX_AMOUNT_TEXT_LEN {
            return Err(if text.is_empty() {
                ResultCode::AmountInvalid
            } else {
                ResultCode::AmountTooLarge
            });
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return Err(ResultCode::AmountInvalid);
        }
        let scale = fraction.map_or(0, str::len);
        if scale > usize::from(currency.exponent()) {
            return Err(ResultCode::AmountTooPrecise);
        }
        // rust_decimal holds a 96-bit mantissa: anything larger is too large for us too.
        let decimal = Decimal::from_str(text).map_err(|_| ResultCode::AmountTooLarge)?;
        // Past 96 bits of digits rust_decimal rounds the fraction away instead of failing
        // ("7922816251426433759354395033.6" parses at scale 0): that too is too large.
        if decimal.scale() as usize != scale || !decimal.is_sign_positive() {
            return Err(ResultCode::AmountTooLarge);
        }
        let mantissa = u128::try_from(decimal.mantissa()).map_err(|_| ResultCode::AmountInvalid)?;
        if mantissa == 0 {
            return Err(ResultCode::AmountInvalid);
        }
        let shift = u32::from(currency.exponent()) - decimal.scale();
        let minor = mantissa
            .checked_mul(10u128.pow(shift))
            .ok_or(ResultCode::AmountTooLarge)?;
        Ok(Amount(minor))
    }

    /// Canonical text with exactly the currency's number of decimal places ("10.50").
    pub fn format(self, currency: Currency) -> String {
        let mut out = String::new();
        self.write(currency, &mut out);
        out
    }

    /// Writes the canonical text into `out` without allocating a temporary.
    pub fn write(self, currency: Currency, out: &mut String) {
        let exponent = u32::from(currency.exponent());
        let scale = 10u128.pow(exponent);
        let whole = self.0 / scale;
        let fraction = self.0 % scale;
        crate::json::write_u128(out, whole);
        if exponent > 0 {
            out.push('.');
            crate::json::write_u128_padded(out, fraction, exponent as usize);
        }
    }
}

/// Formats a signed balance (credits − debits) of two minor-unit totals as decimal text.
pub fn format_signed(credits: u128, debits: u128, currency: Currency) -> String {
    let mut out = String::new();
    if credits >= debits {
        Amount(credits - debits).write(currency, &mut out);
    } else {
        out.push('-');
        Amount(debits - credits).write(currency, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(Amount::parse("10.50", eur()), Ok(Amount(1050)));
        assert_eq!(Amount::parse("10.5", eur()), Ok(Amount(1050)));
        assert_eq!(Amount::parse("10", eur()), Ok(Amount(1000)));
        assert_eq!(Amount::parse("0.01", eur()), Ok(Amount(1)));
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Amount::parse("500", jpy), Ok(Amount(500)));
        assert_eq!(Amount::parse("5.0", jpy), Err(ResultCode::AmountTooPrecise));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "", "-1", "+1", "1e3", " 1", "1 ", "1_000", "1,00", ".5", "5.", "0", "0.00", "abc", "NaN", "1.2.3",
        ] {
            let got = Amount::parse(bad, eur());
            assert!(got.is_err(), "{bad:?} gave {got:?}");
        }
        assert_eq!(Amount::parse("1.001", eur()), Err(ResultCode::AmountTooPrecise));
        assert_eq!(
            Amount::parse("99999999999999999999999999999999", eur()),
            Err(ResultCode::AmountTooLarge)
        );
    }

    /// Found by fuzzing (fuzz target `request_json`/`entry`): one digit past rust_decimal's
    /// 96-bit mantissa used to trip an assertion (a panic in the sequencer on an API
    /// request); it is too large, like every amount past 96 bits.
    #[test]
    fn mantissa_overflow_in_the_fraction_is_too_large() {
        assert_eq!(
            Amount::parse("7922816251426433759354395033.6", eur()),
            Err(ResultCode::AmountTooLarge)
        );
        assert_eq!(
            Amount::parse("7922816251426433759354395033.65", eur()),
            Err(ResultCode::AmountTooLarge)
        );
        // The largest 96-bit mantissa is still exact.
        assert_eq!(
            Amount::parse("7922816251426433759354395033.5", eur()),
            Ok(Amount(792_281_625_142_643_375_935_439_503_350))
        );
    }

    #[test]
    fn formats_signed() {
        assert_eq!(format_signed(1050, 0, eur()), "10.50");
        assert_eq!(format_signed(0, 1, eur()), "-0.01");
        assert_eq!(format_signed(7, 7, eur()), "0.00");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Amount(42).format(jpy), "42");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(minor in 1u128..(1u128 << 90), code in prop::sample::select(&["EUR", "JPY", "KWD", "CLF"][..])) {
            let currency = Currency::from_code(code).unwrap();
            let text = Amount(minor).format(currency);
            prop_assert_eq!(Amount::parse(&text, currency), Ok(Amount(minor)));
        }
    }
}
