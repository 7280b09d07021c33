//! The guide's "intrinsics for arrays" (`States.Array` itself is a one-liner in the dispatcher).
//!
//! Elements pass through as values where the function only moves them (`ArrayPartition`,
//! `ArrayGetItem`), so a runtime object stays a handle; functions that compare elements
//! (`ArrayContains`, `ArrayUnique`) work on their JSON form.

use serde_json::Value as Json;

use super::{Invalid, array_arg, integer_arg, json_of, number_arg};
use crate::value::{Kind, Value};

/// "The new array can contain up to 1000 elements."
const MAX_RANGE_ITEMS: i128 = 1000;

pub(super) fn partition(array: Value, size: &Value) -> Result<Value, Invalid> {
    let elements = array_arg(array, "the first argument")?;
    let size = integer_arg(size, "the chunk size")?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| {
            Invalid(format!(
                "the chunk size must be a positive integer, got {size}"
            ))
        })?;
    let mut chunks = Vec::with_capacity(elements.len().div_ceil(size));
    let mut elements = elements.into_iter().peekable();
    while elements.peek().is_some() {
        chunks.push(Value::from_elements(elements.by_ref().take(size).collect()));
    }
    Ok(Value::from_elements(chunks))
}

pub(super) fn contains(array: Value, value: &Value) -> Result<Value, Invalid> {
    let elements = array_arg(array, "the first argument")?;
    let wanted = json_of(value, "the value to look for")?;
    for element in &elements {
        if json_of(element, "an element")? == wanted {
            return Ok(Value::Json(Json::Bool(true)));
        }
    }
    Ok(Value::Json(Json::Bool(false)))
}

pub(super) fn range(start: &Value, end: &Value, step: &Value) -> Result<Value, Invalid> {
    let start = i128::from(integer_arg(start, "the first element")?);
    let end = i128::from(integer_arg(end, "the final element")?);
    let step = i128::from(integer_arg(step, "the increment")?);
    if step == 0 {
        return Err(Invalid::new("the increment must not be zero"));
    }
    // Counting first keeps a huge range from being built only to be refused.
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS {
        return Err(Invalid(format!(
            "the range has {count} elements; at most {MAX_RANGE_ITEMS} are allowed"
        )));
    }
    // |start|, |end| < 2^63 and count <= 1000, so every element fits in an i64.
    let elements = (0..count)
        .map(|i| Json::from(i64::try_from(start + i * step).unwrap_or_default()))
        .collect();
    Ok(Value::Json(Json::Array(elements)))
}

pub(super) fn get_item(array: Value, index: &Value) -> Result<Value, Invalid> {
    if array.kind() != Kind::Array {
        return Err(Invalid::kind("the first argument", "an array", &array));
    }
    let n = number_arg(index, "the index")?;
    // A fractional index is truncated (Step Functions returns element 1 for 1.2).
    let wanted = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.trunc() as i64)
    });
    let len = array.len().unwrap_or(0);
    let item = wanted
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < len)
        .and_then(|i| array.take_index(i));
    item.ok_or_else(|| {
        Invalid(format!(
            "the index {n} is out of range for an array of length {len}"
        ))
    })
}

pub(super) fn length(array: &Value) -> Result<Value, Invalid> {
    match (array.kind(), array.len()) {
        (Kind::Array, Some(len)) => Ok(Value::Json(Json::from(len))),
        _ => Err(Invalid::kind("the argument", "an array", array)),
    }
}

/// Keeps the first of equal elements, in order.
pub(super) fn unique(array: Value) -> Result<Value, Invalid> {
    let elements = array_arg(array, "the argument")?;
    let mut seen: Vec<Json> = Vec::with_capacity(elements.len());
    for element in &elements {
        let json = json_of(element, "an element")?;
        if !seen.contains(&json) {
            seen.push(json);
        }
    }
    Ok(Value::Json(Json::Array(seen)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Opaque, cause, eval, eval_value};
    use crate::value::Value;

    fn opaque_list() -> Value {
        Value::Object(
            [(
                "list".to_string(),
                Value::Array(vec![
                    Opaque::value("a"),
                    Opaque::value("b"),
                    Opaque::value("c"),
                ]),
            )]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn array_guide_example() {
        assert_eq!(
            eval("States.Array($.Id)", json!({"Id": 123456})).unwrap(),
            json!([123456])
        );
    }

    #[test]
    fn array_specification_example_and_empty() {
        let input = json!({"someJson": {"random": "abcdefg"}, "zebra": "stripe"});
        assert_eq!(
            eval("States.Array('Foo', 2020, $.someJson, null)", input).unwrap(),
            json!(["Foo", 2020, {"random": "abcdefg"}, null])
        );
        assert_eq!(eval("States.Array()", json!({})).unwrap(), json!([]));
    }

    #[test]
    fn array_keeps_runtime_objects_as_handles() {
        let input = Value::Object(
            [("h".to_string(), Opaque::value("h"))]
                .into_iter()
                .collect(),
        );
        let out = eval_value("States.Array($.h, 1)", input).unwrap();
        let Value::Array(items) = out else {
            panic!("expected a mixed array, got {out:?}");
        };
        assert_eq!(Opaque::tag(&items[0]), Some("h"));
        assert_eq!(items[1].to_json().unwrap(), json!(1));
    }

    #[test]
    fn partition_guide_example() {
        assert_eq!(
            eval(
                "States.ArrayPartition($.inputArray,4)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9]})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
    }

    #[test]
    fn partition_edges_and_rounding() {
        let input = json!({"a": [1, 2, 3], "e": []});
        assert_eq!(
            eval("States.ArrayPartition($.e, 2)", input.clone()).unwrap(),
            json!([])
        );
        assert_eq!(
            eval("States.ArrayPartition($.a, 5)", input.clone()).unwrap(),
            json!([[1, 2, 3]])
        );
        // "If you specify a non-integer value ..., Step Functions will round it off".
        assert_eq!(
            eval("States.ArrayPartition($.a, 1.5)", input).unwrap(),
            json!([[1, 2], [3]])
        );
    }

    #[test]
    fn partition_keeps_runtime_objects_as_handles() {
        let out = eval_value("States.ArrayPartition($.list, 2)", opaque_list()).unwrap();
        let chunks = out.into_elements().unwrap();
        let first = chunks[0].clone().into_elements().unwrap();
        let second = chunks[1].clone().into_elements().unwrap();
        assert_eq!(Opaque::tag(&first[1]), Some("b"));
        assert_eq!(Opaque::tag(&second[0]), Some("c"));
    }

    #[test]
    fn partition_argument_checks() {
        let input = json!({"a": [1, 2, 3]});
        assert!(
            cause("States.ArrayPartition($.a, 0)", input.clone()).ends_with(
                "Invalid arguments in States.ArrayPartition: the chunk size must be a positive \
                 integer, got 0"
            )
        );
        assert!(
            cause("States.ArrayPartition($.a, 0.49)", input.clone())
                .ends_with("the chunk size must be a positive integer, got 0")
        );
        assert!(
            cause("States.ArrayPartition($.a, -2)", input.clone())
                .ends_with("the chunk size must be a positive integer, got -2")
        );
        assert!(
            cause("States.ArrayPartition($.a, '2')", input)
                .ends_with("the chunk size must be a number, got a string")
        );
        assert!(
            cause("States.ArrayPartition('abc', 2)", json!({}))
                .ends_with("the first argument must be an array, got a string")
        );
    }

    #[test]
    fn contains_guide_example() {
        let input = json!({"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5});
        assert_eq!(
            eval("States.ArrayContains($.inputArray, $.lookingFor)", input).unwrap(),
            json!(true)
        );
    }

    #[test]
    fn contains_compares_whole_json_values() {
        let input = json!({
            "arr": [null, "", 0, true, [0, 1, false], {"a": 1}],
            "nested": [0, 1, false],
            "obj": {"a": 1},
            "near": {"a": 1, "extra": null}
        });
        let check = |expr: &str| eval(expr, input.clone()).unwrap();
        assert_eq!(check("States.ArrayContains($.arr, $.nested)"), json!(true));
        assert_eq!(check("States.ArrayContains($.arr, $.obj)"), json!(true));
        assert_eq!(check("States.ArrayContains($.arr, $.near)"), json!(false));
        assert_eq!(check("States.ArrayContains($.arr, null)"), json!(true));
        assert_eq!(check("States.ArrayContains($.arr, false)"), json!(false));
        assert_eq!(check("States.ArrayContains($.arr, '0')"), json!(false));
        assert_eq!(
            check("States.ArrayContains(States.Array(), 1)"),
            json!(false)
        );
    }

    #[test]
    fn contains_argument_checks() {
        assert!(
            cause("States.ArrayContains('not-array', 'x')", json!({})).ends_with(
                "Invalid arguments in States.ArrayContains: the first argument must be an \
                 array, got a string"
            )
        );
        let err = eval_value("States.ArrayContains($.list, 1)", opaque_list()).unwrap_err();
        assert!(
            err.cause
                .ends_with("an element could not be converted to JSON: a is not JSON"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn range_guide_example() {
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
    }

    #[test]
    fn range_directions_and_rounding() {
        let r = |expr: &str| eval(expr, json!({})).unwrap();
        assert_eq!(r("States.ArrayRange(0, 10, 3)"), json!([0, 3, 6, 9]));
        assert_eq!(r("States.ArrayRange(5, 1, -2)"), json!([5, 3, 1]));
        assert_eq!(r("States.ArrayRange(3, 3, -1)"), json!([3]));
        assert_eq!(r("States.ArrayRange(5, 1, 1)"), json!([]));
        assert_eq!(r("States.ArrayRange(1, 5, -1)"), json!([]));
        assert_eq!(r("States.ArrayRange(1.4, 5.6, 2.2)"), json!([1, 3, 5]));
        assert_eq!(
            r("States.ArrayLength(States.ArrayRange(1000, 1, -1))"),
            json!(1000)
        );
    }

    #[test]
    fn range_argument_checks() {
        assert!(cause("States.ArrayRange(1, 1001, 1)", json!({})).ends_with(
            "Invalid arguments in States.ArrayRange: the range has 1001 elements; at most \
                 1000 are allowed"
        ));
        assert!(
            cause(
                "States.ArrayRange(-9000000000000000000, 9000000000000000000, 1)",
                json!({})
            )
            .ends_with("the range has 18000000000000000001 elements; at most 1000 are allowed")
        );
        assert!(
            cause("States.ArrayRange(1, 10, 0.49)", json!({}))
                .ends_with("the increment must not be zero")
        );
        assert!(
            cause("States.ArrayRange('a', 5, 1)", json!({}))
                .ends_with("the first element must be a number, got a string")
        );
        assert!(
            cause("States.ArrayRange(1, null, 1)", json!({}))
                .ends_with("the final element must be a number, got null")
        );
        assert!(
            cause("States.ArrayRange(1, 5, true)", json!({}))
                .ends_with("the increment must be a number, got a boolean")
        );
    }

    #[test]
    fn get_item_guide_example() {
        let input = json!({"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5});
        assert_eq!(
            eval("States.ArrayGetItem($.inputArray, $.index)", input).unwrap(),
            json!(6)
        );
    }

    #[test]
    fn get_item_returns_elements_unchanged() {
        let input = json!({"arr": [null, {"b": 2}]});
        assert_eq!(
            eval("States.ArrayGetItem($.arr, 0)", input.clone()).unwrap(),
            json!(null)
        );
        assert_eq!(
            eval("States.ArrayGetItem($.arr, 1)", input.clone()).unwrap(),
            json!({"b": 2})
        );
        assert_eq!(
            eval("States.ArrayGetItem($.arr, 1.7)", input).unwrap(),
            json!({"b": 2})
        );
        let out = eval_value("States.ArrayGetItem($.list, 2)", opaque_list()).unwrap();
        assert_eq!(Opaque::tag(&out), Some("c"));
    }

    #[test]
    fn get_item_argument_checks() {
        let input = json!({"arr": [10, 20, 30]});
        assert!(
            cause("States.ArrayGetItem($.arr, 3)", input.clone()).ends_with(
                "Invalid arguments in States.ArrayGetItem: the index 3 is out of range for an \
                 array of length 3"
            )
        );
        assert!(
            cause("States.ArrayGetItem($.arr, -1)", input.clone())
                .ends_with("the index -1 is out of range for an array of length 3")
        );
        assert!(
            cause("States.ArrayGetItem($.arr, '1')", input)
                .ends_with("the index must be a number, got a string")
        );
        assert!(
            cause("States.ArrayGetItem('not-array', 0)", json!({}))
                .ends_with("the first argument must be an array, got a string")
        );
    }

    #[test]
    fn length_guide_example_and_checks() {
        assert_eq!(
            eval(
                "States.ArrayLength($.inputArray)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9]})
            )
            .unwrap(),
            json!(9)
        );
        assert_eq!(
            eval_value("States.ArrayLength($.list)", opaque_list())
                .unwrap()
                .to_json()
                .unwrap(),
            json!(3)
        );
        assert!(
            cause("States.ArrayLength($.o)", json!({"o": {"a": 1}})).ends_with(
                "Invalid arguments in States.ArrayLength: the argument must be an array, got an \
                 object"
            )
        );
    }

    #[test]
    fn unique_guide_example() {
        assert_eq!(
            eval(
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1,2,3,3,3,3,3,3,4]})
            )
            .unwrap(),
            json!([1, 2, 3, 4])
        );
    }

    #[test]
    fn unique_keeps_first_occurrences_of_any_json() {
        let input = json!({"a": [null, null, true, true, 1, 1, 1.1, "x", "x", [], [], [null], [null],
                                 {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]});
        assert_eq!(
            eval("States.ArrayUnique($.a)", input).unwrap(),
            json!([null, true, 1, 1.1, "x", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}])
        );
        assert!(cause("States.ArrayUnique('x')", json!({})).ends_with(
            "Invalid arguments in States.ArrayUnique: the argument must be an array, got a string"
        ));
    }
}
