//! One router per area, merged by [`crate::router`].

pub mod assets;
pub mod checklists;
pub mod events;
pub mod help;
pub mod surveys;
