//! The clusters the ledger knows, from the Spin variable `clusters`
//! (`staging=staging,prod-east=production,prod-west=production`).

use crate::types::{ClusterName, Environment, Invalid};

/// The default of the `clusters` variable, matching the Karmada member clusters.
pub const DEFAULT_CLUSTERS: &str = "staging=staging,prod-east=production,prod-west=production";

/// Configured clusters, in the order they were listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters(Vec<(ClusterName, Environment)>);

impl Clusters {
    /// Parses `name=environment` pairs separated by commas; spaces around items are ignored.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let mut clusters: Vec<(ClusterName, Environment)> = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let Some((name, environment)) = item.split_once('=') else {
                return Err(Invalid(format!("`{item}` is not `name=environment`")));
            };
            let name = ClusterName::parse(name.trim())?;
            let environment = Environment::parse(environment.trim())?;
            if clusters.iter().any(|(known, _)| *known == name) {
                return Err(Invalid(format!("cluster `{name}` is listed twice")));
            }
            clusters.push((name, environment));
        }
        if clusters.is_empty() {
            return Err(Invalid("no clusters are configured".into()));
        }
        Ok(Self(clusters))
    }

    pub fn environment_of(&self, name: &ClusterName) -> Option<Environment> {
        self.0
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, env)| *env)
    }

    /// The configuration with NAME alone (empty if NAME is not configured).
    pub fn only(&self, name: &ClusterName) -> Self {
        Self(
            self.0
                .iter()
                .filter(|(known, _)| known == name)
                .cloned()
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &(ClusterName, Environment)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default() {
        let clusters = Clusters::parse(DEFAULT_CLUSTERS).unwrap();
        let names: Vec<_> = clusters.iter().map(|(n, e)| format!("{n}:{e}")).collect();
        assert_eq!(
            names,
            [
                "staging:staging",
                "prod-east:production",
                "prod-west:production"
            ]
        );
        let east = ClusterName::parse("prod-east").unwrap();
        assert_eq!(
            clusters.environment_of(&east),
            Some(Environment::Production)
        );
        assert_eq!(
            clusters.environment_of(&ClusterName::parse("nowhere").unwrap()),
            None
        );
    }

    #[test]
    fn tolerates_spaces_and_a_trailing_comma() {
        assert_eq!(
            Clusters::parse(" a = staging , b=production ,")
                .unwrap()
                .iter()
                .count(),
            2
        );
    }

    #[test]
    fn refuses_bad_lists() {
        for bad in ["", "a", "a=qa", "A=staging", "a=staging,a=production", ",,"] {
            assert!(Clusters::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
