//! Function signatures jsonata-core 2.2.13 cannot read, refused before it reads them.
//!
//! The backend checks a lambda's signature (`function($x)<n:n>{...}`) while it parses, and
//! again at each call. It finds the `:` before the return type by counting characters and
//! then slices the text at that count as a byte offset: a character that is not ASCII before
//! the colon (`<(ns)é:n>`, found by the fuzz campaign of 2026-12-05) puts the offset inside
//! it, and the parser panics. No signature type is written with such a character (jsonata-js
//! skips any character it does not know; the backend, once past the slicing, rejects it), so
//! such a signature is a syntax error here, reported before the backend sees the text.

use jsonata_core::parser::{Lexer, Token};

use crate::Error;

/// The error of a signature holding `c`.
fn refused(signature: &str, c: char) -> Error {
    Error::new(
        "S0201",
        format!(
            "Syntax error: the function signature {signature} holds '{c}', which names no type"
        ),
    )
}

/// Refuses `source` if a lambda in it has a signature the backend would slice inside a
/// character. Lexes the text as the backend's parser does (its own lexer), so strings,
/// comments and regular expressions are told apart from code; stops at the first lexical
/// error, where the parser stops too.
pub(super) fn check(source: &str) -> Result<(), Error> {
    if source.is_ascii() {
        return Ok(());
    }
    let mut lexer = Lexer::new(source.to_owned());
    let mut tokens = Vec::new();
    while let Ok(token) = lexer.next_token() {
        if token == Token::Eof {
            break;
        }
        tokens.push(token);
    }
    let mut at = 0;
    while at < tokens.len() {
        if let Some((signature, end)) = signature_at(&tokens, at) {
            if let Some(c) = misread(&signature) {
                return Err(refused(&signature, c));
            }
            at = end;
        } else {
            at += 1;
        }
    }
    Ok(())
}

/// The signature of the lambda whose `function`/`λ` token is `tokens[at]`, as the backend's
/// parser writes it out (`parse_signature`), and the index after it.
fn signature_at(tokens: &[Token], at: usize) -> Option<(String, usize)> {
    let Token::Function(_) = tokens.get(at)? else {
        return None;
    };
    if tokens.get(at + 1)? != &Token::LeftParen {
        return None;
    }
    // Parameters: variables separated by commas (anything else is a parse error first).
    let mut next = at + 2;
    while let Some(token) = tokens.get(next) {
        match token {
            Token::RightParen => break,
            Token::Variable(_) | Token::Comma => next += 1,
            _ => return None,
        }
    }
    next += 1;
    if tokens.get(next)? != &Token::LessThan {
        return None;
    }
    let mut signature = String::from("<");
    let mut depth = 1;
    next += 1;
    while depth > 0 {
        let Some(token) = tokens.get(next) else {
            break;
        };
        next += 1;
        match token {
            Token::LessThan => {
                depth += 1;
                signature.push('<');
            }
            Token::GreaterThan => {
                depth -= 1;
                if depth > 0 {
                    signature.push('>');
                }
            }
            Token::Minus => signature.push('-'),
            Token::Plus => signature.push('+'),
            Token::Colon => signature.push(':'),
            Token::Question => signature.push('?'),
            Token::QuestionColon => signature.push_str("?:"),
            Token::Identifier(name) => signature.push_str(name),
            Token::LeftParen => signature.push('('),
            Token::RightParen => signature.push(')'),
            // The parser stops with an error of its own.
            _ => return None,
        }
    }
    signature.push('>');
    Some((signature, next))
}

/// The character that makes the backend misread `signature`: one that is not ASCII before
/// the first `:` outside nested `<...>` (where its character count and byte offset part).
fn misread(signature: &str) -> Option<char> {
    let inner = signature.strip_prefix('<')?.strip_suffix('>')?;
    let mut depth = 0i32;
    let mut first_wide = None;
    for c in inner.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ':' if depth == 0 => return first_wide,
            _ => {}
        }
        if !c.is_ascii() && first_wide.is_none() {
            first_wide = Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_character_before_the_return_type_is_refused_by_name() {
        let error = check("function($num)<(ns)é:n>{1}").unwrap_err();
        assert_eq!(error.code, "S0201");
        assert!(error.message.contains("<(ns)é:n>"), "{}", error.message);
        assert!(error.message.contains("'é'"), "{}", error.message);
        assert!(check("λ($a, $b)<né-n:n>{1}").is_err());
    }

    #[test]
    fn what_the_backend_reads_correctly_is_left_to_it() {
        for source in [
            "function($x)<n:n>{$x & 'é'}",
            // After the colon, or with no colon: character and byte offsets agree.
            "function($x)<n:é>{1}",
            "function($x)<né>{1}",
            // Inside nested brackets the colon is not the separator.
            "function($f)<f<n:n>:n>{1}",
            // Not code: a string, a comment.
            "'function($x)<é:n>{1}'",
            "/* function($x)<é:n> */ 1",
            "$f('é')",
        ] {
            assert!(check(source).is_ok(), "{source}");
        }
        assert_eq!(misread("<f<é:n>:n>"), Some('é'));
    }
}
