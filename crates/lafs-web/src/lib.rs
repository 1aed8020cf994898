//! Provisional skeleton (wip-ui): replaced by wip-web's crate root on merge.
pub mod ui;
pub mod view;
