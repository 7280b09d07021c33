//! The one error a compile or an evaluation returns: JSONata's code, its message, and where.

/// A JSONata error: `code` is JSONata's (`S0201` syntax, `T2001` type, `D3001` dynamic,
/// `U1001` a limit of [`crate::Limits`] ran out, ...), `message` the text after the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// JSONata's error code, e.g. `T2001`.
    pub code: String,
    /// What went wrong, without the code.
    pub message: String,
    /// Character offset into the expression, when the evaluator reports one.
    pub position: Option<usize>,
}

impl Error {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Error {
        Error {
            code: code.to_owned(),
            message: message.into(),
            position: None,
        }
    }

    /// Splits a message of the shape `"<prefix>: X9999: text"` or `"X9999: text"` into code
    /// and text; a message without a code gets `fallback_code`.
    pub(crate) fn from_coded_message(message: &str, fallback_code: &str) -> Error {
        match find_code(message) {
            Some((start, code)) => {
                let rest = message[start + code.len()..].trim_start_matches(':').trim();
                Error::new(
                    code,
                    crate::messages::reference_message(code, rest.to_owned()),
                )
            }
            None => Error::new(
                fallback_code,
                crate::messages::reference_message(fallback_code, message.to_owned()),
            ),
        }
    }

    /// Whether the expression did not parse (JSONata's `S0xxx` codes).
    pub fn is_syntax(&self) -> bool {
        self.code.starts_with('S')
    }
}

/// The first `X9999:` in `message` (an upper-case letter, four digits, a colon) with its
/// byte offset.
fn find_code(message: &str) -> Option<(usize, &str)> {
    let bytes = message.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let is_code = at_word_start
            && bytes[i].is_ascii_uppercase()
            && bytes[i + 1..i + 5].iter().all(u8::is_ascii_digit)
            && bytes[i + 5] == b':';
        is_code.then(|| (i, &message[i..i + 5]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_found_after_a_prefix() {
        let e = Error::from_coded_message("Invalid syntax: T2003: left side", "S0201");
        assert_eq!(e.code, "T2003");
        assert_eq!(
            e.to_string(),
            "T2003: The left side of the range operator (..) must evaluate to an integer"
        );
    }

    #[test]
    fn message_without_code_gets_the_fallback() {
        let e = Error::from_coded_message("Unclosed comment", "S0106");
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("S0106", "Comment has no closing tag")
        );
        assert!(e.is_syntax());
    }
}
