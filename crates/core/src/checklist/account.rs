//! Account-level items: behaviors counted across every user of an account,
//! remembering who did what, so the checklist can say so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::engine::Progress;
use super::predicate::all_hold;
use super::validate::{Checklist, CompleteWhen, Scope};

/// The account's tally for its account-scoped items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountProgress {
    /// Per item: matching behaviors of all users together, capped at what the item needs.
    pub counts: BTreeMap<String, u32>,
    /// Per item: who contributed, in the order they first did.
    pub by: BTreeMap<String, Vec<Contributor>>,
    /// Per item: when the account reached it (the count, or a host's `complete`).
    pub reached_at: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    pub user_id: String,
    /// Their matching behaviors (1 for a host's `complete`).
    pub count: u32,
}

impl AccountProgress {
    /// A `track(name, props)` of `user` at `at`.
    pub fn observe(&mut self, c: &Checklist, user: &str, name: &str, props: &Map<String, Value>, at: i64) {
        for item in c.items.iter().filter(|i| i.scope == Scope::Account) {
            let CompleteWhen::Event { event, where_, count } = &item.complete_when else { continue };
            if event != name || !all_hold(where_, props) {
                continue;
            }
            self.credit(&item.id, user);
            let n = self.counts.entry(item.id.clone()).or_default();
            if *n < *count {
                *n += 1;
                if *n == *count {
                    self.reached_at.entry(item.id.clone()).or_insert(at);
                }
            }
        }
    }

    /// The host completed an account-scoped `item` for `user`.
    pub fn complete(&mut self, c: &Checklist, user: &str, item: &str, at: i64) {
        if c.item(item).is_some_and(|i| i.scope == Scope::Account) {
            self.credit(item, user);
            self.reached_at.entry(item.to_owned()).or_insert(at);
        }
    }

    fn credit(&mut self, item: &str, user: &str) {
        let list = self.by.entry(item.to_owned()).or_default();
        match list.iter_mut().find(|c| c.user_id == user) {
            Some(c) => c.count += 1,
            None => list.push(Contributor { user_id: user.to_owned(), count: 1 }),
        }
    }
}

impl Progress {
    /// Makes `account`'s tally count for this user's account-scoped items
    /// (counts take the larger; a reached item is done, at the time the
    /// account reached it); returns the items that became complete.
    pub fn with_account(&mut self, c: &Checklist, account: &AccountProgress) -> Vec<String> {
        let mut items: Vec<&super::Item> = c.items.iter().filter(|i| i.scope == Scope::Account).collect();
        // Reached items in the order the account reached them, so each completes at its own time.
        crate::sort::by_key(&mut items, |i| account.reached_at.get(&i.id).copied().unwrap_or(i64::MAX));
        let mut newly = Vec::new();
        for item in items {
            if let Some(n) = account.counts.get(&item.id) {
                let mine = self.counts.entry(item.id.clone()).or_default();
                *mine = (*mine).max(*n);
            }
            let Some(at) = account.reached_at.get(&item.id) else { continue };
            let counted = match &item.complete_when {
                CompleteWhen::Event { count, .. } => account.counts.get(&item.id).is_some_and(|n| n >= count),
                CompleteWhen::Manual => false,
            };
            // Reached by a host's complete(), not by the count.
            if !counted {
                self.manual.entry(item.id.clone()).or_insert(*at);
            }
            newly.extend(self.settle(c, *at));
        }
        newly
    }
}
