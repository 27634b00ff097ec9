//! Tidy tests: the contracts that span files which no compiler checks
//! together. The two wasm modules call each other through JS, so a name
//! misspelt on one side is a runtime `undefined`, not a build error. (The
//! page API's own lists are checked in `tidy.rs`.)

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The JS name of each item that follows a `#[wasm_bindgen(…)]` attribute and
/// is a `fn`: its `js_name`, else its Rust name. `methods`: only `method`
/// attributes (imports inside an `extern` block); else only exports.
fn bindings(source: &str, methods: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(attr) = line.strip_prefix("#[wasm_bindgen") else { continue };
        if attr.contains("method") != methods || attr.contains("js_namespace") {
            continue;
        }
        let Some(item) = lines[i + 1..].iter().find(|l| !l.starts_with("#[") && !l.starts_with("///")) else {
            continue;
        };
        let Some(rest) = item.split("fn ").nth(1).filter(|_| item.contains("fn ")) else { continue };
        let rust_name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let js_name = attr
            .split("js_name = ")
            .nth(1)
            .map(|r| r.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
            .unwrap_or(rust_name);
        out.insert(js_name);
    }
    out
}

#[test]
fn what_the_first_module_calls_the_second_exports() {
    let mut called = bindings(&read("src/rest.rs"), true);
    // The loader's one method, which pkg/index.js defines.
    assert!(called.remove("load") && read("pkg/index.js").contains("load(start) {"));
    let exported = bindings(&read("crates/views/src/exports.rs"), false);
    assert!(called.len() >= 5, "the parser found too little: {called:?}");
    let missing: Vec<_> = called.difference(&exported).collect();
    assert!(missing.is_empty(), "src/rest.rs calls {missing:?}, which crates/views/src/exports.rs does not export");
    // `load` is pkg/index.js's, which calls `start`.
    assert!(exported.contains("start") && read("pkg/index.js").contains("m.start(wasm, start)"));
}

#[test]
fn what_the_second_module_calls_the_first_exports() {
    let called = bindings(&read("crates/views/src/host.rs"), true);
    let exported = bindings(&read("src/bridge.rs"), false);
    assert!(called.len() >= 5, "the parser found too little: {called:?}");
    assert_eq!(called, exported, "crates/views/src/host.rs and src/bridge.rs must list the same host* calls");
}
