//! The Spin variables a component reads, declared once: `spin.toml` must declare each with the
//! same default and secrecy, and its component's README must explain each (tests hold
//! all three together).

/// A Spin variable a component reads.
pub struct Variable {
    pub name: &'static str,
    /// The default `spin.toml` declares, used when the variable is not set.
    pub default: &'static str,
    pub secret: bool,
    /// What it does, for the configuration table.
    pub meaning: &'static str,
}

/// NAME's value as READ finds it, else its default among DECLARED (empty when undeclared).
pub fn value_or_default(
    declared: &[Variable],
    read: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> String {
    read(name).unwrap_or_else(|| {
        let known = declared.iter().find(|v| v.name == name);
        known.map_or("", |v| v.default).to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: &[Variable] = &[Variable {
        name: "refresh_seconds",
        default: "15",
        secret: false,
        meaning: "",
    }];

    #[test]
    fn a_set_variable_wins_over_its_default_and_an_unknown_one_is_empty() {
        let set = |name: &str| (name == "refresh_seconds").then(|| "5".to_owned());
        let unset = |_: &str| None;
        assert_eq!(value_or_default(DECLARED, &set, "refresh_seconds"), "5");
        assert_eq!(value_or_default(DECLARED, &unset, "refresh_seconds"), "15");
        assert_eq!(value_or_default(DECLARED, &unset, "other"), "");
    }
}
