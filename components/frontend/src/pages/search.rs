//! The filter forms of `/releases` and `/audit`: what each field is called, what the reader
//! typed (shown back in the form), and the API query it becomes. The API validates the
//! values, as it does for every client; when it refuses one, [`Search::refused`] turns its
//! problem into a page that names the field and gives the ledger's reason.

use crate::backend::BackendError;
use crate::error::ConsoleError;
use crate::http::encode_query_value;

/// One field of a filter form.
pub struct Spec {
    /// The query parameter, the same in the console's address and the API's.
    pub name: &'static str,
    pub label: &'static str,
    /// A hint shown in an empty text field.
    pub example: &'static str,
    /// A closed set of values (a select); empty for free text.
    pub choices: &'static [&'static str],
}

pub const RELEASE_FILTERS: &[Spec] = &[
    Spec {
        name: "version",
        label: "Version starts with",
        example: "1.4",
        choices: &[],
    },
    Spec {
        name: "state",
        label: "Approval",
        example: "",
        choices: &ledger::filters::ApprovalFilter::WORDS,
    },
    Spec {
        name: "cluster",
        label: "Deployed to",
        example: "prod-east",
        choices: &[],
    },
    Spec {
        name: "person",
        label: "Person",
        example: "alice",
        choices: &[],
    },
];

pub const AUDIT_FILTERS: &[Spec] = &[
    Spec {
        name: "action",
        label: "Action",
        example: "",
        choices: ledger::filters::AUDIT_ACTIONS,
    },
    Spec {
        name: "actor",
        label: "Actor",
        example: "alice",
        choices: &[],
    },
    Spec {
        name: "target",
        label: "Target",
        example: "release/1.4.0",
        choices: &[],
    },
];

/// A `<select>` option.
pub struct Choice {
    pub value: &'static str,
    pub selected: bool,
}

/// A field as the form shows it.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub example: &'static str,
    pub value: String,
    /// Empty for a text field.
    pub choices: Vec<Choice>,
}

/// A filter form, filled in from the page's address.
pub struct Search {
    /// The page the form submits to, e.g. `/releases`.
    pub action: &'static str,
    pub fields: Vec<Field>,
}

impl Search {
    /// The form of SPECS with the values PARAM gives (empty ones are no filter).
    pub fn read(
        action: &'static str,
        specs: &[Spec],
        param: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut fields = Vec::new();
        for spec in specs {
            let value = param(spec.name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            let choices = spec
                .choices
                .iter()
                .map(|c| Choice {
                    value: c,
                    selected: *c == value,
                })
                .collect();
            fields.push(Field {
                name: spec.name,
                label: spec.label,
                example: spec.example,
                value,
                choices,
            });
        }
        Self { action, fields }
    }

    /// The API's refusal of one of this form's fields as a page naming it; any other error
    /// as it was.
    pub fn refused(&self, error: BackendError) -> ConsoleError {
        if let BackendError::Refused {
            field: Some(field),
            detail: Some(detail),
            ..
        } = &error
            && let Some(f) = self.fields.iter().find(|f| f.name == field)
        {
            // The API's detail starts with the field's name, which the label replaces.
            let reason = detail.strip_prefix(&format!("{field}: ")).unwrap_or(detail);
            return ConsoleError::BadFilter {
                label: f.label,
                reason: reason.trim_end_matches('.').to_owned(),
            };
        }
        error.into()
    }

    /// Whether any filter is set.
    pub fn active(&self) -> bool {
        self.fields.iter().any(|f| !f.value.is_empty())
    }

    /// `name=value&…` of the filters set, percent-encoded; empty when none is.
    pub fn query(&self) -> String {
        self.fields
            .iter()
            .filter(|f| !f.value.is_empty())
            .map(|f| format!("{}={}", f.name, encode_query_value(&f.value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// PATH with the filters set, as the pager's and the API's base.
    pub fn on(&self, path: &str) -> String {
        match self.query() {
            query if query.is_empty() => path.to_owned(),
            query => format!("{path}?{query}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: &[(&str, &str)]) -> Search {
        Search::read("/releases", RELEASE_FILTERS, |name| {
            query
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn filters_become_the_api_query_and_refusals_name_their_field() {
        let search = read(&[("version", " 1.4 "), ("state", "pending"), ("person", "")]);
        assert!(search.active());
        assert_eq!(
            search.on("/api/releases"),
            "/api/releases?version=1.4&state=pending"
        );
        assert!(
            search.fields[1]
                .choices
                .iter()
                .any(|c| c.value == "pending" && c.selected)
        );
        assert_eq!(read(&[]).on("/releases"), "/releases");
        assert_eq!(read(&[("version", "1.0.0+b")]).query(), "version=1.0.0%2Bb");
        let refusal = |field: &str| BackendError::Refused {
            log: "GET …: 422".into(),
            field: Some(field.into()),
            detail: Some(format!("{field}: `dаve` mixes scripts.")),
        };
        match search.refused(refusal("person")) {
            ConsoleError::BadFilter { label, reason } => {
                assert_eq!((label, reason.as_str()), ("Person", "`dаve` mixes scripts"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            search.refused(refusal("cursor")),
            ConsoleError::Backend(BackendError::Refused { .. })
        ));
    }
}
