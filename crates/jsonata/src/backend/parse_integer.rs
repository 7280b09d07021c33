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

/// The grouping separators the builtin strips from a value before it maps the digits, for a
/// decimal picture's primary token: when they are regular (one character at equal spacing)
/// a literal `,` whatever the character (a faithful port of jsonata-js), else each
/// separator character.
fn stripped_separators(primary: &str) -> Vec<char> {
    let mut separators: Vec<(char, usize)> = Vec::new();
    let mut position = 0usize;
    for c in primary.chars().rev() {
        if family_zero(c).is_some() || c == '#' {
            position += 1;
        } else {
            separators.push((c, position));
        }
    }
    let regular = separators.first().is_some_and(|&(first, _)| {
        let factor = separators.iter().fold(0, |a, &(_, p)| gcd(a, p));
        separators.iter().all(|&(c, _)| c == first)
            && factor > 0
            && (1..=separators.len()).all(|i| separators.iter().any(|&(_, p)| p == i * factor))
    });
    if regular {
        vec![',']
    } else {
        separators.into_iter().map(|(c, _)| c).collect()
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `value` as the builtin can take it for `picture` (see the module's documentation).
///
/// Also: with an ordinal picture (`;o`) the builtin drops the value's last two *bytes* (the
/// suffix), which can fall inside a character; jsonata-js drops two characters. The value
/// is given with those two characters replaced by two ASCII ones, which the builtin drops.
pub(super) fn guarded_value(value: &str, picture: &str) -> String {
    // The builtin splits at the last `;`.
    let (primary, ordinal) = match picture.rfind(';') {
        Some(at) => (&picture[..at], picture[at + 1..].starts_with('o')),
        None => (picture, false),
    };
    let (value, suffix) = if ordinal && !value.is_ascii() {
        let keep = value.chars().count().saturating_sub(2);
        (value.chars().take(keep).collect::<String>(), "xx")
    } else {
        (value.to_string(), "")
    };
    let Some(zero) = primary.chars().filter_map(family_zero).find(|&z| z != 0x30) else {
        return value + suffix;
    };
    let digit = |c: char| (zero..zero + 10).contains(&(c as u32));
    let stripped = stripped_separators(primary);
    // Maps to 'x': a non-digit, so `parseInt` stops where the reference stops.
    let stop = char::from_u32(zero - u32::from(b'0') + u32::from(b'x')).unwrap_or('x');
    let mut guarded: String = value
        .chars()
        .map(|c| {
            if digit(c) || stripped.contains(&c) {
                c
            } else {
                stop
            }
        })
        .collect();
    guarded.push_str(suffix);
    guarded
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
        // Regular separators other than `,` are not stripped by the builtin (nor by
        // jsonata-js): they stop the number (found by fuzzing: `'###$١'`).
        assert_eq!(guarded_value("١$٢", "###$١"), "١\u{6A8}٢");
        // Irregular ones are stripped, so they stay.
        assert_eq!(guarded_value("١$٢*٣", "#*##$#١"), "١$٢*٣");
        // Ordinal: the last two characters become two ASCII ones the builtin drops.
        assert_eq!(guarded_value("１２th", "0;o"), "１２xx");
        assert_eq!(guarded_value("१", "#०;o"), "xx");
        assert_eq!(guarded_value("12th", "0;o"), "12th");
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
