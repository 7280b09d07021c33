//! `$parseInteger` with a decimal picture in a non-ASCII digit family (`'###١'`), guarded.
//!
//! jsonata-core 2.2.13 maps each character of the value onto ASCII digits by subtracting the
//! family's zero and adding `'0'`, then unwraps the character that gives: for a character
//! below the zero (a space, an ASCII digit, any letter before U+0660) that subtraction
//! underflows, and the result is no character, so it panics (found by the fuzz campaign of
//! 2026-12-04: `$parseInteger('١٢٣٤ ', '###١')`; the panic was contained, the expression
//! failed with U1000). JSONata's reference implementation does the same arithmetic on UTF-16
//! code units, where it wraps: such a character becomes a non-digit, and `parseInt` stops
//! there. This wrapper gives the backend's own builtin (in an evaluator of its own) a value in
//! which every such character is replaced by one that maps to a non-digit without wrapping,
//! which is the reference's answer. Pictures with ASCII digits, and any value made only of the
//! family's digits and the picture's separators, reach the builtin unchanged.

use jsonata_core::evaluator::HostFnResult;
use jsonata_core::value::JValue;

use super::guarded::call_builtin;

/// The first code point of every decimal digit family XPath's picture strings accept (as the
/// reference implementation lists them): a family is ten consecutive code points.
pub(super) const ZEROS: &[u32] = &[
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];

/// The zero of the family `c` belongs to.
pub(super) fn family_zero(c: char) -> Option<u32> {
    let c = c as u32;
    ZEROS.iter().copied().find(|&z| (z..z + 10).contains(&c))
}

/// `value` as the builtin can take it for `picture` (see the module's documentation).
pub(super) fn guarded_value(value: &str, picture: &str) -> String {
    let primary = picture.split(';').next().unwrap_or_default();
    let Some(zero) = primary.chars().filter_map(family_zero).find(|&z| z != 0x30) else {
        return value.to_string();
    };
    let digit = |c: char| (zero..zero + 10).contains(&(c as u32));
    // The primary token's other characters (not `#`, not a digit) are its grouping
    // separators: the builtin removes them before it maps the digits.
    let separator = |c: char| primary.contains(c) && c != '#' && family_zero(c).is_none();
    // Maps to 'x': a non-digit, so `parseInt` stops where the reference stops.
    let stop = char::from_u32(zero - u32::from(b'0') + u32::from(b'x')).unwrap_or('x');
    value
        .chars()
        .map(|c| if digit(c) || separator(c) { c } else { stop })
        .collect()
}

/// `$parseInteger` (signature `<s-s:n>`): with one argument, the context item is the value
/// and the argument the picture.
pub(super) fn parse_integer(context: &JValue, args: &[JValue]) -> HostFnResult {
    let guard = |value: &JValue, picture: &JValue| match (value, picture) {
        (JValue::String(value), JValue::String(picture)) => {
            let guarded = guarded_value(value, picture);
            (guarded != **value).then(|| JValue::string(guarded))
        }
        _ => None,
    };
    match args {
        [picture] => match guard(context, picture) {
            Some(value) => call_builtin("parseInteger", &value, args),
            None => call_builtin("parseInteger", context, args),
        },
        [value, picture, rest @ ..] => match guard(value, picture) {
            Some(value) => {
                let mut args = args.to_vec();
                args[0] = value;
                debug_assert_eq!(args.len(), 2 + rest.len());
                call_builtin("parseInteger", context, &args)
            }
            None => call_builtin("parseInteger", context, args),
        },
        [] => call_builtin("parseInteger", context, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_below_the_family_become_a_stop_and_the_rest_is_kept() {
        // Arabic-Indic digits (zero U+0660): the space would underflow.
        assert_eq!(guarded_value("١٢٣٤ ", "###١"), "١٢٣٤\u{6A8}");
        // The picture's separator stays, `#` and other characters do not.
        assert_eq!(guarded_value("١,٢٣#a", "#,##١"), "١,٢٣\u{6A8}\u{6A8}");
        // ASCII pictures and values are left alone.
        assert_eq!(guarded_value("12 a", "000"), "12 a");
        assert_eq!(guarded_value("x", "#;o"), "x");
    }

    #[test]
    fn a_value_the_builtin_panicked_on_parses_as_the_reference_parses_it() {
        let call = |v: &str, p: &str| {
            let n = parse_integer(&JValue::Undefined, &[JValue::string(v), JValue::string(p)])
                .expect("evaluates");
            // The one-argument form takes the value from the context.
            let from_context =
                parse_integer(&JValue::string(v), &[JValue::string(p)]).expect("evaluates");
            assert_eq!(format!("{n:?}"), format!("{from_context:?}"));
            n.as_f64()
        };
        assert_eq!(call("١٢٣٤ ", "###١"), Some(1234.0));
        assert_eq!(call("١٢٣", "###١"), Some(123.0));
        assert_eq!(call("12", "000"), Some(12.0));
    }
}
