//! Account-level items for the widget's read, from the rows kept at ingest
//! (`store::checklist_progress`): each member's count of matching events,
//! their first matches by `ts` and their manual completions, rather than
//! every event of every member. [`super::account_tally`] replays
//! the same from the events (the reports and the accounts worker use it);
//! `tests/checklist_progress.rs` holds the two equal.
//!
//! The tally merges the members' events by `ts`: an item is reached at the
//! `count`-th matching `ts` of all of them (or a manual completion, if
//! earlier), and contributors are listed in the order of their first
//! contribution (ties by user id, as the replay's stable sort over users in
//! id order has them).
//!
//! Members are found as the replay finds them: users whose identified
//! `group` named one of the accounts this user's identified `group`s named,
//! whose latest `group` (identified or sent before `identify` on a browser
//! they own) names the account. One difference: a user whose only `group`
//! was sent before `identify` is a member here for nobody, while the replay
//! counts them whenever it happens to read their rows (a browser shared with
//! a member).

use std::collections::{BTreeMap, BTreeSet};

use touchpoint_core::checklist::{AccountProgress, Checklist, CompleteWhen, Contributor, Scope};

use super::ChecklistCatalog;
use crate::error::AppError;
use crate::store::checklist_progress::{by_ts, item_rules, AccountPart};
use crate::store::Store;

/// The account of `user` and its tally per checklist with account-level
/// items: their latest `group`'s account, else `claimed` (the one the
/// widget's `group()` named, not stored yet); `None` without either, or
/// without account-level items.
pub async fn account_checklist(
    db: &Store,
    catalog: &ChecklistCatalog,
    key: &str,
    user: &str,
    claimed: Option<&str>,
) -> Result<Option<(String, BTreeMap<String, AccountProgress>)>, AppError> {
    let scoped: Vec<&Checklist> =
        catalog.set.checklists().iter().filter(|c| c.items.iter().any(|i| i.scope == Scope::Account)).collect();
    if scoped.is_empty() {
        return Ok(None);
    }
    let me = db.account_part(key.into(), user.into()).await?;
    let Some(account) = me.account.clone().or(claimed.map(str::to_owned)) else { return Ok(None) };
    // As the replay finds them: whoever an identified `group` put in one of the accounts this user's did.
    let mut candidates = BTreeSet::new();
    for named in me.ever.iter().map(String::as_str).chain(claimed) {
        candidates.extend(db.grouped_into(key.into(), named.to_owned()).await?);
    }
    let mut members = BTreeMap::new();
    for other in candidates {
        if other != user {
            let part = db.account_part(key.into(), other.clone()).await?;
            // Grouped into it once, elsewhere now.
            if part.account.as_deref() == Some(account.as_str()) {
                members.insert(other, part);
            }
        }
    }
    members.insert(user.to_owned(), me);
    let rules = item_rules(&catalog.definition);
    let tallies = scoped.into_iter().map(|c| (c.id.clone(), tally(c, &rules, &members))).collect();
    Ok(Some((account, tallies)))
}

fn tally(
    c: &Checklist,
    rules: &BTreeMap<(String, String), String>,
    members: &BTreeMap<String, AccountPart>,
) -> AccountProgress {
    let mut t = AccountProgress::default();
    for item in c.items.iter().filter(|i| i.scope == Scope::Account) {
        let manual = format!("{}\u{1f}{}", c.id, item.id);
        let manual_count = format!("manual\u{1f}{manual}");
        let rule = rules.get(&(c.id.clone(), item.id.clone())).map(|r| by_ts(r));
        let (mut matched, mut first_ts, mut manual_at) = (0i64, Vec::new(), None::<i64>);
        let mut by = Vec::new();
        for (user, part) in members {
            let n = rule.as_ref().and_then(|r| part.counts.get(r)).copied().unwrap_or(0);
            let m = part.counts.get(&manual_count).copied().unwrap_or(0);
            let firsts = rule.as_ref().and_then(|r| part.first_ts.get(r)).map(Vec::as_slice).unwrap_or_default();
            let their_manual = part.manual_ts.get(&manual).copied().filter(|_| m > 0);
            let Some(first) = firsts.first().copied().into_iter().chain(their_manual).min() else { continue };
            by.push((first, user, u32::try_from(n + m).unwrap_or(u32::MAX)));
            matched += n;
            first_ts.extend_from_slice(firsts);
            manual_at = manual_at.into_iter().chain(their_manual).min();
        }
        if by.is_empty() {
            continue;
        }
        by.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let list = by.into_iter().map(|(_, user, count)| Contributor { user_id: user.clone(), count }).collect();
        t.by.insert(item.id.clone(), list);
        let mut reached = manual_at;
        if let CompleteWhen::Event { count, .. } = &item.complete_when {
            if matched > 0 {
                t.counts.insert(item.id.clone(), u32::try_from(matched).unwrap_or(u32::MAX).min(*count));
            }
            first_ts.sort_unstable();
            if matched >= i64::from(*count) {
                let at = first_ts.get(*count as usize - 1).copied();
                reached = reached.into_iter().chain(at).min();
            }
        }
        if let Some(at) = reached {
            t.reached_at.insert(item.id.clone(), at);
        }
    }
    t
}
