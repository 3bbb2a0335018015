//! clap's usage errors on one line, for logs that keep a line per failure (Kestra's, Rundeck's)
//! without losing what clap said: the missing arguments, the possible values, the suggestion
//! and the usage, only the pointer to `--help` dropped.

/// clap's rendered error (without colour) as one line, without its `error: ` prefix.
pub fn one_line(rendered: &str) -> String {
    let mut line = String::new();
    // After a line ending in ':', the indented lines that follow are its list.
    let mut listing = false;
    for text in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if text.starts_with("For more information, try") {
            continue;
        }
        let text = text.strip_prefix("error: ").unwrap_or(text);
        let separator = match (line.is_empty(), listing) {
            (true, _) => "",
            (false, true) if !text.starts_with("Usage:") && !text.starts_with("tip:") => {
                if line.ends_with(':') { " " } else { ", " }
            }
            _ => "; ",
        };
        let text = text
            .strip_prefix("Usage: ")
            .map_or(text.to_owned(), |usage| format!("usage: {usage}"));
        line.push_str(separator);
        if separator == "; " {
            listing = false;
        }
        line.push_str(&text);
        if text.ends_with(':') {
            listing = true;
        }
    }
    if line.is_empty() {
        "invalid arguments".into()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn lists_values_and_tips_stay_on_the_line() {
        let missing = "error: the following required arguments were not provided:\n  \
                       --artifact <ARTIFACT>\n  --digest <DIGEST>\n\nUsage: relctl record-release \
                       --version <VERSION>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(missing),
            "the following required arguments were not provided: --artifact <ARTIFACT>, \
             --digest <DIGEST>; usage: relctl record-release --version <VERSION>"
        );
        let value = "error: invalid value 'prod' for '--environment <ENVIRONMENT>'\n  \
                     [possible values: staging, production]\n\n  tip: a similar value exists: \
                     'production'\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(value),
            "invalid value 'prod' for '--environment <ENVIRONMENT>'; [possible values: \
             staging, production]; tip: a similar value exists: 'production'"
        );
    }
}
