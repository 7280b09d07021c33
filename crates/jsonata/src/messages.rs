//! JSONata's own wording of its errors (jsonata-js's `errorCodes` table), where the backend
//! words them differently. jsonata-js fills `{{name}}` slots with the JSON of the value
//! (`The left side of the "+" operator ...`) and `{{{name}}}` slots with the raw value.
//!
//! Codes whose message has no slot get the reference text outright; a few with slots are
//! rebuilt from the backend's message when the value can be read back from it. The rest
//! keep the backend's wording (the code is always JSONata's).

/// jsonata-js's messages without inserted values.
const FIXED: &[(&str, &str)] = &[
    (
        "S0101",
        "String literal must be terminated by a matching quote",
    ),
    (
        "S0104",
        "The escape sequence \\u must be followed by 4 hex digits",
    ),
    (
        "S0105",
        "Quoted property name must be terminated with a backquote (`)",
    ),
    ("S0106", "Comment has no closing tag"),
    ("S0207", "Unexpected end of expression"),
    (
        "S0209",
        "A predicate cannot follow a grouping expression in a step",
    ),
    ("S0210", "Each step can only have one grouping expression"),
    (
        "S0212",
        "The left side of := must be a variable name (start with $)",
    ),
    (
        "S0215",
        "A context variable binding must precede any predicates on a step",
    ),
    (
        "S0216",
        "A context variable binding must precede the 'order-by' clause on a step",
    ),
    (
        "S0217",
        "The object representing the 'parent' cannot be derived from this expression",
    ),
    ("S0301", "Empty regular expressions are not allowed"),
    ("S0302", "No terminating / in regular expression"),
    (
        "S0401",
        "Type parameters can only be applied to functions and arrays",
    ),
    (
        "S0402",
        "Choice groups containing parameterized types are not supported",
    ),
    ("D1004", "Regular expression matches zero length string"),
    ("T1006", "Attempted to invoke a non-function"),
    ("T1008", "Attempted to partially apply a non-function"),
    (
        "T2003",
        "The left side of the range operator (..) must evaluate to an integer",
    ),
    (
        "T2004",
        "The right side of the range operator (..) must evaluate to an integer",
    ),
    (
        "T2006",
        "The right side of the function application operator ~> must be a function",
    ),
    (
        "T2008",
        "The expressions within an order-by clause must evaluate to numeric or string values",
    ),
    (
        "D3001",
        "Attempting to invoke string function on Infinity or NaN",
    ),
    (
        "D3010",
        "Second argument of replace function cannot be an empty string",
    ),
    (
        "D3011",
        "Fourth argument of replace function must evaluate to a positive number",
    ),
    (
        "D3012",
        "Attempted to replace a matched string with a non-string value",
    ),
    (
        "D3020",
        "Third argument of split function must evaluate to a positive number",
    ),
    (
        "D3040",
        "Third argument of match function must evaluate to a positive number",
    ),
    (
        "D3050",
        "The second argument of reduce function must be a function with at least two arguments",
    ),
    (
        "D3070",
        "The single argument form of the sort function can only be applied to an array of \
         strings or an array of numbers.  Use the second argument to specify a comparison \
         function",
    ),
    (
        "D3080",
        "The picture string must only contain a maximum of two sub-pictures",
    ),
    (
        "D3081",
        "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
    ),
    (
        "D3082",
        "The sub-picture must not contain more than one instance of the 'percent' character",
    ),
    (
        "D3083",
        "The sub-picture must not contain more than one instance of the 'per-mille' character",
    ),
    (
        "D3084",
        "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
    ),
    (
        "D3131",
        "In a decimal digit pattern, all digits must be from the same decimal group",
    ),
    (
        "D3134",
        "The timezone integer format specifier cannot have more than four digits",
    ),
    (
        "D3135",
        "No matching closing bracket ']' in date/time picture string",
    ),
    (
        "D3136",
        "The date/time picture string is missing specifiers required to parse the timestamp",
    ),
    (
        "D3138",
        "The $single() function expected exactly 1 matching result.  Instead it matched more.",
    ),
    (
        "D3139",
        "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
    ),
];

/// A message with one slot: the backend's text around the value, and the reference text
/// around its JSON.
struct OneSlot {
    code: &'static str,
    backend: (&'static str, &'static str),
    reference: (&'static str, &'static str),
}

const ONE_SLOT: &[OneSlot] = &[
    OneSlot {
        code: "T2001",
        backend: (
            "The left side of the ",
            " operator must evaluate to a number",
        ),
        reference: (
            "The left side of the ",
            " operator must evaluate to a number",
        ),
    },
    OneSlot {
        code: "T2002",
        backend: (
            "The right side of the ",
            " operator must evaluate to a number",
        ),
        reference: (
            "The right side of the ",
            " operator must evaluate to a number",
        ),
    },
    OneSlot {
        code: "S0211",
        backend: ("The symbol ", " cannot be used as a unary operator"),
        reference: ("The symbol ", " cannot be used as a unary operator"),
    },
    OneSlot {
        code: "D3030",
        backend: ("Cannot convert '", "' to number"),
        reference: ("Unable to cast value to a number: ", ""),
    },
];

/// Signature errors that name their function: `(code, text before the index, text between
/// index and name, text after the name)` in the reference wording.
const NAMED_FUNCTION: &[(&str, &str, &str, &str)] = &[
    (
        "T0410",
        "Argument ",
        " of function ",
        " does not match function signature",
    ),
    (
        "T0411",
        "Context value is not a compatible type with argument ",
        " of function ",
        "",
    ),
];

/// `Argument 1 of function length does not match ...` (the backend names the function bare,
/// sometimes with `$`, sometimes with a note after) as jsonata-js words it, with the name
/// as JSON; `None` when the message does not name its function.
fn named_function(code: &str, message: &str) -> Option<String> {
    let &(_, before, between, after) = NAMED_FUNCTION.iter().find(|(c, ..)| *c == code)?;
    let (index, rest) = message.strip_prefix(before)?.split_once(between)?;
    index.parse::<usize>().ok()?;
    // The name runs to the next space; what follows must be the reference's own ending
    // (perhaps with a note after it), else the message says something else.
    let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let name = name.trim_start_matches('$');
    let ending_matches = if after.is_empty() {
        tail.is_empty()
    } else {
        format!(" {tail}").starts_with(after)
    };
    // A quoted name is the reference wording already.
    if name.is_empty() || name == "undefined" || name.starts_with('"') || !ending_matches {
        return None;
    }
    Some(format!(
        "{before}{index}{between}{}{after}",
        serde_json::Value::from(name)
    ))
}

/// The reference wording of `message` under `code`, or `message` itself.
pub(crate) fn reference_message(code: &str, message: String) -> String {
    if let Some((_, fixed)) = FIXED.iter().find(|(c, _)| *c == code) {
        return (*fixed).to_owned();
    }
    if let Some(named) = named_function(code, &message) {
        return named;
    }
    for slot in ONE_SLOT.iter().filter(|slot| slot.code == code) {
        let ((before, after), (ref_before, ref_after)) = (slot.backend, slot.reference);
        let value = message
            .strip_prefix(before)
            .and_then(|m| m.strip_suffix(after));
        // A value already in JSON (quoted) is the reference wording: leave it.
        if let Some(value) = value.filter(|v| !v.starts_with('"')) {
            return format!("{ref_before}{}{ref_after}", serde_json::Value::from(value));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_get_the_json_of_their_value() {
        let m = |code, text: &str| reference_message(code, text.to_owned());
        assert_eq!(
            m(
                "T2001",
                "The left side of the + operator must evaluate to a number"
            ),
            "The left side of the \"+\" operator must evaluate to a number"
        );
        assert_eq!(
            m("D3030", "Cannot convert 'abc' to number"),
            "Unable to cast value to a number: \"abc\""
        );
        assert_eq!(
            m(
                "S0211",
                "The symbol \"?\" cannot be used as a unary operator"
            ),
            "The symbol \"?\" cannot be used as a unary operator"
        );
        assert_eq!(
            m("T1006", "Attempted to invoke a non-function: $f"),
            "Attempted to invoke a non-function"
        );
        assert_eq!(
            m("T0410", "Argument 1 must be String"),
            "Argument 1 must be String"
        );
    }
}
