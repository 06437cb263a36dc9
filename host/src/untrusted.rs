//! Text a rule controls (its log lines, its `err` message, its stderr, names in its decision) on
//! its way into the server's log and `eval`'s output.
//!
//! Such text is escaped like [`str::escape_debug`], so that a `\n` cannot forge a log line and an
//! ESC byte cannot reach an operator's terminal, and it is capped *after* escaping, so that what
//! is written is bounded whatever the guest sent. Escaping stops at the cap: a 10 MB message
//! costs no more than the cap to process.

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
            let bytes = if escape.len() == 1 {
                c.len_utf8()
            } else {
                escape.len()
            };
            if escaped.len() + bytes > max_bytes {
                escaped.push_str(TRUNCATED);
                break;
            }
            escaped.extend(escape);
        }
        GuestText(escaped)
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

impl fmt::Display for GuestText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
}
