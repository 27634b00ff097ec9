//! The dashboard's filters: one [`Filter`] read from the query string
//! (`from`, `to`, `segment`, `tier`, `plan`, `trait.<name>`, `account`,
//! `locale`, `version`), resolved against the project's people into an
//! [`Audience`] that says which stored events, users and cases it keeps.
//!
//! **Who matches.** Segment, tier, traits, account and locale describe a
//! person, as they are now: the segment their checklist replay chooses, the
//! tier of their account (its `group` traits, by the accounts file), the
//! traits of their `identify` events (latest wins) and their account's as
//! `account.<name>`, the account of their latest `group`, the `locale` (or
//! `language`) trait, matched by language (`de` matches `de-AT`). An event
//! belongs to a person as in the checklist replay (an anonymous browser's
//! events are its first user's). `from`/`to` (a date `YYYY-MM-DD`, UTC, `to`
//! inclusive, or ms) bound each event's `ts`; `version` keeps survey events
//! whose body carries that `version` (other events are not versioned and
//! pass).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};
use touchpoint_protocol::EventKind;

use crate::checklists::replay::{self, Activity, Person};
use crate::checklists::ChecklistCatalog;
use crate::error::AppError;
use crate::store::StoredEvent;
use crate::time::{days_from_civil, DAY_MS};

/// The query parameters a filter reads; everything else is left to the route.
pub const PARAMS: [&str; 8] = ["from", "to", "segment", "tier", "plan", "account", "locale", "version"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `ts` at or after this (ms).
    pub from: Option<i64>,
    /// `ts` before this (ms).
    pub to: Option<i64>,
    pub segment: Option<String>,
    pub tier: Option<String>,
    /// `(name, value)`: the person's trait `name` (or their account's,
    /// `account.<name>`) equals `value`; `plan=` is `trait.plan=`.
    pub traits: Vec<(String, String)>,
    pub account: Option<String>,
    pub locale: Option<String>,
    pub version: Option<String>,
}

impl Filter {
    /// Reads the filter's parameters from a query string's pairs; an empty value means no filter.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Filter, AppError> {
        let mut f = Filter::default();
        for (k, v) in pairs {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let text = Some(v.to_string());
            match k {
                "from" => f.from = Some(moment(v, "from", false)?),
                "to" => f.to = Some(moment(v, "to", true)?),
                "segment" => f.segment = text,
                "tier" => f.tier = text,
                "plan" => f.traits.push(("plan".into(), v.to_string())),
                "account" => f.account = text,
                "locale" => f.locale = text,
                "version" => f.version = text,
                _ => {
                    if let Some(name) = k.strip_prefix("trait.").filter(|n| !n.is_empty()) {
                        f.traits.push((name.to_string(), v.to_string()));
                    }
                }
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to) {
            if from >= to {
                return Err(AppError::bad_request("from must be before to", Some("from")));
            }
        }
        Ok(f)
    }

    /// Filters that describe people (and need the project's people resolved).
    pub fn about_people(&self) -> bool {
        self.segment.is_some()
            || self.tier.is_some()
            || !self.traits.is_empty()
            || self.account.is_some()
            || self.locale.is_some()
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// The same filter over the period of equal length just before this one
    /// (`None` without both `from` and `to`).
    pub fn previous_period(&self) -> Option<Filter> {
        let (from, to) = (self.from?, self.to?);
        Some(Filter { from: Some(from - (to - from)), to: Some(from), ..self.clone() })
    }

    pub fn in_range(&self, ts: i64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }

    /// The survey `version` check: events whose body names another version (or none) are out.
    fn version_ok(&self, e: &StoredEvent) -> bool {
        let Some(want) = &self.version else { return true };
        if e.survey_id.is_none() {
            return true;
        }
        let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
        match &body["version"] {
            Value::String(s) => s == want,
            Value::Number(n) => n.to_string() == *want,
            _ => false,
        }
    }
}

/// A date (`YYYY-MM-DD`, UTC; `to` is inclusive, so its day's end) or ms since the epoch.
fn moment(v: &str, field: &str, end_of_day: bool) -> Result<i64, AppError> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        AppError::bad_request(
            format!("{field} must be a date YYYY-MM-DD or ms since the epoch, not {v:?}"),
            Some(field),
        )
    };
    let mut parts = v.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let (y, m, d) = (
        y.parse::<i64>().map_err(|_| bad())?,
        m.parse::<u32>().map_err(|_| bad())?,
        d.parse::<u32>().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let start = days_from_civil(y, m, d) * DAY_MS;
    Ok(if end_of_day { start + DAY_MS } else { start })
}

/// What one person is, for matching.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub segment: Option<String>,
    pub tier: Option<String>,
    pub account: Option<String>,
    /// `identify` traits, and the account's as `account.<name>`.
    pub traits: Map<String, Value>,
}

impl Profile {
    pub fn matches(&self, f: &Filter) -> bool {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let eq = |a: &Option<String>, want: &Option<String>| want.as_ref().is_none_or(|w| a.as_ref() == Some(w));
        let trait_is = |name: &str, want: &str| {
            let v = self.traits.get(name).or_else(|| self.traits.get(&format!("account.{name}")));
            v.is_some_and(|v| text(v) == want)
        };
        let locale_ok = f.locale.as_ref().is_none_or(|want| {
            let have = self.traits.get("locale").or_else(|| self.traits.get("language")).map(text).unwrap_or_default();
            let (have, want) = (have.to_ascii_lowercase().replace('_', "-"), want.to_ascii_lowercase());
            have == want || have.starts_with(&format!("{want}-"))
        });
        eq(&self.segment, &f.segment)
            && eq(&self.tier, &f.tier)
            && eq(&self.account, &f.account)
            && f.traits.iter().all(|(k, v)| trait_is(k, v))
            && locale_ok
    }
}

/// Everyone's profile: segment (with checklists), account, tier (with an accounts file), traits.
pub fn profiles(
    people: &BTreeMap<Person, Vec<Activity>>,
    checklists: Option<&ChecklistCatalog>,
    accounts: Option<&touchpoint_core::accounts::AccountsConfig>,
) -> BTreeMap<Person, Profile> {
    // Account traits: every group event for the account, in arrival order.
    let mut group_rows: Vec<(i64, &str, &Map<String, Value>)> = Vec::new();
    for rows in people.values() {
        for r in rows {
            if let Some(EventKind::Group { account_id, traits }) = &r.kind {
                group_rows.push((r.received_at, account_id, traits));
            }
        }
    }
    group_rows.sort_by_key(|(at, ..)| *at);
    let mut account_traits: HashMap<&str, Map<String, Value>> = HashMap::new();
    for (_, account, traits) in group_rows {
        account_traits.entry(account).or_default().extend(traits.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let member_of = crate::checklists::replay::memberships(people);
    people
        .iter()
        .map(|(person, rows)| {
            let mut traits = Map::new();
            for r in rows {
                if let Some(EventKind::Identify { traits: t }) = &r.kind {
                    traits.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            let account = match person {
                Person::User(u) => member_of.get(u).cloned(),
                Person::Anonymous(_) => None,
            };
            let of_account = account.as_deref().and_then(|a| account_traits.get(a));
            if let Some(t) = of_account {
                traits.extend(t.iter().map(|(k, v)| (format!("account.{k}"), v.clone())));
            }
            let segment = checklists.map(|c| replay::replay(&c.set, rows).segment.id.clone());
            let tier = match (accounts, of_account) {
                (Some(config), Some(t)) => Some(config.tier(t).id.clone()),
                _ => None,
            };
            (person.clone(), Profile { segment, tier, account, traits })
        })
        .collect()
}

/// Who a filter keeps, resolved once per request.
#[derive(Debug, Clone)]
pub struct Audience {
    pub filter: Filter,
    /// `None`: the filter says nothing about people, everyone is in.
    people: Option<HashSet<Person>>,
    /// Browser → its owner (first identified user), to place anonymous events.
    owners: HashMap<String, String>,
}

impl Audience {
    /// Everyone; only the filter's time range and version apply.
    pub fn everyone(filter: Filter) -> Audience {
        Audience { filter, people: None, owners: HashMap::new() }
    }

    pub fn resolve(
        filter: Filter,
        people: &BTreeMap<Person, Vec<Activity>>,
        profiles: &BTreeMap<Person, Profile>,
    ) -> Audience {
        let mut owners = HashMap::new();
        for (person, rows) in people {
            if let Person::User(u) = person {
                for r in rows {
                    if r.user_id.as_deref() == Some(u) {
                        owners.entry(r.anonymous_id.clone()).or_insert_with(|| u.clone());
                    }
                }
            }
        }
        let kept = profiles.iter().filter(|(_, p)| p.matches(&filter)).map(|(person, _)| person.clone()).collect();
        Audience { filter, people: Some(kept), owners }
    }

    /// The person an event (or case) is about, as the replay splits people.
    pub fn person_of(&self, user_id: Option<&str>, anonymous_id: &str) -> Person {
        match (user_id, self.owners.get(anonymous_id)) {
            (Some(u), _) => Person::User(u.to_string()),
            (None, Some(owner)) => Person::User(owner.clone()),
            (None, None) => Person::Anonymous(anonymous_id.to_string()),
        }
    }

    pub fn has_person(&self, user_id: Option<&str>, anonymous_id: &str) -> bool {
        self.people.as_ref().is_none_or(|kept| kept.contains(&self.person_of(user_id, anonymous_id)))
    }

    pub fn has_user(&self, user_id: &str) -> bool {
        self.people.as_ref().is_none_or(|kept| kept.contains(&Person::User(user_id.to_string())))
    }

    /// Keeps an event: its person, its `ts` in range, its survey version.
    pub fn keeps(&self, e: &StoredEvent) -> bool {
        self.filter.in_range(e.ts)
            && self.filter.version_ok(e)
            && self.has_person(e.user_id.as_deref(), &e.anonymous_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_dates_traits_and_refuses_a_bad_range() {
        let f = Filter::from_pairs([
            ("from", "2023-11-13"),
            ("to", "2023-11-19"),
            ("plan", "pro"),
            ("trait.role", "admin"),
            ("segment", ""),
            ("other", "x"),
        ])
        .unwrap();
        assert_eq!(f.from, Some(days_from_civil(2023, 11, 13) * DAY_MS));
        assert_eq!(f.to, Some(days_from_civil(2023, 11, 20) * DAY_MS));
        assert_eq!(f.traits, vec![("plan".into(), "pro".into()), ("role".into(), "admin".into())]);
        assert_eq!(f.segment, None);
        let prev = f.previous_period().unwrap();
        assert_eq!((prev.from, prev.to), (Some(days_from_civil(2023, 11, 6) * DAY_MS), f.from));
        assert!(Filter::from_pairs([("from", "2023-11-20"), ("to", "2023-11-13")]).is_err());
        assert!(Filter::from_pairs([("from", "13/11/2023")]).is_err());
    }

    fn stored(user: Option<&str>, anon: &str, ts: i64, survey: Option<&str>, body: Value) -> StoredEvent {
        StoredEvent {
            seq: 1,
            id: "e".into(),
            project_key: "pk".into(),
            kind: "survey_answered".into(),
            ts,
            received_at: ts,
            anonymous_id: anon.into(),
            user_id: user.map(Into::into),
            survey_id: survey.map(Into::into),
            response_id: None,
            question_id: None,
            url: String::new(),
            body: body.to_string(),
            rejected: None,
            ts_flag: None,
            source: "page".into(),
        }
    }

    #[test]
    fn an_audience_keeps_its_people_their_browsers_a_range_and_a_survey_version() {
        let rows = |anon: &str, user: Option<&str>| Activity {
            anonymous_id: anon.into(),
            user_id: user.map(Into::into),
            ts: 0,
            received_at: 0,
            kind: None,
            event_id: None,
        };
        let people = BTreeMap::from([
            (Person::User("ada".into()), vec![rows("b1", None), rows("b1", Some("ada"))]),
            (Person::User("bob".into()), vec![rows("b2", Some("bob"))]),
        ]);
        let large = Profile { segment: Some("large_org".into()), ..Profile::default() };
        let profiles = BTreeMap::from([
            (Person::User("ada".into()), large),
            (Person::User("bob".into()), Profile { segment: Some("small_team".into()), ..Profile::default() }),
        ]);
        let f =
            Filter::from_pairs([("segment", "large_org"), ("from", "100"), ("to", "200"), ("version", "2")]).unwrap();
        let a = Audience::resolve(f, &people, &profiles);
        let v2 = json!({"version": 2});
        // Ada's anonymous browser events are hers; Bob's are not kept.
        assert!(a.keeps(&stored(None, "b1", 150, Some("nps"), v2.clone())));
        assert!(!a.keeps(&stored(Some("bob"), "b2", 150, Some("nps"), v2.clone())));
        // Out of range, another version, no version: out. Events of no survey are not versioned.
        assert!(!a.keeps(&stored(Some("ada"), "b1", 200, Some("nps"), v2.clone())));
        assert!(!a.keeps(&stored(Some("ada"), "b1", 150, Some("nps"), json!({"version": "1"}))));
        assert!(!a.keeps(&stored(Some("ada"), "b1", 150, Some("nps"), json!({}))));
        assert!(a.keeps(&stored(Some("ada"), "b1", 150, None, json!({}))));
    }

    #[test]
    fn profiles_match_by_segment_tier_traits_account_and_language() {
        let mut traits = Map::new();
        traits.insert("plan".into(), json!("pro"));
        traits.insert("locale".into(), json!("de_AT"));
        traits.insert("account.seats".into(), json!(60));
        let p = Profile {
            segment: Some("large_org".into()),
            tier: Some("high_touch".into()),
            account: Some("acme".into()),
            traits,
        };
        let f = |pairs: &[(&str, &str)]| Filter::from_pairs(pairs.iter().copied()).unwrap();
        assert!(p.matches(&f(&[("segment", "large_org"), ("tier", "high_touch"), ("account", "acme")])));
        assert!(p.matches(&f(&[("plan", "pro"), ("trait.seats", "60"), ("locale", "de")])));
        assert!(!p.matches(&f(&[("segment", "small_team")])));
        assert!(!p.matches(&f(&[("locale", "d")])));
        assert!(!p.matches(&f(&[("plan", "team")])));
        assert!(!Profile::default().matches(&f(&[("tier", "high_touch")])));
    }
}
