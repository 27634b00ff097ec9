//! Help content: articles written as Markdown files with front matter,
//! rendered through a safe subset, searched as you type (tolerant of small
//! typos), and suggested for the page the user is on.
//!
//! ```text
//! ---
//! title: Import projects from a CSV file
//! tags: import, csv, spreadsheet
//! segments: small_team, mid_team        (optional; absent = everyone)
//! urls: /, /projects/*                   (where it is relevant; * matches anything)
//! video: /demo/video-import.html         (optional; http(s) URL or path)
//! ---
//! Markdown body …
//! ```

mod article;
pub mod markdown;
mod search;

pub use article::{path_matches, suggest, Article, ArticleError};
pub use markdown::{Block, Inline};
pub use search::{Hit, Index};

#[cfg(test)]
mod tests;
