//! Definitions as users keep them: JSON or YAML, under the names faastlane and SAM use, with
//! `${Name}` placeholders filled as Step Functions' `DefinitionSubstitutions` fill them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

/// The definition file of directory `dir`: exactly one of [`platform::definition::NAMES`].
pub fn find_in(dir: &Path) -> Result<PathBuf> {
    Ok(platform::definition::find_in(dir)?)
}

/// The definition's JSON text: `text` itself for a JSON file, converted for a YAML one.
pub fn to_json_text(path: &Path, text: &str) -> Result<String> {
    Ok(platform::definition::to_json_text(path, text)?)
}

/// `${Name}` -> value, from `--substitute Name=VALUE` and `--substitutions FILE`.
#[derive(Debug, Default, Clone)]
pub struct Substitutions(BTreeMap<String, String>);

impl Substitutions {
    /// Reads `file` (a JSON object of names to strings, numbers or booleans), then the
    /// `Name=VALUE` pairs, which win over the file's.
    pub fn read(file: Option<&Path>, pairs: &[String]) -> Result<Self> {
        let mut map = BTreeMap::new();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading substitutions from {}", file.display()))?;
            let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{} must be a JSON object of names to values",
                        file.display()
                    )
                })?;
            for (name, value) in json {
                let value = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => bail!(
                        "{}: substitution '{name}' must be a string, number or boolean, not {other}",
                        file.display()
                    ),
                };
                map.insert(name, value);
            }
        }
        for pair in pairs {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("--substitute '{pair}' is not of the form Name=VALUE"))?;
            if name.is_empty() {
                bail!("--substitute '{pair}' has no name before '='");
            }
            map.insert(name.to_owned(), value.to_owned());
        }
        Ok(Substitutions(map))
    }

    /// `text` with every `${Name}` replaced by its value, as Step Functions does before it
    /// reads the definition. A placeholder without a value is an error naming it and its line.
    pub fn apply(&self, text: &str) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut missing = Vec::new();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            match self.0.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    if valid_name {
                        let line = text[..text.len() - rest.len() + start]
                            .lines()
                            .count()
                            .max(1);
                        missing.push(format!("${{{name}}} (line {line})"));
                    }
                    out.push_str(&rest[start..start + 2 + end + 1]);
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        if !missing.is_empty() {
            bail!(
                "the definition uses {} with no value: pass --substitute Name=VALUE or --substitutions FILE",
                missing.join(", ")
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[&str]) -> Substitutions {
        let pairs: Vec<String> = pairs.iter().map(|s| (*s).to_owned()).collect();
        Substitutions::read(None, &pairs).expect("pairs")
    }

    #[test]
    fn placeholders_are_replaced_everywhere_in_the_text() {
        let s = subs(&["Fn=arn:aws:lambda:eu-west-1:1:function:f", "T=5"]);
        assert_eq!(
            s.apply(r#"{"Resource": "${Fn}", "TimeoutSeconds": ${T}, "x": "${Fn}/${T}"}"#)
                .expect("applied"),
            r#"{"Resource": "arn:aws:lambda:eu-west-1:1:function:f", "TimeoutSeconds": 5, "x": "arn:aws:lambda:eu-west-1:1:function:f/5"}"#
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_named_with_its_line() {
        let e = subs(&["A=1"])
            .apply("{\n  \"a\": \"${A}\",\n  \"b\": \"${Missing}\"\n}")
            .expect_err("missing");
        assert!(e.to_string().contains("${Missing} (line 3)"), "{e}");
    }

    #[test]
    fn text_that_is_not_a_placeholder_is_kept() {
        let s = subs(&[]);
        assert_eq!(s.apply("a $ b ${ c").expect("kept"), "a $ b ${ c");
        assert_eq!(s.apply("${}").expect("kept"), "${}");
    }

    #[test]
    fn a_pair_without_equals_is_an_error() {
        let e = Substitutions::read(None, &["Name".to_owned()]).expect_err("bad pair");
        assert!(e.to_string().contains("Name=VALUE"), "{e}");
    }
}
