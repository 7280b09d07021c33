//! The guide's "intrinsics for Math operations": `States.MathRandom`, `States.MathAdd`.

use rand::Rng;
use serde_json::Value as Json;

use super::{Invalid, integer_arg};
use crate::value::Value;

/// "You must specify integer values in the range of -2147483648 and 2147483647" (MathAdd).
const INT_RANGE: std::ops::RangeInclusive<i64> = (i32::MIN as i64)..=(i32::MAX as i64);

/// Java's `Math.round`: the nearest integer, halves toward positive infinity (2.5 → 3,
/// -2.5 → -2). Step Functions is a Java service; Step Functions returned 3 for
/// `States.MathAdd(1.49, 1.5)` and -2 for `States.MathAdd(-1.49, -1.5)`.
pub(super) fn java_round(x: f64) -> f64 {
    let floor = x.floor();
    // x - floor is exact for every finite f64, so 0.49999999999999994 stays below one half.
    if x - floor >= 0.5 { floor + 1.0 } else { floor }
}

/// A random integer in `[start, end)`; with a seed, the same seed gives the same number.
///
/// A seeded draw is `new java.util.Random(seed).nextInt(end - start) + start`, so it is stable
/// across builds and platforms (and, if Step Functions draws as the obvious Java code does, the
/// same number it returns).
pub(super) fn math_random(
    start: &Value,
    end: &Value,
    seed: Option<&Value>,
) -> Result<Value, Invalid> {
    let start = integer_arg(start, "the start number")?;
    let end = integer_arg(end, "the end number")?;
    if start >= end {
        return Err(Invalid(format!(
            "the start number must be less than the end number, got {start} and {end}"
        )));
    }
    // end > start, both i64: the width fits in a u64 and is at least 1.
    let width = end.abs_diff(start);
    let offset = match seed {
        Some(seed) => {
            let mut random = JavaRandom::new(integer_arg(seed, "the seed")?);
            match i32::try_from(width) {
                Ok(bound) => u64::from(random.next_int(bound).unsigned_abs()),
                Err(_) => random.next_long() as u64 % width,
            }
        }
        None => rand::rng().random_range(0..width),
    };
    let value = start.wrapping_add(offset as i64);
    Ok(Value::Json(Json::from(value)))
}

pub(super) fn math_add(a: &Value, b: &Value) -> Result<Value, Invalid> {
    let a = int32_arg(a, "the first number")?;
    let b = int32_arg(b, "the second number")?;
    Ok(Value::Json(Json::from(a + b)))
}

fn int32_arg(value: &Value, what: &str) -> Result<i64, Invalid> {
    let n = integer_arg(value, what)?;
    if INT_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(Invalid(format!(
            "{what} must be between {} and {}, got {n}",
            INT_RANGE.start(),
            INT_RANGE.end()
        )))
    }
}

/// `java.util.Random`: the 48-bit linear congruential generator Java specifies.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self
            .seed
            .wrapping_mul(Self::MULTIPLIER)
            .wrapping_add(Self::ADDEND)
            & Self::MASK;
        // Java's `(int)(seed >>> (48 - bits))`: keep the low 32 bits.
        (self.seed >> (48 - bits)) as u32 as i32
    }

    /// `nextInt(bound)` for `bound > 0`.
    fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound.wrapping_sub(1);
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            // Java loops while `u - r + m` overflows negative (the draw fell in the last,
            // partial stretch of the range).
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32)) << 32;
        high.wrapping_add(i64::from(self.next(32)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{cause, eval};
    use super::*;

    #[test]
    fn java_random_matches_the_java_sequence() {
        // new Random(42).nextInt() == -1170105035; new Random(0).nextInt() == -1155484576.
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        // new Random(42).nextInt(10) == 0; a power-of-two bound takes the high bits.
        assert_eq!(JavaRandom::new(42).next_int(10), 0);
        assert_eq!(
            JavaRandom::new(42).next_int(16),
            ((16_i64 * i64::from(JavaRandom::new(42).next(31))) >> 31) as i32
        );
    }

    #[test]
    fn java_round_halves_toward_positive_infinity() {
        assert_eq!(java_round(0.5), 1.0);
        assert_eq!(java_round(1.5), 2.0);
        assert_eq!(java_round(2.5), 3.0);
        assert_eq!(java_round(-0.5), 0.0);
        assert_eq!(java_round(-1.5), -1.0);
        assert_eq!(java_round(-2.5), -2.0);
        assert_eq!(java_round(-1.51), -2.0);
        assert_eq!(java_round(0.499_999_999_999_999_94), 0.0);
    }

    #[test]
    fn math_random_guide_example_stays_in_range() {
        for _ in 0..200 {
            let n = eval(
                "States.MathRandom($.start, $.end)",
                json!({"start": 1, "end": 999}),
            )
            .unwrap()
            .as_i64()
            .unwrap();
            assert!((1..999).contains(&n), "{n}");
        }
    }

    #[test]
    fn math_random_excludes_the_end() {
        assert_eq!(
            eval("States.MathRandom(7, 8)", json!({})).unwrap(),
            json!(7)
        );
        assert_eq!(
            eval("States.MathRandom(-3, -2, 99)", json!({})).unwrap(),
            json!(-3)
        );
    }

    #[test]
    fn math_random_with_a_seed_repeats() {
        let seeded =
            |seed: i64| eval(&format!("States.MathRandom(0, 999, {seed})"), json!({})).unwrap();
        // new Random(3).nextInt(999) + 0.
        let expected = JavaRandom::new(3).next_int(999);
        assert_eq!(seeded(3), json!(expected));
        assert_eq!(seeded(3), seeded(3));
        let both = eval(
            "States.Array(States.MathRandom(1, 100, 42), States.MathRandom(1, 100, 42))",
            json!({}),
        )
        .unwrap();
        assert_eq!(both[0], both[1]);
        // new Random(42).nextInt(99) + 1
        assert_eq!(both[0], json!(JavaRandom::new(42).next_int(99) + 1));
    }

    #[test]
    fn math_random_with_a_seed_covers_wide_ranges() {
        let n = eval(
            "States.MathRandom(-9000000000000000000, 9000000000000000000, 5)",
            json!({}),
        )
        .unwrap()
        .as_i64()
        .unwrap();
        assert!((-9_000_000_000_000_000_000..9_000_000_000_000_000_000).contains(&n));
    }

    #[test]
    fn math_random_rounds_its_bounds() {
        for _ in 0..50 {
            let n = eval("States.MathRandom(1.4, 2.5)", json!({})).unwrap();
            assert!(n == json!(1) || n == json!(2), "{n}");
        }
    }

    #[test]
    fn math_random_argument_checks() {
        assert!(cause("States.MathRandom(1, 1)", json!({})).ends_with(
            "Invalid arguments in States.MathRandom: the start number must be less than \
                 the end number, got 1 and 1"
        ));
        assert!(
            cause("States.MathRandom(10, 5)", json!({}))
                .ends_with("the start number must be less than the end number, got 10 and 5")
        );
        assert!(
            cause("States.MathRandom(1.49, 1.49)", json!({}))
                .ends_with("the start number must be less than the end number, got 1 and 1")
        );
        assert!(
            cause("States.MathRandom('a', 10)", json!({}))
                .ends_with("the start number must be a number, got a string")
        );
        assert!(
            cause("States.MathRandom(1, 'b')", json!({}))
                .ends_with("the end number must be a number, got a string")
        );
        assert!(
            cause("States.MathRandom(1, 10, null)", json!({}))
                .ends_with("the seed must be a number, got null")
        );
    }

    #[test]
    fn math_add_guide_example() {
        assert_eq!(
            eval(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
    }

    #[test]
    fn math_add_rounds_like_step_functions() {
        // Results Step Functions returned (recorded in LocalStack's AWS-validated snapshots).
        let add =
            |a: f64, b: f64| eval("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})).unwrap();
        assert_eq!(add(-9.0, 3.0), json!(-6));
        assert_eq!(add(1.49, 1.5), json!(3));
        assert_eq!(add(1.5, 1.51), json!(4));
        assert_eq!(add(-1.49, -1.5), json!(-2));
    }

    #[test]
    fn math_add_accepts_the_int_range_and_does_not_wrap() {
        assert_eq!(
            eval("States.MathAdd(2147483647, 2147483647)", json!({})).unwrap(),
            json!(4_294_967_294_i64)
        );
        assert_eq!(
            eval("States.MathAdd(-2147483648, 0)", json!({})).unwrap(),
            json!(-2_147_483_648_i64)
        );
    }

    #[test]
    fn math_add_argument_checks() {
        assert!(cause("States.MathAdd(2147483648, 1)", json!({})).ends_with(
            "Invalid arguments in States.MathAdd: the first number must be between \
                 -2147483648 and 2147483647, got 2147483648"
        ));
        assert!(
            cause("States.MathAdd(1, -2147483648.6)", json!({})).ends_with(
                "the second number must be between -2147483648 and 2147483647, got -2147483649"
            )
        );
        assert!(
            cause("States.MathAdd(1, 'NOT A NUMBER')", json!({}))
                .ends_with("the second number must be a number, got a string")
        );
        assert!(
            cause("States.MathAdd(null, 1)", json!({}))
                .ends_with("the first number must be a number, got null")
        );
    }
}
