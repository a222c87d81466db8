//! The StarOS-style command line engine.
