//! The published wire contract: the JSON Schemas committed under
//! `crates/protocol/schema/` are exactly what the protocol types generate,
//! and `GET /v1/openapi.json` is a well-formed OpenAPI 3.1 document whose
//! every `$ref` resolves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

mod common;
use common::app::TestApp;

const REGENERATE: &str = "UPDATE_SCHEMA=1 cargo test -p touchpoint-collector --test contract";

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/schema")
}

fn committed_files(dir: &Path, under: &str, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir.join(under)) else { return };
    for entry in entries.flatten() {
        let name = format!("{under}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            committed_files(dir, &format!("{name}/"), out);
        } else {
            out.insert(name);
        }
    }
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    let dir = schema_dir();
    let docs = touchpoint_protocol::schema::documents();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (path, schema) in &docs {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, serde_json::to_string_pretty(schema).unwrap() + "\n").unwrap();
        }
    }
    let mut stale = Vec::new();
    for (path, schema) in &docs {
        let want = serde_json::to_string_pretty(schema).unwrap() + "\n";
        match std::fs::read_to_string(dir.join(path)) {
            Ok(have) if have == want => {}
            Ok(_) => stale.push(format!("{path} differs")),
            Err(_) => stale.push(format!("{path} is missing")),
        }
    }
    let generated: BTreeSet<String> = docs.iter().map(|(p, _)| p.clone()).collect();
    let mut committed = BTreeSet::new();
    committed_files(&dir, "", &mut committed);
    stale.extend(committed.difference(&generated).map(|p| format!("{p} is no longer generated")));
    assert!(
        stale.is_empty(),
        "crates/protocol changed without its published schema: {}.\nRegenerate with: {REGENERATE}",
        stale.join("; ")
    );
}

#[test]
fn every_event_type_has_its_own_flat_schema() {
    let docs = touchpoint_protocol::schema::documents();
    let paths: BTreeSet<&str> = docs.iter().map(|(p, _)| p.as_str()).collect();
    let event = &docs.iter().find(|(p, _)| p == "event.json").unwrap().1;
    let kinds = event["oneOf"].as_array().unwrap();
    assert_eq!(kinds.len(), paths.iter().filter(|p| p.starts_with("events/")).count());
    for kind in kinds {
        let name = kind["properties"]["type"]["const"].as_str().unwrap();
        let (_, doc) = docs.iter().find(|(p, _)| *p == format!("events/{name}.json")).unwrap();
        for field in ["id", "ts", "anonymous_id", "url", "type"] {
            assert!(doc["required"].as_array().unwrap().contains(&Value::from(field)), "{name}: {field}");
        }
    }
    for expected in ["events/survey_answered.json", "events/checklist_item_completed.json", "events/track.json"] {
        assert!(paths.contains(expected), "{expected}");
    }
}

/// Walks `v`, calling `f` on every `$ref`.
fn each_ref(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => f(r),
                    _ => each_ref(child, f),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| each_ref(c, f)),
        _ => {}
    }
}

/// Resolves a local JSON pointer reference (`#/a/b`) in `doc`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

#[tokio::test]
async fn openapi_document_is_served_and_is_openapi_3_1() {
    let app =
        TestApp::new(r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]}]"#, |s| s).await;
    let (status, doc) = app.send(Request::get("/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for route in ["/v1/events", "/v1/config", "/v1/surveys/{id}", "/v1/checklists", "/v1/help", "/v1/openapi.json"] {
        assert!(paths.contains_key(route), "{route} is not described");
    }
    let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(methods.contains(&method.as_str()), "{path}: {method} is not an operation");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (code, r) in responses {
                assert!(code.len() == 3 && code.parse::<u16>().is_ok(), "{method} {path}: {code}");
                assert!(r["description"].is_string(), "{method} {path} {code} has no description");
            }
            if let Some(id) = op["operationId"].as_str() {
                assert!(operation_ids.insert(id.to_string()), "operationId {id} twice");
            }
            // Every `{param}` in the path is declared as a required path parameter.
            for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true);
                assert!(declared, "{method} {path}: path parameter {name} is not declared");
            }
        }
    }
    let mut unresolved = Vec::new();
    each_ref(&doc, &mut |r| {
        if resolve(&doc, r).is_none() {
            unresolved.push(r.to_string());
        }
    });
    assert!(unresolved.is_empty(), "unresolved $refs: {unresolved:?}");
    // The batch and the answer are the generated schemas, not a hand copy.
    let batch = &doc["components"]["schemas"]["EventBatch"];
    assert_eq!(batch["required"], serde_json::json!(["key", "events"]));
    assert!(doc["components"]["schemas"]["Event"]["oneOf"].as_array().unwrap().len() > 10);
}

/// A second opinion from an independent validator, Python's
/// `openapi-spec-validator`, where this machine has it (it is not a build
/// dependency, so its absence is reported, not failed).
#[test]
fn openapi_document_passes_openapi_spec_validator_where_installed() {
    const CHECK: &str = "import json, sys\n\
        try:\n    from openapi_spec_validator import OpenAPIV31SpecValidator\n\
        except ImportError:\n    sys.exit(3)\n\
        errors = [e.message for e in OpenAPIV31SpecValidator(json.load(sys.stdin)).iter_errors()]\n\
        print('\\n'.join(errors)); sys.exit(1 if errors else 0)\n";
    let doc = touchpoint_collector::openapi::document().to_string();
    let child = std::process::Command::new("python3")
        .args(["-c", CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not found: the independent OpenAPI check did not run");
        return;
    };
    use std::io::Write;
    child.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.code() {
        Some(0) => {}
        Some(3) => eprintln!("openapi-spec-validator is not installed: the independent OpenAPI check did not run"),
        _ => panic!("openapi-spec-validator: {}", String::from_utf8_lossy(&out.stdout)),
    }
}
