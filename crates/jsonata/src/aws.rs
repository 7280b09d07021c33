//! The functions Step Functions adds to JSONata ("JSONata functions provided by Step
//! Functions" in the AWS developer guide), and its removal of `$eval`.
//!
//! Behaviour follows the guide and executions observed on AWS: integer parameters round
//! down (`$partition(a, 2.6)` chunks by 2, `$range(1.4, 5.6, 2.2)` is `[1, 3, 5]`), a chunk
//! size or step that rounds to zero or below fails, `$hash` takes the algorithm names
//! exactly as written, `$random(seed)` returns the same number for the same seed.
//! AWS documents no error codes for these functions: a wrong argument type or count is
//! JSONata's `T0410`, and a wrong value one of the `D32xx` codes below (faastlane's own).

use md5::Md5;
use rand::Rng;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::Error;

/// A function as this module writes it: arguments as JSON (`None` for undefined).
pub type Function = fn(&[Option<Value>]) -> Result<Option<Value>, Error>;

/// Every function AWS adds, by the name an expression calls it with.
pub const FUNCTIONS: &[(&str, Function)] = &[
    ("partition", partition),
    ("range", range),
    ("hash", hash),
    ("random", random),
    ("uuid", uuid),
    ("parse", parse),
];

/// `$partition` was given a chunk size below 1.
pub const INVALID_CHUNK_SIZE: &str = "D3210";
/// `$range` was given a step that rounds to 0, or would produce too many items.
pub const INVALID_RANGE: &str = "D3211";
/// `$hash` was given an algorithm it does not know.
pub const UNKNOWN_HASH_ALGORITHM: &str = "D3212";
/// `$parse` was given a string that is not JSON.
pub const INVALID_JSON: &str = "D3213";

/// Most items `$range` builds, so one expression cannot exhaust memory.
pub const MAX_RANGE_ITEMS: usize = 10_000_000;

/// `$partition(array, chunkSize)`: the array cut into arrays of `chunkSize` items, the last
/// one shorter when the items run out. Without a chunk size the whole array is one chunk (as
/// AWS answers).
pub fn partition(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("partition", args, 1, 2)?;
    let items = match &args[0] {
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(signature_mismatch("partition", 1)),
    };
    let size = match args.get(1) {
        None | Some(None) => items.len().max(1),
        Some(Some(size)) => match integer(size) {
            Some(size) if size >= 1.0 => size.min(usize::MAX as f64) as usize,
            Some(_) => {
                return Err(Error::new(
                    INVALID_CHUNK_SIZE,
                    "the chunk size of $partition must be a positive integer",
                ));
            }
            None => return Err(signature_mismatch("partition", 2)),
        },
    };
    let chunks = items
        .chunks(size)
        .map(|c| Value::Array(c.to_vec()))
        .collect();
    Ok(Some(Value::Array(chunks)))
}

/// `$range(start, end, step)`: `start`, `start + step`, ... up to and including `end`
/// (down to it for a negative step); empty when `step` points away from `end`.
pub fn range(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("range", args, 3, 3)?;
    let mut bounds = [0.0; 3];
    for (i, arg) in args.iter().enumerate() {
        bounds[i] = arg
            .as_ref()
            .and_then(integer)
            .ok_or_else(|| signature_mismatch("range", i + 1))?;
    }
    let [start, end, step] = bounds;
    if step == 0.0 {
        return Err(Error::new(
            INVALID_RANGE,
            "the step of $range must not be 0",
        ));
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > MAX_RANGE_ITEMS as f64 {
        return Err(Error::new(
            INVALID_RANGE,
            format!("$range would produce more than {MAX_RANGE_ITEMS} items"),
        ));
    }
    let count = count.max(0.0) as usize;
    let items = (0..count)
        .map(|i| crate::number::to_json(start + step * i as f64))
        .collect();
    Ok(Some(Value::Array(items)))
}

/// `$hash(data, algorithm)`: the lower-case hex digest of the UTF-8 bytes of `data`, with
/// `algorithm` one of `MD5`, `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`.
pub fn hash(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("hash", args, 2, 2)?;
    let data = match &args[0] {
        None => return Ok(None),
        Some(Value::String(data)) => data.as_bytes(),
        Some(_) => return Err(signature_mismatch("hash", 1)),
    };
    let Some(Value::String(algorithm)) = &args[1] else {
        return Err(signature_mismatch("hash", 2));
    };
    let digest = match algorithm.as_str() {
        "MD5" => hex(&Md5::digest(data)),
        "SHA-1" => hex(&Sha1::digest(data)),
        "SHA-256" => hex(&Sha256::digest(data)),
        "SHA-384" => hex(&Sha384::digest(data)),
        "SHA-512" => hex(&Sha512::digest(data)),
        other => {
            return Err(Error::new(
                UNKNOWN_HASH_ALGORITHM,
                format!(
                    "the hash algorithm of $hash must be one of MD5, SHA-1, SHA-256, SHA-384, \
                     SHA-512, not {other:?}"
                ),
            ));
        }
    };
    Ok(Some(Value::String(digest)))
}

/// `$random([seed])`: a number in `[0, 1)`; with a seed, Java's
/// `new java.util.Random(seed).nextDouble()`, so one seed always gives one number.
pub fn random(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("random", args, 0, 1)?;
    let n = match args.first() {
        None | Some(None) => rand::rng().random::<f64>(),
        Some(Some(seed)) => {
            let seed = integer(seed).ok_or_else(|| signature_mismatch("random", 1))?;
            // Saturating, like Java's `(long)` of a double.
            JavaRandom::new(seed as i64).next_double()
        }
    };
    Ok(Some(crate::number::to_json(n)))
}

/// `$uuid()`: a random (version 4) UUID in its lower-case hyphenated form.
pub fn uuid(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("uuid", args, 0, 0)?;
    Ok(Some(Value::String(uuid::Uuid::new_v4().to_string())))
}

/// `$parse(json)`: the value a JSON text denotes (surrounding whitespace allowed).
pub fn parse(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    arity("parse", args, 1, 1)?;
    match &args[0] {
        None => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text).map(Some).map_err(|e| {
            Error::new(
                INVALID_JSON,
                format!("$parse was given text that is not JSON: {e}"),
            )
        }),
        Some(_) => Err(signature_mismatch("parse", 1)),
    }
}

/// Step Functions does not offer `$eval` (the guide points to `$parse` instead): calling it
/// is calling something that is not a function.
pub fn eval_unsupported(_args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    Err(Error::new(
        "T1006",
        "Attempted to invoke a non-function: $eval is not supported in Step Functions",
    ))
}

fn arity(name: &str, args: &[Option<Value>], min: usize, max: usize) -> Result<(), Error> {
    if args.len() > max {
        return Err(signature_mismatch(name, max + 1));
    }
    if args.len() < min {
        return Err(signature_mismatch(name, args.len() + 1));
    }
    Ok(())
}

fn signature_mismatch(name: &str, argument: usize) -> Error {
    Error::new(
        "T0410",
        format!("Argument {argument} of function {name:?} does not match function signature"),
    )
}

/// A JSON number rounded down, as AWS treats its functions' integer parameters.
fn integer(value: &Value) -> Option<f64> {
    value.as_f64().map(f64::floor)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `java.util.Random`'s 48-bit linear congruential generator, as far as `nextDouble`.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> u64 {
        self.seed = self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        self.seed >> (48 - bits)
    }

    fn next_double(&mut self) -> f64 {
        let high = self.next(26) << 27;
        (high + self.next(27)) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
