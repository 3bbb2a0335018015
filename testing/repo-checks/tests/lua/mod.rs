//! Karmada's Lua sandbox, rebuilt on a real Lua 5.1: the functions Karmada disables are gone,
//! `os` has only `time` and `date`, and every call is stopped after one second.

use mlua::serde::ser::Options as SerializeOptions;
use mlua::{HookTriggers, Lua, LuaSerdeExt, MultiValue, Value as LuaValue, VmState};
use serde_json::Value;
use std::time::{Duration, Instant};

pub const DISABLED: &[&str] = &[
    "collectgarbage",
    "dofile",
    "getfenv",
    "getmetatable",
    "load",
    "loadfile",
    "loadstring",
    "rawequal",
    "rawget",
    "rawset",
    "setfenv",
    "setmetatable",
    "module",
    "newproxy",
];

const CALL_LIMIT: Duration = Duration::from_secs(1);

pub struct Sandbox {
    lua: Lua,
}

impl Sandbox {
    /// A fresh sandbox with `script` loaded.
    pub fn new(script: &str) -> Self {
        let lua = Lua::new();
        {
            let globals = lua.globals();
            for name in DISABLED {
                globals.set(*name, LuaValue::Nil).unwrap();
            }
            let os: mlua::Table = globals.get("os").unwrap();
            let limited = lua.create_table().unwrap();
            limited
                .set("time", os.get::<mlua::Function>("time").unwrap())
                .unwrap();
            limited
                .set("date", os.get::<mlua::Function>("date").unwrap())
                .unwrap();
            globals.set("os", limited).unwrap();
            for name in ["io", "debug", "require", "package"] {
                globals.set(name, LuaValue::Nil).unwrap();
            }
        }
        lua.load(script).exec().expect("the script loads");
        Self { lua }
    }

    fn to_lua(&self, value: &Value) -> LuaValue {
        let options = SerializeOptions::new()
            .serialize_none_to_null(false)
            .serialize_unit_to_null(false);
        self.lua.to_value_with(value, options).unwrap()
    }

    /// Calls a global function with JSON arguments under the one-second limit.
    pub fn call(&self, function: &str, args: &[Value]) -> mlua::Result<Vec<Value>> {
        let started = Instant::now();
        self.lua.set_hook(
            HookTriggers::new().every_nth_instruction(1000),
            move |_, _| {
                if started.elapsed() > CALL_LIMIT {
                    Err(mlua::Error::runtime(
                        "the call ran past Karmada's one-second limit",
                    ))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;
        let f: mlua::Function = self.lua.globals().get(function)?;
        let args: MultiValue = args.iter().map(|a| self.to_lua(a)).collect();
        let results: MultiValue = f.call(args)?;
        self.lua.remove_hook();
        results
            .into_iter()
            .map(|v| self.lua.from_value::<Value>(v))
            .collect()
    }

    /// Runs a chunk of Lua, for the sandbox's own tests.
    pub fn exec(&self, chunk: &str) -> mlua::Result<()> {
        self.lua.load(chunk).exec()
    }
}

/// JSON for comparison: whole numbers as integers (Lua 5.1 has only doubles), and an empty
/// table as an empty object whether Lua called it an array or not.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) if items.is_empty() => Value::Object(Default::default()),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        other => other,
    }
}
