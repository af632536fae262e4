//! The Lua 5.1 side of scripting, as Redis 7.0 sets it up: the libraries a
//! script sees, read-only globals, the `redis` library, and replies turned
//! into Lua values and back.
//!
//! Each thread keeps its own VM (a script runs on its connection's thread,
//! without awaiting) with the functions compiled so far. A script runs in
//! an environment of its own, made for each call: reading a global that
//! does not exist and writing any global are errors with Redis's texts,
//! and nothing a script leaves behind reaches the next one.

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::cell::RefCell;
use std::collections::HashMap;

/// The chunk name of every script: errors read `user_script:LINE: ...`.
const CHUNK: &str = "@user_script";
/// The chunk name of every function library.
const LIBRARY_CHUNK: &str = "@user_function";
/// How long a library's code may run at FUNCTION LOAD (Redis's limit).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);
/// Instructions between two checks of the time limit and SCRIPT KILL.
const CHECK_EVERY: u32 = 10_000;
/// Deepest table nesting converted either way.
const MAX_DEPTH: usize = 100;

/// Set up once per VM: read-only library tables, the environment maker,
/// `redis.call`/`pcall` over the raw call, and the error handler, which
/// (as Redis's `__redis__err__handler`) turns any error into a table with
/// the script's line.
const PRELUDE: &str = r#"
local getinfo, xpcall, type, tostring, error, setmetatable, rawget, rawset, pairs, setfenv =
  debug.getinfo, xpcall, type, tostring, error, setmetatable, rawget, rawset, pairs, setfenv
local call, pcall_raw, decode = ...
local lua_pcall = pcall

local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
end

redis.call = call
redis.pcall = pcall_raw

-- Redis 7's pcall: an error table caught is its `err` text.
local function caught(ok, ...)
  if ok then return ok, ... end
  local e = decode((...))
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then e = rawget(e, 'err') end
  return false, e
end

-- What scripts see as globals.
local visible = {}
for _, name in pairs({'assert', 'collectgarbage', 'error', 'gcinfo', 'getmetatable',
    'ipairs', 'load', 'loadstring', 'next', 'pairs', 'pcall', 'rawequal', 'rawget',
    'rawset', 'select', 'setmetatable', 'tonumber', 'tostring', 'type', 'unpack',
    'xpcall', '_VERSION'}) do
  visible[name] = _G[name]
end
visible.pcall = function(...) return caught(lua_pcall(...)) end
for _, name in pairs({'coroutine', 'math', 'string', 'table', 'redis', 'bit', 'cjson', 'cmsgpack', 'struct'}) do
  visible[name] = readonly(_G[name])
end

-- A read-only environment's metatable: reading a name `lookup` does not
-- know and writing any are Redis's errors.
local function strict_meta(lookup)
  return {
    __index = function(_, k)
      local v = lookup(k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  }
end

local env_meta = strict_meta(function(k) return visible[k] end)

local function handler(err)
  err = decode(err)
  local source, line
  for level = 2, 200 do
    local i = getinfo(level, 'Sl')
    if not i then break end
    if i.source == '@user_script' or i.source == '@user_function' then
      source, line = i.source, i.currentline break
    end
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if type(rawget(err, 'err')) ~= 'string' then err = {err = 'ERR ' .. tostring(rawget(err, 'err'))} end
  return {err = rawget(err, 'err'), source = source, line = line}
end

-- Runs f in a fresh environment holding KEYS and ARGV.
local function run(f, keys, argv)
  local env = setmetatable({}, env_meta)
  rawset(env, 'KEYS', keys)
  rawset(env, 'ARGV', argv)
  rawset(env, '_G', env)
  setfenv(f, env)
  return xpcall(f, handler)
end

-- Function libraries (Redis 7's function_lua.c). While a library's code
-- runs at load, its globals are only a `redis` with register_function,
-- log and the constants; its functions, called later, see what scripts
-- see, without KEYS and ARGV. One flag switches every library's
-- environment, since one library loads at a time.
local loading = false
local load_visible = {}
local function strict(t)
  return setmetatable({}, strict_meta(function(k) return t[k] end))
end
local lib_env_meta = strict_meta(function(k)
  if loading then return load_visible[k] end
  return visible[k]
end)

local function load_library(f, register)
  load_visible.redis = strict({
    register_function = register,
    log = redis.log,
    LOG_DEBUG = redis.LOG_DEBUG,
    LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE,
    LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION,
    REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  })
  setfenv(f, setmetatable({}, lib_env_meta))
  loading = true
  local ok, err = xpcall(f, handler)
  loading = false
  load_visible.redis = nil
  return ok, err
end

local function run_function(f, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end

return run, load_library, run_function
"#;

/// A thread's VM.
struct Vm {
    lua: Lua,
    /// `Scripts::generation` when it was made (SCRIPT FLUSH makes a new one).
    generation: u64,
    /// The prelude's runners: a script, a library's code, a function.
    run: Function,
    load_library: Function,
    run_function: Function,
    /// The raw call's slot: a function valid during one script.
    slot: Table,
    compiled: HashMap<String, Function>,
    /// Libraries loaded in this VM: name -> (code, function name -> callback).
    libraries: HashMap<String, (Vec<u8>, HashMap<String, Function>)>,
}

/// What runs: an EVAL script or a library's function.
#[derive(Clone, Copy)]
pub(crate) enum Code<'a> {
    Script {
        sha: &'a str,
        body: &'a [u8],
    },
    Function {
        library: &'a str,
        code: &'a [u8],
        name: &'a str,
    },
}

/// A function a library's code registered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Registered {
    pub name: String,
    pub flags: super::Flags,
    pub description: Option<Vec<u8>>,
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// The protocol the running script chose with `redis.setresp` (3 is
    /// true): how its commands reply to it, and how its booleans return.
    static RESP3: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What a script did, for the caller to answer.
pub(crate) enum Outcome {
    /// Its return value, converted.
    Reply(Reply),
    /// It raised an error: the full error line (without `-`).
    Error(String),
}

/// A reply, both ways between commands and Lua. The RESP3 kinds come from
/// commands of a script that called `redis.setresp(3)`, or from a script
/// returning `{map=...}`, `{double=...}` and the like.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2's null bulk or array.
    Nil,
    Array(Vec<Reply>),
    /// RESP3's null.
    Null,
    Bool(bool),
    Double(f64),
    BigNumber(Vec<u8>),
    /// (format, text).
    Verbatim(Vec<u8>, Vec<u8>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
}

/// The compile error of `body`, if any (SCRIPT LOAD and EVAL).
pub(crate) fn compile_error(body: &[u8]) -> Option<String> {
    if let Err(e) = super::shebang(body) {
        return Some(e);
    }
    with_vm(0, |vm| match compile(vm, "", body) {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(e)),
    })
    .unwrap_or_else(|e| Some(e.to_string()))
}

/// Runs a script or a function with `keys` and `argv`; `call` runs one
/// command for `redis.call`/`pcall`, `check` is called every few thousand
/// instructions and stops the script when it answers true.
pub(crate) fn run(
    generation: u64,
    code: Code<'_>,
    keys: &[bytes::Bytes],
    argv: &[bytes::Bytes],
    call: &mut dyn FnMut(Vec<bytes::Bytes>, bool) -> Reply,
    check: &dyn Fn() -> bool,
) -> Outcome {
    RESP3.with(|r| r.set(false));
    let r = with_vm(generation, |vm| {
        let (f, label) = match code {
            Code::Script { sha, body } => match compile(vm, sha, body) {
                Ok(f) => (f, sha),
                Err(e) => return Ok(Outcome::Error(e)),
            },
            Code::Function {
                library,
                code,
                name,
            } => match library_function(vm, library, code, name) {
                Ok(f) => (f, name),
                Err(e) => return Ok(Outcome::Error(e)),
            },
        };
        let runner = match code {
            Code::Script { .. } => vm.run.clone(),
            Code::Function { .. } => vm.run_function.clone(),
        };
        let lua = &vm.lua;
        let keys = lua.create_sequence_from(
            keys.iter()
                .map(|k| lua.create_string(k))
                .collect::<Result<Vec<_>, _>>()?,
        )?;
        let argv = lua.create_sequence_from(
            argv.iter()
                .map(|k| lua.create_string(k))
                .collect::<Result<Vec<_>, _>>()?,
        )?;
        let killed = std::cell::Cell::new(false);
        lua.scope(|scope| {
            let raw = scope.create_function_mut(|lua, args: mlua::MultiValue| {
                let mut parts = Vec::with_capacity(args.len());
                if args.is_empty() {
                    return raw_error(
                        lua,
                        "ERR Please specify at least one argument for this redis lib call",
                    );
                }
                for a in args {
                    let s = match a {
                        Value::String(s) => bytes::Bytes::copy_from_slice(&s.as_bytes()),
                        Value::Integer(n) => bytes::Bytes::from(n.to_string()),
                        Value::Number(n) => bytes::Bytes::from(number_arg(n)),
                        _ => return raw_error(lua, ARG_ERROR),
                    };
                    parts.push(s);
                }
                match call(parts, RESP3.with(|r| r.get())) {
                    Reply::Error(e) => raw_error(lua, &String::from_utf8_lossy(&e)),
                    r => Ok((true, to_lua(lua, &r, 0)?)),
                }
            })?;
            vm.slot.raw_set(1, raw)?;
            let stop = &killed;
            let hook_check = scope.create_function(move |_, ()| {
                if check() {
                    stop.set(true);
                    return Ok(Some("Script killed by user with SCRIPT KILL..."));
                }
                Ok(None)
            })?;
            vm.slot.raw_set(2, hook_check)?;
            let (ok, v): (bool, Value) = runner.call((f, keys, argv))?;
            vm.slot.raw_set(1, Value::Nil)?;
            vm.slot.raw_set(2, Value::Nil)?;
            if ok {
                return Ok(Outcome::Reply(from_lua(&v, 0)));
            }
            Ok(Outcome::Error(error_line(&v, label, killed.get())))
        })
    });
    r.unwrap_or_else(|e| Outcome::Error(format!("ERR Error running script: {e}")))
}

/// Loads a library's code (`code`, its shebang line included) into this
/// thread's VM as `library`: the functions it registered, or Redis's error
/// for FUNCTION LOAD.
pub(crate) fn load_library(
    generation: u64,
    library: &str,
    code: &[u8],
) -> Result<Vec<Registered>, String> {
    with_vm(generation, |vm| Ok(load_into(vm, library, code)))
        .unwrap_or_else(|e| Err(format!("ERR Error registering functions: {e}")))
}

/// A function's callback in this VM, loading its library first if this
/// VM has not got that code yet.
fn library_function(
    vm: &mut Vm,
    library: &str,
    code: &[u8],
    name: &str,
) -> Result<Function, String> {
    let fresh = vm
        .libraries
        .get(library)
        .is_some_and(|(c, _)| c.as_slice() == code);
    if !fresh {
        load_into(vm, library, code)?;
    }
    vm.libraries
        .get(library)
        .and_then(|(_, fs)| fs.get(name))
        .cloned()
        .ok_or_else(|| "ERR Function not found".to_string())
}

fn load_into(vm: &mut Vm, library: &str, code: &[u8]) -> Result<Vec<Registered>, String> {
    let f = vm
        .lua
        .load(blank_shebang(code).as_ref())
        .set_name(LIBRARY_CHUNK)
        .into_function()
        .map_err(|e| {
            format!(
                "ERR Error compiling function: {}",
                first_line(&syntax_text(&e))
            )
        })?;
    let found: RefCell<Vec<(Registered, Function)>> = RefCell::new(Vec::new());
    let started = std::time::Instant::now();
    let outcome = vm.lua.scope(|scope| {
        let register = scope.create_function(|_, args: mlua::MultiValue| {
            let (r, callback) =
                registration(args).map_err(|m| mlua::Error::external(CallError(m)))?;
            let mut found = found.borrow_mut();
            if found.iter().any(|(f, _)| f.name == r.name) {
                return Err(mlua::Error::external(CallError(
                    "ERR Function already exists in the library".into(),
                )));
            }
            found.push((r, callback));
            Ok(())
        })?;
        let timeout = scope.create_function(move |_, ()| {
            Ok((started.elapsed() >= LOAD_TIMEOUT).then_some("FUNCTION LOAD timeout"))
        })?;
        vm.slot.raw_set(2, timeout)?;
        let r: mlua::Result<(bool, Value)> = vm.load_library.call((f, register));
        vm.slot.raw_set(2, Value::Nil)?;
        r
    });
    let (ok, err) = outcome.map_err(|e| format!("ERR Error registering functions: {e}"))?;
    if !ok {
        let msg = match &err {
            Value::Table(t) => t
                .raw_get::<Option<String>>("err")
                .ok()
                .flatten()
                .unwrap_or_else(|| "ERR unknown error".into()),
            other => format!("ERR {other:?}"),
        };
        return Err(format!("ERR Error registering functions: {msg}"));
    }
    let found = found.into_inner();
    if found.is_empty() {
        return Err("ERR No functions registered".into());
    }
    let registered = found.iter().map(|(r, _)| r.clone()).collect();
    let callbacks = found.into_iter().map(|(r, f)| (r.name, f)).collect();
    vm.libraries
        .insert(library.to_string(), (code.to_vec(), callbacks));
    Ok(registered)
}

/// The arguments of `redis.register_function`, checked as Redis does:
/// `(name, callback)` or a table of named arguments.
fn registration(args: mlua::MultiValue) -> Result<(Registered, Function), String> {
    let text = |v: &Value| -> Option<Vec<u8>> {
        match v {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Integer(n) => Some(n.to_string().into_bytes()),
            Value::Number(n) => Some(format_g(*n, 14).into_bytes()),
            _ => None,
        }
    };
    let mut args: Vec<Value> = args.into_iter().collect();
    let (name, callback, flags, description) = match args.len() {
        2 => {
            let cb = args.pop();
            let name = args.pop();
            let name = name
                .as_ref()
                .and_then(text)
                .ok_or("ERR first argument to redis.register_function must be a string")?;
            let Some(Value::Function(cb)) = cb else {
                return Err(
                    "ERR second argument to redis.register_function must be a function".into(),
                );
            };
            (name, cb, super::Flags::default(), None)
        }
        1 => {
            let Some(Value::Table(t)) = args.pop() else {
                return Err("ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
            };
            let (mut name, mut cb, mut flags, mut description) =
                (None, None, super::Flags::default(), None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| format!("ERR {e}"))?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => String::new(),
                };
                match key.as_str() {
                    "function_name" => {
                        name = Some(text(&v).ok_or(
                            "ERR function_name argument given to redis.register_function must be a string",
                        )?)
                    }
                    "description" => {
                        description = Some(text(&v).ok_or(
                            "ERR description argument given to redis.register_function must be a string",
                        )?)
                    }
                    "callback" => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => {
                            return Err("ERR callback argument given to redis.register_function must be a function".into())
                        }
                    },
                    "flags" => {
                        let Value::Table(list) = v else {
                            return Err("ERR flags argument to redis.register_function must be a table representing function flags".into());
                        };
                        for f in list.sequence_values::<Value>() {
                            let ok = match f.map_err(|e| format!("ERR {e}"))? {
                                Value::String(s) => flags.set(&s.to_string_lossy()),
                                _ => false,
                            };
                            if !ok {
                                return Err("ERR unknown flag given".into());
                            }
                        }
                    }
                    _ => return Err("ERR unknown argument given to redis.register_function".into()),
                }
            }
            let name =
                name.ok_or("ERR redis.register_function must get a function name argument")?;
            let cb = cb.ok_or("ERR redis.register_function must get a callback argument")?;
            (name, cb, flags, description)
        }
        _ => return Err("ERR wrong number of arguments to redis.register_function".into()),
    };
    if !super::functions::valid_name(&name) {
        return Err(super::functions::NAME_ERROR.into());
    }
    let r = Registered {
        name: String::from_utf8_lossy(&name).into_owned(),
        flags,
        description,
    };
    Ok((r, callback))
}

const ARG_ERROR: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// `redis.call`'s failure: (false, {err = msg}).
fn raw_error(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok((false, Value::Table(t)))
}

/// Redis's error line for a failed script: `<err> script: <sha or
/// function name>, on <source>:<line>.`
fn error_line(v: &Value, sha: &str, killed: bool) -> String {
    let (mut msg, source, line) = match v {
        Value::Table(t) => (
            t.raw_get::<Option<String>>("err")
                .ok()
                .flatten()
                .unwrap_or_else(|| "ERR unknown error".into()),
            t.raw_get::<Option<String>>("source").ok().flatten(),
            t.raw_get::<Option<i64>>("line").ok().flatten(),
        ),
        other => (format!("ERR {other:?}"), None, None),
    };
    if killed {
        msg = "ERR Script killed by user with SCRIPT KILL...".into();
    }
    match (source, line) {
        (Some(s), Some(l)) => format!("{msg} script: {sha}, on {s}:{l}."),
        _ => format!("{msg} script: {sha}"),
    }
}

fn with_vm<R>(generation: u64, f: impl FnOnce(&mut Vm) -> mlua::Result<R>) -> mlua::Result<R> {
    VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|vm| vm.generation != generation) {
            *slot = Some(new_vm(generation)?);
        }
        match slot.as_mut() {
            Some(vm) => f(vm),
            None => Err(mlua::Error::runtime("no Lua VM")),
        }
    })
}

/// The compiled script, from this VM's cache or compiled now: Redis's
/// "Error compiling script" on a syntax error.
fn compile(vm: &mut Vm, sha: &str, body: &[u8]) -> Result<Function, String> {
    if let Some(f) = vm.compiled.get(sha) {
        return Ok(f.clone());
    }
    let f = vm
        .lua
        .load(blank_shebang(body).as_ref())
        .set_name(CHUNK)
        .into_function()
        .map_err(|e| {
            format!(
                "ERR Error compiling script (new function): {}",
                first_line(&syntax_text(&e))
            )
        })?;
    if !sha.is_empty() {
        vm.compiled.insert(sha.to_string(), f.clone());
    }
    Ok(f)
}

/// The shebang line is Redis's, not Lua's: blanked, so lines keep their
/// numbers.
fn blank_shebang(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if body.starts_with(b"#!") {
        let eol = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
        std::borrow::Cow::Owned(body[eol..].to_vec())
    } else {
        std::borrow::Cow::Borrowed(body)
    }
}

fn syntax_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn new_vm(generation: u64) -> mlua::Result<Vm> {
    // The debug library is loaded for the prelude's error handler only;
    // scripts never see it (nor io, os, package).
    // SAFETY: no C modules can be loaded: `package` is not opened.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::default(),
        )
    };
    let redis = lua.create_table()?;
    redis.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    for (i, name) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"]
        .iter()
        .enumerate()
    {
        redis.set(*name, i as i64)?;
    }
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, v)?;
    }
    redis.set(
        "sha1hex",
        lua.create_function(|lua, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime("wrong number of arguments"));
            }
            let v = args.into_iter().next().unwrap_or(Value::Nil);
            let s = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(_) | Value::Number(_) => lua
                    .coerce_string(v)?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                _ => {
                    return Err(mlua::Error::runtime(
                        "wrong number of arguments or wrong type of argument",
                    ))
                }
            };
            Ok(super::Scripts::sha1_hex(&s))
        })?,
    )?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, msg: mlua::LuaString| {
            let t = lua.create_table()?;
            let m = msg.as_bytes();
            // Redis 7 adds the ERR code when the text has none (`-` prefix dropped).
            let m: Vec<u8> = match m.strip_prefix(b"-") {
                Some(rest) => rest.to_vec(),
                None => m.to_vec(),
            };
            t.raw_set("err", lua.create_string(&m)?)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, msg: mlua::LuaString| {
            let t = lua.create_table()?;
            t.raw_set("ok", msg)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, args: mlua::MultiValue| {
            let mut it = args.into_iter();
            let level = match it.next() {
                Some(Value::Integer(l)) => l,
                Some(Value::Number(l)) => l as i64,
                _ => {
                    return Err(mlua::Error::runtime(
                        "First argument must be a number (log level).",
                    ))
                }
            };
            let text: Vec<String> = it
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    other => format!("{other:?}"),
                })
                .collect();
            let text = text.join(" ");
            match level {
                0 => tracing::debug!(target: "script", "{text}"),
                1 | 2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    redis.set(
        "setresp",
        lua.create_function(|_, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime(
                    "redis.setresp() requires one argument.",
                ));
            }
            let v = match args.into_iter().next() {
                Some(Value::Integer(n)) => n as f64,
                Some(Value::Number(n)) => n,
                Some(Value::String(s)) => s
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0.0),
                _ => 0.0,
            };
            match v as i64 {
                2 => RESP3.with(|r| r.set(false)),
                3 => RESP3.with(|r| r.set(true)),
                _ => return Err(mlua::Error::runtime("RESP version must be 2 or 3.")),
            }
            Ok(())
        })?,
    )?;
    // Effects replication is the only kind (Redis 7 too).
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.set("set_repl", lua.create_function(|_, _: Value| Ok(()))?)?;
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set(
        "debug",
        lua.create_function(|_, _: mlua::MultiValue| Ok(()))?,
    )?;
    lua.globals().set("redis", redis)?;
    lua.globals().set("bit", super::bit::open(&lua)?)?;
    lua.globals()
        .set("cjson", super::cjson::open(&lua, generation)?)?;
    lua.globals()
        .set("cmsgpack", super::cmsgpack::open(&lua)?)?;
    lua.globals().set("struct", super::structlib::open(&lua)?)?;
    // Lua 5.1's base library brings these; Redis 7 removes them.
    let g = lua.globals();
    for name in [
        "print", "dofile", "loadfile", "require", "module", "newproxy", "getfenv",
    ] {
        g.raw_set(name, Value::Nil)?;
    }
    // The raw call and the hook's check live in a slot the prelude reads
    // (set for the length of one script, see `run`).
    let slot = lua.create_table()?;
    let s1 = slot.clone();
    // redis.call and redis.pcall are C functions, as in Redis: a script's
    // `return redis.call(...)` keeps its frame (Lua drops a frame on a tail
    // call to a Lua function), so an error names the script's line.
    let call = lua.create_function(move |_, args: mlua::MultiValue| {
        let f: Function = s1.raw_get(1)?;
        let (ok, v): (bool, Value) = f.call(args)?;
        if ok {
            return Ok(v);
        }
        let msg = match &v {
            Value::Table(t) => t.raw_get::<Option<String>>("err")?.unwrap_or_default(),
            _ => String::new(),
        };
        Err(mlua::Error::external(CallError(msg)))
    })?;
    let s2 = slot.clone();
    let pcall = lua.create_function(move |_, args: mlua::MultiValue| {
        let f: Function = s2.raw_get(1)?;
        let (_, v): (bool, Value) = f.call(args)?;
        Ok(v)
    })?;
    // An error raised from Rust reaches Lua as userdata: redis.call's is
    // turned back into its `{err = ...}` table, any other into its text.
    let decode = lua.create_function(|lua, v: Value| match v {
        Value::Error(e) => match call_error(&e) {
            Some(msg) => {
                let t = lua.create_table()?;
                t.raw_set("err", msg)?;
                Ok(Value::Table(t))
            }
            None => Ok(Value::String(lua.create_string(error_text(&e))?)),
        },
        other => Ok(other),
    })?;
    let (run, load_library, run_function): (Function, Function, Function) = lua
        .load(PRELUDE)
        .set_name("=sledis")
        .call((call, pcall, decode))?;
    g.raw_set("setfenv", Value::Nil)?;
    g.raw_set("debug", Value::Nil)?;
    let s3 = slot.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(CHECK_EVERY),
        move |_, _| {
            let Ok(Value::Function(check)) = s3.raw_get::<Value>(2) else {
                return Ok(VmState::Continue);
            };
            // The check answers the error to stop with, if any.
            match check.call::<Option<String>>(())? {
                Some(msg) => Err(mlua::Error::runtime(msg)),
                None => Ok(VmState::Continue),
            }
        },
    )?;
    Ok(Vm {
        lua,
        generation,
        run,
        load_library,
        run_function,
        slot,
        compiled: HashMap::new(),
        libraries: HashMap::new(),
    })
}

/// A number passed to redis.call, written as Redis 7.0 writes it
/// (`%.17g`), not with Lua's 14 digits.
fn number_arg(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(n, 17)
}

/// C's `%.<p>g` of a finite number.
pub(crate) fn format_g(n: f64, p: i32) -> String {
    let sci = format!("{:.*e}", (p - 1) as usize, n);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i32 = e.parse().unwrap_or(0);
    let trim = |t: &str| -> String {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t.to_string()
        }
    };
    if (-4..p).contains(&x) {
        trim(&format!("{:.*}", (p - 1 - x) as usize, n))
    } else {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), x.abs())
    }
}

/// A command's error reply, raised by redis.call.
#[derive(Debug)]
struct CallError(String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

fn call_error(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::ExternalError(x) => x.downcast_ref::<CallError>().map(|c| c.0.clone()),
        mlua::Error::CallbackError { cause, .. } => call_error(cause),
        mlua::Error::WithContext { cause, .. } => call_error(cause),
        _ => None,
    }
}

/// An error's own text, without mlua's wrapping and traceback.
fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}

/// "7.0.15" -> 0x07000f.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | p)
}

/// A command's reply as Redis hands it to Lua: an integer is a number, a
/// bulk a string, a nil false (RESP3's null is nil), a status `{ok=...}`,
/// an error `{err=...}`; RESP3's kinds are `{map=...}`, `{set=...}`,
/// `{double=...}`, `{big_number=...}`, `{verbatim_string=...}` and booleans.
fn to_lua(lua: &Lua, r: &Reply, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime("reached lua stack limit"));
    }
    let wrapped = |name: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(name, v)?;
        Ok(Value::Table(t))
    };
    Ok(match r {
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil => Value::Boolean(false),
        Reply::Null => Value::Nil,
        Reply::Bool(b) => Value::Boolean(*b),
        Reply::Status(s) => wrapped("ok", Value::String(lua.create_string(s)?))?,
        Reply::Error(e) => wrapped("err", Value::String(lua.create_string(e)?))?,
        Reply::Double(d) => wrapped("double", Value::Number(*d))?,
        Reply::BigNumber(b) => wrapped("big_number", Value::String(lua.create_string(b)?))?,
        Reply::Verbatim(format, text) => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(format)?)?;
            t.raw_set("string", lua.create_string(text)?)?;
            wrapped("verbatim_string", Value::Table(t))?
        }
        Reply::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, it, depth + 1)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k, depth + 1)?, to_lua(lua, v, depth + 1)?)?;
            }
            wrapped("map", Value::Table(t))?
        }
        Reply::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for it in items {
                t.raw_set(to_lua(lua, it, depth + 1)?, true)?;
            }
            wrapped("set", Value::Table(t))?
        }
    })
}

/// A script's return value as Redis replies it: a number is truncated to
/// an integer, true is 1 and false nil (a boolean after `setresp(3)`), nil
/// is nil, a table with `err`, `ok`, `double`, `big_number`,
/// `verbatim_string`, `map` or `set` is that reply, any other table an
/// array up to its first nil.
pub(crate) fn from_lua(v: &Value, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::Error(b"ERR reached lua stack limit".to_vec());
    }
    let resp3 = RESP3.with(|r| r.get());
    match v {
        Value::Nil => Reply::Nil,
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) => Reply::Nil,
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(if n.is_finite() { *n as i64 } else { i64::MIN }),
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Reply::Error(e.as_bytes().to_vec());
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Reply::Status(s.as_bytes().to_vec());
            }
            match t.raw_get::<Value>("double") {
                Ok(Value::Number(d)) => return Reply::Double(d),
                Ok(Value::Integer(d)) => return Reply::Double(d as f64),
                _ => {}
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
                return Reply::BigNumber(s.as_bytes().to_vec());
            }
            if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
                if let (Ok(Value::String(f)), Ok(Value::String(text))) =
                    (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string"))
                {
                    return Reply::Verbatim(f.as_bytes().to_vec(), text.as_bytes().to_vec());
                }
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                let pairs = m
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, v)| (from_lua(&k, depth + 1), from_lua(&v, depth + 1)))
                    .collect();
                return Reply::Map(pairs);
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("set") {
                let items = m
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, _)| from_lua(&k, depth + 1))
                    .collect();
                return Reply::Set(items);
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(from_lua(&v, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// Parses the reply a command wrote, RESP2 or RESP3 (our own output, so
/// complete and well formed; anything else reads as nil).
pub(crate) fn parse_reply(buf: &[u8]) -> Reply {
    let mut pos = 0;
    parse_at(buf, &mut pos, 0).unwrap_or(Reply::Nil)
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Option<Reply> {
    let kind = *buf.get(*pos)?;
    let line_end = *pos + buf[*pos..].windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[*pos + 1..line_end];
    *pos = line_end + 2;
    let num = || -> Option<i64> { std::str::from_utf8(line).ok()?.parse().ok() };
    let blob = |pos: &mut usize| -> Option<Vec<u8>> {
        let n = usize::try_from(num()?).ok()?;
        let b = buf.get(*pos..*pos + n)?.to_vec();
        *pos += n + 2;
        Some(b)
    };
    let items = |pos: &mut usize, n: i64| -> Option<Vec<Reply>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut items = Vec::with_capacity((n.max(0) as usize).min(1024));
        for _ in 0..n {
            items.push(parse_at(buf, pos, depth + 1)?);
        }
        Some(items)
    };
    Some(match kind {
        b'+' => Reply::Status(line.to_vec()),
        b'-' => Reply::Error(line.to_vec()),
        b':' => Reply::Int(num()?),
        b'$' if num()? < 0 => Reply::Nil,
        b'$' => Reply::Bulk(blob(pos)?),
        b'*' if num()? < 0 => Reply::Nil,
        b'*' => Reply::Array(items(pos, num()?)?),
        b'_' => Reply::Null,
        b'#' => Reply::Bool(line == b"t"),
        b',' => Reply::Double(std::str::from_utf8(line).ok()?.parse().ok()?),
        b'(' => Reply::BigNumber(line.to_vec()),
        b'=' => {
            let b = blob(pos)?;
            let (format, text) = b.split_at(b.len().min(4));
            Reply::Verbatim(
                format[..format.len().saturating_sub(1)].to_vec(),
                text.to_vec(),
            )
        }
        b'~' => Reply::Set(items(pos, num()?)?),
        b'%' => {
            let flat = items(pos, num()? * 2)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(body: &str, argv: &[&str]) -> Outcome {
        let argv: Vec<bytes::Bytes> = argv
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let sha = crate::scripting::Scripts::sha1_hex(body.as_bytes());
        run(
            0,
            Code::Script {
                sha: &sha,
                body: body.as_bytes(),
            },
            &[],
            &argv,
            &mut |args, _| Reply::Bulk(args.concat()),
            &|| false,
        )
    }

    fn reply(o: Outcome) -> Reply {
        match o {
            Outcome::Reply(r) => r,
            Outcome::Error(e) => panic!("error: {e}"),
        }
    }

    #[test]
    fn values_convert_as_redis_does() {
        assert_eq!(reply(eval("return 3.99", &[])), Reply::Int(3));
        assert_eq!(reply(eval("return true", &[])), Reply::Int(1));
        assert_eq!(reply(eval("return false", &[])), Reply::Nil);
        assert_eq!(
            reply(eval("return {1, 'a', {2}, nil, 5}", &[])),
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Bulk(b"a".to_vec()),
                Reply::Array(vec![Reply::Int(2)])
            ])
        );
        assert_eq!(
            reply(eval("return {ok='fine'}", &[])),
            Reply::Status(b"fine".to_vec())
        );
        assert_eq!(
            reply(eval("return redis.call('get', ARGV[1], 1.5)", &["k"])),
            Reply::Bulk(b"getk1.5".to_vec())
        );
    }

    #[test]
    fn globals_are_read_only_and_do_not_leak() {
        let Outcome::Error(e) = eval("x = 1", &[]) else {
            panic!()
        };
        assert!(
            e.starts_with("ERR user_script:1: Attempt to modify a readonly table script: "),
            "{e}"
        );
        assert!(e.ends_with(", on @user_script:1."), "{e}");
        let Outcome::Error(e) = eval("return os", &[]) else {
            panic!()
        };
        assert!(
            e.contains("Script attempted to access nonexistent global variable 'os'"),
            "{e}"
        );
        let _ = eval("rawset(_G, 'leak', 1) string.leak = 1", &[]);
        assert_eq!(
            reply(eval("return rawget(_G, 'leak') == nil", &[])),
            Reply::Int(1)
        );
    }

    #[test]
    fn numbers_are_written_as_redis_writes_them() {
        for (n, s) in [
            (10.0 / 3.0, "3.3333333333333335"),
            (1e20, "1e+20"),
            (1.5, "1.5"),
            (100.0, "100"),
            (0.1, "0.10000000000000001"),
            (-2.5, "-2.5"),
            (1e-7, "9.9999999999999995e-08"),
            (12345678.0, "12345678"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
        ] {
            assert_eq!(number_arg(n), s, "{n}");
        }
    }

    #[test]
    fn compile_errors_read_as_redis() {
        let e = compile_error(b"syntax error here").unwrap_or_default();
        assert_eq!(
            e,
            "ERR Error compiling script (new function): user_script:1: '=' expected near 'error'"
        );
    }
}
