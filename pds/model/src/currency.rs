//! ISO 4217 currencies with their minor-unit exponents. The table is static so every
//! domain agrees on how many decimal places an amount may carry; it never changes at run
//! time.

use core::fmt;

/// An ISO 4217 currency this ledger accepts: its alphabetic code and minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Codes with a minor-unit exponent other than 2.
const EXCEPTIONS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Active ISO 4217 codes with exponent 2.
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR",
    "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC",
    "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VED", "VES",
    "WST", "XCD", "YER", "ZAR", "ZMW", "ZWG",
];

impl Currency {
    /// Largest minor-unit exponent in the table (CLF and UYW use 4).
    pub const MAX_EXPONENT: u8 = 4;

    /// Looks up an ISO 4217 alphabetic code (upper case, exactly three letters).
    pub fn from_code(code: &str) -> Option<Currency> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let exponent = if let Some((_, e)) = EXCEPTIONS
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| &EXCEPTIONS[i])
        {
            *e
        } else if TWO_DECIMALS.binary_search(&code).is_ok() {
            2
        } else {
            return None;
        };
        assert!(exponent <= Self::MAX_EXPONENT);
        Some(Currency {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent,
        })
    }

    /// The alphabetic code, e.g. `"EUR"`.
    pub fn code(&self) -> &str {
        // The bytes came from a validated &str of ASCII upper-case letters.
        core::str::from_utf8(&self.code).expect("currency code is ASCII")
    }

    /// Decimal places of the minor unit (EUR 2, JPY 0, KWD 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_exponents() {
        assert_eq!(Currency::from_code("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::from_code("CLF").unwrap().exponent(), 4);
        assert_eq!(Currency::from_code("GBP").unwrap().code(), "GBP");
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        for bad in ["", "eur", "EURO", "XXX", "E1R", "ZZZ"] {
            assert!(Currency::from_code(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(TWO_DECIMALS.windows(2).all(|w| w[0] < w[1]));
        assert!(EXCEPTIONS.windows(2).all(|w| w[0].0 < w[1].0));
        for code in TWO_DECIMALS.iter().chain(EXCEPTIONS.iter().map(|(c, _)| c)) {
            assert!(Currency::from_code(code).is_some(), "{code}");
        }
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in TWO_DECIMALS.iter().enumerate() {
            assert!(!TWO_DECIMALS[i + 1..].contains(a), "{a}");
            assert!(!EXCEPTIONS.iter().any(|(c, _)| c == a), "{a}");
        }
    }
}
