//! Task states: what `Resource` invokes, timeouts, and the Lambda invoke integration.

use serde_json::Value as Json;

use super::Loader;
use super::fields::{MAX_SECONDS, Obj, kind};
use crate::model::{Invocation, NumberOrPath, Resource, TaskState};

/// Fields of `Parameters` that `arn:aws:states:::lambda:invoke` understands (each may also be
/// written with `.$`).
const LAMBDA_INVOKE_PARAMETERS: &[&str] = &[
    "FunctionName",
    "Payload",
    "Qualifier",
    "InvocationType",
    "LogType",
    "ClientContext",
];

impl Loader {
    pub(super) fn task(&mut self, o: &Obj<'_>) -> Option<TaskState> {
        let resource = self.resource(o);
        let timeout = self.number_or_path(o, "TimeoutSeconds", 1, MAX_SECONDS);
        let heartbeat = self.number_or_path(o, "HeartbeatSeconds", 1, MAX_SECONDS);
        if let (Some(NumberOrPath::Literal(t)), Some(NumberOrPath::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                o,
                "HeartbeatSeconds",
                format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
            );
        }
        if let Some(credentials) = o.get("Credentials")
            && !credentials.is_object()
        {
            self.err(
                o,
                "Credentials",
                format!("Credentials must be an object, not {}", kind(credentials)),
            );
        }
        let retry = self.retry(o);
        let catch = self.catch(o);
        Some(TaskState {
            resource: resource?,
            timeout,
            heartbeat,
            retry,
            catch,
        })
    }

    /// Resolves `Resource` to a local function call.
    fn resource(&mut self, o: &Obj<'_>) -> Option<Resource> {
        let arn = self.req_str(o, "Resource", "a Task state")?;
        let invocation = match resolve(arn) {
            Ok(invocation) => invocation,
            Err(message) => {
                self.err(o, "Resource", message);
                return None;
            }
        };
        if invocation == Invocation::LambdaInvoke {
            self.lambda_invoke_parameters(o);
        }
        Some(Resource {
            arn: arn.to_string(),
            invocation,
        })
    }

    /// `arn:aws:states:::lambda:invoke` takes the function and its event from `Parameters`.
    fn lambda_invoke_parameters(&mut self, o: &Obj<'_>) {
        if self.current == crate::query::QueryLanguage::Jsonata {
            // `Arguments` carries FunctionName and Payload, checked when the state runs
            // (either may be an expression).
            if !o.has("Arguments") {
                self.err_here(
                    o,
                    "arn:aws:states:::lambda:invoke needs Arguments with FunctionName (and usually Payload)",
                );
            }
            return;
        }
        let params = match o.get("Parameters") {
            Some(Json::Object(params)) => params,
            Some(other) => {
                self.err(
                    o,
                    "Parameters",
                    format!(
                        "arn:aws:states:::lambda:invoke needs Parameters to be an object with FunctionName, not {}",
                        kind(other)
                    ),
                );
                return;
            }
            None => {
                self.err_here(
                    o,
                    "arn:aws:states:::lambda:invoke needs Parameters with FunctionName (and usually Payload)",
                );
                return;
            }
        };
        let p = o.nested(params, o.at("Parameters"));
        match (p.get("FunctionName"), p.has("FunctionName.$")) {
            (None, false) => self.err_here(
                &p,
                "arn:aws:states:::lambda:invoke needs FunctionName (or FunctionName.$) in Parameters",
            ),
            // Reported by the template as a field given twice.
            (Some(_), true) => {}
            (Some(Json::String(name)), false) if name.trim().is_empty() => {
                self.err(&p, "FunctionName", "FunctionName must not be empty")
            }
            (Some(Json::String(_)), false) | (None, true) => {}
            (Some(other), false) => self.err(
                &p,
                "FunctionName",
                format!("FunctionName must be a string, not {}", kind(other)),
            ),
        }
        if let Some(Json::String(t)) = p.get("InvocationType")
            && t != "RequestResponse"
        {
            self.err(
                &p,
                "InvocationType",
                format!(
                    "InvocationType '{t}' is not supported: faastlane calls functions synchronously (RequestResponse)"
                ),
            );
        }
        for key in params.keys() {
            let name = key.strip_suffix(".$").unwrap_or(key);
            if !LAMBDA_INVOKE_PARAMETERS.contains(&name) {
                self.err(
                    &p,
                    key,
                    format!(
                        "unknown lambda:invoke parameter '{key}' (allowed: {})",
                        LAMBDA_INVOKE_PARAMETERS.join(", ")
                    ),
                );
            }
        }
    }
}

/// Maps a `Resource` to how faastlane calls it, or says why it cannot.
///
/// The ARN forms are those of the developer guide (state-task.html): a Lambda function
/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, an activity
/// `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`, and a service integration
/// `arn:PARTITION:states:REGION:ACCOUNT:SERVICE:API[.sync|.waitForTaskToken]`. Anything that is
/// not an ARN is the name of a local function.
pub(super) fn resolve(resource: &str) -> Result<Invocation, String> {
    if resource.trim().is_empty() {
        return Err("Resource must name a function (a name or a Lambda function ARN)".into());
    }
    let Some(rest) = resource.strip_prefix("arn:") else {
        return Ok(Invocation::Direct {
            function: resource.to_string(),
            qualifier: None,
        });
    };
    // PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE...
    let parts: Vec<&str> = rest.split(':').collect();
    let (Some(service), Some(resource_parts)) = (parts.get(1), parts.get(4..)) else {
        return Err(format!(
            "Resource '{resource}' is not a valid ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
        ));
    };
    match *service {
        "lambda" => match resource_parts {
            ["function", name] if !name.is_empty() => Ok(Invocation::Direct {
                function: (*name).to_string(),
                qualifier: None,
            }),
            ["function", name, qualifier] if !name.is_empty() && !qualifier.is_empty() => {
                Ok(Invocation::Direct {
                    function: (*name).to_string(),
                    qualifier: Some((*qualifier).to_string()),
                })
            }
            _ => Err(format!(
                "Resource '{resource}' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])"
            )),
        },
        "states" => match resource_parts {
            ["lambda", "invoke"] => Ok(Invocation::LambdaInvoke),
            ["lambda", "invoke.waitForTaskToken"] => Err(
                "the callback pattern (lambda:invoke.waitForTaskToken) is not supported: faastlane calls functions in-process and has no task tokens; use arn:aws:states:::lambda:invoke"
                    .into(),
            ),
            ["activity", ..] => Err(format!(
                "activities are not supported ('{resource}'): an activity is run by an external worker; use a function"
            )),
            _ => Err(format!(
                "service integration '{}' is not supported: faastlane runs functions only (a function name, a Lambda function ARN, or arn:aws:states:::lambda:invoke)",
                resource_parts.join(":")
            )),
        },
        other => Err(format!(
            "Resource '{resource}' ({other}) is not supported: faastlane runs functions only (a function name, a Lambda function ARN, or arn:aws:states:::lambda:invoke)"
        )),
    }
}
