use serde::{Deserialize, Serialize};

/// Free-form properties of a `track()` call or traits of an `identify()` call.
pub type Props = serde_json::Map<String, serde_json::Value>;

/// One thing that happened, as posted to the collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Event {
    /// UUID v4 given when the event is created, so a retried send can be
    /// recognised as the same event.
    pub id: String,
    /// Milliseconds since the Unix epoch, on the end user's clock.
    pub ts: i64,
    /// Stable per browser, created on first load.
    pub anonymous_id: String,
    /// Set once the host called `identify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Proof that the page may speak for `user_id`: the hex HMAC-SHA256 of
    /// the user id under the project's identity secret, from the host's
    /// backend. Only projects that verify identities need it; the collector
    /// checks it and does not store it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_hash: Option<String>,
    /// The page the event happened on.
    pub url: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened; serialized as `"type": "<snake_case name>"` plus its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A survey card was put on screen. `response_id` groups all events of one
    /// showing, so an answer changed after going back replaces the earlier one.
    SurveyShown {
        survey_id: String,
        response_id: String,
        /// The published version of the survey that was shown (from its card
        /// form), so a response is read against what its person saw; absent for a
        /// survey served from the collector's files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey_version: Option<u32>,
    },
    /// One question was answered (posted at once, so half-finished surveys count).
    SurveyAnswered {
        survey_id: String,
        response_id: String,
        /// The published version of the survey that was shown (from its card
        /// form), so a response is read against what its person saw; absent for a
        /// survey served from the collector's files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey_version: Option<u32>,
        question_id: String,
        value: AnswerValue,
    },
    /// An ending was reached; its follow-up actions are for the backend to run.
    SurveyCompleted {
        survey_id: String,
        response_id: String,
        /// The published version of the survey that was shown (from its card
        /// form), so a response is read against what its person saw; absent for a
        /// survey served from the collector's files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey_version: Option<u32>,
        ending_id: String,
        actions: Vec<Action>,
    },
    /// Closed before reaching an ending.
    SurveyDismissed {
        survey_id: String,
        response_id: String,
        /// The published version of the survey that was shown (from its card
        /// form), so a response is read against what its person saw; absent for a
        /// survey served from the collector's files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey_version: Option<u32>,
        question_id: String,
    },
    /// A nudge opened one of the widget's panels unasked (`opens`: `checklist` or `help`).
    NudgeShown {
        nudge_id: String,
        opens: String,
    },
    /// A host-defined behavior, from `Touchpoint.track(name, props)`.
    Track {
        name: String,
        #[serde(default)]
        props: Props,
    },
    /// A page view, from `Touchpoint.page(props)` (single-page apps call it on route changes).
    Page {
        #[serde(default)]
        props: Props,
    },
    /// The host named the user, from `Touchpoint.identify(userId, traits)`.
    Identify {
        #[serde(default)]
        traits: Props,
    },
    /// The user belongs to an account, from `Touchpoint.group(accountId, traits)`
    /// (a B2B customer: plan, seats, owner, …). The latest `group` of a user wins.
    Group {
        account_id: String,
        #[serde(default)]
        traits: Props,
    },
    /// The checklist panel was put on screen (`segment` is the one chosen from traits).
    ChecklistShown {
        checklist_id: String,
        segment: String,
    },
    /// An item became complete; `rule` says what fired ("event imported_data", "complete() called by the host").
    ChecklistItemCompleted {
        checklist_id: String,
        item_id: String,
        rule: String,
    },
    /// The last item became complete.
    ChecklistCompleted {
        checklist_id: String,
    },
    /// The user dismissed the checklist.
    ChecklistDismissed {
        checklist_id: String,
    },
    /// The help panel was opened.
    HelpOpened {},
    /// A search in the help panel settled (the user paused typing); `result_count` 0 means
    /// users look for something the help does not have.
    HelpSearched {
        query: String,
        result_count: u32,
    },
    HelpArticleViewed {
        article_id: String,
    },
    /// "Was this helpful?"
    HelpArticleRated {
        article_id: String,
        helpful: bool,
    },
    /// "Contact us": a case for a human, with what the user was doing.
    HelpCaseCreated {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_article: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_failed_search: Option<String>,
    },
    /// Something went wrong in the widget that the backend should count,
    /// e.g. `queue_overflow` (events dropped because the queue was full).
    ClientError {
        code: String,
        message: String,
        #[serde(default)]
        event_ids: Vec<String>,
    },
}

impl EventKind {
    /// The wire name, as in the `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SurveyShown { .. } => "survey_shown",
            EventKind::SurveyAnswered { .. } => "survey_answered",
            EventKind::SurveyCompleted { .. } => "survey_completed",
            EventKind::SurveyDismissed { .. } => "survey_dismissed",
            EventKind::NudgeShown { .. } => "nudge_shown",
            EventKind::Track { .. } => "track",
            EventKind::Page { .. } => "page",
            EventKind::Identify { .. } => "identify",
            EventKind::Group { .. } => "group",
            EventKind::ChecklistShown { .. } => "checklist_shown",
            EventKind::ChecklistItemCompleted { .. } => "checklist_item_completed",
            EventKind::ChecklistCompleted { .. } => "checklist_completed",
            EventKind::ChecklistDismissed { .. } => "checklist_dismissed",
            EventKind::HelpOpened {} => "help_opened",
            EventKind::HelpSearched { .. } => "help_searched",
            EventKind::HelpArticleViewed { .. } => "help_article_viewed",
            EventKind::HelpArticleRated { .. } => "help_article_rated",
            EventKind::HelpCaseCreated { .. } => "help_case_created",
            EventKind::ClientError { .. } => "client_error",
        }
    }

    pub fn survey_id(&self) -> Option<&str> {
        match self {
            EventKind::SurveyShown { survey_id, .. }
            | EventKind::SurveyAnswered { survey_id, .. }
            | EventKind::SurveyCompleted { survey_id, .. }
            | EventKind::SurveyDismissed { survey_id, .. } => Some(survey_id),
            _ => None,
        }
    }

    /// The published version of the survey a survey event says was shown.
    pub fn survey_version(&self) -> Option<u32> {
        match self {
            EventKind::SurveyShown { survey_version, .. }
            | EventKind::SurveyAnswered { survey_version, .. }
            | EventKind::SurveyCompleted { survey_version, .. }
            | EventKind::SurveyDismissed { survey_version, .. } => *survey_version,
            _ => None,
        }
    }
}

impl Event {
    /// The length `serde_json::to_string(self)` would have if this `track`
    /// event carried, as its `props`, a JSON object whose compact text is
    /// `props_json_len` bytes; `None` for other kinds. Lets `track()` refuse an
    /// oversized event at once without serializing it (it is serialized once,
    /// later, for the queue). Kept next to the struct whose layout it mirrors;
    /// a test holds the two together.
    pub fn track_json_len(&self, props_json_len: usize) -> Option<usize> {
        let EventKind::Track { name, .. } = &self.kind else { return None };
        let string = |s: &str| 2 + json_escaped_len(s);
        let mut n = r#"{"id":,"ts":,"anonymous_id":,"url":,"type":"track","name":,"props":}"#.len();
        n += string(&self.id) + decimal_len(self.ts) + string(&self.anonymous_id) + string(&self.url);
        if let Some(u) = &self.user_id {
            n += r#","user_id":"#.len() + string(u);
        }
        if let Some(h) = &self.user_hash {
            n += r#","user_hash":"#.len() + string(h);
        }
        Some(n + string(name) + props_json_len)
    }
}

/// Digits (and sign) of `n` in decimal.
fn decimal_len(n: i64) -> usize {
    let mut m = n.unsigned_abs();
    let mut len = usize::from(n < 0) + 1;
    while m >= 10 {
        m /= 10;
        len += 1;
    }
    len
}

/// Bytes of `s` inside a JSON string as serde_json writes it: `"` and `\`
/// and the short control escapes take two bytes, other control characters six.
fn json_escaped_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                0..=0x1f => 5,
                _ => 0,
            })
            .sum::<usize>()
}

/// The value of one answer. Untagged: a number for `nps`/`rating`, a string
/// for `single_choice` (the choice id) and `text`, a list of choice ids for
/// `multi_choice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum AnswerValue {
    Score(u8),
    Text(String),
    Choices(Vec<String>),
}

/// A follow-up that an ending asks the backend to run, e.g.
/// `{"action":"offer","code":"trial_extension_14d"}`. The widget does not run
/// it; it records it in `survey_completed`. Open-ended on purpose: the
/// fields beside `action` are passed through untouched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Action {
    pub action: String,
    #[serde(flatten)]
    pub params: Props,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(kind: EventKind) -> Event {
        Event {
            id: "e1".into(),
            ts: 1_700_000_000_000,
            anonymous_id: "anon".into(),
            user_id: Some("u1".into()),
            user_hash: None,
            url: "http://127.0.0.1/app".into(),
            kind,
        }
    }

    #[test]
    fn answered_event_is_one_flat_object() {
        let e = envelope(EventKind::SurveyAnswered {
            survey_id: "nps".into(),
            response_id: "r1".into(),
            survey_version: None,
            question_id: "score".into(),
            value: AnswerValue::Score(3),
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"id":"e1","ts":1_700_000_000_000i64,"anonymous_id":"anon","user_id":"u1",
                   "url":"http://127.0.0.1/app","type":"survey_answered","survey_id":"nps",
                   "response_id":"r1","question_id":"score","value":3})
        );
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
    }

    #[test]
    fn completed_event_keeps_action_parameters() {
        let raw = json!({"id":"e2","ts":1,"anonymous_id":"a","url":"u","type":"survey_completed",
            "survey_id":"nps","response_id":"r","ending_id":"trial",
            "actions":[{"action":"offer","code":"trial_extension_14d"}]});
        let e: Event = serde_json::from_value(raw.clone()).unwrap();
        let EventKind::SurveyCompleted { actions, .. } = &e.kind else { panic!("wrong kind {e:?}") };
        assert_eq!(actions[0].action, "offer");
        assert_eq!(actions[0].params["code"], "trial_extension_14d");
        assert_eq!(serde_json::to_value(&e).unwrap(), raw);
    }

    #[test]
    fn answer_values_of_each_shape_round_trip() {
        for (json, value) in [
            (json!(10), AnswerValue::Score(10)),
            (json!("not_ready"), AnswerValue::Text("not_ready".into())),
            (json!(["a", "b"]), AnswerValue::Choices(vec!["a".into(), "b".into()])),
        ] {
            assert_eq!(serde_json::from_value::<AnswerValue>(json.clone()).unwrap(), value);
            assert_eq!(serde_json::to_value(&value).unwrap(), json);
        }
    }

    #[test]
    fn help_events_round_trip() {
        let raw = json!({"id":"e3","ts":1,"anonymous_id":"a","url":"u","type":"help_case_created",
            "message":"Export fails","last_failed_search":"exprot"});
        let e: Event = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(e.kind.name(), "help_case_created");
        assert_eq!(serde_json::to_value(&e).unwrap(), raw);
        let opened = json!({"id":"e4","ts":1,"anonymous_id":"a","url":"u","type":"help_opened"});
        assert_eq!(serde_json::from_value::<Event>(opened).unwrap().kind, EventKind::HelpOpened {});
    }

    #[test]
    fn group_event_round_trips() {
        let raw = json!({"id":"e5","ts":1,"anonymous_id":"a","user_id":"u","url":"u","type":"group",
            "account_id":"acme","traits":{"seats":12,"owner":"sam@acme.example"}});
        let e: Event = serde_json::from_value(raw.clone()).unwrap();
        let EventKind::Group { account_id, traits } = &e.kind else { panic!("wrong kind {e:?}") };
        assert_eq!((account_id.as_str(), &traits["seats"]), ("acme", &json!(12)));
        assert_eq!(e.kind.name(), "group");
        assert_eq!(serde_json::to_value(&e).unwrap(), raw);
    }

    #[test]
    fn unknown_type_is_rejected_with_its_name() {
        let raw = json!({"id":"e","ts":1,"anonymous_id":"a","url":"u","type":"survey_exploded"});
        let err = serde_json::from_value::<Event>(raw).unwrap_err().to_string();
        assert!(err.contains("survey_exploded"), "{err}");
    }

    #[test]
    fn track_json_len_is_the_serialized_length() {
        let props = json!({ "plan": "pro", "n": 3, "nested": { "q": "a \"quoted\" \\ path\n" } });
        let text = serde_json::to_string(&props).unwrap();
        for (user_id, user_hash) in [(None, None), (Some("u\t1"), None), (Some("u1"), Some("ab12"))] {
            for name in ["imported_data", "odd \u{1} \u{1f} \u{8} \"name\" é ☃"] {
                let mut e = envelope(EventKind::Track { name: name.into(), props: props.as_object().unwrap().clone() });
                e.user_id = user_id.map(Into::into);
                e.user_hash = user_hash.map(Into::into);
                e.url = "http://127.0.0.1/a?q=\"x\"\\".into();
                assert_eq!(e.track_json_len(text.len()), Some(serde_json::to_string(&e).unwrap().len()), "{name:?}");
            }
        }
        assert_eq!(envelope(EventKind::Page { props: Props::new() }).track_json_len(2), None);
        for ts in [0, 7, 10, 99, -1, -10, i64::MAX, i64::MIN] {
            assert_eq!(decimal_len(ts), ts.to_string().len(), "{ts}");
        }
    }
}
