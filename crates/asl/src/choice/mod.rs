//! Choice rules: boolean expressions over the state's input.
//!
//! The semantics are those of the Amazon States Language specification (section "Choice
//! State") and the Step Functions developer guide ("Choice workflow state"), JSONPath flavour:
//!
//! - Comparisons are type-strict. A value of the wrong type makes a comparison false, never an
//!   error: `StringEquals` against a number is false, `NumericEquals` against `"1"` is false.
//! - A `Variable` that matches nothing is a `States.Runtime` error, except under `IsPresent`,
//!   which exists to ask exactly that. A `...Path` operand that matches nothing is the same error.
//! - `And` and `Or` stop at the first rule that decides the outcome, so a later rule that would
//!   fail on a missing path is never evaluated.

use serde_json::Value as Json;

use std::cmp::Ordering;

use crate::path::Path;

pub use eval::parse_timestamp;

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use parse::parse_rule;

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
    /// When `Variable` names a workflow variable (`$order`, `$order.total`): its name, and
    /// `variable` is the path into its value.
    pub variable_name: Option<String>,
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

/// The JSON type an operator's literal operand must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    String,
    Number,
    Boolean,
    /// A string in the timestamp format of [`parse_timestamp`].
    Timestamp,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::String => "a string",
            Expect::Number => "a number",
            Expect::Boolean => "a boolean (true or false)",
            Expect::Timestamp => "an RFC 3339 timestamp string such as \"2016-03-14T01:59:00Z\"",
        }
    }
}

/// How an ordered comparison turns an [`Ordering`] into its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Relation {
    Equal,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

impl Relation {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equal => ordering == Ordering::Equal,
            Relation::Less => ordering == Ordering::Less,
            Relation::Greater => ordering == Ordering::Greater,
            Relation::LessOrEqual => ordering != Ordering::Greater,
            Relation::GreaterOrEqual => ordering != Ordering::Less,
        }
    }
}

impl Operator {
    pub const ALL: [Operator; 23] = [
        Operator::StringEquals,
        Operator::StringLessThan,
        Operator::StringGreaterThan,
        Operator::StringLessThanEquals,
        Operator::StringGreaterThanEquals,
        Operator::StringMatches,
        Operator::NumericEquals,
        Operator::NumericLessThan,
        Operator::NumericGreaterThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThanEquals,
        Operator::BooleanEquals,
        Operator::TimestampEquals,
        Operator::TimestampLessThan,
        Operator::TimestampGreaterThan,
        Operator::TimestampLessThanEquals,
        Operator::TimestampGreaterThanEquals,
        Operator::IsNull,
        Operator::IsPresent,
        Operator::IsNumeric,
        Operator::IsString,
        Operator::IsBoolean,
        Operator::IsTimestamp,
    ];

    /// The field name as written in a definition (without the `Path` suffix).
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringLessThan => "StringLessThan",
            Operator::StringGreaterThan => "StringGreaterThan",
            Operator::StringLessThanEquals => "StringLessThanEquals",
            Operator::StringGreaterThanEquals => "StringGreaterThanEquals",
            Operator::StringMatches => "StringMatches",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::BooleanEquals => "BooleanEquals",
            Operator::TimestampEquals => "TimestampEquals",
            Operator::TimestampLessThan => "TimestampLessThan",
            Operator::TimestampGreaterThan => "TimestampGreaterThan",
            Operator::TimestampLessThanEquals => "TimestampLessThanEquals",
            Operator::TimestampGreaterThanEquals => "TimestampGreaterThanEquals",
            Operator::IsNull => "IsNull",
            Operator::IsPresent => "IsPresent",
            Operator::IsNumeric => "IsNumeric",
            Operator::IsString => "IsString",
            Operator::IsBoolean => "IsBoolean",
            Operator::IsTimestamp => "IsTimestamp",
        }
    }

    /// Whether `<name>Path` exists, comparing against a value read from the input. The
    /// specification gives no Path form to `StringMatches` nor to the `Is*` type tests.
    pub fn has_path_form(self) -> bool {
        self.comparison().is_some()
    }

    /// Reads an operator field name: `StringEquals` is `(StringEquals, false)`,
    /// `StringEqualsPath` is `(StringEquals, true)`.
    pub fn from_field(field: &str) -> Option<(Operator, bool)> {
        if let Some(op) = Self::ALL.iter().find(|op| op.name() == field) {
            return Some((*op, false));
        }
        let base = field.strip_suffix("Path")?;
        Self::ALL
            .iter()
            .find(|op| op.has_path_form() && op.name() == base)
            .map(|op| (*op, true))
    }

    /// The field name for this operator, with the `Path` suffix when `path` is set.
    pub fn field(self, path: bool) -> String {
        if path {
            format!("{}Path", self.name())
        } else {
            self.name().to_string()
        }
    }

    /// Operand type and relation of the ordered comparisons; `None` for `StringMatches` and
    /// the `Is*` type tests.
    fn comparison(self) -> Option<(Expect, Relation)> {
        use Operator::*;
        let (expect, relation) = match self {
            StringEquals => (Expect::String, Relation::Equal),
            StringLessThan => (Expect::String, Relation::Less),
            StringGreaterThan => (Expect::String, Relation::Greater),
            StringLessThanEquals => (Expect::String, Relation::LessOrEqual),
            StringGreaterThanEquals => (Expect::String, Relation::GreaterOrEqual),
            NumericEquals => (Expect::Number, Relation::Equal),
            NumericLessThan => (Expect::Number, Relation::Less),
            NumericGreaterThan => (Expect::Number, Relation::Greater),
            NumericLessThanEquals => (Expect::Number, Relation::LessOrEqual),
            NumericGreaterThanEquals => (Expect::Number, Relation::GreaterOrEqual),
            BooleanEquals => (Expect::Boolean, Relation::Equal),
            TimestampEquals => (Expect::Timestamp, Relation::Equal),
            TimestampLessThan => (Expect::Timestamp, Relation::Less),
            TimestampGreaterThan => (Expect::Timestamp, Relation::Greater),
            TimestampLessThanEquals => (Expect::Timestamp, Relation::LessOrEqual),
            TimestampGreaterThanEquals => (Expect::Timestamp, Relation::GreaterOrEqual),
            StringMatches | IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => {
                return None;
            }
        };
        Some((expect, relation))
    }

    /// The type a literal operand must have.
    fn literal_type(self) -> Expect {
        match self.comparison() {
            Some((expect, _)) => expect,
            None if self == Operator::StringMatches => Expect::String,
            None => Expect::Boolean,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
