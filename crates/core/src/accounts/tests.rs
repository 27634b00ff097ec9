use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::health::{assess, score, Inputs};
use super::routing::{plan, AccountEvent, Past};
use super::*;

const DEMO: &str = include_str!("../../../../accounts.json");
const DAY: i64 = 86_400_000;
const NOW: i64 = 1_800_000_000_000;

fn demo() -> AccountsConfig {
    AccountsConfig::from_json(DEMO).expect("accounts.json must validate")
}

fn errors(v: Value) -> Vec<String> {
    match AccountsConfig::from_value(&v) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn base() -> Value {
    serde_json::from_str(DEMO).unwrap()
}

/// A thriving account: everyone a promoter, checklists done, every behavior, active daily.
fn thriving() -> Inputs {
    Inputs {
        now: NOW,
        users: 3,
        traits: map(json!({ "seats": 12, "owner": "sam@acme.example" })),
        nps_scores: vec![9, 10, 10],
        checklist: vec![(4, 4), (4, 4), (4, 4)],
        behaviors: ["created_project", "imported_data", "invited_teammate", "connected_integration"]
            .into_iter()
            .map(String::from)
            .collect(),
        activity: (0..10).map(|d| NOW - d * DAY).collect(),
        open_cases: 0,
        account_events: Vec::new(),
    }
}

/// A large account whose users answered as detractors and stopped 40 days ago.
fn failing() -> Inputs {
    Inputs {
        now: NOW,
        users: 4,
        traits: map(json!({ "seats": 200, "owner": "olga@acme.example" })),
        nps_scores: vec![2, 3, 4, 6],
        checklist: vec![(1, 4), (1, 4), (1, 4), (1, 4)],
        behaviors: BTreeSet::from(["created_project".to_string()]),
        activity: vec![NOW - 45 * DAY, NOW - 40 * DAY],
        open_cases: 0,
        account_events: Vec::new(),
    }
}

#[test]
fn demo_accounts_file_is_valid() {
    let c = demo();
    assert_eq!(c.tiers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["high_touch", "low_touch", "tech_touch"]);
    assert_eq!(c.weights_total(), 100.0);
    assert_eq!(c.owner_trait, "owner");
}

#[test]
fn tiers_follow_seats_first_match_with_default() {
    let c = demo();
    for (seats, tier) in [
        (json!(1), "tech_touch"),
        (json!(5), "tech_touch"),
        (json!(6), "low_touch"),
        (json!(50), "low_touch"),
        (json!(51), "high_touch"),
        (json!(5000), "high_touch"),
        (json!("many"), "tech_touch"),
    ] {
        assert_eq!(c.tier(&map(json!({ "seats": seats }))).id, tier, "seats {seats}");
    }
    assert_eq!(c.tier(&Map::new()).id, "tech_touch", "no traits: the default");
}

#[test]
fn a_thriving_account_scores_100_and_is_a_champion() {
    let a = assess(&demo(), &thriving());
    assert_eq!(a.health.score, 100);
    assert_eq!(a.tier, "low_touch");
    assert_eq!(a.stage, "champion");
    assert_eq!(a.stage_reason, "health 100 (>= 75), nps 100 (>= 50)");
    assert!(a.health.contributions.iter().all(|c| c.value == 1.0 && c.points == c.max_points), "{:?}", a.health);
}

#[test]
fn a_large_account_of_inactive_detractors_is_at_risk_and_every_point_is_explained() {
    let a = assess(&demo(), &failing());
    let points: Vec<(&str, f64)> = a.health.contributions.iter().map(|c| (c.signal.as_str(), c.points)).collect();
    // NPS -100 → 0; 25% of the checklist → 5 of 20; 1 of 4 behaviors → 5 of 20; 40 days
    // inactive → 0 recency and 0 active days; no open case → 5 of 5.
    assert_eq!(
        points,
        [
            ("nps", 0.0),
            ("checklist", 5.0),
            ("behaviors", 5.0),
            ("recency", 0.0),
            ("frequency", 0.0),
            ("open_cases", 5.0)
        ]
    );
    assert_eq!(a.health.score, 15);
    assert_eq!(a.tier, "high_touch");
    assert_eq!(a.stage, "at_risk");
    assert_eq!(a.stage_reason, "age_days 45 (>= 7), health 15 (< 40)");
    let detail = |s: &str| a.health.contributions.iter().find(|c| c.signal == s).unwrap().detail.clone();
    assert_eq!(detail("nps"), "4 users answered: 0 promoters, 0 passive, 4 detractors (NPS -100)");
    assert_eq!(detail("recency"), "last activity 40 day(s) ago (full marks up to 3, none from 30)");
    assert_eq!(detail("behaviors"), "1 of 4 success behaviors reached: created_project");
    assert_eq!(a.facts["days_inactive"], json!(40));
    assert_eq!(a.facts["account.seats"], json!(200));
}

#[test]
fn signals_scale_linearly_and_missing_answers_count_as_neutral() {
    let c = demo();
    let mut i = thriving();
    i.nps_scores.clear();
    i.checklist.clear();
    let h = score(&c, &i);
    let nps = &h.contributions[0];
    assert_eq!((nps.value, nps.points), (0.5, 15.0));
    assert_eq!(nps.detail, "no NPS answers yet (counted as neutral)");
    assert_eq!(h.contributions[1].points, 10.0);
    assert_eq!(h.score, 75);

    // Recency: full up to 3 days, none from 30: 16.5 days → half.
    let mut i = thriving();
    i.activity = vec![NOW - 33 * DAY / 2];
    assert_eq!(score(&c, &i).contributions[3].value, 0.5);
    // Frequency: active on 7 distinct days of 14 → full; 1 day → 1/7.
    i.activity = vec![NOW - DAY, NOW - DAY + 1000];
    assert_eq!(score(&c, &i).contributions[4].value, 0.143);
    // Open cases: 0 from 3.
    let mut i = thriving();
    i.open_cases = 1;
    assert_eq!(score(&c, &i).contributions[5].points, 3.3);
    i.open_cases = 7;
    assert_eq!(score(&c, &i).contributions[5].points, 0.0);
}

#[test]
fn stages_first_match_wins() {
    let c = demo();
    let stage = |facts: Value| c.stage(&map(facts)).id.clone();
    assert_eq!(stage(json!({ "health": 39, "age_days": 7 })), "at_risk");
    assert_eq!(stage(json!({ "health": 39, "age_days": 6 })), "onboarding", "a first week is onboarding, not a risk");
    assert_eq!(stage(json!({ "health": 90, "nps": 60 })), "champion");
    assert_eq!(stage(json!({ "health": 90, "nps": 20, "checklist": 80 })), "adopted", "champion needs nps >= 50");
    assert_eq!(stage(json!({ "health": 90 })), "onboarding", "no NPS: not a champion; no checklist: not adopted");
    assert_eq!(stage(json!({ "health": 60, "checklist": 74 })), "onboarding");
}

#[test]
fn a_state_rule_fires_once_per_episode() {
    let c = demo();
    let facts = assess(&c, &failing()).facts;
    let p = plan(&c, "globex", &facts, &[], &[]);
    assert_eq!(p.fire.len(), 1);
    assert_eq!(p.fire[0].rule.id, "at_risk_to_owner");
    assert_eq!(p.fire[0].trigger_id, "account:globex:at_risk_to_owner:0");
    assert_eq!(p.fire[0].reason, "stage \"at_risk\" (= \"at_risk\")");
    assert!(p.fire[0].open);

    // Still at risk with that decision open: nothing again.
    let open = vec![Past {
        trigger_id: "account:globex:at_risk_to_owner:0".into(),
        rule_id: "at_risk_to_owner".into(),
        open: true,
    }];
    assert_eq!(plan(&c, "globex", &facts, &[], &open), routing::Plan::default());

    // Recovered: the episode closes, and nothing fires.
    let recovered = assess(&c, &thriving()).facts;
    let p = plan(&c, "globex", &recovered, &[], &open);
    assert_eq!(p.close, ["account:globex:at_risk_to_owner:0"]);
    assert!(p.fire.iter().all(|f| f.rule.id != "at_risk_to_owner"));

    // At risk again after that: a second episode, a new trigger.
    let closed = vec![Past { open: false, ..open[0].clone() }];
    let p = plan(&c, "globex", &facts, &[], &closed);
    assert_eq!(p.fire[0].trigger_id, "account:globex:at_risk_to_owner:1");
}

#[test]
fn upsell_lists_champions_of_the_lower_tiers_only() {
    let c = demo();
    let ids = |i: Inputs| {
        let facts = assess(&c, &i).facts;
        plan(&c, "a", &facts, &[], &[]).fire.iter().map(|f| f.rule.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(thriving()), ["upsell_champions"]);
    let mut big = thriving();
    big.traits.insert("seats".into(), json!(300));
    assert!(ids(big).is_empty(), "a high-touch champion is not an upsell-list candidate");
}

#[test]
fn an_event_rule_fires_once_per_event_when_its_conditions_hold() {
    let c = demo();
    let facts = assess(&c, &failing()).facts;
    let events = vec![
        AccountEvent { id: "e1".into(), name: "requested_cancellation".into() },
        AccountEvent { id: "e2".into(), name: "created_project".into() },
        AccountEvent { id: "e3".into(), name: "requested_cancellation".into() },
    ];
    let p = plan(&c, "globex", &facts, &events, &[]);
    let fired: Vec<&str> = p.fire.iter().filter(|f| !f.open).map(|f| f.trigger_id.as_str()).collect();
    assert_eq!(fired, ["account:globex:high_touch_detractor:event:e1", "account:globex:high_touch_detractor:event:e3"]);
    assert_eq!(
        p.fire.iter().find(|f| !f.open).unwrap().reason,
        "event requested_cancellation (e1); tier \"high_touch\" (= \"high_touch\")"
    );
    let past = vec![Past {
        trigger_id: "account:globex:high_touch_detractor:event:e1".into(),
        rule_id: "high_touch_detractor".into(),
        open: false,
    }];
    let again: Vec<String> =
        plan(&c, "globex", &facts, &events, &past).fire.into_iter().filter(|f| !f.open).map(|f| f.trigger_id).collect();
    assert_eq!(again, ["account:globex:high_touch_detractor:event:e3"]);
    // A tech-touch account asking to cancel is not routed by this rule.
    let small = assess(&c, &Inputs { traits: map(json!({ "seats": 2 })), ..failing() }).facts;
    assert!(plan(&c, "tiny", &small, &events, &[]).fire.iter().all(|f| f.rule.id != "high_touch_detractor"));
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let mut v = base();
    v["tiers"] = json!([{ "id": "all" }, { "id": "big", "when": { "seats": { ">=": 51 } } }]);
    v["health"]["signals"][0] = json!({ "signal": "vibes", "weight": 10 });
    v["health"]["signals"][1]["weight"] = json!(-1);
    v["health"]["signals"][3]["zero_days"] = json!(2);
    v["stages"][0]["colour"] = json!("red");
    v["routing"][1]["id"] = json!("at_risk_to_owner");
    v["routing"][0]["do"][1] = json!({ "action": "webhook", "url": "ftp://x" });
    v["routing"][2]["do"] = json!([{ "action": "sms" }]);
    assert_eq!(
        errors(v),
        [
            "tiers[0]: segment \"all\" has no \"when\", so it matches everyone and the segments after it never apply",
            "tiers: no default segment: add a last segment without \"when\" for users who match no other",
            "stages[0].colour: unknown field; allowed here: id, when",
            "health.signals[0].signal: unknown signal \"vibes\"; expected one of nps, checklist, behaviors, recency, frequency, open_cases, billing, revenue, renewal",
            "health.signals[1].weight: must be a number from 0 to 1000, got -1",
            "health.signals[3].zero_days: must be greater than full_days",
            "routing[0].do[1].url: expected an http(s) URL",
            "routing[1].id: duplicate id \"at_risk_to_owner\", already used at routing[0]",
            "routing[2].do[0].action: expected \"case\", \"webhook\" or \"list\"",
        ]
    );
    assert_eq!(
        errors(json!({ "tiers": [{ "id": "t" }], "stages": [{ "id": "s" }] })),
        ["health: is required but missing"]
    );
    assert_eq!(
        errors(json!({ "tiers": [{ "id": "t" }], "stages": [{ "id": "s" }], "health": { "signals": [] },
                       "routing": [{ "id": "r", "do": [{ "action": "list", "list": "x" }] }] })),
        [
            "health.signals: must not be empty",
            "routing[0]: expected a rule with \"when\" conditions, an \"event\", or both"
        ]
    );
}

#[test]
fn a_failed_payment_costs_the_billing_points_until_it_is_recovered() {
    let v = json!({
        "owner_trait": "owner",
        "nps": { "survey": "nps", "question": "score" },
        "tiers": [{ "id": "all" }],
        "health": { "signals": [{ "signal": "recency", "weight": 50 }, { "signal": "billing", "weight": 50 }] },
        "stages": [{ "id": "any" }],
        "routing": []
    });
    let c = AccountsConfig::from_value(&v).unwrap();
    let base = Inputs { activity: vec![NOW], ..thriving() };
    let billing = |inputs: &Inputs| {
        let h = score(&c, inputs);
        (h.score, h.contributions.iter().find(|x| x.signal == "billing").unwrap().detail.clone())
    };
    assert_eq!(billing(&base), (100, "no billing problem reported (payment_failed)".to_string()));

    let failed = Inputs { account_events: vec![(NOW - 2 * DAY, "payment_failed".into())], ..base.clone() };
    let (points, why) = billing(&failed);
    assert_eq!(points, 50);
    assert_eq!(
        why,
        "payment_failed reported 2 day(s) ago and not followed by payment_succeeded or subscription_renewed"
    );

    let mut recovered = failed.clone();
    recovered.account_events.push((NOW - DAY, "payment_succeeded".into()));
    assert_eq!(billing(&recovered), (100, "payment_failed 2 day(s) ago, then payment_succeeded 1 day(s) ago".into()));
}

#[test]
fn revenue_and_the_runway_to_renewal_are_weighted_inputs() {
    let v = json!({
        "nps": { "survey": "nps", "question": "score" },
        "tiers": [{ "id": "all" }],
        "health": { "signals": [
            { "signal": "revenue", "weight": 50, "full_at": 1000 },
            { "signal": "renewal", "weight": 50, "full_days": 90, "zero_days": 10 }
        ] },
        "stages": [{ "id": "any" }],
        "routing": []
    });
    let c = AccountsConfig::from_value(&v).unwrap();
    let check = |traits: Value| {
        let h = score(&c, &Inputs { traits: map(traits), ..thriving() });
        let detail = |s: &str| h.contributions.iter().find(|x| x.signal == s).unwrap().detail.clone();
        (h.score, detail("revenue"), detail("renewal"))
    };
    let date = |days: i64| super::health::date_ms(&json!(NOW + days * DAY)).unwrap();
    assert_eq!(date(3), NOW + 3 * DAY);
    assert_eq!(super::health::date_ms(&json!("1970-01-02")), Some(DAY));
    assert_eq!(super::health::date_ms(&json!("2027-03-01T12:00:00Z")), Some(1_803_859_200_000));
    assert_eq!(super::health::date_ms(&json!("2027-13-01")), None);
    assert_eq!(
        check(json!({})),
        (50, "no mrr known (counted as neutral)".into(), "no renewal_date known (counted as neutral)".into())
    );
    assert_eq!(
        check(json!({ "mrr": 2500, "renewal_date": NOW + 200 * DAY })),
        (
            100,
            "mrr 2500 (full marks from 1000)".into(),
            "renews in 200 day(s) (full marks from 90 days before, none within 10)".into()
        )
    );
    // Half the revenue, half-way down the runway.
    let (points, _, why) = check(json!({ "mrr": "500", "renewal_date": NOW + 50 * DAY }));
    assert_eq!((points, why.as_str()), (50, "renews in 50 day(s) (full marks from 90 days before, none within 10)"));
    let (points, _, why) = check(json!({ "mrr": 0, "renewal_date": NOW - 3 * DAY }));
    assert_eq!(
        (points, why.as_str()),
        (0, "renewal was due 3 day(s) ago (full marks from 90 days before, none within 10)")
    );

    let mut bad = v.clone();
    bad["health"]["signals"] = json!([
        { "signal": "revenue", "weight": 1 },
        { "signal": "renewal", "weight": 1, "full_days": 5, "zero_days": 10, "colour": 1 }
    ]);
    let problems = errors(bad);
    assert!(problems.iter().any(|p| p.starts_with("health.signals[0].full_at")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.starts_with("health.signals[1].full_days")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.starts_with("health.signals[1].colour")), "{problems:#?}");
}
