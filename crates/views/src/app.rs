//! The app layer: what follows a [`Change`] the features and views send.
//! It alone imports both the launchers and targeting, which sit above the
//! checklist and the panels that report the changes.

use crate::signal::{Change, Panel};
use crate::{launchers, targeting};

pub fn react(change: Change) {
    match change {
        Change::ChecklistShown { checklist, segment } => launchers::show_checklist(checklist, segment),
        Change::Checklist => launchers::checklist_changed(),
        Change::PanelClosed => launchers::panel_changed(Panel::Nothing),
        Change::Decide => targeting::decide(),
    }
}
