//! The part of Kestra's Pebble expressions the stand-in evaluates: `{{ … }}` with literals,
//! variable paths (`inputs.version`, `outputs.build.vars.digest`, `trigger.body.ref`), the
//! `secret('NAME')` and `kv('KEY')` functions (kv's other arguments are not evaluated), `==`,
//! `!=`, `and`, `or`, `not`, parentheses, and the string filters `startsWith`, `endsWith`,
//! `substringAfter` and `substringBefore`.
//!
//! It is strict where Kestra is strict and stricter where the two might differ: a name that is
//! not defined, a secret that does not exist, or any syntax outside this subset is an error,
//! never an empty string. A flow that leans on something the stand-in does not evaluate fails
//! the test instead of passing it by accident.

use serde_json::Value;

/// What an expression can see: `{"inputs": …, "vars": …, "outputs": …, "trigger": …, …}`, and
/// the secrets by name.
pub struct Scope<'a> {
    pub variables: &'a Value,
    pub secret: &'a dyn Fn(&str) -> Option<String>,
    /// `kv('KEY')`: the KV store's value for KEY as the flow's namespace sees it, or why not.
    pub kv: &'a dyn Fn(&str) -> Result<Value, String>,
}

/// For expressions rendered where the stand-in keeps no KV store in reach.
pub fn no_kv(key: &str) -> Result<Value, String> {
    Err(format!("the stand-in does not read kv('{key}') here"))
}

/// Renders every `{{ … }}` of TEXT.
pub fn render(text: &str, scope: &Scope) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("an unclosed {{{{ in {text:?}"))?
            + start;
        let value = evaluate(&rest[start + 2..end], scope)?;
        out.push_str(&to_text(&value));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Kestra's truth of a rendered condition (`runIf`, `when`, `condition`): false for `false`,
/// `0`, `-0` and the empty string (trimmed), true otherwise (core `TruthUtils`).
pub fn is_truthy(rendered: &str) -> bool {
    !matches!(rendered.trim(), "false" | "0" | "-0" | "")
}

pub fn to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

pub fn evaluate(expression: &str, scope: &Scope) -> Result<Value, String> {
    let tokens = tokenize(expression)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        scope,
        source: expression,
    };
    let value = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(format!(
            "the stand-in does not evaluate `{}` (unexpected {:?})",
            expression.trim(),
            parser.tokens[parser.at]
        ));
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Text(String),
    Number(f64),
    Symbol(&'static str),
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| format!("an unclosed string in `{source}`"))?;
            tokens.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit() {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_ascii_digit() || *d == '.'))
                .unwrap_or(chars.len() - i);
            let text: String = chars[i..i + end].iter().collect();
            tokens.push(Token::Number(
                text.parse()
                    .map_err(|_| format!("`{text}` is not a number"))?,
            ));
            i += end;
        } else if c.is_alphabetic() || c == '_' {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_alphanumeric() || *d == '_'))
                .unwrap_or(chars.len() - i);
            tokens.push(Token::Name(chars[i..i + end].iter().collect()));
            i += end;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = ["==", "!="]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["(", ")", ".", "|", ",", "[", "]"]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                })
                .ok_or_else(|| {
                    format!(
                        "the stand-in does not evaluate `{c}` in `{}`",
                        source.trim()
                    )
                })?;
            i += symbol.len();
            tokens.push(Token::Symbol(symbol));
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    scope: &'a Scope<'a>,
    source: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, symbol: &'static str) -> Result<(), String> {
        if self.eat(&Token::Symbol(symbol)) {
            Ok(())
        } else {
            Err(format!("`{symbol}` expected in `{}`", self.source.trim()))
        }
    }

    fn word(&mut self, word: &str) -> bool {
        self.eat(&Token::Name(word.to_owned()))
    }

    fn or(&mut self) -> Result<Value, String> {
        let mut value = self.and()?;
        while self.word("or") {
            let right = self.and()?;
            value = Value::Bool(truth(&value)? || truth(&right)?);
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<Value, String> {
        let mut value = self.not()?;
        while self.word("and") {
            let right = self.not()?;
            value = Value::Bool(truth(&value)? && truth(&right)?);
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<Value, String> {
        if self.word("not") {
            return Ok(Value::Bool(!truth(&self.not()?)?));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Value, String> {
        let left = self.filtered()?;
        for (symbol, equal) in [("==", true), ("!=", false)] {
            if self.eat(&Token::Symbol(symbol)) {
                let right = self.filtered()?;
                return Ok(Value::Bool(same(&left, &right) == equal));
            }
        }
        Ok(left)
    }

    fn filtered(&mut self) -> Result<Value, String> {
        let mut value = self.primary()?;
        while self.eat(&Token::Symbol("|")) {
            let Some(Token::Name(filter)) = self.peek().cloned() else {
                return Err(format!(
                    "a filter name expected in `{}`",
                    self.source.trim()
                ));
            };
            self.at += 1;
            let arguments = self.arguments()?;
            value = apply(&filter, &value, &arguments)?;
        }
        Ok(value)
    }

    fn arguments(&mut self) -> Result<Vec<Value>, String> {
        let mut arguments = Vec::new();
        if self.eat(&Token::Symbol("(")) && !self.eat(&Token::Symbol(")")) {
            loop {
                arguments.push(self.or()?);
                if self.eat(&Token::Symbol(")")) {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(arguments)
    }

    fn primary(&mut self) -> Result<Value, String> {
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| format!("an incomplete expression `{}`", self.source.trim()))?;
        self.at += 1;
        match token {
            Token::Text(text) => Ok(Value::String(text)),
            Token::Number(n) => {
                Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
            }
            Token::Symbol("(") => {
                let value = self.or()?;
                self.expect(")")?;
                Ok(value)
            }
            Token::Name(name) => match name.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                "secret" => {
                    let arguments = self.arguments()?;
                    let [Value::String(key)] = arguments.as_slice() else {
                        return Err("secret() takes one name".into());
                    };
                    // OSS upper-cases the key: secret('my_key') reads SECRET_MY_KEY.
                    let value = (self.scope.secret)(&key.to_uppercase())
                        .ok_or_else(|| format!("Cannot find secret for key '{key}'."))?;
                    Ok(Value::String(value))
                }
                "kv" => {
                    let arguments = self.arguments()?;
                    let [Value::String(key)] = arguments.as_slice() else {
                        return Err("the stand-in evaluates kv() with one key only".into());
                    };
                    (self.scope.kv)(key)
                }
                _ => self.path(name),
            },
            other => Err(format!(
                "the stand-in does not evaluate {other:?} in `{}`",
                self.source.trim()
            )),
        }
    }

    /// NAME(.attr | ['key'])*, resolved strictly: a missing attribute is an error.
    fn path(&mut self, name: String) -> Result<Value, String> {
        let mut value = self
            .scope
            .variables
            .get(&name)
            .ok_or_else(|| {
                format!(
                    "Unable to find `{name}` used in the expression `{}`",
                    self.source.trim()
                )
            })?
            .clone();
        let mut shown = name;
        loop {
            let key = if self.eat(&Token::Symbol(".")) {
                match self.peek().cloned() {
                    Some(Token::Name(key)) => {
                        self.at += 1;
                        key
                    }
                    _ => return Err(format!("an attribute expected after `{shown}.`")),
                }
            } else if self.eat(&Token::Symbol("[")) {
                let Some(Token::Text(key)) = self.peek().cloned() else {
                    return Err(format!("a quoted key expected after `{shown}[`"));
                };
                self.at += 1;
                self.expect("]")?;
                key
            } else {
                return Ok(value);
            };
            shown = format!("{shown}.{key}");
            value = value.get(&key).cloned().ok_or_else(|| {
                format!(
                    "Unable to find `{shown}` used in the expression `{}`",
                    self.source.trim()
                )
            })?;
        }
    }
}

fn truth(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("`{other}` is not a boolean")),
    }
}

/// Pebble's `==`: values of the same kind compare by value; a number and its text differ.
fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn apply(filter: &str, value: &Value, arguments: &[Value]) -> Result<Value, String> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Null => return Err(format!("the filter {filter} was given null")),
        other => return Err(format!("the filter {filter} takes text, not {other}")),
    };
    let [Value::String(argument)] = arguments else {
        return Err(format!("the filter {filter} takes one text argument"));
    };
    Ok(match filter {
        "startsWith" => Value::Bool(text.starts_with(argument.as_str())),
        "endsWith" => Value::Bool(text.ends_with(argument.as_str())),
        // Apache Commons StringUtils semantics: "" when the separator is absent.
        "substringAfter" => Value::String(
            text.split_once(argument.as_str())
                .map_or("", |(_, after)| after)
                .to_owned(),
        ),
        "substringBefore" => Value::String(
            text.split_once(argument.as_str())
                .map_or(text, |(before, _)| before)
                .to_owned(),
        ),
        other => return Err(format!("the stand-in does not evaluate the filter {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope_of(variables: &Value) -> Scope<'_> {
        Scope {
            variables,
            secret: &|name| (name == "KEY").then(|| "s3cret".to_owned()),
            kv: &|key| match key {
                "ledger_url" => Ok(json!("https://ledger.example.com")),
                "notify" => Ok(json!(true)),
                _ => Err(format!(
                    "The key '{key}' does not exist in the namespace 'demo'."
                )),
            },
        }
    }

    #[test]
    fn paths_filters_and_logic_evaluate_as_kestra_does() {
        let vars = json!({"trigger": {"body": {"ref": "refs/tags/v1.4.0", "deleted": false}},
                          "inputs": {"version": "1.4.0"}, "outputs": {"a": {"vars": {"s": "pending"}}}});
        let scope = scope_of(&vars);
        let when = "{{ (trigger.body.ref | startsWith('refs/tags/v')) and trigger.body.deleted == false }}";
        assert_eq!(render(when, &scope).unwrap(), "true");
        assert_eq!(
            render(
                "{{ trigger.body.ref | substringAfter('refs/tags/v') }}",
                &scope
            )
            .unwrap(),
            "1.4.0"
        );
        assert_eq!(
            render("v{{ inputs.version }}-{{ secret('key') }}", &scope).unwrap(),
            "v1.4.0-s3cret"
        );
        assert_eq!(
            render("{{ outputs.a.vars.s != 'pending' or not true }}", &scope).unwrap(),
            "false"
        );
        assert!(is_truthy(" true ") && !is_truthy("false") && !is_truthy("") && !is_truthy("0"));
        assert_eq!(
            render("{{ kv('ledger_url') }}/api {{ kv('notify') }}", &scope).unwrap(),
            "https://ledger.example.com/api true"
        );
    }

    #[test]
    fn anything_undefined_or_unknown_is_an_error() {
        let vars = json!({"inputs": {"version": "1.4.0"}});
        let scope = scope_of(&vars);
        for broken in [
            "{{ inputs.notes }}",
            "{{ secret('MISSING') }}",
            "{{ inputs.version | upper }}",
            "{{ inputs.version ?? 'x' }}",
            "{{ inputs.version",
            "{{ json(inputs) }}",
            "{{ kv('missing') }}",
            "{{ kv('ledger_url', errorOnMissing=false) }}",
        ] {
            assert!(render(broken, &scope).is_err(), "{broken}");
        }
    }
}
