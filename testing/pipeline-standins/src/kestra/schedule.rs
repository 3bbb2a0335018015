//! What Kestra 2.0 checks when a flow with a `Schedule` trigger is saved
//! (`testing/reference/kestra/semantics.json`: `scheduleCron`, `timezone`,
//! `scheduleTriggerInputs`): the cron parses as cron-utils' UNIX definition reads it (five
//! fields, six with `withSeconds`, or a nickname), the time zone is a zone id, and every input
//! without a default gets a value from the trigger.

use crate::reference;
use serde_json::Value;

const NICKNAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field's bounds and the names it also takes (`JAN` is 1, `SUN` is 0).
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    first_named: u32,
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let number = match field.names.iter().position(|n| *n == upper) {
        Some(i) => i as u32 + field.first_named,
        None => text
            .parse::<u32>()
            .map_err(|_| format!("Invalid {} value: '{text}'", field.name))?,
    };
    if number < field.min || number > field.max {
        return Err(format!(
            "Value {number} not in range [{}, {}]",
            field.min, field.max
        ));
    }
    Ok(number)
}

/// One cron field: `*`, `a`, `a-b`, each optionally `/step`, joined by commas.
fn check_field(text: &str, field: &Field) -> Result<(), String> {
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n > 0 => {}
                _ => return Err(format!("Invalid increment '{step}' in {}", field.name)),
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (value(from, field)?, value(to, field)?);
                if from > to {
                    return Err(format!("Invalid range {from}-{to} in {}", field.name));
                }
            }
            None => {
                value(range, field)?;
            }
        }
    }
    Ok(())
}

/// Why CRON does not parse, if it does not.
pub fn cron_problem(cron: &str, with_seconds: bool) -> Option<String> {
    if NICKNAMES.contains(&cron.trim()) {
        return None;
    }
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let mut layout = vec![
        Field {
            name: "minute",
            min: 0,
            max: 59,
            names: &[],
            first_named: 0,
        },
        Field {
            name: "hour",
            min: 0,
            max: 23,
            names: &[],
            first_named: 0,
        },
        Field {
            name: "day of month",
            min: 1,
            max: 31,
            names: &[],
            first_named: 0,
        },
        Field {
            name: "month",
            min: 1,
            max: 12,
            names: &MONTHS,
            first_named: 1,
        },
        Field {
            name: "day of week",
            min: 0,
            max: 7,
            names: &DAYS,
            first_named: 0,
        },
    ];
    if with_seconds {
        layout.insert(
            0,
            Field {
                name: "second",
                min: 0,
                max: 59,
                names: &[],
                first_named: 0,
            },
        );
    }
    if fields.len() != layout.len() {
        return Some(format!(
            "Cron expression contains {} parts but we expect one of [{}]",
            fields.len(),
            layout.len()
        ));
    }
    fields
        .iter()
        .zip(&layout)
        .find_map(|(text, field)| check_field(text, field).err())
}

/// Whether NAME is a time-zone id Java's `ZoneId.of` takes: `Z`, `UTC`/`GMT`/`UT` with or
/// without an offset, an offset, or a region id of the tz database.
fn is_zone_id(name: &str) -> bool {
    let offset = |o: &str| {
        let o = o.strip_prefix(['+', '-']);
        o.is_some_and(|o| {
            let (h, m) = o.split_once(':').unwrap_or((o, "00"));
            h.len() <= 2
                && m.len() == 2
                && h.parse::<u32>().is_ok_and(|h| h <= 18)
                && m.parse::<u32>().is_ok_and(|m| m <= 59)
        })
    };
    if name == "Z" || offset(name) {
        return true;
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest.is_empty() || offset(rest);
        }
    }
    !name.contains("..")
        && name.contains('/')
        && std::path::Path::new("/usr/share/zoneinfo")
            .join(name)
            .is_file()
}

/// The violations of a Schedule trigger at PATH, in a flow whose inputs are INPUTS.
pub fn problems(semantics: &Value, trigger: &Value, inputs: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let with_seconds = trigger["withSeconds"] == true;
    match trigger["cron"].as_str() {
        Some(cron) => {
            if let Some(why) = cron_problem(cron, with_seconds) {
                let message = reference::kestra_message(semantics, "scheduleCron")
                    .replace("<cron>", cron)
                    .replace("<parser message>", &why);
                out.push(format!("{path}: {message}"));
            }
        }
        None => out.push(format!("{path}.cron: must not be null")),
    }
    if let Some(zone) = trigger["timezone"].as_str()
        && !is_zone_id(zone)
    {
        let message = reference::kestra_message(semantics, "timezone").replace("<value>", zone);
        out.push(format!("{path}.timezone: {message}"));
    }
    let given = &trigger["inputs"];
    let missing: Vec<&str> = inputs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|input| input.get("defaults").is_none())
        .filter_map(|input| input["id"].as_str())
        .filter(|id| given.get(id).is_none())
        .collect();
    if !missing.is_empty() {
        let id = trigger["id"].as_str().unwrap_or("");
        let message = reference::kestra_message(semantics, "scheduleTriggerInputs")
            .replace("<triggerId>", id)
            .replace("<id1> | <id2>", &missing.join(" | "));
        out.push(format!("flow: Invalid Flow: {message}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crons_parse_as_the_unix_definition_reads_them() {
        for good in [
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "0,30 8-18 1 JAN,jul 0",
            "@hourly",
            "0 0 * * 7",
        ] {
            assert_eq!(cron_problem(good, false), None, "{good}");
        }
        assert_eq!(cron_problem("0 */5 * * * *", true), None);
        for bad in [
            "*/5 * * *",
            "*/5 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "? * * * *",
            "* * L * *",
            "every 5 minutes",
        ] {
            assert!(cron_problem(bad, false).is_some(), "{bad}");
        }
    }

    #[test]
    fn zone_ids_are_javas() {
        for good in ["UTC", "Z", "Europe/Madrid", "+01:00", "GMT+2", "UTC-05:30"] {
            assert!(is_zone_id(good), "{good}");
        }
        for bad in [
            "Madrid",
            "Europe/Atlantis",
            "CEST",
            "+25:00",
            "../etc/passwd",
            "",
        ] {
            assert!(!is_zone_id(bad), "{bad}");
        }
    }
}
