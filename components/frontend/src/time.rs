//! Times as operators read them: "5 min ago", with the exact UTC time a hover away.
//!
//! The backend writes RFC 3339 in UTC (`2026-11-26T14:09:42.123Z`); the console parses it once
//! and renders both forms. `console.js` repeats [`relative`]'s wording to keep pages current.

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// One instant, ready for a `<time>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// Machine-readable, for the `datetime` attribute (the backend's own text).
    pub iso: String,
    /// "5 min ago", or the backend's text when it cannot be read.
    pub relative: String,
    /// "2026-11-26 14:09:42 UTC", for the tooltip.
    pub absolute: String,
}

impl Moment {
    pub fn new(rfc3339: &str, now: Millis) -> Self {
        match parse_rfc3339(rfc3339) {
            Some(at) => Self {
                iso: rfc3339.to_owned(),
                relative: relative(now - at),
                absolute: absolute(at),
            },
            None => Self {
                iso: rfc3339.to_owned(),
                relative: rfc3339.to_owned(),
                absolute: rfc3339.to_owned(),
            },
        }
    }
}

/// How long ago, in the largest unit that keeps the number readable. Times in the future (a
/// clock a little ahead of ours) read "just now".
pub fn relative(elapsed: Millis) -> String {
    let secs = elapsed / 1000;
    match secs {
        ..=9 => "just now".to_owned(),
        10..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn absolute(at: Millis) -> String {
    let secs = at.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = ledger::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` with the ledger's own parser, the one that
/// reads times into the ledger: one rule for which dates exist on both sides.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    ledger::Timestamp::parse_rfc3339(text).map(|at| at.as_micros().div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-11-26T14:09:42.123Z";
    const AT_MS: Millis = 1_795_702_182_123;

    #[test]
    fn reads_the_backends_timestamps() {
        assert_eq!(parse_rfc3339(AT), Some(AT_MS));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-26T15:09:42.123+01:00"), Some(AT_MS));
        assert_eq!(parse_rfc3339("2026-11-26T14:09:42.123456Z"), Some(AT_MS));
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00.5Z"),
            Some(951_782_400_500)
        );
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-02-31T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T14:09:42",
            "2026-11-26T14:09:42.Z",
            "2026-11-26T14:09:42+1:00",
            "2026-1a-26T14:09:42Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn absolute_times_are_utc_to_the_second() {
        assert_eq!(absolute(AT_MS), "2026-11-26 14:09:42 UTC");
        assert_eq!(absolute(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(absolute(-1000), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn relative_times_use_the_largest_readable_unit() {
        let cases = [
            (-5_000, "just now"),
            (0, "just now"),
            (9_999, "just now"),
            (10_000, "10 s ago"),
            (59_999, "59 s ago"),
            (60_000, "1 min ago"),
            (5 * 60_000 + 30_000, "5 min ago"),
            (3_600_000, "1 h ago"),
            (47 * 3_600_000, "47 h ago"),
            (48 * 3_600_000, "2 days ago"),
            (400 * 86_400_000, "400 days ago"),
        ];
        for (elapsed, want) in cases {
            assert_eq!(relative(elapsed), want, "{elapsed} ms");
        }
    }

    #[test]
    fn a_moment_keeps_the_original_text_for_the_datetime_attribute() {
        let moment = Moment::new(AT, AT_MS + 5 * 60_000);
        assert_eq!(moment.iso, AT);
        assert_eq!(moment.relative, "5 min ago");
        assert_eq!(moment.absolute, "2026-11-26 14:09:42 UTC");
        let unreadable = Moment::new("soon", AT_MS);
        assert_eq!(unreadable.relative, "soon");
    }
}
