//! The UAPI rules, one test per rule: what the TypeScript server's unit tests checked before the server
//! moved here, plus the socket's own.

mod apply;
mod fake;
mod get;
mod parse;
#[cfg(unix)]
mod server;
