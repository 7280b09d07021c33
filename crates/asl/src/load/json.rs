//! JSON text to [`Json`], remembering keys repeated within one object.
//!
//! `serde_json` keeps the last of two equal keys without a word, so a definition with two
//! states of the same name would silently lose one. This parser builds the same value but
//! records the pointer of every repeated key.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

use super::{Diagnostic, child, index};

/// Parses `src`; returns the value and the `(pointer, key)` of each repeated key.
pub(super) fn parse(src: &str) -> Result<(Json, Vec<(String, String)>), Diagnostic> {
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_str(src);
    let value = Tracked {
        pointer: String::new(),
        duplicates: &mut duplicates,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v))
    .map_err(syntax_error)?;
    Ok((value, duplicates))
}

fn syntax_error(e: serde_json::Error) -> Diagnostic {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = full.strip_suffix(&suffix).unwrap_or(&full);
    Diagnostic {
        pointer: String::new(),
        state: None,
        message: format!(
            "invalid JSON at line {}, column {}: {reason}",
            e.line(),
            e.column()
        ),
    }
}

struct Tracked<'a> {
    pointer: String,
    duplicates: &'a mut Vec<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for Tracked<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tracked<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = Tracked {
                pointer: index(&self.pointer, items.len()),
                duplicates: &mut *self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Json::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let pointer = child(&self.pointer, &key);
            let value = access.next_value_seed(Tracked {
                pointer: pointer.clone(),
                duplicates: &mut *self.duplicates,
            })?;
            if map.contains_key(&key) {
                self.duplicates.push((pointer, key.clone()));
            }
            map.insert(key, value);
        }
        Ok(Json::Object(map))
    }
}
