//! The `alloc` names that `std`'s prelude would bring, so that every module reads the
//! same with and without the `std` feature (`use crate::prelude::*;`).

pub(crate) use alloc::boxed::Box;
pub(crate) use alloc::format;
pub(crate) use alloc::string::{String, ToString};
pub(crate) use alloc::vec;
pub(crate) use alloc::vec::Vec;
