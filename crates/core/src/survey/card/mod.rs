//! A validated [`Survey`] in its card form ([`touchpoint_protocol::card`]):
//! what the collector serves so that the page shows a survey without
//! validating it again.

use touchpoint_protocol::card::{
    CardChoice, CardCondition, CardEnding, CardKind, CardQuestion, CardRule, CardScale, CardSurvey, CardTarget,
};

use super::graph::{Choice, Condition, Ending, Question, QuestionKind, Rule, Survey, Target};

impl Survey {
    /// This survey in its card form: the same questions, endings and rules,
    /// in the same order (so indices mean the same), with the texts chosen
    /// when it was read ([`Survey::from_json_in`]). Walking the card's rules
    /// leads where [`Session::answer`](super::Session::answer) leads.
    pub fn to_card(&self) -> CardSurvey {
        CardSurvey::new(
            self.id.clone(),
            self.title.clone(),
            self.questions.iter().map(card_question).collect(),
            self.endings.iter().map(card_ending).collect(),
        )
    }
}

fn card_question(q: &Question) -> CardQuestion {
    let scale = |low: &Option<String>, high: &Option<String>| {
        let range = q.kind.scale().expect("score kinds have a scale");
        CardScale { min: *range.start(), max: *range.end(), low: low.clone(), high: high.clone() }
    };
    let kind = match &q.kind {
        QuestionKind::Nps { low_label, high_label } => CardKind::Nps(scale(low_label, high_label)),
        QuestionKind::Rating { low_label, high_label, .. } => CardKind::Rating(scale(low_label, high_label)),
        QuestionKind::SingleChoice { choices } => CardKind::SingleChoice { choices: card_choices(choices) },
        QuestionKind::MultiChoice { choices } => CardKind::MultiChoice { choices: card_choices(choices) },
        QuestionKind::Text { optional, placeholder } => {
            CardKind::Text { optional: *optional, placeholder: placeholder.clone() }
        }
    };
    CardQuestion { id: q.id.clone(), kind, text: q.text.clone(), rules: q.rules.iter().map(card_rule).collect() }
}

fn card_choices(choices: &[Choice]) -> Vec<CardChoice> {
    choices.iter().map(|c| CardChoice { id: c.id.clone(), label: c.label.clone() }).collect()
}

fn card_rule(rule: &Rule) -> CardRule {
    let when = match &rule.when {
        Condition::Score { min, max } => CardCondition::Score { min: *min, max: *max },
        Condition::Choice(id) => CardCondition::Choice(id.clone()),
        Condition::Any => CardCondition::Any,
    };
    let next = match rule.next {
        Target::Question(i) => CardTarget::Question(i),
        Target::Ending(i) => CardTarget::Ending(i),
    };
    CardRule { when, next }
}

fn card_ending(e: &Ending) -> CardEnding {
    CardEnding { id: e.id.clone(), title: e.title.clone(), message: e.message.clone(), actions: e.actions.clone() }
}

#[cfg(test)]
mod tests;
