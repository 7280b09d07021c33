//! Choice rules: boolean expressions over the state's input.

use serde_json::Value as Json;

use crate::error::StatesError;
use crate::path::{Path, Scope};

#[derive(Clone, Debug)]
pub enum ChoiceRule {
    And(Vec<ChoiceRule>),
    Or(Vec<ChoiceRule>),
    Not(Box<ChoiceRule>),
    Test(DataTest),
}

/// `{"Variable": "$.x", "NumericGreaterThan": 3}` and friends.
#[derive(Clone, Debug)]
pub struct DataTest {
    pub variable: Path,
    pub operator: Operator,
    pub operand: Operand,
}

#[derive(Clone, Debug)]
pub enum Operand {
    /// The comparison value as written (a string, number, boolean or timestamp string).
    Literal(Json),
    /// The `...Path` variant: the value is read from the input (or the context).
    Path(Path),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl ChoiceRule {
    /// Evaluates the rule against the (effective) input.
    pub fn evaluate(&self, _scope: Scope<'_>) -> Result<bool, StatesError> {
        Err(StatesError::runtime("choice rules are not available yet"))
    }
}
