//! Tidy tests: promises about the repository that no compiler checks, because
//! they span files in different languages. Each check is a function from file
//! texts to the problems it finds, so that each is shown failing on a planted
//! mistake below, next to the run on the real files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The quoted strings in the first `[ … ]` after `marker`.
fn quoted_list(source: &str, marker: &str) -> Option<BTreeSet<String>> {
    let start = source.find(marker)? + marker.len();
    let body = &source[start..];
    let body = &body[..body.find(']')?];
    Some(body.split('"').skip(1).step_by(2).map(str::to_owned).collect())
}

/// The JS names of the functions a Rust file exports with `#[wasm_bindgen]`
/// (its `js_name`, else its Rust name); not the imports of `extern` blocks.
fn wasm_exports(source: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut out = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(attr) = line.strip_prefix("#[wasm_bindgen") else { continue };
        if attr.contains("method") || attr.contains("js_namespace") {
            continue;
        }
        let Some(item) = lines[i + 1..].iter().find(|l| !l.starts_with("#[") && !l.starts_with("///")) else {
            continue;
        };
        let Some(rest) = item.split("fn ").nth(1).filter(|_| item.contains("fn ")) else { continue };
        let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
        out.insert(attr.split("js_name = ").nth(1).map(ident).unwrap_or_else(|| ident(rest)));
    }
    out
}

// ---- the page API --------------------------------------------------------------------------

/// Where the page API is spelt out, each as the names it lists.
struct ApiLists {
    loader: Option<BTreeSet<String>>,
    readme_stub: Option<BTreeSet<String>>,
    entry: String,
    types: String,
    first_exports: BTreeSet<String>,
    second_exports: BTreeSet<String>,
}

impl ApiLists {
    fn of_repository() -> ApiLists {
        ApiLists {
            loader: quoted_list(&read("www/touchpoint.js"), "var api = ["),
            readme_stub: quoted_list(&read("README.md"), "Touchpoint||{q:[]};["),
            entry: read("pkg/index.js"),
            types: read("pkg/index.d.ts"),
            first_exports: wasm_exports(&read("src/api.rs")),
            second_exports: wasm_exports(&read("crates/views/src/exports.rs")),
        }
    }
}

/// The loader's list, the README's embed stub, the npm entry's exports, the
/// TypeScript declarations and the wasm exports name the same calls: a call
/// missing from one is a runtime `undefined` on some host page.
fn api_problems(l: &ApiLists) -> Vec<String> {
    let mut problems = Vec::new();
    let exported: BTreeSet<String> = l
        .entry
        .lines()
        .filter_map(|l| l.strip_prefix("export let "))
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    if exported.len() < 10 {
        problems.push(format!("pkg/index.js: found only {exported:?} as `export let` calls"));
    }
    for (what, list) in [("www/touchpoint.js's `var api = [`", &l.loader), ("README.md's embed stub", &l.readme_stub)] {
        match list {
            None => problems.push(format!("{what}: list not found")),
            Some(list) if *list != exported => problems.push(format!(
                "{what} differs from pkg/index.js's exports: only there {:?}, only in pkg/index.js {:?}",
                list.difference(&exported).collect::<Vec<_>>(),
                exported.difference(list).collect::<Vec<_>>()
            )),
            Some(_) => {}
        }
    }
    for name in &exported {
        let later = l.entry.contains(&format!("later(\"{name}\")"));
        let (module, exports) =
            if later { ("second (crates/views)", &l.second_exports) } else { ("first (src/api.rs)", &l.first_exports) };
        if !exports.contains(name) {
            problems.push(format!("pkg/index.js binds {name} to the {module} module, which does not export it"));
        }
        let declared = ["(", "<"].iter().any(|after| l.types.contains(&format!("export function {name}{after}")));
        if !declared {
            problems.push(format!("pkg/index.d.ts does not declare {name}"));
        }
    }
    problems
}

#[test]
fn the_page_api_is_the_same_everywhere() {
    assert_none(api_problems(&ApiLists::of_repository()));
}

#[test]
fn a_call_missing_from_one_list_is_found() {
    let mut l = ApiLists::of_repository();
    l.readme_stub.as_mut().unwrap().remove("track");
    l.types = l.types.replace("export function optIn", "export function optInn");
    l.first_exports.remove("identify");
    let problems = api_problems(&l).join("\n");
    assert!(problems.contains("README.md's embed stub differs") && problems.contains("\"track\""), "{problems}");
    assert!(problems.contains("does not declare optIn"), "{problems}");
    assert!(problems.contains("binds identify to the first"), "{problems}");
}

// ---- init options --------------------------------------------------------------------------

/// The options `src/options.rs` reads (its `NAMES` and its `match` arms) and
/// the fields of `TouchpointOptions` in `pkg/index.d.ts` are the same set.
fn options_problems(options_rs: &str, types: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let names = quoted_list(options_rs, "pub const NAMES: &[&str] = &[").unwrap_or_default();
    let arms: BTreeSet<String> = options_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once("\" =>").map(|(name, _)| name.to_owned()))
        .filter(|n| names.contains(n) || n.chars().next().is_some_and(char::is_lowercase) && !n.contains(' '))
        .collect();
    let Some(start) = types.find("export interface TouchpointOptions {") else {
        return vec!["pkg/index.d.ts: no `export interface TouchpointOptions`".into()];
    };
    let body = &types[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap_or(body.len())];
    let declared: BTreeSet<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('/') && !l.starts_with('*'))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim_end_matches('?').to_owned()))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric()))
        .collect();
    if names.len() < 5 {
        problems.push(format!("src/options.rs: NAMES not found or too short: {names:?}"));
    }
    let names_arms: BTreeSet<String> =
        arms.iter().filter(|a| declared.contains(*a) || names.contains(*a)).cloned().collect();
    if names_arms != names {
        problems.push(format!("src/options.rs: NAMES {names:?} and the options it parses {names_arms:?} differ"));
    }
    for n in names.difference(&declared) {
        problems.push(format!("TouchpointOptions in pkg/index.d.ts lacks `{n}`, which the widget accepts"));
    }
    for n in declared.difference(&names) {
        problems.push(format!("TouchpointOptions declares `{n}`, which the widget rejects as unknown"));
    }
    problems
}

#[test]
fn the_typed_options_are_the_options_the_widget_accepts() {
    assert_none(options_problems(&read("src/options.rs"), &read("pkg/index.d.ts")));
}

#[test]
fn an_option_missing_from_the_types_is_found() {
    let types = read("pkg/index.d.ts").replace("  locale?:", "  localeX?:");
    let problems = options_problems(&read("src/options.rs"), &types).join("\n");
    assert!(problems.contains("lacks `locale`"), "{problems}");
    assert!(problems.contains("declares `localeX`"), "{problems}");
}

// ---- core stays pure -----------------------------------------------------------------------

/// Crates that reach the web or do I/O: none belongs in `crates/core` (or the
/// crates it depends on), which `cargo test` runs on the host and both the
/// collector and the widget share.
const IMPURE: &[&str] = &[
    "wasm-bindgen",
    "web-sys",
    "js-sys",
    "gloo",
    "leptos",
    "tokio",
    "async-std",
    "reqwest",
    "hyper",
    "axum",
    "ureq",
    "sqlx",
    "rusqlite",
    "tokio-postgres",
    "deadpool",
    "mio",
    "socket2",
    "notify",
    "lettre",
];
const IMPURE_PATHS: &[&str] = &["std::fs", "std::net", "std::process", "std::env", "std::io::stdin", "std::thread"];

/// Problems in one crate's manifest and (non-test) sources.
fn purity_problems(crate_dir: &str, manifest: &str, sources: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if !section.contains("dependencies") || section.contains("dev-dependencies") {
            continue;
        }
        let Some((name, _)) = line.split_once('=') else { continue };
        let name = name.trim().trim_matches('"');
        if IMPURE.iter().any(|bad| name == *bad || name.starts_with(&format!("{bad}-"))) {
            problems.push(format!("{crate_dir}/Cargo.toml depends on {name}: it must stay free of web and I/O crates"));
        }
    }
    for (path, text) in sources {
        for bad in IMPURE_PATHS {
            if text.contains(bad) {
                problems.push(format!("{path} uses {bad}: {crate_dir} must do no I/O"));
            }
        }
    }
    problems
}

fn rust_sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if name != "tests" {
                rust_sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push((
                path.strip_prefix(root()).unwrap().display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

/// `crates/core` and every path dependency it has, transitively.
fn core_and_its_path_dependencies() -> Vec<String> {
    let mut todo = vec!["crates/core".to_owned()];
    let mut seen = Vec::new();
    while let Some(dir) = todo.pop() {
        if seen.contains(&dir) {
            continue;
        }
        let manifest = read(&format!("{dir}/Cargo.toml"));
        todo.extend(manifest.lines().filter_map(|l| {
            let path = l.split("path = \"").nth(1)?.split('"').next()?;
            Some(format!("{dir}/{path}"))
        }));
        seen.push(dir);
    }
    // Workspace dependencies name their paths in the root manifest.
    let root_manifest = read("Cargo.toml");
    for dep in ["touchpoint-protocol"] {
        if read("crates/core/Cargo.toml").contains(dep) {
            let path = root_manifest.lines().find(|l| l.starts_with(dep)).and_then(|l| l.split("path = \"").nth(1));
            if let Some(p) = path.and_then(|p| p.split('"').next()) {
                seen.push(p.to_owned());
            }
        }
    }
    seen.sort();
    seen.dedup();
    seen
}

#[test]
fn core_does_no_web_and_no_io() {
    let crates = core_and_its_path_dependencies();
    assert!(crates.contains(&"crates/protocol".to_owned()), "{crates:?}");
    for dir in crates {
        let mut sources = Vec::new();
        rust_sources(&root().join(&dir).join("src"), &mut sources);
        assert!(!sources.is_empty(), "{dir}: no sources found");
        assert_none(purity_problems(&dir, &read(&format!("{dir}/Cargo.toml")), &sources));
    }
}

#[test]
fn a_web_or_io_dependency_in_core_is_found() {
    let manifest =
        read("crates/core/Cargo.toml") + "\n[target.'cfg(target_arch = \"wasm32\")'.dependencies]\nweb-sys = \"0.3\"\n";
    let sources = vec![("crates/core/src/lib.rs".to_owned(), "fn f() { std::fs::read(\"x\"); }".to_owned())];
    let problems = purity_problems("crates/core", &manifest, &sources).join("\n");
    assert!(problems.contains("depends on web-sys"), "{problems}");
    assert!(problems.contains("uses std::fs"), "{problems}");
}

// ---- no tracker numbers --------------------------------------------------------------------

/// Lines that cite an issue of a tracker the repository does not contain
/// (the word issue or issues followed by a number, or a number after "(#"):
/// a reader cannot follow them, so code and docs say what and why instead.
fn tracker_citations(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        let cites = lower.match_indices("issue").any(|(i, _)| {
            let mut j = i + "issue".len();
            if bytes.get(j) == Some(&b's') {
                j += 1;
            }
            while matches!(bytes.get(j), Some(b' ' | b'#')) {
                j += 1;
            }
            j > i + "issue".len() && bytes.get(j).is_some_and(u8::is_ascii_digit)
        }) || lower.match_indices("(#").any(|(i, _)| bytes.get(i + 2).is_some_and(u8::is_ascii_digit));
        if cites {
            out.push((n + 1, line.trim().to_owned()));
        }
    }
    out
}

const SOURCE_EXTENSIONS: &[&str] = &["rs", "ts", "js", "mjs", "sh", "css", "html", "sql", "md", "toml", "json"];

fn repository_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let generated = ["target", "node_modules", "dist", "artifacts", "test-results"].contains(&name.as_str());
            if !name.starts_with('.') && !generated && path != root().join("pkg").join("snippets") {
                repository_files(&path, out);
            }
        } else if SOURCE_EXTENSIONS.iter().any(|e| name.ends_with(&format!(".{e}")))
            && name != "package-lock.json"
            && !name.ends_with(".min.js")
        {
            out.push(path);
        }
    }
}

#[test]
fn no_source_or_doc_cites_a_tracker_issue_number() {
    let mut files = Vec::new();
    repository_files(root(), &mut files);
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut problems = Vec::new();
    for path in files {
        // Build outputs next to sources (the npm package's generated glue) are not ours to word.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for (line, cited) in tracker_citations(&text) {
            problems.push(format!("{}:{line}: {cited}", path.strip_prefix(root()).unwrap().display()));
        }
    }
    assert_none(problems);
}

#[test]
fn a_cited_issue_number_is_found() {
    // Spelt in pieces so that this file does not cite anything itself.
    let planted =
        concat!("fn a() {}\n// Accounts (iss", "ue 11): health\n/* see Iss", "ues #3 */\n// upstream (", "#42)\n");
    let lines: Vec<usize> = tracker_citations(planted).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert!(tracker_citations("// an issue with 3 parts; issues are filed\n").is_empty());
}

// ---- the npm package is whole --------------------------------------------------------------

/// What `scripts/build.sh` writes into `pkg/`: wasm-bindgen's outputs for each
/// module of its `for name in …; do` loop.
fn built_files(build_sh: &str) -> BTreeSet<String> {
    let Some(names) = build_sh.lines().find_map(|l| l.trim().strip_prefix("for name in")) else {
        return BTreeSet::new();
    };
    let names = names.split(';').next().unwrap_or_default().split_whitespace();
    names
        .flat_map(|n| [format!("{n}.js"), format!("{n}.d.ts"), format!("{n}_bg.wasm"), format!("{n}_bg.wasm.d.ts")])
        .collect()
}

/// Files `pkg/package.json` names (its `files`, `main`, `types` and exports)
/// that neither exist in `pkg/` nor are written there by `scripts/build.sh`.
fn package_problems(package_json: &str, exists: &dyn Fn(&str) -> bool, build_sh: &str) -> Vec<String> {
    let built = built_files(build_sh);
    let json: serde_json::Value = match serde_json::from_str(package_json) {
        Ok(v) => v,
        Err(e) => return vec![format!("pkg/package.json is not JSON: {e}")],
    };
    let mut named = BTreeSet::new();
    if let Some(files) = json["files"].as_array() {
        named.extend(files.iter().filter_map(|f| f.as_str()).map(str::to_owned));
    }
    for key in ["main", "module", "types"] {
        named.extend(json[key].as_str().map(str::to_owned));
    }
    fn strings(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::String(s) => {
                out.insert(s.clone());
            }
            serde_json::Value::Object(m) => m.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    strings(&json["exports"], &mut named);
    let mut problems = Vec::new();
    for name in named {
        let file = name.trim_start_matches("./");
        if !exists(file) && !built.contains(file) {
            problems
                .push(format!("pkg/package.json names {file}, which is neither in pkg/ nor built by scripts/build.sh"));
        }
    }
    problems
}

#[test]
fn every_file_the_package_names_is_there_or_built() {
    let exists = |f: &str| root().join("pkg").join(f).is_file();
    assert_none(package_problems(&read("pkg/package.json"), &exists, &read("scripts/build.sh")));
}

#[test]
fn the_build_is_read_for_what_it_writes() {
    let built = built_files(&read("scripts/build.sh"));
    assert!(built.contains("touchpoint_bg.wasm") && built.contains("touchpoint_views.js"), "{built:?}");
}

#[test]
fn a_missing_package_file_is_found() {
    let package = read("pkg/package.json").replace("\"README.md\"", "\"GUIDE.md\"");
    let exists = |f: &str| root().join("pkg").join(f).is_file();
    let problems = package_problems(&package, &exists, &read("scripts/build.sh")).join("\n");
    assert!(problems.contains("names GUIDE.md"), "{problems}");
}
