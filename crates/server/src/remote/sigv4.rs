//! SigV4 signing of the Invoke API requests the Lambda back end sends, with the credentials
//! Lambda gives every function in its environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the execution role's) and its region
//! (`AWS_REGION`), as the AWS SDKs do. The signing itself is `aws-sigv4`'s.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The service name Lambda's requests are signed for.
const SERVICE: &str = "lambda";

/// Signs requests for one region with one set of credentials.
pub struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    /// The signer the environment (`env`) describes: `None` without `AWS_ACCESS_KEY_ID` (an
    /// emulator or a signing proxy takes unsigned requests), an error when the key is there
    /// but its secret or the region is not.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Option<Result<Self, String>> {
        let key = env("AWS_ACCESS_KEY_ID").filter(|k| !k.is_empty())?;
        let Some(secret) = env("AWS_SECRET_ACCESS_KEY").filter(|s| !s.is_empty()) else {
            return Some(Err(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: cannot sign Lambda requests".to_string(),
            ));
        };
        let Some(region) = region(env) else {
            return Some(Err(
                "AWS_ACCESS_KEY_ID is set but neither AWS_REGION nor AWS_DEFAULT_REGION: cannot sign Lambda requests".to_string(),
            ));
        };
        let token = env("AWS_SESSION_TOKEN").filter(|t| !t.is_empty());
        let credentials = Credentials::new(key, secret, token, None, "environment");
        Some(Ok(Signer {
            identity: credentials.into(),
            region,
        }))
    }

    /// The headers that sign a POST of `body` to `url` carrying `headers` (all of which are
    /// signed, with `host`), at `time`: `authorization`, `x-amz-date` and, with a session
    /// token, `x-amz-security-token`.
    pub fn sign(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign the Lambda request: {e}"))?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot sign the Lambda request to {url}: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("cannot sign the Lambda request to {url}: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

/// The region the SDKs would use: `AWS_REGION` (Lambda sets it), else `AWS_DEFAULT_REGION`.
pub fn region(env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const KEYS: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "token-from-the-role"),
        ("AWS_REGION", "eu-west-1"),
    ];

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The signature computed here, step by step from AWS's SigV4 documentation (canonical
    /// request, string to sign, derived key), must be the one the signer put in its
    /// `authorization` header: an independent check of region, service, scope, signed
    /// headers and body hash.
    #[test]
    fn an_invoke_request_is_signed_as_the_sigv4_documentation_says() {
        let signer = Signer::from_env(&env(KEYS)).expect("keys").expect("valid");
        let url = "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/finra/invocations";
        let body = br#"{"faastlaneLanes":{}}"#;
        let headers = [
            ("content-type", "application/json".to_string()),
            ("x-amz-invocation-type", "RequestResponse".to_string()),
        ];
        // 2026-12-04T21:00:00Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_418_000);
        let signed = signer.sign(url, &headers, body, time).expect("signs");
        let get = |name: &str| {
            signed
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("x-amz-date"), "20261204T210000Z");
        assert_eq!(get("x-amz-security-token"), "token-from-the-role");

        let authorization = get("authorization");
        let scope = "20261204/eu-west-1/lambda/aws4_request";
        let prefix = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders=");
        let rest = authorization
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{authorization}"));
        let (signed_headers, signature) = rest
            .split_once(", Signature=")
            .unwrap_or_else(|| panic!("{authorization}"));
        assert_eq!(
            signed_headers,
            "content-type;host;x-amz-date;x-amz-invocation-type;x-amz-security-token"
        );

        let values = [
            ("content-type", "application/json"),
            ("host", "lambda.eu-west-1.amazonaws.com"),
            ("x-amz-date", "20261204T210000Z"),
            ("x-amz-invocation-type", "RequestResponse"),
            ("x-amz-security-token", "token-from-the-role"),
        ];
        let canonical_headers: String = values.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical_request = format!(
            "POST\n/2015-03-31/functions/finra/invocations\n\n{canonical_headers}\n{signed_headers}\n{}",
            hex(&Sha256::digest(body))
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n20261204T210000Z\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let mut key = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20261204");
        for part in ["eu-west-1", "lambda", "aws4_request"] {
            key = hmac(&key, part);
        }
        assert_eq!(signature, hex(&hmac(&key, &string_to_sign)));
    }

    #[test]
    fn without_keys_nothing_is_signed_and_half_a_configuration_is_an_error() {
        assert!(Signer::from_env(&env(&[("AWS_REGION", "us-east-1")])).is_none());
        let no_secret = Signer::from_env(&env(&[("AWS_ACCESS_KEY_ID", "AKID")]));
        assert!(
            matches!(&no_secret, Some(Err(e)) if e.contains("AWS_SECRET_ACCESS_KEY")),
            "{:?}",
            no_secret.map(|r| r.err())
        );
        let no_region = Signer::from_env(&env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]));
        assert!(
            matches!(&no_region, Some(Err(e)) if e.contains("AWS_REGION")),
            "{:?}",
            no_region.map(|r| r.err())
        );
        let no_token = Signer::from_env(&env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ]))
        .expect("keys")
        .expect("valid");
        let signed = no_token
            .sign("http://127.0.0.1:9000/x", &[], b"", SystemTime::now())
            .expect("signs");
        assert!(signed.iter().all(|(k, _)| k != "x-amz-security-token"));
        assert!(
            signed
                .iter()
                .any(|(k, v)| k == "authorization" && v.contains("/us-east-2/lambda/aws4_request")),
            "{signed:?}"
        );
    }
}
