//! Syntax errors as JSONata reports them: its code, its position, and the operators that
//! Step Functions' older JSONata does not know.

use jsonata_core::ast::{AstNode, BinaryOp};
use jsonata_core::parser::{self, Lexer, ParserError, Token};

use super::ast::any_node;
use crate::Error;

/// Step Functions runs JSONata 2.0.6, whose tokenizer has no `??` or `?:` (JSONata 2.1 added
/// them): there the second character is an operator with nothing before it. Reports that
/// error, with its position, for the first such operator in `source`, which parsed to `ast`.
pub(super) fn reject_later_operators(source: &str, ast: &AstNode) -> Result<(), Error> {
    let later = |node: &AstNode| {
        matches!(
            node,
            AstNode::Binary {
                op: BinaryOp::Coalesce | BinaryOp::Default,
                ..
            }
        )
    };
    if !(source.contains("??") || source.contains("?:")) || !any_node(ast, later) {
        return Ok(());
    }
    // Where: the first `??`/`?:` token. (A function signature such as `<s?:s>` lexes to one
    // too, but the AST above shows a real operator exists; a signature before it can only
    // misplace the position, never invent the error.)
    let first_later = |end: usize| {
        let mut lexer = Lexer::new(source[..end].to_owned());
        loop {
            match lexer.next_token() {
                Ok(Token::QuestionQuestion) => return Some('?'),
                Ok(Token::QuestionColon) => return Some(':'),
                Ok(Token::Eof) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let ends: Vec<usize> = source
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    // Shortest prefix holding such a token: its length is where 2.0.6 stops.
    let shortest = ends.partition_point(|&end| first_later(end).is_none());
    let symbol = ends
        .get(shortest)
        .and_then(|&end| first_later(end))
        .unwrap_or('?');
    let mut error = Error::new(
        "S0211",
        format!("The symbol \"{symbol}\" cannot be used as a unary operator"),
    );
    error.position = ends.get(shortest).map(|_| shortest + 1);
    Err(error)
}

/// Codes of a parse that failed only because the text stopped early.
const END_OF_TEXT_CODES: &[&str] = &["S0101", "S0105", "S0106", "S0203", "S0207"];

/// [`syntax_error`] with JSONata's `position`: the offset (in characters) just past the token
/// where parsing failed. The backend reports none, so it is found as the shortest prefix of
/// `source` that fails the same way for a reason other than ending early; `None` when no
/// prefix does (an error found only after the whole text was read).
pub(super) fn located_syntax_error(source: &str, e: &ParserError) -> Error {
    let mut error = syntax_error(e);
    let ends: Vec<usize> = source
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    // A prefix that ends inside a lambda's signature can hold one the backend would slice
    // inside a character (`signature`), though the whole text failed elsewhere: such a
    // prefix is not parsed, and counts as one the text could still complete.
    let parse = |end: usize| {
        let prefix = &source[..end];
        super::signature::check(prefix)
            .ok()
            .map(|()| parser::parse(prefix))
    };
    let fails_early = |&end: &usize| match parse(end) {
        None | Some(Ok(_)) => false,
        Some(Err(e)) => !END_OF_TEXT_CODES.contains(&syntax_error(&e).code.as_str()),
    };
    // Failing is (nearly) monotonic in the prefix length: a parser reading left to right
    // that fails on a prefix fails on every longer one.
    let shortest = ends.partition_point(|end| !fails_early(end));
    if let Some(&end) = ends.get(shortest) {
        let at_prefix = parse(end).and_then(Result::err).map(|e| syntax_error(&e));
        if at_prefix.is_some_and(|p| p.code == error.code) {
            error.position = Some(shortest + 1);
        }
    }
    error
}

pub(super) fn syntax_error(e: &ParserError) -> Error {
    // The one parse error the backend reports without JSONata's code.
    let fallback = match e {
        ParserError::UnclosedComment => "S0106",
        _ => "S0201",
    };
    Error::from_coded_message(&e.to_string(), fallback)
}
