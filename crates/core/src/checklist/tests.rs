use serde_json::{json, Map, Value};

use super::*;

const DEMO: &str = include_str!("../../../../checklists.json");

fn errors(v: Value) -> Vec<String> {
    match ChecklistSet::from_value(&v) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[track_caller]
fn check(v: Value, expected: &[&str]) {
    assert_eq!(errors(v), expected);
}

fn base() -> Value {
    json!({
        "segments": [ { "id": "big", "when": { "team_size": { ">=": 51 } }, "checklist": "b" },
                      { "id": "default", "checklist": "a" } ],
        "checklists": [
            { "id": "a", "title": "A", "items": [
                { "id": "one", "title": "One", "complete_when": { "event": "did_one" } },
                { "id": "two", "title": "Two", "depends_on": ["one"], "complete_when": { "event": "did_two", "count": 2 } } ] },
            { "id": "b", "title": "B", "items": [ { "id": "x", "title": "X", "complete_when": "manual" } ] } ]
    })
}

fn traits(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn demo_checklists_are_valid() {
    let set = ChecklistSet::from_json(DEMO).expect("checklists.json must validate");
    assert_eq!(set.segments().len(), 3);
}

#[test]
fn base_is_valid() {
    check(base(), &[]);
}

#[test]
fn segment_choice_first_match_wins_with_default() {
    let set = ChecklistSet::from_json(DEMO).unwrap();
    let pick = |t: Value| {
        let (s, c) = set.choose(&traits(t));
        (s.id.clone(), c.id.clone())
    };
    assert_eq!(pick(json!({ "team_size": 4 })), ("small_team".into(), "get_started".into()));
    assert_eq!(pick(json!({ "team_size": 11 })), ("mid_team".into(), "team_setup".into()));
    assert_eq!(pick(json!({ "team_size": 51 })), ("large_org".into(), "rollout".into()));
    assert_eq!(pick(json!({ "team_size": 5000 })), ("large_org".into(), "rollout".into()), "first match, not best");
    assert_eq!(pick(json!({})), ("small_team".into(), "get_started".into()), "no traits: the default");
    assert_eq!(pick(json!({ "team_size": "lots" })), ("small_team".into(), "get_started".into()), "not a number");
}

#[test]
fn predicates() {
    let p = |when: Value, props: Value| {
        let mut v = base();
        v["segments"][0]["when"] = when;
        let set = ChecklistSet::from_value(&v).unwrap();
        set.choose(&traits(props)).0.id == "big"
    };
    assert!(p(json!({ "plan": { "equals": "pro" } }), json!({ "plan": "pro" })));
    assert!(!p(json!({ "plan": { "equals": "pro" } }), json!({ "plan": "free" })));
    assert!(p(json!({ "role": { "in": ["admin", "owner"] } }), json!({ "role": "owner" })));
    assert!(!p(json!({ "role": { "in": ["admin", "owner"] } }), json!({})));
    assert!(p(json!({ "seats": { ">": 5, "<=": 10 } }), json!({ "seats": 10 })));
    assert!(!p(json!({ "seats": { ">": 5, "<=": 10 } }), json!({ "seats": 5 })));
    assert!(!p(json!({ "seats": { "<": 5 } }), json!({ "seats": 5 })));
    assert!(p(json!({ "company": { "exists": true } }), json!({ "company": "Acme" })));
    assert!(p(json!({ "company": { "exists": false } }), json!({ "company": null })));
    assert!(p(json!({ "plan": { "equals": "pro" }, "seats": { ">=": 3 } }), json!({ "plan": "pro", "seats": 3 })));
    assert!(!p(json!({ "plan": { "equals": "pro" }, "seats": { ">=": 3 } }), json!({ "plan": "pro", "seats": 2 })));
}

fn engine() -> (ChecklistSet, Progress) {
    (ChecklistSet::from_value(&base()).unwrap(), Progress::default())
}

fn props(v: Value) -> Map<String, Value> {
    traits(v)
}

#[test]
fn counts_and_dependencies() {
    let (set, mut p) = engine();
    let a = set.checklist("a").unwrap();
    // "two" needs two events and "one" first; its events count while it waits.
    assert_eq!(p.observe(a, "did_two", &props(json!({})), 10), Vec::<String>::new());
    assert_eq!(p.observe(a, "did_two", &props(json!({})), 20), Vec::<String>::new());
    assert_eq!(p.observe(a, "did_one", &props(json!({})), 30), ["one", "two"]);
    assert_eq!(
        p.completed["two"],
        Completion { at: 30, trigger: Trigger::Event { event: "did_two".into(), count: 2 } }
    );
    assert!(p.is_complete(a));
    assert_eq!(p.observe(a, "did_one", &props(json!({})), 40), Vec::<String>::new(), "completes once");
}

#[test]
fn property_predicates_filter_events() {
    let set = ChecklistSet::from_json(DEMO).unwrap();
    let c = set.checklist("get_started").unwrap();
    let mut p = Progress::default();
    assert!(p.observe(c, "imported_data", &props(json!({ "rows": 0 })), 1).is_empty());
    assert!(p.observe(c, "connected_integration", &props(json!({ "integration": "teams" })), 2).is_empty());
    assert_eq!(p.observe(c, "imported_data", &props(json!({ "rows": 120 })), 3), ["import_data"]);
    assert_eq!(p.observe(c, "connected_integration", &props(json!({ "integration": "slack" })), 4), ["connect_slack"]);
    assert_eq!(p.done(c), 2);
}

#[test]
fn manual_completion_and_unknown_items() {
    let (set, mut p) = engine();
    let a = set.checklist("a").unwrap();
    assert_eq!(p.complete(a, "two", 5).unwrap(), ["two"], "the host's word wins over dependencies");
    assert_eq!(p.completed["two"].trigger, Trigger::Manual);
    assert_eq!(p.complete(a, "nope", 6).unwrap_err(), r#"checklist "a" has no item "nope" (items: one, two)"#);
}

#[test]
fn merge_keeps_completed_and_the_larger_counts() {
    let (set, mut here) = engine();
    let a = set.checklist("a").unwrap();
    here.observe(a, "did_two", &props(json!({})), 10);
    let mut there = Progress::default();
    there.observe(a, "did_one", &props(json!({})), 5);
    there.observe(a, "did_two", &props(json!({})), 6);
    here.merge(&there);
    // Here counted one "did_two", there one: max, not sum — they may be the same event.
    assert_eq!(here.counts["two"], 1);
    assert_eq!(here.completed["one"].at, 5);
    assert!(here.settle(a, 50).is_empty());
    here.observe(a, "did_two", &props(json!({})), 60);
    assert!(here.is_complete(a));
    // Completed stays completed, whichever side merges into which.
    let mut empty = Progress::default();
    empty.merge(&here);
    assert!(empty.is_complete(a));
    let json = serde_json::to_string(&here).unwrap();
    assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), here);
}

#[test]
fn unknown_dependency_and_cycle() {
    let mut v = base();
    v["checklists"][0]["items"][0]["depends_on"] = json!(["ghost"]);
    check(v, &[r#"checklists[0].items[0].depends_on[0]: "ghost" is not an item of this checklist"#]);
    let mut v = base();
    v["checklists"][0]["items"][0]["depends_on"] = json!(["two"]);
    check(v, &["checklists[0].items[0]: items depend on each other in a circle: one → two → one"]);
}

#[test]
fn segment_errors() {
    let mut v = base();
    v["segments"] =
        json!([ { "id": "all", "checklist": "a" }, { "id": "big", "when": { "n": { ">=": 1 } }, "checklist": "zzz" } ]);
    check(
        v,
        &[
            r#"segments[0]: segment "all" has no "when", so it matches everyone and the segments after it never apply"#,
            r#"segments[1].checklist: "zzz" is not the id of a checklist in this file"#,
            r#"segments: no default segment: add a last segment without "when" for users who match no other"#,
        ],
    );
}

#[test]
fn rule_and_predicate_errors() {
    let mut v = base();
    v["checklists"][0]["items"][0]["complete_when"] =
        json!({ "event": "x", "count": 0, "where": { "rows": { "~": 1 } } });
    v["checklists"][0]["items"][1]["complete_when"] = json!({ "event": "", "where": { "rows": { ">=": "many" } } });
    check(
        v,
        &[
            r#"checklists[0].items[0].complete_when.where.rows.~: unknown operator "~"; expected one of equals, in, >=, >, <=, <, exists"#,
            "checklists[0].items[0].complete_when.count: count must be a whole number of at least 1",
            "checklists[0].items[1].complete_when.event: must not be empty",
            "checklists[0].items[1].complete_when.where.rows.>=: expected a number",
        ],
    );
}

#[test]
fn item_errors() {
    let mut v = base();
    v["checklists"][0]["items"][1]["id"] = json!("one");
    v["checklists"][0]["items"][0]["title"] = json!(" ");
    v["checklists"][1]["items"][0]["cta"] = json!({ "label": "Go", "url": "javascript:alert(1)" });
    v["checklists"][1]["items"][0].as_object_mut().unwrap().remove("complete_when");
    check(
        v,
        &[
            "checklists[0].items[0].title: must not be empty",
            "checklists[1].items[0].cta.url: expected an http(s) URL or a path starting with /",
            "checklists[1].items[0].complete_when: is required but missing",
        ],
    );
}

#[test]
fn cta_urls_that_leave_the_site_are_refused() {
    for (url, why) in [
        ("//evil.example", "starts with //, which browsers read as another host (protocol-relative)"),
        ("/\\evil.example", "contains a backslash, which browsers read as / (so /\\host is //host, another host)"),
    ] {
        let mut v = base();
        v["checklists"][1]["items"][0]["cta"] = json!({ "label": "Go", "url": url });
        let errors = ChecklistSet::from_value(&v).unwrap_err().0.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let expected = format!("checklists[1].items[0].cta.url: {url:?} {why}");
        assert!(errors[0].starts_with(&expected), "{url}: {errors:?}");
    }
    let mut v = base();
    v["checklists"][1]["items"][0]["cta"] = json!({ "label": "Go", "url": "/settings.html" });
    assert!(ChecklistSet::from_value(&v).is_ok());
}

#[test]
fn duplicate_ids() {
    let mut v = base();
    v["checklists"][0]["items"][1]["id"] = json!("one");
    v["checklists"][1]["id"] = json!("a");
    v["segments"][1]["id"] = json!("big");
    check(
        v,
        &[
            r#"checklists[0].items[1].id: duplicate id "one", already used at checklists[0].items[0]"#,
            r#"checklists[1].id: duplicate id "a", already used at checklists[0]"#,
            r#"segments[0].checklist: "b" is not the id of a checklist in this file"#,
            r#"segments[1].id: duplicate id "big", already used at segments[0]"#,
        ],
    );
}

fn team_set() -> ChecklistSet {
    ChecklistSet::from_value(&json!({
        "segments": [ { "id": "all", "checklist": "team" } ],
        "checklists": [ { "id": "team", "title": "Team", "items": [
            { "id": "import", "title": "Import", "complete_when": { "event": "imported_data" } },
            { "id": "invite_three", "title": "Invite three", "scope": "account",
              "complete_when": { "event": "invited_teammate", "count": 3 } },
            { "id": "kickoff", "title": "Kickoff call", "scope": "account", "complete_when": "manual" } ] } ]
    }))
    .unwrap()
}

#[test]
fn account_items_count_every_users_behaviors_and_say_who() {
    let set = team_set();
    let c = &set.checklists()[0];
    let none = Map::new();
    let mut account = AccountProgress::default();
    account.observe(c, "ann", "invited_teammate", &none, 10);
    account.observe(c, "bob", "invited_teammate", &none, 20);
    account.observe(c, "ann", "imported_data", &none, 25); // a user-scoped item: not the account's
    account.observe(c, "ann", "invited_teammate", &none, 30);
    account.observe(c, "bob", "invited_teammate", &none, 40); // past the count: still credited
    assert_eq!(account.counts.get("invite_three"), Some(&3));
    assert_eq!(account.reached_at.get("invite_three"), Some(&30));
    assert_eq!(
        account.by["invite_three"],
        [Contributor { user_id: "ann".into(), count: 2 }, Contributor { user_id: "bob".into(), count: 2 }]
    );
    assert!(!account.by.contains_key("import"));

    // Cid invited nobody and imported nothing: the account's item is done for him too, his own is not.
    let mut cid = Progress::default();
    assert_eq!(cid.with_account(c, &account), ["invite_three"]);
    assert_eq!(cid.completed["invite_three"].at, 30);
    assert!(!cid.completed.contains_key("import"));

    // A host's complete() of an account item by one user counts for everyone.
    account.complete(c, "bob", "kickoff", 50);
    account.complete(c, "bob", "import", 55); // user-scoped: ignored here
    assert_eq!(cid.with_account(c, &account), ["kickoff"]);
    assert_eq!(cid.completed["kickoff"].trigger, Trigger::Manual);
    assert_eq!(account.by["kickoff"], [Contributor { user_id: "bob".into(), count: 1 }]);
}

#[test]
fn an_account_two_invites_short_completes_nothing() {
    let set = team_set();
    let c = &set.checklists()[0];
    let mut account = AccountProgress::default();
    account.observe(c, "ann", "invited_teammate", &Map::new(), 10);
    account.observe(c, "bob", "invited_teammate", &Map::new(), 20);
    let mut p = Progress::default();
    assert!(p.with_account(c, &account).is_empty());
    assert_eq!(p.counts.get("invite_three"), Some(&2), "the account's count shows as progress");
}

#[test]
fn scope_must_be_user_or_account() {
    let mut v = base();
    v["checklists"][0]["items"][0]["scope"] = json!("team");
    check(v, &["checklists[0].items[0].scope: expected \"user\" or \"account\""]);
}
