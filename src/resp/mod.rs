//! RESP2/RESP3 wire protocol: request parsing (multibulk and inline), reply
//! encoding, and a small reply parser for the client side (replication links,
//! sentinel). Limits are checked before anything is allocated, so a client can
//! never make the server reserve what it merely claims.

mod encode;
mod frame;
mod parse;

pub use encode::Out;
pub use frame::{parse_frame, Frame, FrameError};
pub use parse::{parse_request, Limits, ProtocolError, RequestParser};
