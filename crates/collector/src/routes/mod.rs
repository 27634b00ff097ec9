//! One router per area, merged by [`crate::router`].

pub mod assets;
pub mod events;
pub mod surveys;
