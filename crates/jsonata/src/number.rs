//! JSONata numbers are IEEE doubles; JSON output writes an integral one without a fraction,
//! as JavaScript's `JSON.stringify` does (`3`, not `3.0`).

use serde_json::{Number, Value};

/// `n` as JSON: integral values within `i64`/`u64` become integers, the rest stay doubles;
/// NaN and the infinities (which JSON cannot hold) become `null`, like `JSON.stringify`.
pub(crate) fn to_json(n: f64) -> Value {
    // 2^63 and 2^64 are exact doubles: comparing against them keeps every cast in range.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if n.fract() == 0.0 && (-I64_END..I64_END).contains(&n) {
        Value::Number(Number::from(n as i64))
    } else if n.fract() == 0.0 && (0.0..U64_END).contains(&n) {
        Value::Number(Number::from(n as u64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integral_doubles_print_without_fraction() {
        assert_eq!(to_json(3.0).to_string(), "3");
        assert_eq!(to_json(-0.0).to_string(), "0");
        assert_eq!(to_json(1e18).to_string(), "1000000000000000000");
        assert_eq!(to_json(1e19).to_string(), "10000000000000000000");
        assert_eq!(to_json(0.5), json!(0.5));
        assert_eq!(to_json(f64::NAN), Value::Null);
    }
}
