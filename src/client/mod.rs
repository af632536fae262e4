//! The client layer, shared by the node and the sentinel: the registry
//! behind CLIENT LIST / KILL, the pub/sub hub with each connection's
//! subscriptions, and the connection commands both answer the same way
//! (PING, AUTH, HELLO, CLIENT, SUBSCRIBE and co.; `commands.rs`).

pub(crate) mod commands;
pub(crate) mod monitor;
pub(crate) mod pubsub;
pub(crate) mod registry;
pub(crate) mod tracking;

pub(crate) use registry::{ClientInfo, Clients};
