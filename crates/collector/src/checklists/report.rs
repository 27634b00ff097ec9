//! Reports over every identified user of a project: the per-segment funnel
//! and the churn-risk list.
//!
//! Only identified users (with a `user_id`) count: segments are chosen from
//! `identify` traits, and a browser that never identified is nobody a
//! customer-success team can reach. Their pre-`identify` behaviors do count,
//! as part of the user who then identified on that browser (see
//! [`super::replay`]).

use serde::Serialize;

use super::replay::Replayed;
use super::ChecklistCatalog;

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// One identified user and their replayed checklist.
pub struct UserProgress<'a> {
    pub user_id: String,
    pub replayed: Replayed<'a>,
}

#[derive(Debug, Serialize)]
pub struct SegmentFunnel {
    pub segment: String,
    pub checklist: String,
    /// Users whose chosen segment is this one.
    pub users: usize,
    /// In checklist order.
    pub items: Vec<ItemFunnel>,
}

#[derive(Debug, Serialize)]
pub struct ItemFunnel {
    pub item_id: String,
    pub users_completed: usize,
    /// Median over those users of (completion time − their first event's
    /// time), in whole ms (an even count averages the middle two, rounded
    /// down); `null` when nobody completed it.
    pub median_ms_to_complete: Option<i64>,
}

/// The funnel of every segment of `catalog` (in definition order, including
/// segments nobody is in), or of the one named `only`.
pub fn funnel(catalog: &ChecklistCatalog, users: &[UserProgress<'_>], only: Option<&str>) -> Vec<SegmentFunnel> {
    catalog
        .segments()
        .filter(|(segment, _)| only.is_none_or(|id| id == segment.id))
        .map(|(segment, checklist)| {
            let members: Vec<&Replayed> =
                users.iter().map(|u| &u.replayed).filter(|r| r.segment.id == segment.id).collect();
            let items = checklist
                .items
                .iter()
                .map(|item| {
                    let durations: Vec<i64> = members
                        .iter()
                        .filter_map(|r| Some(r.progress.completed.get(&item.id)?.at - r.first_seen?))
                        .collect();
                    ItemFunnel {
                        item_id: item.id.clone(),
                        users_completed: durations.len(),
                        median_ms_to_complete: median(durations),
                    }
                })
                .collect();
            SegmentFunnel { segment: segment.id.clone(), checklist: checklist.id.clone(), users: members.len(), items }
        })
        .collect()
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(values[n / 2 - 1] + (values[n / 2] - values[n / 2 - 1]) / 2),
    }
}

#[derive(Debug, Serialize)]
pub struct AtRisk {
    pub user: String,
    pub segment: String,
    pub checklist: String,
    /// ms since the epoch, of their earliest and latest event.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Users first seen more than `days` days before `now` who completed no
/// checklist item within `days` days of first being seen; oldest first.
pub fn churn_risk(users: &[UserProgress<'_>], days: i64, now: i64) -> Vec<AtRisk> {
    let window = days * DAY_MS;
    let mut at_risk: Vec<AtRisk> = users
        .iter()
        .filter_map(|u| {
            let r = &u.replayed;
            let (first_seen, last_seen) = (r.first_seen?, r.last_seen?);
            let old_enough = now - first_seen > window;
            let succeeded = r.progress.completed.values().any(|c| c.at - first_seen <= window);
            (old_enough && !succeeded).then(|| AtRisk {
                user: u.user_id.clone(),
                segment: r.segment.id.clone(),
                checklist: r.checklist.id.clone(),
                first_seen,
                last_seen,
            })
        })
        .collect();
    at_risk.sort_by(|a, b| (a.first_seen, &a.user).cmp(&(b.first_seen, &b.user)));
    at_risk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_no_values() {
        for (values, expected) in [
            (vec![], None),
            (vec![7], Some(7)),
            (vec![30, 10, 20], Some(20)),
            (vec![40, 10, 20, 30], Some(25)),
            (vec![1, 2], Some(1)),
        ] {
            assert_eq!(median(values.clone()), expected, "{values:?}");
        }
    }
}
