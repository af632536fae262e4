//! What the types' unit tests share: a real store in a temp dir.

use crate::store::Store;
use bytes::Bytes;
use std::sync::Arc;

/// A fresh store; keep the dir alive as long as the store.
pub(super) fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_path(dir.path()).expect("open");
    (dir, s)
}

pub(super) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}
