//! One identity per person: the canonical form of a token's subject.
//!
//! The four-eyes rule compares subjects, so two spellings a person would read as the same name
//! (`alice`, `Alice`, `ａｌｉｃｅ` in full width, `alice` with a zero-width space, `аlice` with a
//! Cyrillic `а`) must either be the same subject or be refused. The rule:
//!
//! 1. Unicode NFKC, then lowercase, then NFKC again (compatibility forms and case fold away:
//!    full-width letters, ligatures, `ℌ`, `Alice`);
//! 2. refused: control, format, private-use, unassigned and default-ignorable characters
//!    (zero-width spaces and joiners, bidi controls, variation selectors, Hangul fillers), and
//!    any white space but a single inner space;
//! 3. the letters (digits, punctuation and spaces belong to no script and go with any) must
//!    meet Unicode's "highly restrictive" level (UTS #39 §5.2, through `unicode-security`): one
//!    script, or Han with Hiragana and Katakana, Han with Bopomofo, or Han with Hangul, each
//!    also with Latin. So `山田たろう` is a name, and `аlice` with a Cyrillic `а` is refused;
//! 4. refused: a name written wholly in another script that reads as a Latin one (UTS #39
//!    §4, whole-script confusables: its skeleton is Latin), so an all-Cyrillic `аlісе` cannot
//!    pass as `alice`. Names in Latin letters come first: they are what most subjects are;
//! 5. 1 to 128 characters once canonical.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::{
    GeneralSecurityProfile, MixedScript, RestrictionLevel, RestrictionLevelDetection, skeleton,
};

pub const MAX_SUBJECT_CHARS: usize = 128;

/// The canonical form of `text`, or why it cannot be shown unambiguously.
pub fn canonical_subject(text: &str) -> Result<String, String> {
    let folded: String = text
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect();
    if let Some(c) = folded.chars().find(|&c| invisible(c)) {
        return Err(format!(
            "a subject may not contain the invisible or control character U+{:04X}",
            c as u32
        ));
    }
    if folded.trim() != folded
        || folded.contains("  ")
        || folded.chars().any(|c| c.is_whitespace() && c != ' ')
    {
        return Err("a subject may contain single inner spaces only".into());
    }
    let letters = letters_of(&folded);
    if !letters
        .as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
    {
        return Err(format!(
            "a subject may not mix letters of these scripts, or use a script restricted from \
             identifiers: {}",
            scripts_of(&letters)
        ));
    }
    if !letters.is_empty() && !is_latin(&letters) && reads_as_latin(&folded) {
        return Err(format!(
            "a subject in {} letters may not read as a name in Latin letters",
            scripts_of(&letters)
        ));
    }
    let count = folded.chars().count();
    if !(1..=MAX_SUBJECT_CHARS).contains(&count) {
        return Err(format!(
            "a subject must be 1 to {MAX_SUBJECT_CHARS} characters"
        ));
    }
    Ok(folded)
}

/// The characters of TEXT that belong to a script: what restriction levels are about.
fn letters_of(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(
                c.script(),
                Script::Common | Script::Inherited | Script::Unknown
            )
        })
        .collect()
}

/// Whether LETTERS (at least one) are all Latin.
fn is_latin(letters: &str) -> bool {
    !letters.is_empty()
        && letters
            .resolve_script_set()
            .base
            .contains_script(Script::Latin)
}

/// Whether TEXT's skeleton (UTS #39 §4: what it looks like) is a name someone could write in
/// Latin letters: its letters are all Latin and allowed in identifiers. (A Cyrillic `ирина`
/// looks like `ᴎpᴎʜa`, small capitals no name is written with; `аlісе` looks like `alice`.)
fn reads_as_latin(text: &str) -> bool {
    let looks_like = letters_of(&skeleton(text).collect::<String>());
    is_latin(&looks_like)
        && looks_like
            .chars()
            .all(GeneralSecurityProfile::identifier_allowed)
}

/// The scripts of LETTERS, named for a refusal, in the order they first appear.
fn scripts_of(letters: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for name in letters.chars().map(|c| c.script().full_name()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

/// Characters that show nothing, or change how others show.
fn invisible(c: char) -> bool {
    let category = c.general_category();
    matches!(
        category,
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || default_ignorable(c)
}

/// Default-ignorable code points that are not format characters (Unicode's
/// `Default_Ignorable_Code_Point`, less the `Cf` ones caught above).
fn default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x034F | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F | 0x3164
        | 0xFE00..=0xFE0F | 0xFFA0 | 0x1BCA0..=0x1BCA3 | 0xE0000..=0xE0FFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_a_person_reads_alike_become_one_subject() {
        for spelling in ["alice", "Alice", "ALICE", "ａｌｉｃｅ", "Ａlice"] {
            assert_eq!(canonical_subject(spelling).unwrap(), "alice", "{spelling}");
        }
        assert_eq!(canonical_subject("ﬁona").unwrap(), "fiona");
        assert_eq!(
            canonical_subject("kestra-ci@acme.io").unwrap(),
            "kestra-ci@acme.io"
        );
        assert_eq!(canonical_subject("Ana María").unwrap(), "ana maría");
        // Composed and decomposed accents are the same name.
        assert_eq!(
            canonical_subject("jose\u{301}").unwrap(),
            canonical_subject("josé").unwrap()
        );
        assert_eq!(canonical_subject("Ирина").unwrap(), "ирина");
        assert_eq!(canonical_subject("田中").unwrap(), "田中");
        // Highly restrictive: Han with Hiragana and Katakana is one Japanese name, Han with
        // Hangul one Korean name, Latin with either is allowed too.
        for name in [
            "山田たろう",
            "やまだ タロウ",
            "김민준",
            "金民俊 김",
            "li 李",
            "Σωκράτης",
        ] {
            assert!(canonical_subject(name).is_ok(), "{name} should be accepted");
        }
    }

    #[test]
    fn names_that_cannot_be_shown_unambiguously_are_refused() {
        for bad in [
            "ali\u{200B}ce",  // zero-width space
            "ali\u{200D}ce",  // zero-width joiner
            "\u{202E}ecila",  // right-to-left override
            "alice\u{2066}",  // bidi isolate
            "ali\u{FE0F}ce",  // variation selector
            "\u{3164}alice",  // Hangul filler
            "a\u{E0041}lice", // tag character
            "аlice",          // Cyrillic а among Latin letters
            "alicе",          // Cyrillic е at the end
            "αlice",          // Greek alpha
            "аlісе",          // all Cyrillic, and reads as alice
            "Сосо",           // all Cyrillic, reads as coco
            "山田たろうи",    // Japanese with a Cyrillic letter
            "al\tice",
            "al\u{00A0}\u{00A0}ice", // two no-break spaces fold to two spaces
            " alice",
            "alice\n",
            "",
            &"x".repeat(129),
        ] {
            assert!(canonical_subject(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
