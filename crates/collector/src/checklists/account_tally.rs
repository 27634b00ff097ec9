//! The account-level checklist tally replayed from stored events: every
//! event of every member of an account, merged in time order. The widget's
//! reads use the stored aggregate instead ([`super::account_progress`]); this
//! replay serves reports over everyone and the account page, and is the
//! oracle the aggregate is tested against.

use std::collections::{BTreeMap, BTreeSet};

use touchpoint_core::checklist::{AccountProgress, ChecklistSet, Scope, Trigger};
use touchpoint_protocol::EventKind;

use super::activities;
use super::replay::{by_person, memberships, Activity, Person};
use crate::error::AppError;
use crate::AppState;

/// Per checklist id, the account's tally of its account-scoped items over
/// these users' events (`track`, and manual completions the host made).
pub fn account_tally<'a>(
    set: &ChecklistSet,
    users: impl Iterator<Item = (&'a str, &'a [Activity])>,
) -> BTreeMap<String, AccountProgress> {
    let scoped: Vec<_> =
        set.checklists().iter().filter(|c| c.items.iter().any(|i| i.scope == Scope::Account)).collect();
    let mut merged: Vec<(i64, &str, &Activity)> = Vec::new();
    for (user, rows) in users {
        merged.extend(rows.iter().map(|r| (r.ts, user, r)));
    }
    merged.sort_by_key(|(ts, ..)| *ts);
    let manual = Trigger::Manual.to_string();
    let mut out = BTreeMap::new();
    for c in scoped {
        let mut t = AccountProgress::default();
        for (ts, user, r) in &merged {
            match &r.kind {
                Some(EventKind::Track { name, props }) => t.observe(c, user, name, props, *ts),
                Some(EventKind::ChecklistItemCompleted { checklist_id, item_id, rule })
                    if *checklist_id == c.id && *rule == manual =>
                {
                    t.complete(c, user, item_id, *ts)
                }
                _ => {}
            }
        }
        out.insert(c.id.clone(), t);
    }
    out
}

/// For every user grouped into an account, the account's tally per checklist
/// (users of one account share one tally); for reports over everyone.
pub fn tallies_by_user(
    set: &ChecklistSet,
    people: &BTreeMap<Person, Vec<Activity>>,
) -> BTreeMap<String, std::rc::Rc<BTreeMap<String, AccountProgress>>> {
    let member_of = memberships(people);
    let mut users_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (user, account) in &member_of {
        users_of.entry(account).or_default().push(user);
    }
    let mut out = BTreeMap::new();
    for users in users_of.values() {
        let tally = std::rc::Rc::new(account_tally(
            set,
            users.iter().map(|u| (*u, people.get(&Person::User(u.to_string())).map(Vec::as_slice).unwrap_or_default())),
        ));
        for u in users {
            out.insert(u.to_string(), tally.clone());
        }
    }
    out
}

/// The account of `user` and its tally for the checklists, if the user is
/// grouped into one (by a stored `group`, or else by `claimed`, the account
/// the widget says `group()` named, whose event may not be stored yet); for
/// the widget's checklist state.
pub async fn account_checklist(
    state: &AppState,
    set: &ChecklistSet,
    key: &str,
    user: &str,
    claimed: Option<&str>,
) -> Result<Option<(String, BTreeMap<String, AccountProgress>)>, AppError> {
    if !set.checklists().iter().any(|c| c.items.iter().any(|i| i.scope == Scope::Account)) {
        return Ok(None);
    }
    // Only the rows of the accounts this user was ever grouped into (and the
    // claimed one): the account's tally, without reading the whole project.
    let mut accounts = state.db.accounts_of(key.to_string(), vec![user.to_string()], Vec::new()).await?;
    accounts.extend(claimed.map(str::to_string));
    let rows = state.db.accounts_activity(key.to_string(), accounts).await?;
    let people = by_person(activities(rows)?);
    let member_of = memberships(&people);
    let Some(account) = member_of.get(user).map(String::as_str).or(claimed) else { return Ok(None) };
    let mut users: BTreeSet<&str> =
        member_of.iter().filter(|(_, a)| a.as_str() == account).map(|(u, _)| u.as_str()).collect();
    users.insert(user);
    let tally = account_tally(
        set,
        users.iter().map(|u| (*u, people.get(&Person::User(u.to_string())).map(Vec::as_slice).unwrap_or_default())),
    );
    Ok(Some((account.to_string(), tally)))
}
