//! Step Functions ARNs: parsing what clients send, in AWS's forms
//! (`arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`,
//! `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`).

use crate::error::ApiError;

/// The resource an ARN names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A state machine; `test_case` is Step Functions Local's `#TestCase` suffix.
    StateMachine {
        name: &'a str,
        test_case: Option<&'a str>,
    },
    Execution {
        machine: &'a str,
        name: &'a str,
    },
}

/// Splits a states ARN into its resource, checking the prefix, region and account are there.
pub fn parse(arn: &str) -> Result<Resource<'_>, ApiError> {
    let mut parts = arn.splitn(7, ':');
    let prefix: Vec<&str> = parts.by_ref().take(5).collect();
    if prefix.len() < 5 || prefix[0] != "arn" || prefix[2] != "states" || prefix[1].is_empty() {
        return Err(ApiError::invalid_arn(format!("Invalid ARN prefix: {arn}")));
    }
    if prefix[3].is_empty() || prefix[4].is_empty() {
        return Err(ApiError::invalid_arn(format!("Invalid ARN: {arn}")));
    }
    let kind = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    match kind {
        "stateMachine" if !rest.is_empty() => {
            let (name, test_case) = match rest.split_once('#') {
                Some((name, case)) => (name, Some(case)),
                None => (rest, None),
            };
            if name.is_empty() || name.contains(':') || test_case.is_some_and(str::is_empty) {
                return Err(ApiError::invalid_arn(format!("Invalid ARN: {arn}")));
            }
            Ok(Resource::StateMachine { name, test_case })
        }
        "execution" | "express" => match rest.split_once(':') {
            Some((machine, name)) if !machine.is_empty() && !name.is_empty() => {
                Ok(Resource::Execution { machine, name })
            }
            _ => Err(ApiError::invalid_arn(format!("Invalid ARN: {arn}"))),
        },
        other => Err(ApiError::invalid_arn(format!(
            "Resource type not valid in this context: {other}"
        ))),
    }
}

/// A state machine ARN's name (and test case), or InvalidArn.
pub fn state_machine(arn: &str) -> Result<(&str, Option<&str>), ApiError> {
    match parse(arn)? {
        Resource::StateMachine { name, test_case } => Ok((name, test_case)),
        Resource::Execution { .. } => Err(ApiError::invalid_arn(
            "Resource type not valid in this context: execution",
        )),
    }
}

/// An execution ARN's state machine and execution names, or InvalidArn.
pub fn execution(arn: &str) -> Result<(&str, &str), ApiError> {
    match parse(arn)? {
        Resource::Execution { machine, name } => Ok((machine, name)),
        Resource::StateMachine { .. } => Err(ApiError::invalid_arn(
            "Resource type not valid in this context: stateMachine",
        )),
    }
}

/// Step Functions' rule for state machine and execution names: 1-80 characters, none of
/// whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`, nor control characters.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    let len = name.chars().count();
    if len == 0 || len > 80 || name.chars().any(bad) {
        return Err(ApiError::invalid_name(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aws_forms() {
        assert_eq!(
            parse("arn:aws:states:us-east-1:111111111111:stateMachine:m").ok(),
            Some(Resource::StateMachine {
                name: "m",
                test_case: None
            })
        );
        assert_eq!(
            parse("arn:aws:states:us-east-1:1:stateMachine:m#Happy").ok(),
            Some(Resource::StateMachine {
                name: "m",
                test_case: Some("Happy")
            })
        );
        assert_eq!(
            parse("arn:aws:states:us-east-1:1:execution:m:e-1").ok(),
            Some(Resource::Execution {
                machine: "m",
                name: "e-1"
            })
        );
    }

    #[test]
    fn rejects_what_aws_rejects() {
        for bad in [
            "",
            "nope",
            "arn:aws:lambda:us-east-1:1:function:f",
            "arn:aws:states:us-east-1:1:activity:a",
            "arn:aws:states:us-east-1:1:stateMachine:",
            "arn:aws:states:us-east-1:1:execution:m",
            "arn:aws:states::1:stateMachine:m",
        ] {
            let err = parse(bad).err().map(|e| e.kind);
            assert_eq!(err, Some("InvalidArn"), "{bad}");
        }
        assert!(execution("arn:aws:states:r:1:stateMachine:m").is_err());
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_name("ok-name_1.2").is_ok());
        for bad in ["", "a b", "a:b", "a/b", "a#b", &"x".repeat(81)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
