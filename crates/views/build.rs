//! Writes the dock's and panels' stylesheet minified into
//! `OUT_DIR/dock.min.css`, as the first module's build does with the card's:
//! `src/dock.css` stays the readable source.

use std::{env, fs, path::Path};

include!("../web/minify_css.rs");

fn main() {
    println!("cargo:rerun-if-changed=src/dock.css");
    println!("cargo:rerun-if-changed=../web/minify_css.rs");
    let css = fs::read_to_string("src/dock.css").expect("src/dock.css is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dock.min.css");
    fs::write(out, minify(&css)).expect("OUT_DIR is writable");
}
