//! `$fromMillis` and `$toMillis` (and so `$now`) guarded against jsonata-core 2.2.13's
//! panics, found by fuzzing and by reading its `datetime.rs`. Each is reachable by any
//! expression a client sends:
//!
//! 1. a marker's component that is not ASCII (`[뚙P]`): the backend slices the marker after
//!    its first byte; a marker that starts with its only comma (`[,]`) slices `1..0`;
//! 2. a `$toMillis` picture whose digits are of another family than ASCII (`[Y١١١١]`): the
//!    timestamp's ASCII digits are mapped down by that family's zero and underflow;
//! 3. a `$toMillis` timestamp without picture holding non-ASCII digits (`'٢٠١٨'`): its
//!    ISO 8601 pattern's `\d` matches them, and the parse that follows unwraps an error;
//! 4. a year whose truncation width is 19 or more (`[Y,*-64]`, `[Y,2000]`): 10^width
//!    overflows an `i64` (wrapping to 0 from 64 on: the year is taken modulo 0), and a huge
//!    width of any integer marker pads with that many zeros;
//! 5. fractional seconds asked for as names (`[fN]`) in `$fromMillis`: an `expect`;
//! 6. a day of the year so large (12 digits) that `chrono::Duration::days` panics.
//!
//! The guard keeps JSONata's answer wherever the backend has one: an unknown component is
//! replaced by an ASCII control character the picture does not hold (an unknown component
//! only ever shows in an error message, which gets the original back), and a comma-first
//! marker is rewritten to what jsonata-js makes of it (`substring(1, 0)` is
//! `substring(0, 1)`). What it refuses or answers itself is said where it does.

use jsonata_core::evaluator::{EvaluatorError, HostFnResult};
use jsonata_core::value::JValue;

use super::guarded::{call_builtin, coded};
use super::parse_integer::family_zero;

/// Most digits a width modifier may ask a marker for (`[M,2000]` pads to 2,000 digits): the
/// backend builds the padding, or a regex repetition that long, with no bound of its own.
pub(crate) const MAX_WIDTH: usize = 1_000;

/// Most digits a year may be truncated to: the backend computes 10^width in an `i64`, which
/// holds 10^18 and no higher power of ten (past it the power wraps, to 0 from 10^64 on).
pub(crate) const MAX_YEAR_WIDTH: usize = 18;

/// Error code of a picture the guard refuses.
const REFUSED: &str = "U1002";

/// The components whose value is an integer (formatted or parsed with an integer picture).
const INTEGER_COMPONENTS: &str = "YMDdFWwXxHhms";

/// The date components a parse can use (`parse_date_time`'s `dmask` order).
const DATE_COMPONENTS: &str = "YXMxWwdD";

/// ASCII characters no picture needs, to stand in for a component that is not ASCII.
fn placeholders() -> impl Iterator<Item = char> {
    ('\u{1}'..='\u{8}').chain('\u{e}'..='\u{1b}')
}

/// What a function does with its picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Format,
    Parse,
}

/// A marker as the backend analyses it (`analyse_date_time_picture`), its component made
/// ASCII.
#[derive(Debug)]
struct Marker {
    /// The marker's text without whitespace, as it goes to the backend.
    text: String,
    component: char,
    /// Presentation modifier 1 (after any trailing `a`/`t`/`c`/`o` is taken off).
    presentation: String,
    min_width: Option<usize>,
    max_width: Option<usize>,
}

impl Marker {
    /// Analyses `text` (non-empty, whitespace removed, first character ASCII).
    fn analyse(text: String) -> Marker {
        let component = text.chars().next().unwrap_or('?');
        let (modifier, width) = match text.rfind(',') {
            Some(comma) if comma > 0 => (&text[1..comma], Some(&text[comma + 1..])),
            _ => (text.get(1..).unwrap_or_default(), None),
        };
        // The backend reads each width with `str::parse::<usize>` and ignores what fails.
        let parse = |s: &str| (s != "*").then(|| s.parse::<usize>().ok()).flatten();
        let (min_width, max_width) = match width.map(|w| w.split_once('-').unwrap_or((w, ""))) {
            Some((min, max)) => (parse(min), parse(max)),
            None => (None, None),
        };
        let chars: Vec<char> = modifier.chars().collect();
        let presentation = match chars.as_slice() {
            [.., last] if chars.len() > 1 && "atco".contains(*last) => {
                chars[..chars.len() - 1].iter().collect()
            }
            _ => modifier.to_string(),
        };
        Marker {
            text: text.clone(),
            component,
            presentation,
            min_width,
            max_width,
        }
    }

    /// Whether the backend gives this marker an integer format: an integer component
    /// presented as a number (a presentation that starts with `n`/`N` asks for names).
    fn integer(&self) -> bool {
        INTEGER_COMPONENTS.contains(self.component) && !self.names()
    }

    fn names(&self) -> bool {
        self.presentation.starts_with(['n', 'N'])
    }

    /// How many digits a formatted year is truncated to (`§9.8.4.4`, the backend's `n`).
    fn year_width(&self) -> Option<usize> {
        if let Some(max) = self.max_width {
            return Some(max);
        }
        let mandatory = self
            .presentation
            .chars()
            .filter(|&c| family_zero(c).is_some())
            .count();
        let optional = self.presentation.matches('#').count();
        let mandatory = match self.min_width {
            Some(min) => mandatory.max(min),
            None => mandatory,
        };
        (mandatory + optional >= 2).then_some(mandatory + optional)
    }

    /// The marker with digits of any other family written as ASCII digits, if it has any.
    fn ascii_digits(&self) -> Option<String> {
        let foreign = |c: char| family_zero(c).is_some_and(|z| z != 0x30);
        if !self.presentation.chars().any(foreign) {
            return None;
        }
        Some(
            self.text
                .chars()
                .map(|c| match family_zero(c) {
                    Some(zero) => char::from_u32(c as u32 - zero + u32::from(b'0')).unwrap_or(c),
                    None => c,
                })
                .collect(),
        )
    }
}

/// A picture made safe for the backend.
#[derive(Debug)]
struct Picture {
    /// The text to hand the backend.
    text: String,
    /// Each placeholder used and the component it stands for.
    standing_in: Vec<(char, char)>,
    /// Whether some integer marker's digits were of a family other than ASCII (made ASCII).
    foreign_digits: bool,
    markers: Vec<Marker>,
    /// Where each marker (`[` to `]`) lies in `text`.
    spans: Vec<std::ops::Range<usize>>,
}

impl Picture {
    /// Reads `picture` the way the backend does, refusing what would make it panic or
    /// exhaust memory and rewriting what it would misread.
    fn guard(picture: &str, purpose: Use) -> Result<Picture, EvaluatorError> {
        let mut guarded = Picture {
            text: String::with_capacity(picture.len()),
            standing_in: Vec::new(),
            foreign_digits: false,
            markers: Vec::new(),
            spans: Vec::new(),
        };
        let mut free = placeholders().filter(|&p| !picture.contains(p));
        let mut rest = picture;
        while let Some(open) = rest.find('[') {
            guarded.text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            if let Some(literal) = after.strip_prefix('[') {
                guarded.text.push_str("[[");
                rest = literal;
                continue;
            }
            let Some(close) = after.find(']') else {
                // The backend reports the missing bracket (D3135) before it reads anything
                // else of the picture that could hurt it.
                guarded.text.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let raw = &after[..close];
            rest = &after[close + 1..];
            let text: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            let Some(first) = text.chars().next() else {
                // An empty marker: the backend's D3135.
                guarded.text.push('[');
                guarded.text.push_str(raw);
                guarded.text.push(']');
                continue;
            };
            let tail = &text[first.len_utf8()..];
            let ascii = if first == ',' && !tail.contains(',') {
                // jsonata-js: the width follows the comma, the presentation is ",".
                Some(format!(",,{tail}"))
            } else if !first.is_ascii() {
                Some(tail.to_string())
            } else {
                None
            };
            let text = match ascii {
                Some(tail) => {
                    let placeholder = free.next().ok_or_else(|| {
                        coded(
                            REFUSED,
                            "the date/time picture has too many distinct components that \
                             are not ASCII letters",
                        )
                    })?;
                    guarded.standing_in.push((placeholder, first));
                    format!("{placeholder}{tail}")
                }
                None => text,
            };
            let mut marker = Marker::analyse(text);
            guarded.check(&marker, purpose)?;
            if purpose == Use::Parse
                && marker.integer()
                && let Some(ascii) = marker.ascii_digits()
            {
                guarded.foreign_digits = true;
                marker = Marker::analyse(ascii);
            }
            let start = guarded.text.len();
            guarded.text.push('[');
            guarded.text.push_str(&marker.text);
            guarded.text.push(']');
            guarded.spans.push(start..guarded.text.len());
            guarded.markers.push(marker);
        }
        guarded.text.push_str(rest);
        Ok(guarded)
    }

    /// Refuses a marker the backend would panic on or build without bound.
    fn check(&self, marker: &Marker, purpose: Use) -> Result<(), EvaluatorError> {
        let shown = self.original(&marker.text);
        if purpose == Use::Format && marker.component == 'f' && marker.names() {
            // jsonata-js fails here too (fractional seconds have no names); the backend's
            // code for names a component cannot have.
            return Err(coded("D3133", 'f'));
        }
        if !(marker.integer() || marker.component == 'f') {
            // Names are cut to the maximum width and never padded to the minimum; other
            // components ignore the width.
            return Ok(());
        }
        let widest = marker.min_width.max(if marker.component == 'Y' {
            marker.max_width
        } else {
            None
        });
        if let Some(width) = widest.filter(|&w| w > MAX_WIDTH) {
            return Err(coded(
                REFUSED,
                format!(
                    "the date/time picture's marker [{shown}] asks for {width} digits; \
                     at most {MAX_WIDTH} are supported"
                ),
            ));
        }
        if purpose == Use::Format
            && marker.component == 'Y'
            && let Some(width) = marker.year_width().filter(|&w| w > MAX_YEAR_WIDTH)
        {
            return Err(coded(
                REFUSED,
                format!(
                    "the date/time picture's marker [{shown}] truncates the year to {width} \
                     digits; at most {MAX_YEAR_WIDTH} are supported"
                ),
            ));
        }
        Ok(())
    }

    /// `text` with each placeholder back to the component it stands for.
    fn original(&self, text: &str) -> String {
        text.chars()
            .map(|c| {
                self.standing_in
                    .iter()
                    .find(|(p, _)| *p == c)
                    .map_or(c, |(_, original)| *original)
            })
            .collect()
    }

    /// The backend's error with each placeholder back to its component.
    fn restore(&self, error: EvaluatorError) -> EvaluatorError {
        if self.standing_in.is_empty() {
            return error;
        }
        match error {
            EvaluatorError::TypeError(m) => EvaluatorError::TypeError(self.original(&m)),
            EvaluatorError::ReferenceError(m) => EvaluatorError::ReferenceError(self.original(&m)),
            EvaluatorError::EvaluationError(m) => {
                EvaluatorError::EvaluationError(self.original(&m))
            }
            #[allow(unreachable_patterns)]
            other => other,
        }
    }

    /// Whether a parse with this picture can reach `chrono::Duration::days` with a day of the
    /// year read from `timestamp` too large for it (about 10^11 days; the backend panics).
    /// (`TimeDelta::days` takes at most about 1.07 * 10^11 days: `i64::MAX` milliseconds.)
    /// A day comes from a `[d]` marker when it and the year are the only date components;
    /// it can be that large only when the timestamp holds a run of 12 digits, 8 letters
    /// (spreadsheet-style letters count in base 26: 26^8 > 10^11), or number words of a
    /// thousand and up.
    fn day_may_overflow(&self, timestamp: &str) -> bool {
        let dates: Vec<char> = self
            .markers
            .iter()
            .filter(|m| DATE_COMPONENTS.contains(m.component))
            .map(|m| m.component)
            .collect();
        let day_of_year = self
            .markers
            .iter()
            .any(|m| m.component == 'd' && m.integer());
        if !day_of_year || dates.iter().any(|&c| c != 'd' && c != 'Y') {
            return false;
        }
        // The backend's letter and name patterns are case-insensitive, which lets them
        // match the Kelvin sign and the long s as well.
        let letter = |c: char| c.is_ascii_alphabetic() || c == '\u{212A}' || c == '\u{17F}';
        let longest = |class: &dyn Fn(char) -> bool| {
            let mut run = 0usize;
            let mut longest = 0usize;
            for c in timestamp.chars() {
                run = if class(c) { run + 1 } else { 0 };
                longest = longest.max(run);
            }
            longest
        };
        let lower = timestamp.to_lowercase();
        longest(&|c| c.is_ascii_digit()) >= 12
            || longest(&letter) >= 8
            || ["thousand", "million", "billion", "trillion"]
                .iter()
                .any(|w| lower.contains(w))
    }

    /// The picture with every `[d]` marker read as a day of the week presented alike, which
    /// the backend parses with the same pattern and then ignores.
    fn without_day_of_year(&self) -> String {
        let mut text = self.text.clone();
        // From the last marker back, so earlier spans stay valid.
        for (marker, span) in self.markers.iter().zip(&self.spans).rev() {
            if marker.component == 'd' && marker.integer() {
                // A day of the week is presented as a name unless told otherwise; a day
                // of the year as a number (`1`).
                let rest = &marker.text[1..];
                let default = if rest.is_empty() || rest.starts_with(',') {
                    "1"
                } else {
                    ""
                };
                text.replace_range(span.clone(), &format!("[F{default}{rest}]"));
            }
        }
        text
    }
}

/// `$fromMillis(millis, picture?, timezone?)`, signature `<n-s?s?:s>`: when the first
/// argument is not the number, the context item is, and the arguments start one later.
pub(super) fn from_millis(context: &JValue, args: &[JValue]) -> HostFnResult {
    let at = match args.first() {
        Some(JValue::String(_)) => 0,
        Some(_) => 1,
        None => return call_builtin("fromMillis", context, args),
    };
    let Some(JValue::String(picture)) = args.get(at) else {
        return call_builtin("fromMillis", context, args);
    };
    let guarded = Picture::guard(picture, Use::Format)?;
    let mut args = args.to_vec();
    args[at] = JValue::string(guarded.text.as_str());
    call_builtin("fromMillis", context, &args).map_err(|e| guarded.restore(e))
}

/// `$toMillis(timestamp, picture?)`, signature `<s-s?:n>`: with no argument the context
/// item is the timestamp.
pub(super) fn to_millis(context: &JValue, args: &[JValue]) -> HostFnResult {
    let timestamp = match args.first() {
        Some(first) => first,
        None => context,
    };
    let Some(JValue::String(picture)) = args.get(1) else {
        if let (JValue::String(timestamp), None | Some(JValue::Undefined)) =
            (timestamp, args.get(1))
            && !timestamp.is_ascii()
        {
            // jsonata-js's ISO 8601 pattern reads only ASCII digits; the backend's matches
            // any digit and then fails to parse it.
            return Err(coded(
                "D3110",
                format!(
                    "The argument of the toMillis function must be an ISO 8601 formatted \
                     timestamp. Given \"{timestamp}\""
                ),
            ));
        }
        return call_builtin("toMillis", context, args);
    };
    let guarded = Picture::guard(picture, Use::Parse)?;
    let mut args = args.to_vec();
    args[1] = JValue::string(guarded.text.as_str());
    if let JValue::String(timestamp) = timestamp
        && guarded.day_may_overflow(timestamp)
    {
        // Parse with the day of the year left out: no match is no match, an error is that
        // error; a match means the day the backend would add may overflow it, so the date
        // is refused the way the backend refuses one out of range.
        args[1] = JValue::string(guarded.without_day_of_year());
        return match call_builtin("toMillis", context, &args) {
            Ok(JValue::Undefined) => Ok(JValue::Undefined),
            Err(e) => Err(guarded.restore(e)),
            Ok(_) => Err(coded("D3136", "invalid date components")),
        };
    }
    let parsed = call_builtin("toMillis", context, &args).map_err(|e| guarded.restore(e))?;
    if guarded.foreign_digits && !parsed.is_undefined() {
        // The backend's pattern matches ASCII digits whatever the picture's family; mapped
        // down by that family's zero they are no digits (jsonata-js: `parseInt` gives NaN,
        // which the backend reports as an invalid number).
        return Err(coded("D3136", "invalid number"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(picture: &str, purpose: Use) -> Result<String, String> {
        Picture::guard(picture, purpose)
            .map(|p| p.text)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn ascii_pictures_reach_the_backend_as_written_bar_whitespace() {
        for picture in [
            "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]",
            "[FNn], [D1o] [MNn] [Y]",
            "[[literal]] [h]:[m01][P]",
            "no markers at all",
            "[Y,*-4] [M,2-2]",
        ] {
            assert_eq!(guard(picture, Use::Format).as_deref(), Ok(picture));
        }
        assert_eq!(guard("[ Y 0001 ]", Use::Format).unwrap(), "[Y0001]");
    }

    #[test]
    fn a_component_that_is_not_ascii_gets_a_placeholder_and_keeps_its_name_in_errors() {
        let picture = Picture::guard("[뚙P] [é]", Use::Format).unwrap();
        assert_eq!(picture.text, "[\u{1}P] [\u{2}]");
        assert_eq!(picture.standing_in, [('\u{1}', '뚙'), ('\u{2}', 'é')]);
        let restored = picture.restore(coded("D3132", '\u{2}'));
        assert_eq!(restored.message(), "D3132: é");
        // A placeholder the picture already holds is not used.
        let picture = Picture::guard("\u{1}[é]", Use::Format).unwrap();
        assert_eq!(picture.text, "\u{1}[\u{2}]");
    }

    #[test]
    fn a_marker_that_starts_with_its_only_comma_reads_as_jsonata_js_reads_it() {
        let picture = Picture::guard("[,3]", Use::Format).unwrap();
        assert_eq!(picture.text, "[\u{1},,3]");
        assert_eq!(picture.markers[0].presentation, ",");
        assert_eq!(picture.markers[0].min_width, Some(3));
        // With another comma after it, the backend slices it fine.
        assert_eq!(guard("[,a,3]", Use::Format).unwrap(), "[,a,3]");
    }

    #[test]
    fn widths_and_year_truncations_past_the_bounds_are_refused_by_name() {
        let refused = guard("[Y,*-64]", Use::Format).unwrap_err();
        assert!(refused.starts_with("U1002:"), "{refused}");
        assert!(
            refused.contains("[Y,*-64]") && refused.contains("64"),
            "{refused}"
        );
        assert!(guard("[Y,*-18]", Use::Format).is_ok());
        assert!(guard("[Y,19]", Use::Format).is_err());
        assert!(guard("[Y,2-19]", Use::Format).is_err());
        assert!(guard("[Y#########00000000001]", Use::Format).is_err());
        assert!(guard(&format!("[Y{}]", "0".repeat(19)), Use::Format).is_err());
        assert!(guard(&format!("[Y{}]", "0".repeat(19)), Use::Parse).is_ok());
        let refused = guard("[M,2000]", Use::Parse).unwrap_err();
        assert!(
            refused.contains("2000") && refused.contains("1000"),
            "{refused}"
        );
        assert!(guard("[M,1000]", Use::Format).is_ok());
        // Names are only ever cut to a width.
        assert!(guard("[MNn,5000-5000]", Use::Format).is_ok());
        assert!(guard("[fN]", Use::Format).unwrap_err().starts_with("D3133"));
        assert!(guard("[fN]", Use::Parse).is_ok());
    }

    #[test]
    fn foreign_digits_are_parsed_as_ascii_and_flagged() {
        let picture = Picture::guard("[Y١١١١]-[M١]", Use::Parse).unwrap();
        assert_eq!(picture.text, "[Y1111]-[M1]");
        assert!(picture.foreign_digits);
        let picture = Picture::guard("[Y١١١١]", Use::Format).unwrap();
        assert_eq!(picture.text, "[Y١١١١]");
        assert!(!picture.foreign_digits);
    }

    #[test]
    fn only_a_year_and_day_picture_with_a_long_run_may_overflow_the_day() {
        let yd = Picture::guard("[Y]-[d]", Use::Parse).unwrap();
        // The fuzz finding: 13 digits.
        assert!(yd.day_may_overflow("201899-9999999999999"));
        assert!(yd.day_may_overflow("2018-100000000000"));
        assert!(!yd.day_may_overflow("2018-99999999999"));
        assert!(yd.day_may_overflow("2018-ZZZZZZZZ"));
        assert!(!yd.day_may_overflow("2018-ZZZZZZZ"));
        assert!(yd.day_may_overflow("one Trillion"));
        assert_eq!(yd.without_day_of_year(), "[Y]-[F1]");
        let padded = Picture::guard("[Y]-[d001,3]", Use::Parse).unwrap();
        assert_eq!(padded.without_day_of_year(), "[Y]-[F001,3]");
        // A literal that reads like the marker is left alone.
        let literal = Picture::guard("[[d] [d]", Use::Parse).unwrap();
        assert_eq!(literal.without_day_of_year(), "[[d] [F1]");
        let ymd = Picture::guard("[Y]-[M]-[d]", Use::Parse).unwrap();
        assert!(!ymd.day_may_overflow("2018-1-999999999999999"));
        let names = Picture::guard("[Y]-[dN]", Use::Parse).unwrap();
        assert!(!names.day_may_overflow("2018-999999999999999"));
    }
}
