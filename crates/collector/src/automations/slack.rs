//! The Slack message a rule's `slack` action posts to an incoming webhook:
//! Block Kit with the score, the comment, who answered, their account and
//! its health, and a link to the case in the dashboard.
//!
//! Text a user wrote goes into `mrkdwn` fields escaped as Slack asks
//! (`&`, `<`, `>`), so a comment cannot mention `<!channel>`, link
//! elsewhere or format a user id; so does the fallback `text`, which Slack
//! formats too (notifications show it).

use serde_json::{json, Value};

use super::{AccountInfo, TriggerContext};

/// `&`, `<`, `>` as Slack's mrkdwn wants them.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The NPS score and the answers to free-text questions among the response's final answers.
fn score_and_comment(t: &TriggerContext) -> (Option<i64>, Vec<String>) {
    let score = t.answers.iter().find(|a| a.kind == "nps").and_then(|a| a.value.as_i64());
    let comments =
        t.answers.iter().filter(|a| a.kind == "text").filter_map(|a| a.value.as_str()).map(str::to_string).collect();
    (score, comments)
}

/// The payload for rule `rule_id`; `case_url` links to the case the same rule opened.
pub fn message(rule_id: &str, t: &TriggerContext, case_url: Option<&str>) -> Value {
    let (score, comments) = score_and_comment(t);
    let who = match (t.traits.get("name").and_then(Value::as_str), &t.user_id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (None, Some(id)) => id.clone(),
        (Some(name), None) => name.to_string(),
        (None, None) => format!("anonymous ({})", t.anonymous_id.as_deref().unwrap_or("?")),
    };
    let score_text = score.map_or("—".to_string(), |s| s.to_string());
    let comment = comments.join("\n");
    let account = |a: &AccountInfo| a.name.clone().map_or(a.id.clone(), |n| format!("{n} ({})", a.id));
    let account_text = t.account.as_ref().map_or("—".to_string(), account);
    let health_text = match &t.account {
        Some(AccountInfo { health: Some(h), stage, .. }) => match stage {
            Some(stage) => format!("{h}/100, {stage}"),
            None => format!("{h}/100"),
        },
        Some(_) => "not assessed yet".into(),
        None => "—".into(),
    };
    let owner = t.account.as_ref().and_then(|a| a.owner.clone());
    let mut fields = vec![
        json!({ "type": "mrkdwn", "text": format!("*Score*\n{}", escape(&score_text)) }),
        json!({ "type": "mrkdwn", "text": format!("*Who*\n{}", escape(&who)) }),
        json!({ "type": "mrkdwn", "text": format!("*Account*\n{}", escape(&account_text)) }),
        json!({ "type": "mrkdwn", "text": format!("*Health*\n{}", escape(&health_text)) }),
    ];
    if let Some(owner) = &owner {
        fields.push(json!({ "type": "mrkdwn", "text": format!("*Owner*\n{}", escape(owner)) }));
    }
    let quoted = if comment.is_empty() {
        "_No comment._".to_string()
    } else {
        comment.lines().map(|l| format!("> {}", escape(l))).collect::<Vec<_>>().join("\n")
    };
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": format!("NPS {score_text} from {who}") } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": quoted } }),
        json!({ "type": "section", "fields": fields }),
    ];
    if let Some(url) = case_url {
        blocks.push(json!({ "type": "actions", "elements": [
            { "type": "button", "text": { "type": "plain_text", "text": "Open the case" }, "url": url }
        ] }));
    }
    blocks.push(json!({ "type": "context", "elements": [
        { "type": "mrkdwn", "text": format!("Touchpoint rule `{}`", escape(rule_id)) }
    ] }));
    let text = if comment.is_empty() {
        format!("NPS {score_text} from {who} ({account_text})")
    } else {
        format!("NPS {score_text} from {who} ({account_text}): {comment}")
    };
    json!({ "text": escape(&text), "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_mention_the_channel_or_link() {
        assert_eq!(
            escape("<!channel> see <https://evil.example|here> & more"),
            "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more"
        );
    }
}
