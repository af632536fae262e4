//! What the integration tests share, one module per concern. Every test
//! file starts with `mod support; use support::*;`.
//!
//! - `node`: a real `sledis-server` process (`Node`), stopped by PID.
//! - `real_redis`: a real `redis-server` (`RealRedis`), the reference.
//! - `resp`: a tiny RESP client that shows exact replies (`Resp`, `Reply`).
//! - `compare`: running the same checks against Redis and sledis.
//! - `client`: redis-cli, raw bytes, INFO fields, DEBUG DIGEST.
//! - `replication`: linking replicas and waiting until they agree.
//! - `sentinel`: a sentinel process and the events it publishes.
//! - `rng`: a deterministic random number generator.
//! - `wait`: polling until a condition holds, the wall clock.

// Each test file compiles this whole module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod compare;
pub mod node;
pub mod real_redis;
pub mod replication;
pub mod resp;
pub mod rng;
pub mod sentinel;
pub mod wait;

pub use client::*;
pub use compare::*;
pub use node::*;
pub use real_redis::*;
pub use replication::*;
pub use resp::*;
pub use rng::*;
pub use sentinel::*;
pub use wait::*;
