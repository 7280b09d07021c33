//! Definitions and inputs built from the ASL model out of the fuzzer's bytes, so nearly every
//! input is a valid state machine and reaches the engine (raw text rarely does). Fields draw
//! on a dictionary of paths, templates, intrinsics and rules; the rest comes from the bytes.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Value as Json, json};

const PATHS: &[&str] = &[
    "$",
    "$.a",
    "$.a.b",
    "$.n",
    "$.s",
    "$.items",
    "$.items[0]",
    "$.items[-1]",
    "$.items[1:3]",
    "$.items[*].v",
    "$..v",
    "$.items[?(@.v > 1)]",
    "$.items[?(@.v == 'x')]",
    "$.a['b c']",
    "$.missing",
    "$$.Execution.Id",
    "$$.Execution.Input",
    "$$.State.Name",
    "$$.Map.Item.Value",
    "$$.Map.Item.Index",
    "$$.StateMachine.Name",
    "$.wrapped",
    "$.r",
    "$.items.length()",
];
const REFERENCE_PATHS: &[&str] = &["$", "$.r", "$.a.r", "$.items", "$.n", "$.s.x"];
const INTRINSICS: &[&str] = &[
    "States.Format('x {} y {}', $.s, $.n)",
    "States.Array($.n, 1, 'a', $.a)",
    "States.JsonToString($)",
    "States.StringToJson($.s)",
    "States.StringToJson('{\"k\":[1]}')",
    "States.MathAdd($.n, 3)",
    "States.ArrayLength($.items)",
    "States.ArrayGetItem($.items, $.n)",
    "States.ArrayPartition($.items, 2)",
    "States.ArrayContains($.items, $.n)",
    "States.ArrayRange(1, $.n, 2)",
    "States.ArrayUnique($.items)",
    "States.Base64Encode($.s)",
    "States.Base64Decode($.s)",
    "States.Hash($.s, 'SHA-256')",
    "States.JsonMerge($.a, $.a, false)",
    "States.StringSplit($.s, ',')",
    "States.Format('{}', States.ArrayLength($.items))",
    "States.ArrayGetItem(States.Array($.s, $.n), 1)",
    "States.MathAdd($.n, -1)",
];
const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThanEquals",
    "StringMatches",
];
const NUMERIC_OPS: &[&str] = &[
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
];
const TYPE_OPS: &[&str] = &[
    "IsPresent",
    "IsNull",
    "IsString",
    "IsNumeric",
    "IsBoolean",
    "IsTimestamp",
];
const ERRORS: &[&str] = &[
    "States.ALL",
    "States.TaskFailed",
    "Fuzz.Failure",
    "States.Runtime",
    "States.IntrinsicFailure",
];
const FUNCTIONS: &[&str] = &[
    "echo",
    "fail",
    "wrap",
    "arn:aws:lambda:us-east-1:111111111111:function:echo",
];
const KEYS: &[&str] = &["a", "b", "n", "s", "v", "items", "b c", "x", "r"];

/// JSONata expressions over what the generated inputs hold, the states' reserved variable
/// and the variables the generated `Assign` fields set (unset ones fail, which is a path too).
const EXPRESSIONS: &[&str] = &[
    "{% $states.input %}",
    "{% $states.input.a %}",
    "{% $states.input.n + 1 %}",
    "{% $states.input.n * $states.input.n %}",
    "{% $count($states.input.items) %}",
    "{% $states.input.items[v > 1] %}",
    "{% $states.input.items.v %}",
    "{% $string($states.input) %}",
    "{% $states.input.s & '-' & $states.context.State.Name %}",
    "{% $merge([$states.input.a, {'k': 1}]) %}",
    "{% {'n': $states.input.n, 'x': $x} %}",
    "{% $x %}",
    "{% $y.k %}",
    "{% $states.context.Execution.Input %}",
    "{% $states.context.Map.Item.Value %}",
    "{% [1, 2, 3] %}",
    "{% $sum($states.input.items.v) %}",
    "{% $keys($states.input) %}",
    "{% $states.input.missing %}",
    "{% $substring($states.input.s, 1) %}",
];
/// JSONata expressions that only a Task, Parallel or Map's `Output` and `Assign` may use.
const RESULT_EXPRESSIONS: &[&str] = &[
    "{% $states.result %}",
    "{% $states.result.wrapped %}",
    "{% {'r': $states.result, 'in': $states.input.n} %}",
];
/// JSONata Choice conditions (a non-boolean one fails the state).
const CONDITIONS: &[&str] = &[
    "{% $states.input.n > 1 %}",
    "{% $exists($states.input.a) %}",
    "{% $states.input.s = 'x' %}",
    "{% $x = 1 %}",
    "{% $count($states.input.items) > 2 %}",
    "{% true %}",
    "{% $states.input.n %}",
];
/// JSONPath-mode paths that read variables.
const VARIABLE_PATHS: &[&str] = &["$x", "$y.k", "$x.missing"];

/// How deeply Parallel and Map states nest in a generated definition.
const MAX_DEPTH: usize = 2;

thread_local! {
    /// Machines made so far for the definition being generated (names their states).
    static MACHINES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The query language a generated state is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Language {
    JsonPath,
    Jsonata,
}

fn pick<'a>(u: &mut Unstructured<'_>, from: &[&'a str]) -> Result<&'a str> {
    u.choose(from).copied()
}

/// A state machine of 1-6 states, possibly with loops (the history limit ends them). A third
/// of them are JSONata machines (`"QueryLanguage": "JSONata"`); in the others single states
/// may opt into JSONata, and both kinds set and read variables (`Assign`).
pub fn machine(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let top = if u.ratio(1, 3)? {
        Language::Jsonata
    } else {
        Language::JsonPath
    };
    MACHINES.set(0);
    let mut m = machine_in(u, depth, top)?;
    if top == Language::Jsonata {
        m["QueryLanguage"] = json!("JSONata");
    }
    Ok(m)
}

/// A machine whose states default to `top` (a branch or item processor inherits it).
fn machine_in(u: &mut Unstructured<'_>, depth: usize, top: Language) -> Result<Json> {
    let count = u.int_in_range(1..=6)?;
    // State names are unique in the whole definition, branches and item processors included.
    let id = MACHINES.get();
    MACHINES.set(id + 1);
    let names: Vec<String> = (0..count).map(|i| format!("S{id}_{i}")).collect();
    let mut states = Map::new();
    for (i, name) in names.iter().enumerate() {
        // A JSONata machine's states may not go back to JSONPath; a JSONPath one's may opt in.
        let language = if top == Language::JsonPath && u.ratio(1, 6)? {
            Language::Jsonata
        } else {
            top
        };
        let mut st = state(u, &names, i, depth, language, top)?;
        if language != top {
            st["QueryLanguage"] = json!("JSONata");
        }
        states.insert(name.clone(), st);
    }
    Ok(json!({"StartAt": names[0], "States": states}))
}

/// `End` for the last state, else `Next` to the following one, so every state is
/// reachable (loops come from Choice rules and catchers, which may point anywhere).
fn transition(names: &[String], i: usize, state: &mut Map<String, Json>) {
    match names.get(i + 1) {
        Some(next) => drop(state.insert("Next".into(), json!(next))),
        None => drop(state.insert("End".into(), json!(true))),
    }
}

fn state(
    u: &mut Unstructured<'_>,
    names: &[String],
    i: usize,
    depth: usize,
    language: Language,
    top: Language,
) -> Result<Json> {
    let last = i + 1 == names.len();
    let mut kinds = vec!["Pass", "Pass", "Task", "Task", "Choice", "Wait"];
    if depth < MAX_DEPTH {
        kinds.extend(["Parallel", "Map"]);
    }
    if last {
        kinds.extend(["Succeed", "Fail"]);
    }
    let kind = pick(u, &kinds)?;
    if language == Language::Jsonata {
        return jsonata_state(u, names, i, depth, top, kind);
    }
    let mut s = Map::new();
    s.insert("Type".into(), json!(kind));
    match kind {
        "Succeed" => io_paths(u, &mut s, false)?,
        "Fail" => {
            if u.arbitrary()? {
                s.insert("Error".into(), json!(pick(u, ERRORS)?));
                s.insert("Cause".into(), json!("fuzz"));
            } else {
                s.insert(
                    "ErrorPath".into(),
                    json!(pick(u, &["$.s", "$$.State.Name"])?),
                );
            }
        }
        "Choice" => {
            let mut choices = Vec::new();
            for _ in 0..u.int_in_range(1..=3)? {
                let mut r = rule(u, 0)?;
                let target = u.choose_index(names.len())?;
                r["Next"] = json!(names[target]);
                choices.push(r);
            }
            s.insert("Choices".into(), json!(choices));
            default(u, names, i, &mut s)?;
            io_paths(u, &mut s, false)?;
        }
        _ => {
            match kind {
                "Pass" => {
                    if u.ratio(1, 3)? {
                        s.insert("Result".into(), json_value(u, 2)?);
                    } else if u.arbitrary()? {
                        s.insert("Parameters".into(), template(u, 2)?);
                    }
                }
                "Wait" => match u.int_in_range(0..=2)? {
                    0 => drop(s.insert("Seconds".into(), json!(u.int_in_range(0..=5)?))),
                    1 => drop(s.insert("SecondsPath".into(), json!("$.n"))),
                    _ => drop(s.insert("Timestamp".into(), json!("1970-01-01T00:00:10Z"))),
                },
                "Task" => {
                    s.insert("Resource".into(), json!(pick(u, FUNCTIONS)?));
                    if u.arbitrary()? {
                        s.insert("Parameters".into(), template(u, 2)?);
                    }
                    if u.ratio(1, 4)? {
                        s.insert("ResultSelector".into(), template(u, 1)?);
                    }
                    handlers(u, names, &mut s)?;
                }
                "Parallel" => {
                    let branches = (0..u.int_in_range(1..=3)?)
                        .map(|_| machine_in(u, depth + 1, top))
                        .collect::<Result<Vec<_>>>()?;
                    s.insert("Branches".into(), json!(branches));
                    handlers(u, names, &mut s)?;
                }
                _ => {
                    s.insert(
                        "ItemsPath".into(),
                        json!(pick(u, &["$.items", "$.items", "$.a", "$"])?),
                    );
                    let processor = if u.arbitrary()? {
                        "ItemProcessor"
                    } else {
                        "Iterator"
                    };
                    s.insert(processor.into(), machine_in(u, depth + 1, top)?);
                    if u.arbitrary()? {
                        s.insert("ItemSelector".into(), template(u, 1)?);
                    }
                    if u.arbitrary()? {
                        s.insert("MaxConcurrency".into(), json!(u.int_in_range(0..=3)?));
                    }
                    handlers(u, names, &mut s)?;
                }
            }
            io_paths(u, &mut s, kind != "Wait")?;
            assign(u, &mut s, Language::JsonPath, false)?;
            transition(names, i, &mut s);
        }
    }
    Ok(Json::Object(s))
}

/// A state in JSONata: `Arguments`, `Output`, `Assign`, `Items`, `Condition` and
/// expression-valued `Seconds`, `Error` and `Cause` instead of paths and templates.
fn jsonata_state(
    u: &mut Unstructured<'_>,
    names: &[String],
    i: usize,
    depth: usize,
    top: Language,
    kind: &str,
) -> Result<Json> {
    let mut s = Map::new();
    s.insert("Type".into(), json!(kind));
    match kind {
        "Succeed" => output(u, &mut s, false)?,
        "Fail" => {
            s.insert(
                "Error".into(),
                json!(pick(u, &[ERRORS[2], "{% $states.input.s %}"])?),
            );
            s.insert(
                "Cause".into(),
                json!(pick(u, &["fuzz", "{% $string($states.input.n) %}"])?),
            );
        }
        "Choice" => {
            let mut choices = Vec::new();
            for _ in 0..u.int_in_range(1..=3)? {
                let target = u.choose_index(names.len())?;
                let mut c = json!({"Condition": pick(u, CONDITIONS)?, "Next": names[target]});
                if u.ratio(1, 4)? {
                    c["Assign"] = json!({"x": pick(u, EXPRESSIONS)?});
                }
                if u.ratio(1, 4)? {
                    c["Output"] = json!(pick(u, EXPRESSIONS)?);
                }
                choices.push(c);
            }
            s.insert("Choices".into(), json!(choices));
            default(u, names, i, &mut s)?;
            assign(u, &mut s, Language::Jsonata, false)?;
            output(u, &mut s, false)?;
        }
        _ => {
            let result = matches!(kind, "Task" | "Parallel" | "Map");
            match kind {
                "Pass" => {}
                "Wait" => {
                    let seconds = if u.arbitrary()? {
                        json!(u.int_in_range(0..=5)?)
                    } else {
                        json!(pick(u, &["{% $states.input.n %}", "{% 1 %}"])?)
                    };
                    s.insert("Seconds".into(), seconds);
                }
                "Task" => {
                    s.insert("Resource".into(), json!(pick(u, FUNCTIONS)?));
                    if u.arbitrary()? {
                        s.insert("Arguments".into(), arguments(u)?);
                    }
                    handlers_in(u, names, &mut s, Language::Jsonata)?;
                }
                "Parallel" => {
                    let branches = (0..u.int_in_range(1..=3)?)
                        .map(|_| machine_in(u, depth + 1, top))
                        .collect::<Result<Vec<_>>>()?;
                    s.insert("Branches".into(), json!(branches));
                    handlers_in(u, names, &mut s, Language::Jsonata)?;
                }
                _ => {
                    if u.ratio(2, 3)? {
                        s.insert(
                            "Items".into(),
                            json!(pick(
                                u,
                                &[
                                    "{% $states.input.items %}",
                                    "{% $states.input.items %}",
                                    "{% [1, 'a', {'v': 2}] %}",
                                    "{% $states.input.a %}",
                                ]
                            )?),
                        );
                    }
                    s.insert("ItemProcessor".into(), machine_in(u, depth + 1, top)?);
                    if u.arbitrary()? {
                        s.insert(
                            "ItemSelector".into(),
                            json!({"value": "{% $states.context.Map.Item.Value %}",
                                   "index": "{% $states.context.Map.Item.Index %}"}),
                        );
                    }
                    if u.arbitrary()? {
                        s.insert("MaxConcurrency".into(), json!(u.int_in_range(0..=3)?));
                    }
                    handlers_in(u, names, &mut s, Language::Jsonata)?;
                }
            }
            assign(u, &mut s, Language::Jsonata, result)?;
            output(u, &mut s, result)?;
            transition(names, i, &mut s);
        }
    }
    Ok(Json::Object(s))
}

/// A Choice state's `Default`: the following state, so it stays reachable (the last state's
/// Choice may have none, and fail with `States.NoChoiceMatched`).
fn default(
    u: &mut Unstructured<'_>,
    names: &[String],
    i: usize,
    s: &mut Map<String, Json>,
) -> Result<()> {
    let last = i + 1 == names.len();
    if !last || u.arbitrary()? {
        let next = names.get(i + 1).unwrap_or(&names[0]);
        s.insert("Default".into(), json!(next));
    }
    Ok(())
}

/// A JSONata `Arguments` value: an expression, or an object mixing expressions and literals.
fn arguments(u: &mut Unstructured<'_>) -> Result<Json> {
    if u.ratio(1, 3)? {
        return Ok(json!(pick(u, EXPRESSIONS)?));
    }
    let mut t = Map::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let key = pick(u, KEYS)?.to_string();
        let value = if u.arbitrary()? {
            json!(pick(u, EXPRESSIONS)?)
        } else {
            json_value(u, 1)?
        };
        t.insert(key, value);
    }
    Ok(Json::Object(t))
}

/// A JSONata state's `Output`, sometimes over the state's result.
fn output(u: &mut Unstructured<'_>, s: &mut Map<String, Json>, result: bool) -> Result<()> {
    if u.ratio(1, 3)? {
        let from = if result && u.arbitrary()? {
            RESULT_EXPRESSIONS
        } else {
            EXPRESSIONS
        };
        s.insert("Output".into(), json!(pick(u, from)?));
    }
    Ok(())
}

/// `Assign` setting `x` and `y` (the variables the expressions and paths read).
fn assign(
    u: &mut Unstructured<'_>,
    s: &mut Map<String, Json>,
    language: Language,
    result: bool,
) -> Result<()> {
    if !u.ratio(1, 3)? {
        return Ok(());
    }
    let mut a = Map::new();
    match language {
        Language::Jsonata => {
            let from = if result && u.arbitrary()? {
                RESULT_EXPRESSIONS
            } else {
                EXPRESSIONS
            };
            a.insert("x".into(), json!(pick(u, from)?));
            if u.arbitrary()? {
                a.insert("y".into(), json!({"k": pick(u, EXPRESSIONS)?}));
            }
        }
        Language::JsonPath => {
            let path = if u.arbitrary()? {
                pick(u, PATHS)?
            } else {
                pick(u, VARIABLE_PATHS)?
            };
            a.insert("x.$".into(), json!(path));
            if u.arbitrary()? {
                a.insert("y".into(), json!({"k": json_value(u, 1)?}));
            }
        }
    }
    s.insert("Assign".into(), Json::Object(a));
    Ok(())
}

fn io_paths(u: &mut Unstructured<'_>, s: &mut Map<String, Json>, result: bool) -> Result<()> {
    if u.ratio(1, 4)? {
        s.insert("InputPath".into(), path_or_null(u)?);
    }
    if u.ratio(1, 4)? {
        s.insert("OutputPath".into(), path_or_null(u)?);
    }
    if result && u.ratio(1, 3)? {
        let p = if u.ratio(1, 6)? {
            Json::Null
        } else {
            json!(pick(u, REFERENCE_PATHS)?)
        };
        s.insert("ResultPath".into(), p);
    }
    Ok(())
}

fn path_or_null(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(if u.ratio(1, 8)? {
        Json::Null
    } else {
        json!(pick(u, PATHS)?)
    })
}

/// Retry and Catch on a Task, Parallel or Map.
fn handlers(u: &mut Unstructured<'_>, names: &[String], s: &mut Map<String, Json>) -> Result<()> {
    handlers_in(u, names, s, Language::JsonPath)
}

/// [`handlers`] in `language`: a JSONata catcher has `Output`/`Assign`, not `ResultPath`.
fn handlers_in(
    u: &mut Unstructured<'_>,
    names: &[String],
    s: &mut Map<String, Json>,
    language: Language,
) -> Result<()> {
    if u.ratio(1, 3)? {
        s.insert(
            "Retry".into(),
            json!([{
                "ErrorEquals": [pick(u, ERRORS)?],
                "MaxAttempts": u.int_in_range(0..=3)?,
                "IntervalSeconds": u.int_in_range(1..=3)?,
                "BackoffRate": 1.5,
            }]),
        );
    }
    if u.ratio(1, 3)? {
        let mut catcher =
            json!({"ErrorEquals": [pick(u, ERRORS)?], "Next": names[u.choose_index(names.len())?]});
        match language {
            Language::JsonPath if u.arbitrary()? => {
                catcher["ResultPath"] = json!(pick(u, REFERENCE_PATHS)?);
            }
            Language::Jsonata if u.arbitrary()? => {
                catcher["Output"] = json!("{% $states.errorOutput %}");
                if u.arbitrary()? {
                    catcher["Assign"] = json!({"x": "{% $states.errorOutput.Error %}"});
                }
            }
            _ => {}
        }
        s.insert("Catch".into(), json!([catcher]));
    }
    Ok(())
}

/// A payload template: literal fields, `.$` fields with paths and intrinsics, nested objects.
pub fn template(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let mut t = Map::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let key = pick(u, KEYS)?;
        if t.contains_key(key) || t.contains_key(&format!("{key}.$")) {
            continue; // `k` and `k.$` together are a validation error, not a template
        }
        match u.int_in_range(0..=3)? {
            0 => drop(t.insert(format!("{key}.$"), json!(pick(u, PATHS)?))),
            1 => drop(t.insert(format!("{key}.$"), json!(pick(u, INTRINSICS)?))),
            2 if depth > 0 => drop(t.insert(key.to_string(), template(u, depth - 1)?)),
            _ => drop(t.insert(key.to_string(), json_value(u, 1)?)),
        }
    }
    Ok(Json::Object(t))
}

/// A Choice rule: a comparison, or And/Or/Not of rules.
pub fn rule(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    if depth < 2 && u.ratio(1, 4)? {
        return Ok(match u.int_in_range(0..=2)? {
            0 => json!({"Not": rule(u, depth + 1)?}),
            1 => json!({"And": [rule(u, depth + 1)?, rule(u, depth + 1)?]}),
            _ => json!({"Or": [rule(u, depth + 1)?, rule(u, depth + 1)?]}),
        });
    }
    let variable = pick(u, PATHS)?;
    let (op, value) = match u.int_in_range(0..=4)? {
        0 => (
            pick(u, STRING_OPS)?,
            json!(pick(u, &["x", "a*", "*", "", "1970-01-01T00:00:00Z"])?),
        ),
        1 => (pick(u, NUMERIC_OPS)?, json!(u.int_in_range(-2..=3)?)),
        2 => (pick(u, TYPE_OPS)?, json!(u.arbitrary::<bool>()?)),
        3 => ("BooleanEquals", json!(u.arbitrary::<bool>()?)),
        _ => {
            let op = pick(
                u,
                &[
                    "StringEqualsPath",
                    "NumericLessThanPath",
                    "BooleanEqualsPath",
                    "TimestampEqualsPath",
                ],
            )?;
            (
                op,
                json!(pick(u, &["$.n", "$.s", "$.a.b", "$$.State.Name"])?),
            )
        }
    };
    Ok(json!({"Variable": variable, op: value}))
}

/// An execution input shaped like what the dictionary's paths read.
pub fn input(u: &mut Unstructured<'_>) -> Result<Json> {
    let mut doc = Map::new();
    for key in KEYS {
        if u.ratio(3, 4)? {
            let value = match *key {
                "items" => Json::Array(
                    (0..u.int_in_range(0..=4)?)
                        .map(|_| item(u))
                        .collect::<Result<_>>()?,
                ),
                "n" => json!(u.int_in_range(-3..=5)?),
                "s" => json!(pick(u, &["x", "a,b", "aGk=", "{\"k\":1}", "", "é"])?),
                _ => json_value(u, 2)?,
            };
            doc.insert(key.to_string(), value);
        }
    }
    Ok(Json::Object(doc))
}

fn item(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(if u.arbitrary()? {
        json!({"v": json_value(u, 0)?})
    } else {
        json_value(u, 1)?
    })
}

/// Any JSON value, nesting at most `depth` more levels.
pub fn json_value(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let top = if depth == 0 { 4 } else { 6 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Json::Null,
        1 => json!(u.arbitrary::<bool>()?),
        2 => json!(u.int_in_range(-3i64..=3)?),
        3 => {
            let f: f64 = u.arbitrary()?;
            serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
        }
        4 => json!(pick(
            u,
            &["x", "a*", "", "b c", "1970-01-01T00:00:00Z", "$.a"]
        )?),
        5 => Json::Array(
            (0..u.int_in_range(0..=3)?)
                .map(|_| json_value(u, depth - 1))
                .collect::<Result<_>>()?,
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                m.insert(pick(u, KEYS)?.to_string(), json_value(u, depth - 1)?);
            }
            Json::Object(m)
        }
    })
}

/// A path built from segments of every kind (fields, quoted keys, indices, slices,
/// wildcards, filters, deep scan), on the input or the context.
pub fn path(u: &mut Unstructured<'_>) -> Result<String> {
    let mut p = String::from(if u.ratio(1, 5)? { "$$" } else { "$" });
    for _ in 0..u.int_in_range(0..=4)? {
        let key = pick(u, KEYS)?;
        match u.int_in_range(0..=8)? {
            0 | 1 => p.push_str(&format!(".{key}")),
            2 => p.push_str(&format!("['{key}']")),
            3 => p.push_str(&format!("[{}]", u.int_in_range(-2..=3)?)),
            4 => p.push_str("[*]"),
            5 => p.push_str(&format!("..{key}")),
            6 => p.push_str(&format!(
                "[?(@.{key} {} {})]",
                pick(u, &["==", "<", ">=", "!="])?,
                u.int_in_range(0..=3)?
            )),
            7 => p.push_str(&format!(
                "[{}:{}]",
                u.int_in_range(-1..=2)?,
                u.int_in_range(0..=3)?
            )),
            _ => p.push_str(&format!(
                "[{},{}]",
                u.int_in_range(0..=2)?,
                u.int_in_range(0..=2)?
            )),
        }
    }
    Ok(p)
}

const INTRINSIC_NAMES: &[&str] = &[
    "Format",
    "StringToJson",
    "JsonToString",
    "Array",
    "ArrayPartition",
    "ArrayContains",
    "ArrayRange",
    "ArrayGetItem",
    "ArrayLength",
    "ArrayUnique",
    "Base64Encode",
    "Base64Decode",
    "Hash",
    "JsonMerge",
    "MathAdd",
    "StringSplit",
];

/// An intrinsic call of any function, mostly with as many arguments as it takes: paths,
/// literals, nested calls.
pub fn intrinsic(u: &mut Unstructured<'_>, depth: usize) -> Result<String> {
    let name = pick(u, INTRINSIC_NAMES)?;
    let (min, max) = asl::intrinsic::Function::from_name(&format!("States.{name}"))
        .map_or((0, None), |f| f.arity());
    let count = if u.ratio(1, 8)? {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(min..=max.unwrap_or(min + 2))?
    };
    let mut args = Vec::new();
    for _ in 0..count {
        args.push(match u.int_in_range(0..=5)? {
            0 if depth < 2 => intrinsic(u, depth + 1)?,
            0 | 1 => path(u)?,
            2 => u.int_in_range(-5i64..=10)?.to_string(),
            3 => format!(
                "'{}'",
                pick(
                    u,
                    &[
                        "{} and {}",
                        "a,b",
                        "SHA-256",
                        "MD5",
                        "aGk=",
                        "{\"k\":1}",
                        "x\\'y",
                        ""
                    ]
                )?
            ),
            4 => pick(u, &["true", "false", "null", "1.5", "-0"])?.to_string(),
            _ => format!("{}", u.int_in_range(0..=3)?),
        });
    }
    Ok(format!("States.{name}({})", args.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes from a fixed xorshift sequence: the same machines on every run.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn generated_machines_of_both_languages_are_valid_asl() {
        let (mut jsonata, mut jsonpath, mut variables) = (0, 0, 0);
        let mut invalid = Vec::new();
        for seed in 0..2_000 {
            let data = bytes(seed, 4_096);
            let Ok(definition) = machine(&mut Unstructured::new(&data), 0) else {
                continue;
            };
            let text = definition.to_string();
            if let Err(e) = asl::load(&definition) {
                invalid.push(format!("seed {seed}: {e:?}"));
                continue;
            }
            if text.contains("\"QueryLanguage\":\"JSONata\"") {
                jsonata += 1;
            } else {
                jsonpath += 1;
            }
            variables += usize::from(text.contains("\"Assign\""));
        }
        assert!(
            invalid.is_empty(),
            "{} invalid machines, e.g. {:#?}",
            invalid.len(),
            &invalid[..invalid.len().min(4)]
        );
        assert!(jsonata > 400, "only {jsonata} JSONata machines");
        assert!(jsonpath > 400, "only {jsonpath} JSONPath machines");
        assert!(
            variables > 400,
            "only {variables} machines assign variables"
        );
    }
}
