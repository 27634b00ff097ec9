//! How the parts below the app layer say that something changed without
//! importing what reacts to it. The checklist's state, a panel the user
//! closed from inside, and anything that may change what targeting would
//! show are sent here; `app::react` (installed by `exports::start`, before
//! anything can change) decides what follows. So the features and views
//! point down only, and the launchers alone decide which panel is open.

use std::cell::Cell;
use std::sync::Arc;

use touchpoint_core::checklist::Checklist;

/// A dock panel: the launchers decide which one is open (at most one).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Panel {
    Nothing,
    Checklist,
    Help,
}

impl Panel {
    pub fn name(self) -> &'static str {
        match self {
            Panel::Nothing => "nothing",
            Panel::Checklist => "checklist",
            Panel::Help => "help",
        }
    }
}

pub enum Change {
    /// A checklist was chosen for the person, for this segment.
    ChecklistShown { checklist: Arc<Checklist>, segment: String },
    /// The checklist's progress or dismissal changed.
    Checklist,
    /// The user closed the open panel from inside it.
    PanelClosed,
    /// Something targeting reads changed (the checklist, a panel): decide again what to show.
    Decide,
}

thread_local! {
    static REACT: Cell<Option<fn(Change)>> = const { Cell::new(None) };
}

/// Installs the one reaction to every change.
pub fn install(react: fn(Change)) {
    REACT.with(|r| r.set(Some(react)));
}

/// Tells the app layer; nothing happens before it is installed.
pub fn send(change: Change) {
    if let Some(react) = REACT.with(Cell::get) {
        react(change);
    }
}
