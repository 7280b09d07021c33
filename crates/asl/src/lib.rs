//! Amazon States Language (ASL): definitions, validation, paths, payload templates,
//! intrinsic functions and choice rules.
//!
//! This crate is pure: no I/O, no clock, no threads. The engine crate runs what it describes.

pub mod choice;
pub mod error;
pub mod graph;
pub mod intrinsic;
pub mod limits;
pub mod load;
pub mod model;
pub mod path;
pub mod query;
pub mod shared;
pub mod template;
pub mod value;
pub mod walk;

pub use error::{StatesError, names};
pub use limits::Limits;
pub use load::{Diagnostic, load, load_str, load_str_with, load_with};
pub use model::*;
pub use path::{Path, Scope};
pub use shared::SharedJson;
pub use template::Template;
pub use value::{Foreign, ForeignError, Kind, Value};
