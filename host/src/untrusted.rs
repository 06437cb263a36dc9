//! Text a rule controls (its log lines, its `err` message, its stderr, names in its decision) on
//! its way into the server's log and `eval`'s output.
//!
//! Such text is escaped like [`str::escape_debug`], so that a `\n` cannot forge a log line and an
//! ESC byte cannot reach an operator's terminal, and it is capped *after* escaping, so that what
//! is written is bounded whatever the guest sent. Escaping stops at the cap: a 10 MB message
//! costs no more than the cap to process. Quotes are kept as they are (they forge nothing, and
//! `'int' object is not iterable` reads better unescaped).
//!
//! The secrets of a call (a password, a one-time code) are masked in such text ([`redact`]) before
//! it is escaped, wherever it goes.
//!
//! Multi-line text that is meant to be read (an error of wasmtime's, which prints byte lists one
//! per line) goes through [`one_line`] first, so that it stays readable on its one line.

use std::fmt;

/// Appended to text that was cut at its cap.
pub const TRUNCATED: &str = " …[truncated]";

/// Escaped, capped guest text, ready to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestText(String);

impl GuestText {
    /// `text` escaped, at most `max_bytes` of the escaped form, marked with [`TRUNCATED`] when
    /// cut (the marker is not counted).
    pub fn new(text: &str, max_bytes: usize) -> GuestText {
        let mut escaped = String::with_capacity(text.len().min(max_bytes));
        for c in text.chars() {
            let escape = c.escape_debug();
            // An escape is ASCII; an unescaped character keeps its UTF-8 length.
            let quote = matches!(c, '\'' | '"');
            let bytes = if escape.len() == 1 || quote {
                c.len_utf8()
            } else {
                escape.len()
            };
            if escaped.len() + bytes > max_bytes {
                escaped.push_str(TRUNCATED);
                break;
            }
            if quote {
                escaped.push(c);
            } else {
                escaped.extend(escape);
            }
        }
        GuestText(escaped)
    }

    /// `text` made one line with [`one_line`], then escaped and capped as [`GuestText::new`]
    /// does: for multi-line errors (a load failure, a guest's stderr) that should stay readable.
    pub fn one_line(text: &str, max_bytes: usize) -> GuestText {
        GuestText::new(&one_line(text), max_bytes)
    }

    /// Whether the text was cut at its cap.
    pub fn was_cut(&self) -> bool {
        self.0.ends_with(TRUNCATED)
    }

    /// The escaped text's length in bytes (marker included).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` on one line: each run of whitespace that holds a line break, a tab or any whitespace
/// other than a space becomes a single space, and the ends are trimmed. wasmtime's
/// `bad magic number - expected=[\n    0x0,\n    0x61, …` becomes
/// `bad magic number - expected=[ 0x0, 0x61, …`. Other control characters are left for
/// [`GuestText`] to escape.
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut run = String::new();
    let mut breaks = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            breaks |= c != ' ';
            run.push(c);
            continue;
        }
        if breaks {
            line.push(' ');
        } else {
            line.push_str(&run);
        }
        run.clear();
        breaks = false;
        line.push(c);
    }
    line
}

impl fmt::Display for GuestText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What replaces a secret of the call in guest text.
pub const REDACTED: &str = "[redacted]";

/// `text` with every occurrence of each of `secrets` replaced by [`REDACTED`] (longest first, so
/// that a secret containing another is masked whole).
pub fn redact<'a>(text: &'a str, secrets: &[String]) -> std::borrow::Cow<'a, str> {
    if !secrets.iter().any(|secret| text.contains(secret.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut secrets: Vec<&String> = secrets.iter().collect();
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), REDACTED);
    }
    std::borrow::Cow::Owned(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_so_no_line_can_be_forged() {
        let text = GuestText::new("ok\n2026-01-01 INFO forged\u{1b}[2J", 100);
        assert_eq!(text.as_str(), "ok\\n2026-01-01 INFO forged\\u{1b}[2J");
        assert!(!text.was_cut());
    }

    #[test]
    fn quotes_are_kept() {
        let text = GuestText::new(r#"TypeError: 'int' object is not "iterable""#, 100);
        assert_eq!(
            text.as_str(),
            r#"TypeError: 'int' object is not "iterable""#
        );
        assert_eq!(GuestText::new("a'b", 2).as_str(), format!("a'{TRUNCATED}"));
    }

    #[test]
    fn multi_line_text_becomes_one_readable_line() {
        let wasmtime = "failed to parse WebAssembly module\n\nCaused by:\n    bad magic number - \
                        expected=[\n    0x0,\n    0x61,\n] actual=[\n    0x23,\n]\n";
        assert_eq!(
            one_line(wasmtime),
            "failed to parse WebAssembly module Caused by: bad magic number - expected=[ 0x0, \
             0x61, ] actual=[ 0x23, ]"
        );
        assert_eq!(one_line("  a  b\tc\r\nd \u{1b}e  "), "a  b c d \u{1b}e");
        assert_eq!(one_line(""), "");
        let text = GuestText::one_line("line one\nline two \u{1b}[2J", 100);
        assert_eq!(text.as_str(), "line one line two \\u{1b}[2J");
    }

    #[test]
    fn the_cap_applies_to_the_escaped_form_and_stops_early() {
        let huge = "\u{1b}".repeat(10 << 20);
        let text = GuestText::new(&huge, 64);
        assert!(text.was_cut());
        assert!(text.len() <= 64 + TRUNCATED.len(), "{}", text.len());
        assert_eq!(GuestText::new("abc", 0).as_str(), TRUNCATED);
        assert_eq!(GuestText::new("", 0).as_str(), "");
        // Multi-byte characters are never split.
        assert_eq!(GuestText::new("ééé", 5).as_str(), format!("éé{TRUNCATED}"));
    }

    #[test]
    fn every_occurrence_of_a_secret_is_masked_longest_first() {
        let secrets = ["Okta".to_owned(), "Okta123".to_owned()];
        assert_eq!(
            redact("password Okta123, then Okta again", &secrets),
            "password [redacted], then [redacted] again"
        );
        let untouched = redact("nothing secret here", &secrets);
        assert!(matches!(untouched, std::borrow::Cow::Borrowed(_)));
        assert_eq!(redact("any text", &[]), "any text");
    }
}
