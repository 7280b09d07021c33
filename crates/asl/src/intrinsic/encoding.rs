//! The guide's "intrinsics for data encoding and decoding" and "intrinsic for hash
//! calculation": `States.Base64Encode`, `States.Base64Decode`, `States.Hash`.
//!
//! Each takes a string "of up to 10,000 characters"; characters are counted as Step Functions
//! (a Java service) counts them, in UTF-16 code units. Text is encoded as UTF-8.

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use md5::Md5;
use serde_json::Value as Json;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::{Invalid, java_length, string_arg};
use crate::value::Value;

/// "a data string of up to 10,000 characters" (Base64Encode, Base64Decode); "The data you
/// provide must be an object string containing 10,000 characters or less" (Hash).
const MAX_INPUT_CHARS: usize = 10_000;

/// Decodes what is left after [`base64_decode`] drops padding and stray characters.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn limited_string(value: &Value) -> Result<String, Invalid> {
    let text = string_arg(value, "the data")?;
    let len = java_length(&text);
    if len > MAX_INPUT_CHARS {
        return Err(Invalid(format!(
            "the data must be {MAX_INPUT_CHARS} characters or less, got {len}"
        )));
    }
    Ok(text)
}

pub(super) fn base64_encode(data: &Value) -> Result<Value, Invalid> {
    let text = limited_string(data)?;
    Ok(Value::Json(Json::String(STANDARD.encode(text.as_bytes()))))
}

/// MIME decoding (RFC 2045 §6.8): characters outside the Base64 alphabet, such as line breaks,
/// are ignored and the data ends at the first `=`. Bytes that are not UTF-8 become U+FFFD.
pub(super) fn base64_decode(data: &Value) -> Result<Value, Invalid> {
    let text = limited_string(data)?;
    let mut digits: Vec<u8> = text
        .bytes()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A single digit left over carries fewer than 8 bits: no byte.
    if digits.len() % 4 == 1 {
        digits.pop();
    }
    let bytes = LENIENT
        .decode(&digits)
        .map_err(|e| Invalid(format!("the data is not Base64: {e}")))?;
    Ok(Value::Json(Json::String(
        String::from_utf8_lossy(&bytes).into_owned(),
    )))
}

pub(super) fn hash(data: &Value, algorithm: &Value) -> Result<Value, Invalid> {
    let text = limited_string(data)?;
    let algorithm = string_arg(algorithm, "the algorithm")?;
    let bytes = text.as_bytes();
    let digest = match algorithm.as_str() {
        "MD5" => Md5::digest(bytes).to_vec(),
        "SHA-1" => Sha1::digest(bytes).to_vec(),
        "SHA-256" => Sha256::digest(bytes).to_vec(),
        "SHA-384" => Sha384::digest(bytes).to_vec(),
        "SHA-512" => Sha512::digest(bytes).to_vec(),
        other => {
            return Err(Invalid(format!(
                "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, got '{other}'"
            )));
        }
    };
    let hex = digest
        .iter()
        .fold(String::with_capacity(digest.len() * 2), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        });
    Ok(Value::Json(Json::String(hex)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{cause, eval};

    #[test]
    fn base64_encode_guide_example() {
        assert_eq!(
            eval(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            )
            .unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
    }

    #[test]
    fn base64_encode_uses_utf8_and_no_line_breaks() {
        assert_eq!(
            eval("States.Base64Encode('')", json!({})).unwrap(),
            json!("")
        );
        assert_eq!(
            eval("States.Base64Encode('✓')", json!({})).unwrap(),
            json!("4pyT")
        );
        let long = "a".repeat(10_000);
        let out = eval("States.Base64Encode($.s)", json!({"s": long})).unwrap();
        let out = out.as_str().unwrap();
        assert_eq!(out.len(), 13_336);
        assert!(!out.contains('\n') && !out.contains('\r'));
    }

    #[test]
    fn base64_encode_argument_checks() {
        assert!(
            cause("States.Base64Encode($.s)", json!({"s": "a".repeat(10_001)})).ends_with(
                "Invalid arguments in States.Base64Encode: the data must be 10000 characters \
                 or less, got 10001"
            )
        );
        // 5,001 astral characters are 10,002 UTF-16 units.
        assert!(
            cause("States.Base64Encode($.s)", json!({"s": "🚀".repeat(5_001)}))
                .ends_with("got 10002")
        );
        assert!(
            cause("States.Base64Encode(123)", json!({}))
                .ends_with("the data must be a string, got a number")
        );
        assert!(
            cause("States.Base64Encode($.a)", json!({"a": ["x"]}))
                .ends_with("the data must be a string, got an array")
        );
    }

    #[test]
    fn base64_decode_guide_example() {
        // The guide decodes "RGF0YSB0byBlbmNvZGU=" and prints "Decoded data"; that text is
        // what "RGVjb2RlZCBkYXRh" decodes to. "RGF0YSB0byBlbmNvZGU=" is "Data to encode".
        assert_eq!(
            eval(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="})
            )
            .unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            eval(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGVjb2RlZCBkYXRh"})
            )
            .unwrap(),
            json!("Decoded data")
        );
    }

    #[test]
    fn base64_decode_is_lenient_like_mime() {
        let d = |s: &str| eval("States.Base64Decode($.s)", json!({"s": s})).unwrap();
        assert_eq!(d(""), json!(""));
        assert_eq!(d("4pyT"), json!("✓"));
        assert_eq!(d("YWJjAGRlZg=="), json!("abc\u{0}def"));
        assert_eq!(d(" YWJj\r\nZA== "), json!("abcd"));
        assert_eq!(d("YWJjZA"), json!("abcd"));
        assert_eq!(d("YWJjZ"), json!("abc"));
        assert_eq!(d("YQ==YWJj"), json!("a"));
        assert_eq!(d("/w=="), json!("\u{fffd}"));
        assert_eq!(
            eval(
                "States.Base64Decode(States.Base64Encode('hello'))",
                json!({})
            )
            .unwrap(),
            json!("hello")
        );
    }

    #[test]
    fn base64_decode_argument_checks() {
        assert!(
            cause("States.Base64Decode($.s)", json!({"s": "A".repeat(10_001)})).ends_with(
                "Invalid arguments in States.Base64Decode: the data must be 10000 characters \
                 or less, got 10001"
            )
        );
        assert!(
            cause("States.Base64Decode($.o)", json!({"o": {}}))
                .ends_with("the data must be a string, got an object")
        );
    }

    #[test]
    fn hash_guide_example() {
        // The guide prints "aaff4a450a104cd177d28d18d7485e8cae074b7", one hex digit short of
        // the SHA-1 of "input data" (`printf 'input data' | sha1sum`).
        let input = json!({"Data": "input data", "Algorithm": "SHA-1"});
        assert_eq!(
            eval("States.Hash($.Data, $.Algorithm)", input).unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
    }

    #[test]
    fn hash_every_algorithm() {
        let h =
            |alg: &str| eval(&format!("States.Hash('input data', '{alg}')"), json!({})).unwrap();
        assert_eq!(h("MD5"), json!("812f45842bc6d66ee14572ce20db8e86"));
        assert_eq!(
            h("SHA-256"),
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
        );
        assert_eq!(
            eval("States.Hash('hello', 'SHA-384')", json!({})).unwrap(),
            json!(
                "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90\
                 125a3c79f90397bdf5f6a13de828684f"
            )
        );
        assert_eq!(
            h("SHA-512"),
            json!(
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce\
                 2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"
            )
        );
    }

    #[test]
    fn hash_argument_checks() {
        assert!(
            cause("States.Hash('data', 'sha-256')", json!({})).ends_with(
                "Invalid arguments in States.Hash: the algorithm must be one of MD5, SHA-1, \
                 SHA-256, SHA-384, SHA-512, got 'sha-256'"
            )
        );
        assert!(
            cause("States.Hash('data', 256)", json!({}))
                .ends_with("the algorithm must be a string, got a number")
        );
        assert!(
            cause("States.Hash($.o, 'MD5')", json!({"o": {}}))
                .ends_with("the data must be a string, got an object")
        );
        assert!(
            cause("States.Hash($.s, 'MD5')", json!({"s": "a".repeat(10_001)}))
                .ends_with("the data must be 10000 characters or less, got 10001")
        );
        assert!(eval("States.Hash($.s, 'MD5')", json!({"s": "a".repeat(10_000)})).is_ok());
    }
}
