//! RESP2/RESP3 wire protocol: request parsing (multibulk and inline), reply
//! encoding, and a small reply parser for the client side (replication links,
//! sentinel). Limits are checked before anything is allocated, so a client can
//! never make the server reserve what it merely claims.

mod encode;
mod frame;
mod parse;

pub(crate) use encode::Out;
pub(crate) use frame::{parse_frame, Frame};
pub(crate) use parse::{parse_request, Limits, RequestParser};
