//! Survey templates to start from in the editor (NPS with its detractor
//! follow-up and trial-extension ending, CSAT, CES, product–market fit),
//! kept as data in `dashboard/templates.json` and served with the secret key
//! by `GET /v1/content/templates`.

/// `{"templates": [{"key", "name", "description", "survey"}]}`.
pub const TEMPLATES: &str = include_str!("../../dashboard/templates.json");

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::TEMPLATES;
    use crate::content::Kind;

    #[test]
    fn every_template_is_a_valid_survey() {
        let all: Value = serde_json::from_str(TEMPLATES).unwrap();
        let templates = all["templates"].as_array().unwrap();
        let keys: Vec<&str> = templates.iter().map(|t| t["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["nps", "csat", "ces", "pmf"]);
        for t in templates {
            let survey = &t["survey"];
            let id = survey["id"].as_str().unwrap();
            assert_eq!(Kind::Survey.validate(id, survey, &[]), vec![], "template {id}");
        }
    }
}
