//! stub
pub mod cli;
