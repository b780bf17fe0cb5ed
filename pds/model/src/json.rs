//! The small amount of JSON the cores write themselves: string escaping identical to
//! `serde_json`'s (so canonical text is the same whichever writes it) and canonical
//! metadata (sorted keys, compact, integers only, bounded size and depth).

use alloc::borrow::Cow;
use alloc::string::String;
use serde_json::Value;

use crate::code::ResultCode;
use crate::limits::{MAX_METADATA_DEPTH, MAX_METADATA_LEN};

/// Appends `value` in decimal. The hot path of entry encoding: `core::fmt` costs several
/// times more per integer (and a `u128` division per digit).
pub fn write_u128(out: &mut String, mut value: u128) {
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    while value > u128::from(u64::MAX) {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    let mut small = value as u64;
    loop {
        at -= 1;
        digits[at] = b'0' + (small % 10) as u8;
        small /= 10;
        if small == 0 {
            break;
        }
    }
    out.push_str(core::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

/// Appends `value` in decimal, left-padded with zeros to `width` digits.
pub fn write_u128_padded(out: &mut String, value: u128, width: usize) {
    let start = out.len();
    write_u128(out, value);
    let len = out.len() - start;
    if len < width {
        out.insert_str(start, &"0000000000000000000000000000000000000000"[..width - len]);
    }
}

/// Appends `text` as a JSON string literal, escaping exactly as `serde_json` does:
/// `"` `\\` and the named control escapes, other control bytes as `\u00xx`, and
/// everything else (including non-ASCII UTF-8) verbatim.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Validates raw metadata JSON text and returns its canonical form: an object with keys
/// sorted, no insignificant white space, no floating-point numbers.
pub fn canonical_metadata(raw: &str) -> Result<Cow<'_, str>, ResultCode> {
    if raw == "{}" {
        return Ok(Cow::Borrowed("{}"));
    }
    if raw.len() > 4 * MAX_METADATA_LEN {
        return Err(ResultCode::MetadataTooLarge);
    }
    let value: Value = serde_json::from_str(raw).map_err(|_| ResultCode::MetadataInvalid)?;
    if !value.is_object() {
        return Err(ResultCode::MetadataInvalid);
    }
    check_value(&value, 0)?;
    let text = serde_json::to_string(&value).map_err(|_| ResultCode::MetadataInvalid)?;
    if text.len() > MAX_METADATA_LEN {
        return Err(ResultCode::MetadataTooLarge);
    }
    Ok(Cow::Owned(text))
}

fn check_value(value: &Value, depth: usize) -> Result<(), ResultCode> {
    if depth > MAX_METADATA_DEPTH {
        return Err(ResultCode::MetadataInvalid);
    }
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => Err(ResultCode::MetadataInvalid),
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|v| check_value(v, depth + 1)),
        _ => Ok(()),
    }
}

/// Appends `bytes` as lowercase hex: hashes in entries and proof files.
pub fn write_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

/// Thirty-two bytes from 64 hex digits (`None` for anything else): hashes in entries
/// and proof files, token digests. Either case is read; callers that need one
/// encoding compare with [`write_hex`]'s.
pub fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_are_written_as_core_fmt_writes_them() {
        for v in [
            0u128,
            1,
            9,
            10,
            99,
            12345,
            u64::MAX as u128,
            u64::MAX as u128 + 1,
            u128::MAX,
        ] {
            let mut out = String::new();
            write_u128(&mut out, v);
            assert_eq!(out, alloc::format!("{v}"));
            for width in [0usize, 1, 2, 4, 40] {
                let mut padded = String::from("x");
                write_u128_padded(&mut padded, v, width);
                assert_eq!(padded, alloc::format!("x{v:0width$}"));
            }
        }
    }

    #[test]
    fn canonicalises_metadata() {
        assert_eq!(
            canonical_metadata(r#"{ "b": 1, "a": "x" }"#).unwrap(),
            r#"{"a":"x","b":1}"#
        );
        assert_eq!(canonical_metadata("{}").unwrap(), "{}");
        assert_eq!(canonical_metadata("[1]"), Err(ResultCode::MetadataInvalid));
        assert_eq!(canonical_metadata(r#"{"a":1.5}"#), Err(ResultCode::MetadataInvalid));
        assert_eq!(canonical_metadata("{"), Err(ResultCode::MetadataInvalid));
        let deep = alloc::format!("{}1{}", r#"{"a":"#.repeat(12), "}".repeat(12));
        assert_eq!(canonical_metadata(&deep), Err(ResultCode::MetadataInvalid));
        let big = alloc::format!(r#"{{"a":"{}"}}"#, "x".repeat(5000));
        assert_eq!(canonical_metadata(&big), Err(ResultCode::MetadataTooLarge));
    }

    proptest! {
        #[test]
        fn escaping_matches_serde_json(text in any::<String>()) {
            let mut ours = String::new();
            write_string(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn escaping_matches_serde_json_controls(text in "[\\x00-\\x20\"\\\\a\u{7f}\u{e9}]{0,40}") {
            let mut ours = String::new();
            write_string(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_string(&text).unwrap());
        }
    }
}
