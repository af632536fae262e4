//! Function libraries (Redis 7's functions.c): what each library defines,
//! found by running its code. The code itself lives in the store (one
//! pair per library, `store/libraries.rs`), so it is logged, replicated
//! and in snapshots like any key; this registry is derived from it and
//! rebuilt whenever the store says the libraries changed.

use super::lua::{self, Registered};
use crate::store::Store;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub(crate) const NAME_ERROR: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Redis's rule for library and function names.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A loaded library.
#[derive(Debug)]
pub(crate) struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<Registered>,
}

/// The library name in `code`'s first line (`#!lua name=<name>`), or
/// Redis's error for FUNCTION LOAD.
pub(crate) fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(eol) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let Ok(parts) = crate::config::split_args(&code[2..eol]) else {
        return Err("ERR Invalid library metadata".into());
    };
    let Some((engine, meta)) = parts.split_first() else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut name = None;
    for part in meta {
        match part.strip_prefix("name=") {
            Some(_) if name.is_some() => {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                )
            }
            Some(n) => name = Some(n.to_string()),
            None => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(name.as_bytes()) {
        return Err(NAME_ERROR.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(name)
}

/// Runs `code` (named `name`) to find its functions.
pub(crate) fn load(generation: u64, name: &str, code: Bytes) -> Result<Library, String> {
    let functions = lua::load_library(generation, name, &code)?;
    Ok(Library {
        name: name.to_string(),
        code,
        functions,
    })
}

/// Every library and function, as the store holds them now.
#[derive(Default, Debug)]
pub(crate) struct Registry {
    pub libraries: BTreeMap<String, Arc<Library>>,
    functions: HashMap<String, (Arc<Library>, usize)>,
}

impl Registry {
    /// A function by name: its library and its registration.
    pub(crate) fn function(&self, name: &[u8]) -> Option<(&Arc<Library>, &Registered)> {
        let name = std::str::from_utf8(name).ok()?;
        let (lib, i) = self.functions.get(name)?;
        Some((lib, lib.functions.get(*i)?))
    }

    pub(crate) fn function_count(&self) -> usize {
        self.functions.len()
    }

    pub(crate) fn add(&mut self, lib: Library) {
        let lib = Arc::new(lib);
        for (i, f) in lib.functions.iter().enumerate() {
            self.functions.insert(f.name.clone(), (lib.clone(), i));
        }
        self.libraries.insert(lib.name.clone(), lib);
    }
}

/// The registry of `libraries` (name, code).
pub(crate) fn registry_of(libraries: Vec<(Bytes, Bytes)>, generation: u64) -> Registry {
    let mut reg = Registry::default();
    for (name, code) in libraries {
        let name = String::from_utf8_lossy(&name).into_owned();
        // Each was checked when it was loaded; one that fails now (its
        // load hit the time limit on a busier machine, say) is left out
        // rather than stopping the others.
        match load(generation, &name, code) {
            Ok(lib) => reg.add(lib),
            Err(e) => tracing::warn!("function library {name} did not load: {e}"),
        }
    }
    reg
}

/// The registry, cached against the store's `functions_version`.
#[derive(Default)]
pub(crate) struct Functions {
    cached: Mutex<Option<(u64, Arc<Registry>)>>,
}

impl Functions {
    pub(crate) fn registry(&self, store: &Store, generation: u64) -> Arc<Registry> {
        let version = store.functions_version();
        if let Some((v, r)) = self.cached.lock().as_ref() {
            if *v == version {
                return r.clone();
            }
        }
        let reg = Arc::new(registry_of(store.libraries(), generation));
        *self.cached.lock() = Some((version, reg.clone()));
        reg
    }
}
