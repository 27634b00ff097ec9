//! One router per area, merged by [`crate::router`].

pub mod accounts;
pub mod assets;
pub mod automations;
pub mod cases;
pub mod checklists;
pub mod config;
pub mod content;
pub mod dashboard;
pub mod editor;
pub mod events;
pub mod help;
pub mod insight;
pub mod openapi;
pub mod people;
pub mod safe_files;
pub mod segment;
pub mod streams;
pub mod surveys;
