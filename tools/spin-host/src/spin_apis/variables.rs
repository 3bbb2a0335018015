//! `fermyon:spin/variables`: the component's variables, resolved from the manifest.

use super::Trap;
use super::fermyon::spin::variables;
use crate::state::State;

impl variables::Host for State {
    async fn get(&mut self, name: String) -> Trap<Result<String, variables::Error>> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(self
            .component
            .variables
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name)))
    }
}
