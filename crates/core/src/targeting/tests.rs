use serde_json::{json, Map, Value};

use super::sampling::fnv1a32_of;
use super::*;
use crate::checklist::ChecklistSet;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const NOW: i64 = 1_700_000_000_000;

/// A user on `/app/reports`, first seen 30 days ago, the page loaded just now,
/// never shown anything. Bucket of `user-1` for `nps`: 11.
fn ctx() -> Context {
    Context {
        now_ms: NOW,
        path: "/app/reports".into(),
        first_seen_ms: NOW - 30 * DAY,
        user_key: "user-1".into(),
        page_loaded_at_ms: NOW,
        ..Context::default()
    }
}

/// A file with one survey `nps` with these `targeting` and other fields.
fn one(targeting: Value, fields: Value) -> Value {
    let mut s = json!({ "id": "nps", "targeting": targeting });
    s.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    json!({ "surveys": [s] })
}

fn render(v: &Verdict) -> String {
    match v {
        Verdict::Eligible { show_at_ms } if *show_at_ms == NOW => "eligible now".into(),
        Verdict::Eligible { show_at_ms } => format!("eligible in {} ms", show_at_ms - NOW),
        Verdict::Blocked(r) => format!("{}: {r}", r.rule().name()),
    }
}

/// Evaluates the first survey of `file` in `ctx()` changed by `edit`.
#[track_caller]
fn check(file: Value, edit: impl FnOnce(&mut Context), expected: &str) {
    let exps = Experiences::from_value(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut c = ctx();
    edit(&mut c);
    assert_eq!(render(&evaluate(&exps.all()[0], &c)), expected);
}

fn errors(v: Value) -> Vec<String> {
    match Experiences::from_value(&v) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[track_caller]
fn check_errors(v: Value, expected: &[&str]) {
    assert_eq!(errors(v), expected);
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

// ---- the bucket function -------------------------------------------------

#[test]
fn fnv1a_matches_the_published_test_vectors() {
    assert_eq!(fnv1a32_of(""), 0x811c_9dc5);
    assert_eq!(fnv1a32_of("a"), 0xe40c_292c);
    assert_eq!(fnv1a32_of("foobar"), 0xbf9c_f968);
}

#[test]
fn buckets_of_known_inputs() {
    // FNV-1a 32 of "nps:user-1" is 0xab74a0ef = 2876547311; mod 100 = 11.
    for (survey, user, expected) in
        [("nps", "user-1", 11), ("nps", "user-2", 30), ("onboarding", "anon-7f3a", 30), ("nps", "", 78)]
    {
        assert_eq!(bucket(survey, user), expected, "{survey}:{user}");
    }
}

#[test]
fn buckets_spread_evenly_and_differ_per_survey() {
    let mut counts = [0u32; 100];
    for i in 0..20_000 {
        counts[bucket("nps", &format!("user-{i}")) as usize] += 1;
    }
    assert!(counts.iter().all(|c| (120..=280).contains(c)), "{counts:?}");
    let same = (0..1000).filter(|i| bucket("nps", &i.to_string()) == bucket("csat", &i.to_string())).count();
    assert!(same < 30, "buckets of two surveys are independent: {same} of 1000 equal");
}

// ---- every rule, every message --------------------------------------------

#[test]
fn no_targeting_shows_to_everyone_now() {
    check(json!({ "surveys": [{ "id": "nps" }] }), |_| {}, "eligible now");
    check(one(json!({}), json!({})), |_| {}, "eligible now");
}

#[test]
fn on_screen() {
    let f = || one(json!({}), json!({}));
    check(
        f(),
        |c| c.on_screen = Some(OnScreen::Survey("onboarding".into())),
        r#"on_screen: waiting: survey "onboarding" is on screen"#,
    );
    check(
        f(),
        |c| c.on_screen = Some(OnScreen::Survey("nps".into())),
        r#"on_screen: waiting: survey "nps" is on screen"#,
    );
}

#[test]
fn recontact_period() {
    let f = |days: Value| one(json!({}), json!({ "recontact_days": days }));
    let shown = |ago: i64| move |c: &mut Context| c.history.record("nps", NOW - ago);
    check(f(json!(90)), shown(12 * DAY), "recontact: recontact period: last shown 12 days ago, needs 90");
    check(f(json!(90)), shown(DAY + HOUR), "recontact: recontact period: last shown 1 day ago, needs 90");
    check(f(json!(90)), shown(90 * DAY - 1), "recontact: recontact period: last shown 89 days ago, needs 90");
    check(f(json!(90)), shown(90 * DAY), "eligible now");
    check(f(json!(7)), shown(8 * DAY), "eligible now");
    check(f(json!(0)), shown(0), "eligible now");
    // Another survey's showing is no recontact (but see cooldown).
    check(f(json!(90)), |c| c.history.record("csat", NOW - DAY), "eligible now");
    // A showing stamped in the future (another device's clock) counts as just now.
    check(f(json!(90)), shown(-HOUR), "recontact: recontact period: last shown 0 days ago, needs 90");
}

#[test]
fn recontact_defaults_to_90_days() {
    let f = || json!({ "surveys": [{ "id": "nps" }] });
    check(
        f(),
        |c| c.history.record("nps", NOW - 89 * DAY),
        "recontact: recontact period: last shown 89 days ago, needs 90",
    );
    check(f(), |c| c.history.record("nps", NOW - 90 * DAY), "eligible now");
    assert_eq!(Experiences::from_value(&f()).unwrap().all()[0].recontact_days(), DEFAULT_RECONTACT_DAYS);
}

#[test]
fn global_cooldown() {
    let f = |hours: Value| json!({ "cooldown_hours": hours, "surveys": [{ "id": "nps" }] });
    let any = |ago: i64| move |c: &mut Context| c.history.record("csat", NOW - ago);
    check(f(json!(24)), any(3 * HOUR + 59 * 60_000), "cooldown: cooldown: something was shown 3 hours ago, needs 24");
    check(f(json!(24)), any(30 * 60_000), "cooldown: cooldown: something was shown 0 hours ago, needs 24");
    check(f(json!(24)), any(24 * HOUR), "eligible now");
    // The survey shown may be one no longer in the config: only `last_any_ms` is known.
    check(
        f(json!(1)),
        |c| c.history.last_any_ms = Some(NOW - 1),
        "cooldown: cooldown: something was shown 0 hours ago, needs 1",
    );
    // Default: no cooldown.
    check(json!({ "surveys": [{ "id": "nps" }] }), any(1), "eligible now");
}

#[test]
fn url_patterns() {
    let f = |urls: Value| one(json!({ "urls": urls }), json!({}));
    let at = |p: &'static str| move |c: &mut Context| c.path = p.into();
    check(f(json!(["/app/*"])), at("/settings"), "url: URL /settings does not match /app/*");
    check(
        f(json!(["/app/*", "/projects/*"])),
        at("/settings"),
        "url: URL /settings does not match /app/* or /projects/*",
    );
    check(f(json!(["/app/*", "/projects/*"])), at("/projects/7"), "eligible now");
    check(f(json!(["/app/*"])), at("/app/reports"), "eligible now");
    check(f(json!(["/settings"])), at("/settings"), "eligible now");
    check(f(json!(["/settings"])), at("/settings/billing"), "url: URL /settings/billing does not match /settings");
    check(f(json!(["/projects/*/reports"])), at("/projects/7/reports"), "eligible now");
    check(f(json!(["*"])), at("/anything"), "eligible now");
}

#[test]
fn segments() {
    let f = || one(json!({ "segments": ["large_org", "mid_team"] }), json!({}));
    check(
        f(),
        |c| c.segment = Some("small_team".into()),
        r#"segment: segment "small_team" is not one of ["large_org", "mid_team"]"#,
    );
    check(f(), |c| c.segment = None, r#"segment: no segment, needs one of ["large_org", "mid_team"]"#);
    check(f(), |c| c.segment = Some("mid_team".into()), "eligible now");
}

#[test]
fn traits_every_operator() {
    let f = |cond: Value| one(json!({ "traits": { "plan": cond } }), json!({}));
    let plan = |v: Value| move |c: &mut Context| c.traits = map(json!({ "plan": v }));
    let cases: &[(Value, Value, &str)] = &[
        (
            json!({ "in": ["pro", "team"] }),
            json!("free"),
            r#"traits: trait plan: "free" is not one of ["pro", "team"]"#,
        ),
        (json!({ "in": ["pro", "team"] }), json!("team"), "eligible now"),
        (json!({ "equals": "pro" }), json!("free"), r#"traits: trait plan: "free" is not "pro""#),
        (json!({ "equals": "pro" }), json!("pro"), "eligible now"),
        (json!({ ">=": 6 }), json!(3), "traits: trait plan: 3 is not ≥ 6"),
        (json!({ ">=": 6 }), json!(6), "eligible now"),
        (json!({ ">": 6 }), json!(6), "traits: trait plan: 6 is not > 6"),
        (json!({ "<=": 2.5 }), json!(3), "traits: trait plan: 3 is not ≤ 2.5"),
        (json!({ "<": 50 }), json!("many"), r#"traits: trait plan: "many" is not < 50"#),
        (json!({ "exists": true }), Value::Null, "traits: trait plan: missing, needs a value"),
        (json!({ "exists": true }), json!(false), "eligible now"),
        (json!({ "exists": false }), json!("pro"), r#"traits: trait plan: "pro" is set, needs none"#),
        (json!({ "exists": false }), Value::Null, "eligible now"),
    ];
    for (cond, value, expected) in cases {
        check(f(cond.clone()), plan(value.clone()), expected);
    }
    // A missing trait.
    check(f(json!({ "in": ["pro"] })), |_| {}, r#"traits: trait plan: missing, needs one of ["pro"]"#);
    check(f(json!({ ">=": 6 })), |_| {}, "traits: trait plan: missing, needs ≥ 6");
    check(f(json!({ "exists": false })), |_| {}, "eligible now");
}

#[test]
fn traits_report_the_first_failing_condition_by_name() {
    // By trait name, then operator name, alphabetically (JSON keys have no order).
    let f = one(json!({ "traits": { "team_size": { ">=": 6, "<=": 50 }, "plan": { "in": ["pro"] } } }), json!({}));
    check(
        f.clone(),
        |c| c.traits = map(json!({ "team_size": 80, "plan": "free" })),
        r#"traits: trait plan: "free" is not one of ["pro"]"#,
    );
    check(
        f.clone(),
        |c| c.traits = map(json!({ "team_size": 80, "plan": "pro" })),
        "traits: trait team_size: 80 is not ≤ 50",
    );
    check(f.clone(), |c| c.traits = map(json!({ "plan": "pro" })), "traits: trait team_size: missing, needs ≤ 50");
    check(f, |c| c.traits = map(json!({ "team_size": 20, "plan": "pro" })), "eligible now");
}

#[test]
fn days_since_first_seen() {
    let f = || one(json!({ "min_days_since_first_seen": 7 }), json!({}));
    check(f(), |c| c.first_seen_ms = NOW - 2 * DAY - HOUR, "first_seen: first seen 2 days ago, needs 7");
    check(f(), |c| c.first_seen_ms = NOW, "first_seen: first seen 0 days ago, needs 7");
    check(f(), |c| c.first_seen_ms = NOW - 7 * DAY, "eligible now");
}

#[test]
fn event_count() {
    let f = |rule: Value| one(json!({ "event": rule }), json!({}));
    let done = |n: u32| {
        move |c: &mut Context| {
            c.event_counts.insert("report_created".into(), n);
        }
    };
    check(f(json!({ "name": "report_created", "count": 3 })), done(2), "event: event report_created: 2 of 3");
    check(f(json!({ "name": "report_created", "count": 3 })), |_| {}, "event: event report_created: 0 of 3");
    check(f(json!({ "name": "report_created", "count": 3 })), done(3), "eligible now");
    check(f(json!({ "name": "report_created", "count": 3 })), done(40), "eligible now");
    // Default count: once.
    check(f(json!({ "name": "report_created" })), |_| {}, "event: event report_created: 0 of 1");
    check(f(json!({ "name": "report_created" })), done(1), "eligible now");
}

#[test]
fn sampling() {
    let f = |pct: u8| one(json!({ "sample_percent": pct }), json!({}));
    // user-1 is in bucket 11 for nps, user-2 in bucket 30.
    check(f(11), |_| {}, "sampling: sampled out (bucket 11 ≥ 11)");
    check(f(12), |_| {}, "eligible now");
    check(f(50), |c| c.user_key = "user-2".into(), "eligible now");
    check(f(30), |c| c.user_key = "user-2".into(), "sampling: sampled out (bucket 30 ≥ 30)");
    check(f(0), |_| {}, "sampling: sampled out (bucket 11 ≥ 0)");
    check(f(100), |_| {}, "eligible now");
}

#[test]
fn delay_after_page_load() {
    let f = || one(json!({ "delay_ms": 2000 }), json!({}));
    check(f(), |_| {}, "eligible in 2000 ms");
    check(f(), |c| c.page_loaded_at_ms = NOW - 500, "eligible in 1500 ms");
    check(f(), |c| c.page_loaded_at_ms = NOW - 5000, "eligible now");
}

// ---- the order of the rules -----------------------------------------------

#[test]
fn rules_are_checked_in_the_documented_order() {
    let file = json!({ "cooldown_hours": 24, "per_session": 1, "kinds": { "nudge": { "cooldown_hours": 48 } },
        "nudges": [{ "id": "finish", "opens": "checklist", "recontact_days": 90, "targeting": {
        "urls": ["/app/*"], "segments": ["large_org"], "traits": { "plan": { "in": ["pro"] } },
        "min_days_since_first_seen": 7, "event": { "name": "report_created", "count": 3 }, "sample_percent": 20 } }] });
    let exp = Experiences::from_value(&file).unwrap();
    // Every rule fails; fixing them one at a time reveals the next, in order.
    let mut c = ctx();
    c.on_screen = Some(OnScreen::Survey("csat".into()));
    c.busy = Some(Busy::Modal);
    c.session_shown = 1;
    c.history.record_kind(Kind::Nudge(Opens::Help), "finish", NOW - DAY);
    c.history.last_any_ms = Some(NOW - HOUR);
    c.path = "/settings".into();
    c.first_seen_ms = NOW;
    c.user_key = "user-2".into(); // bucket of finish:user-2 is 49
    let fixes: [fn(&mut Context); 13] = [
        |c| c.on_screen = None,
        |c| c.busy = None,
        |c| c.session_shown = 0,
        |c| {
            c.history.last_shown_ms.clear();
        },
        |c| {
            c.history.last_kind_ms.clear();
        },
        |c| c.history.last_any_ms = None,
        |c| c.openable = vec![Opens::Checklist],
        |c| c.path = "/app/x".into(),
        |c| c.segment = Some("large_org".into()),
        |c| c.traits = map(json!({ "plan": "pro" })),
        |c| c.first_seen_ms = NOW - 7 * DAY,
        |c| {
            c.event_counts.insert("report_created".into(), 3);
        },
        |c| c.user_key = "user-13".into(),
    ];
    let mut seen = Vec::new();
    for fix in fixes {
        let v = evaluate(&exp.all()[0], &c);
        seen.push(v.reason().unwrap_or_else(|| panic!("still blocked after {seen:?}")).rule());
        fix(&mut c);
    }
    assert_eq!(seen, Rule::ORDER);
    assert!(evaluate(&exp.all()[0], &c).is_eligible(), "{:?}", evaluate(&exp.all()[0], &c));
    assert_eq!(
        Rule::ORDER.map(Rule::name),
        [
            "on_screen",
            "busy",
            "session_cap",
            "recontact",
            "kind_cooldown",
            "cooldown",
            "available",
            "url",
            "segment",
            "traits",
            "first_seen",
            "event",
            "sampling"
        ]
    );
}

#[test]
fn time_based_reasons_say_when_they_pass() {
    let file =
        json!({ "cooldown_hours": 24, "surveys": [{ "id": "nps", "targeting": { "min_days_since_first_seen": 7 } }] });
    let exp = Experiences::from_value(&file).unwrap();
    let at = |edit: fn(&mut Context)| {
        let mut c = ctx();
        edit(&mut c);
        evaluate(&exp.all()[0], &c).reason().and_then(Reason::eligible_at_ms)
    };
    assert_eq!(at(|c| c.history.record("nps", NOW - DAY)), Some(NOW + 89 * DAY));
    assert_eq!(at(|c| c.history.last_any_ms = Some(NOW - HOUR)), Some(NOW + 23 * HOUR));
    assert_eq!(at(|c| c.first_seen_ms = NOW - DAY), Some(NOW + 6 * DAY));
    assert_eq!(at(|c| c.on_screen = Some(OnScreen::Survey("x".into()))), None);
}

#[test]
fn a_dismissed_showing_is_recorded_like_any_other() {
    // The caller records every showing (answered or dismissed) the same way.
    let mut h = History::default();
    h.record("nps", NOW - 5 * DAY);
    h.record("csat", NOW - 2 * DAY);
    h.record("nps", NOW - 9 * DAY); // late, out-of-order sync: never moves back in time
    assert_eq!(h.last_shown_ms.get("nps"), Some(&(NOW - 5 * DAY)));
    assert_eq!(h.last_any_ms, Some(NOW - 2 * DAY));
}

// ---- picking among several ------------------------------------------------

#[test]
fn pick_by_priority_then_id_one_on_screen() {
    let file = json!({ "surveys": [
        { "id": "low", "priority": -5 },
        { "id": "b_high", "priority": 10 },
        { "id": "a_high", "priority": 10, "targeting": { "delay_ms": 3000 } },
        { "id": "blocked", "priority": 99, "targeting": { "urls": ["/nowhere"] } },
        { "id": "mid" } ] });
    let exps = Experiences::from_value(&file).unwrap();
    let picked = |edit: fn(&mut Context)| {
        let mut c = ctx();
        edit(&mut c);
        exps.pick(&c).map(|p| format!("{} at +{}", p.experience.id(), p.show_at_ms - NOW))
    };
    assert_eq!(picked(|_| {}).as_deref(), Some("a_high at +3000"), "priority, then id; delay does not demote");
    assert_eq!(picked(|c| c.history.record("a_high", NOW - DAY)).as_deref(), Some("b_high at +0"));
    assert_eq!(picked(|c| c.on_screen = Some(OnScreen::Survey("low".into()))), None, "one on screen at a time");
    let only_low = exps.surveys().filter(|e| e.id() == "low" || e.id() == "blocked");
    assert_eq!(pick(only_low, &ctx()).map(|p| p.experience.id()), Some("low"));
    assert_eq!(pick([], &ctx()), None);

    let schedule = exps.schedule(&ctx());
    let all: Vec<String> = schedule.verdicts.iter().map(|(e, v)| format!("{}: {}", e.id(), render(v))).collect();
    assert_eq!(
        all,
        [
            r#"low: queued: waiting: "a_high" goes first (priority 10, this one -5)"#,
            r#"b_high: queued: waiting: "a_high" goes first (priority 10, this one 10)"#,
            "a_high: eligible in 3000 ms",
            "blocked: url: URL /app/reports does not match /nowhere",
            r#"mid: queued: waiting: "a_high" goes first (priority 10, this one 0)"#,
        ]
    );
    assert_eq!(schedule.next.as_ref().map(|p| p.experience.id()), Some("a_high"));
    assert!(schedule.verdict("a_high").is_some_and(Verdict::is_eligible));
    assert_eq!(schedule.verdict("nope"), None);
}

// ---- definitions ----------------------------------------------------------

#[test]
fn a_full_definition_reads_back() {
    let file = r#"{ "cooldown_hours": 24, "surveys": [ { "id": "nps", "priority": 10, "recontact_days": 30,
        "targeting": { "urls": ["/app/*"], "event": { "name": "report_created", "count": 3 },
                       "traits": { "plan": { "in": ["pro", "team"] } }, "segments": ["large_org"],
                       "min_days_since_first_seen": 7, "sample_percent": 50, "delay_ms": 2000 } } ] }"#;
    let exps = Experiences::from_json(file).unwrap();
    assert_eq!(exps.cooldown_hours(), 24);
    let e = exps.get("nps").unwrap();
    assert_eq!((e.id(), e.priority(), e.recontact_days(), e.caps().cooldown_hours), ("nps", 10, 30, 24));
    let t = e.targeting();
    assert_eq!(t.urls, ["/app/*"]);
    assert_eq!(t.event, Some(EventRule { name: "report_created".into(), count: 3 }));
    assert_eq!(t.segments, ["large_org"]);
    assert_eq!((t.min_days_since_first_seen, t.sample_percent, t.delay_ms), (7, 50, 2000));
    assert_eq!(t.traits.len(), 1);
}

#[test]
fn defaults() {
    let exps = Experiences::from_value(&json!({ "surveys": [{ "id": "nps" }] })).unwrap();
    assert_eq!(exps.cooldown_hours(), 0);
    let e = &exps.all()[0];
    assert_eq!((e.priority(), e.recontact_days()), (0, 90));
    assert_eq!(e.targeting(), &Targeting::everyone());
    assert_eq!(Targeting::default().sample_percent, 100, "the default targets everyone");
    assert!(Experiences::from_value(&json!({ "surveys": [] })).unwrap().all().is_empty());
}

#[test]
fn definition_errors_name_their_path() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!([]), vec!["expected an object"]),
        (json!({}), vec!["surveys: is required but missing"]),
        (json!({ "surveys": {} }), vec!["surveys: expected an array"]),
        (
            json!({ "surveys": [], "cooldown": 24 }),
            vec!["cooldown: unknown field; allowed here: cooldown_hours, per_session, kinds, surveys, nudges"],
        ),
        (
            json!({ "surveys": [], "cooldown_hours": -1 }),
            vec!["cooldown_hours: must be a whole number from 0 to 8760, got -1"],
        ),
        (json!({ "surveys": [], "cooldown_hours": "24" }), vec!["cooldown_hours: expected a number"]),
        (
            json!({ "surveys": [{ "id": "nps", "color": "red" }] }),
            vec!["surveys[0].color: unknown field; allowed here: id, targeting, recontact_days, priority"],
        ),
        (json!({ "surveys": [{}] }), vec!["surveys[0].id: is required but missing"]),
        (json!({ "surveys": ["nps"] }), vec!["surveys[0]: expected an object"]),
        (json!({ "surveys": [{ "id": 7 }] }), vec!["surveys[0].id: expected a string"]),
        (json!({ "surveys": [{ "id": " " }] }), vec!["surveys[0].id: must not be empty"]),
        (json!({ "surveys": [{ "id": "nps", "priority": "high" }] }), vec!["surveys[0].priority: expected a number"]),
        (
            json!({ "surveys": [{ "id": "nps", "priority": 1.5 }] }),
            vec!["surveys[0].priority: must be a whole number from -1000 to 1000, got 1.5"],
        ),
        (
            json!({ "surveys": [{ "id": "nps", "recontact_days": -3 }] }),
            vec!["surveys[0].recontact_days: must be a whole number from 0 to 3650, got -3"],
        ),
        (
            json!({ "surveys": [{ "id": "nps", "recontact_days": null }] }),
            vec!["surveys[0].recontact_days: expected a number"],
        ),
        (json!({ "surveys": [{ "id": "nps", "targeting": [] }] }), vec!["surveys[0].targeting: expected an object"]),
        (
            json!({ "surveys": [{ "id": "a" }, { "id": "b" }, { "id": "a" }] }),
            vec![r#"surveys[2].id: duplicate id "a", already used at surveys[0]"#],
        ),
    ];
    for (v, expected) in cases {
        assert_eq!(errors(v.clone()), expected, "{v}");
    }
}

#[test]
fn targeting_errors_name_their_path() {
    let t = |targeting: Value| json!({ "surveys": [{ "id": "nps", "targeting": targeting }] });
    let p = "surveys[0].targeting";
    let cases: Vec<(Value, String)> = vec![
        (
            json!({ "url": ["/app/*"] }),
            format!("{p}.url: unknown field; allowed here: urls, event, traits, segments, min_days_since_first_seen, sample_percent, delay_ms"),
        ),
        (json!({ "sample_percent": 150 }), format!("{p}.sample_percent: must be a whole number from 0 to 100, got 150")),
        (json!({ "sample_percent": -1 }), format!("{p}.sample_percent: must be a whole number from 0 to 100, got -1")),
        (json!({ "sample_percent": 12.5 }), format!("{p}.sample_percent: must be a whole number from 0 to 100, got 12.5")),
        (json!({ "sample_percent": "50%" }), format!("{p}.sample_percent: expected a number")),
        (
            json!({ "min_days_since_first_seen": -7 }),
            format!("{p}.min_days_since_first_seen: must be a whole number from 0 to 3650, got -7"),
        ),
        (json!({ "delay_ms": 3_600_001 }), format!("{p}.delay_ms: must be a whole number from 0 to 3600000, got 3600001")),
        (json!({ "urls": "/app/*" }), format!("{p}.urls: expected an array")),
        (json!({ "urls": [] }), format!("{p}.urls: must not be empty")),
        (json!({ "urls": ["/app/*", ""] }), format!("{p}.urls[1]: must not be empty")),
        (json!({ "urls": [3] }), format!("{p}.urls[0]: expected a string")),
        (
            json!({ "urls": ["app/*"] }),
            format!(r#"{p}.urls[0]: URL pattern "app/*" must start with / or * (it is matched against the page path, e.g. /app/*)"#),
        ),
        (json!({ "segments": [] }), format!("{p}.segments: must not be empty")),
        (json!({ "segments": ["a", null] }), format!("{p}.segments[1]: expected a string")),
        (json!({ "event": "report_created" }), format!("{p}.event: expected an object")),
        (json!({ "event": {} }), format!("{p}.event.name: is required but missing")),
        (json!({ "event": { "name": "x", "count": 0 } }), format!("{p}.event.count: count must be a whole number of at least 1")),
        (json!({ "event": { "name": "x", "times": 2 } }), format!("{p}.event.times: unknown field; allowed here: name, count")),
        (json!({ "traits": [] }), format!(r#"{p}.traits: expected an object like {{"team_size": {{">=": 6}}}}"#)),
        (json!({ "traits": { "plan": "pro" } }), format!(r#"{p}.traits.plan: expected an object of operators like {{">=": 6}}"#)),
        (
            json!({ "traits": { "plan": { "is": "pro" } } }),
            format!(r#"{p}.traits.plan.is: unknown operator "is"; expected one of equals, in, >=, >, <=, <, exists"#),
        ),
        (json!({ "traits": { "size": { ">=": "6" } } }), format!("{p}.traits.size.>=: expected a number")),
        (json!({ "traits": { "plan": { "in": [] } } }), format!("{p}.traits.plan.in: expected a non-empty array")),
    ];
    for (v, expected) in cases {
        assert_eq!(errors(t(v.clone())), [expected], "{v}");
    }
}

#[test]
fn all_problems_at_once() {
    check_errors(
        json!({ "cooldown_hours": 1.5, "surveys": [
            { "id": "nps", "targeting": { "sample_percent": 150, "urls": [""] } },
            { "id": "csat", "recontact_days": -1 } ] }),
        &[
            "cooldown_hours: must be a whole number from 0 to 8760, got 1.5",
            "surveys[0].targeting.urls[0]: must not be empty",
            "surveys[0].targeting.sample_percent: must be a whole number from 0 to 100, got 150",
            "surveys[1].recontact_days: must be a whole number from 0 to 3650, got -1",
        ],
    );
    let e = Experiences::from_json("{ surveys: [] }").unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

// ---- the same trait syntax and meaning as checklists ----------------------

/// Trait conditions are parsed and evaluated by checklist's code; this holds
/// targeting and checklist segments to the same syntax, errors and meaning
/// (through their public entry points, so a divergence in either shows).
#[test]
fn trait_conditions_agree_with_checklist_segments() {
    let conditions = [
        json!({ "plan": { "in": ["pro", "team"] }, "team_size": { ">=": 6, "<=": 50 } }),
        json!({ "plan": { "equals": "pro" }, "beta": { "exists": true } }),
        json!({ "team_size": { ">": 5, "<": 10 }, "legacy": { "exists": false } }),
        json!({ "plan": { "is": "pro" }, "size": { ">=": "6" }, "x": "y", "tags": { "in": [] } }),
        json!([]),
    ];
    let users = [
        json!({}),
        json!({ "plan": "pro", "team_size": 6, "beta": true }),
        json!({ "plan": "team", "team_size": 51, "legacy": null }),
        json!({ "plan": "free", "team_size": 7, "legacy": 1 }),
        json!({ "plan": null, "team_size": "7", "beta": false }),
    ];
    for when in &conditions {
        let set = json!({
            "segments": [{ "id": "t", "when": when, "checklist": "c" }, { "id": "d", "checklist": "c" }],
            "checklists": [{ "id": "c", "title": "C", "items": [{ "id": "i", "title": "I", "complete_when": "manual" }] }] });
        let survey = one(json!({ "traits": when }), json!({}));
        match (ChecklistSet::from_value(&set), Experiences::from_value(&survey)) {
            (Ok(set), Ok(exps)) => {
                let ours = &exps.all()[0].targeting().traits;
                assert_eq!(&set.segments()[0].when, ours, "{when}");
                for u in &users {
                    let theirs = set.choose(&map(u.clone())).0.id == "t";
                    let mut c = ctx();
                    c.traits = map(u.clone());
                    assert_eq!(theirs, evaluate(&exps.all()[0], &c).is_eligible(), "{when} on {u}");
                }
            }
            (Err(theirs), Err(ours)) => {
                let strip = |e: &crate::definition::DefinitionError, prefix: &str| {
                    format!("{}: {}", e.path.strip_prefix(prefix).unwrap_or(&e.path), e.problem)
                };
                let theirs: Vec<String> = theirs.0.iter().map(|e| strip(e, "segments[0].when")).collect();
                let ours: Vec<String> = ours.0.iter().map(|e| strip(e, "surveys[0].targeting.traits")).collect();
                assert_eq!(theirs, ours, "{when}");
            }
            (a, b) => panic!("{when}: checklist {a:?}, targeting {b:?}"),
        }
    }
}

// ---- the attention budget ----------------------------------------------------

#[test]
fn busy_defers_with_what_it_waits_for() {
    let f = || one(json!({}), json!({}));
    check(f(), |c| c.busy = Some(Busy::Host), "busy: waiting: the page said it is busy (setBusy)");
    check(f(), |c| c.busy = Some(Busy::Modal), "busy: waiting: a dialog of the page is open");
    check(f(), |c| c.busy = Some(Busy::Typing), "busy: waiting: the user is typing in a field");
    check(f(), |c| c.on_screen = Some(OnScreen::Panel(Opens::Help)), "on_screen: waiting: the help panel is on screen");
}

#[test]
fn session_cap_counts_everything_shown_in_the_session() {
    let f = || json!({ "per_session": 2, "surveys": [{ "id": "nps" }] });
    check(f(), |c| c.session_shown = 1, "eligible now");
    check(f(), |c| c.session_shown = 2, "session_cap: session cap: 2 shown in this session, at most 2");
    // Without a cap, no limit.
    check(one(json!({}), json!({})), |c| c.session_shown = 50, "eligible now");
}

#[test]
fn kind_cooldowns_are_per_kind_and_the_global_one_spans_kinds() {
    let file = json!({ "cooldown_hours": 1, "kinds": { "survey": { "cooldown_hours": 720 } },
        "surveys": [{ "id": "nps" }], "nudges": [{ "id": "finish", "opens": "checklist" }] });
    let exps = Experiences::from_value(&file).unwrap();
    let mut c = ctx();
    c.openable = vec![Opens::Checklist];
    c.history.record_kind(Kind::Survey, "csat", NOW - 2 * DAY);
    let render_of = |id: &str, c: &Context| render(&evaluate(exps.get(id).unwrap(), c));
    assert_eq!(render_of("nps", &c), "kind_cooldown: survey cooldown: a survey was shown 48 hours ago, needs 720");
    assert_eq!(render_of("finish", &c), "eligible now", "a survey's cooldown does not hold back a nudge");
    c.history.record_kind(Kind::Nudge(Opens::Checklist), "finish-earlier", NOW - HOUR / 2);
    assert_eq!(render_of("finish", &c), "cooldown: cooldown: something was shown 0 hours ago, needs 1");
    let blocked = evaluate(exps.get("nps").unwrap(), &c);
    assert_eq!(blocked.reason().and_then(Reason::eligible_at_ms), Some(NOW - 2 * DAY + 720 * HOUR));
}

#[test]
fn a_nudge_needs_something_to_open() {
    let file = json!({ "nudges": [{ "id": "finish", "opens": "checklist" }, { "id": "help", "opens": "help" }] });
    let exps = Experiences::from_value(&file).unwrap();
    let c = ctx();
    assert_eq!(
        render(&evaluate(exps.get("finish").unwrap(), &c)),
        "available: nothing to open: no unfinished checklist for this user"
    );
    assert_eq!(render(&evaluate(exps.get("help").unwrap(), &c)), "available: nothing to open: no help content");
    let mut c = ctx();
    c.openable = vec![Opens::Help];
    assert!(evaluate(exps.get("help").unwrap(), &c).is_eligible());
    assert_eq!(exps.get("help").unwrap().kind(), Kind::Nudge(Opens::Help));
    assert_eq!(exps.surveys().count(), 0);
}

/// The issue's scenario: two eligible surveys → one shows; the second waits
/// while it is on screen, then for the cooldown after it ended, then shows.
#[test]
fn two_eligible_surveys_take_turns_with_the_cooldown_between() {
    let file = json!({ "cooldown_hours": 24, "surveys": [
        { "id": "csat", "priority": 1 }, { "id": "nps", "priority": 5 } ] });
    let exps = Experiences::from_value(&file).unwrap();
    let why = |c: &Context, id: &str| {
        let s = exps.schedule(c);
        render(s.verdict(id).unwrap())
    };
    let mut c = ctx();
    assert_eq!(exps.schedule(&c).next.map(|p| p.experience.id()), Some("nps"));
    assert_eq!(why(&c, "csat"), r#"queued: waiting: "nps" goes first (priority 5, this one 1)"#);

    c.on_screen = Some(OnScreen::Survey("nps".into()));
    c.history.record_kind(Kind::Survey, "nps", NOW);
    assert_eq!(why(&c, "csat"), r#"on_screen: waiting: survey "nps" is on screen"#);
    assert_eq!(exps.schedule(&c).next, None);

    c.on_screen = None;
    c.now_ms = NOW + HOUR;
    assert_eq!(why(&c, "csat"), "cooldown: cooldown: something was shown 1 hour ago, needs 24");
    assert_eq!(why(&c, "nps"), "recontact: recontact period: last shown 0 days ago, needs 90");
    assert_eq!(exps.schedule(&c).next, None);

    c.now_ms = NOW + 24 * HOUR;
    let s = exps.schedule(&c);
    assert_eq!(s.next.map(|p| (p.experience.id(), p.show_at_ms)), Some(("csat", NOW + 24 * HOUR)));
}

#[test]
fn nudge_and_kind_definitions_name_their_problems() {
    check_errors(
        json!({ "kinds": { "banner": {}, "survey": { "cooldown_hours": -1, "max": 2 } }, "per_session": 0,
                "surveys": [{ "id": "x" }],
                "nudges": [{ "id": "x", "opens": "checklist" }, { "id": "n2" }, { "id": "n3", "opens": "tour" },
                           { "id": "n4", "opens": "help", "url": "/" }] }),
        &[
            "per_session: must be a whole number from 1 to 100, got 0",
            "kinds.banner: unknown field; allowed here: survey, nudge",
            "kinds.survey.max: unknown field; allowed here: cooldown_hours",
            "kinds.survey.cooldown_hours: must be a whole number from 0 to 8760, got -1",
            "nudges[0].id: duplicate id \"x\", already used at surveys[0]",
            "nudges[1].opens: is required but missing",
            "nudges[2].opens: must be \"checklist\" or \"help\", got \"tour\"",
            "nudges[3].url: unknown field; allowed here: id, opens, targeting, recontact_days, priority",
        ],
    );
    // Nudges alone are a valid file.
    assert!(Experiences::from_value(&json!({ "nudges": [] })).is_ok());
}

#[test]
fn explanations_carry_rule_sentence_and_figures() {
    let file = json!({ "surveys": [{ "id": "nps", "recontact_days": 90 }],
                       "nudges": [{ "id": "finish", "opens": "checklist", "targeting": { "sample_percent": 5 } }] });
    let exps = Experiences::from_value(&file).unwrap();
    let mut c = ctx();
    c.history.record_kind(Kind::Survey, "nps", NOW - 12 * DAY);
    c.openable = vec![Opens::Checklist];
    let s = exps.schedule(&c);
    assert_eq!(
        s.verdict("nps").unwrap().explain(exps.get("nps").unwrap()),
        json!({ "id": "nps", "kind": "survey", "eligible": false, "rule": "recontact",
                "reason": "recontact period: last shown 12 days ago, needs 90",
                "data": { "days_ago": 12, "needs_days": 90, "eligible_at_ms": NOW + 78 * DAY } })
    );
    let finish = s.verdict("finish").unwrap().explain(exps.get("finish").unwrap());
    assert_eq!(finish["opens"], "checklist");
    assert_eq!(finish["rule"], "sampling");
    assert_eq!(finish["data"], json!({ "bucket": bucket("finish", "user-1"), "percent": 5 }));
    c.user_key = "user-13".into();
    let s = exps.schedule(&c);
    assert_eq!(s.verdict("finish").unwrap().explain(exps.get("finish").unwrap())["eligible"], true);
    assert_eq!(s.verdict("finish").unwrap().explain(exps.get("finish").unwrap())["show_at_ms"], NOW);
    // Every reason has figures.
    let trait_reason = Reason::Trait {
        key: "plan".into(),
        value: Some(json!("trial")),
        op: crate::checklist::Op::In(vec![json!("pro")]),
    };
    assert_eq!(trait_reason.data(), json!({ "trait": "plan", "value": "trial", "needs": "one of [\"pro\"]" }));
}
