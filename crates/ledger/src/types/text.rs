//! Free text (notes, messages, comments): any characters but most control characters, up to a
//! length.

use super::{Invalid, invalid};

/// The longest release notes, deployment message and decision comment, in characters.
pub const MAX_NOTES: usize = 10_000;
pub const MAX_MESSAGE: usize = 2_000;
pub const MAX_COMMENT: usize = 2_000;

/// Free text: any characters but the control characters other than tab and line breaks.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$";

/// Free text with a length limit, such as release notes or a decision's comment
/// ([`TEXT_PATTERN`]).
pub fn bounded_text(text: &str, max_chars: usize) -> Result<String, Invalid> {
    let control = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}');
    if text.chars().count() > max_chars {
        invalid(format!("at most {max_chars} characters"))
    } else if text.chars().any(control) {
        invalid("control characters other than tab and line breaks are not text")
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_counts_characters() {
        assert!(bounded_text("ñññ", 3).is_ok());
        assert!(bounded_text("ññññ", 3).is_err());
    }
}
