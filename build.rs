//! Writes the card's stylesheet minified into `OUT_DIR/card.min.css`: it is
//! a string in the first wasm module, downloaded by every host page before
//! the card, so its comments and indentation are bytes the page pays for.
//! `src/card.css` stays the readable source.

use std::{env, fs, path::Path};

include!("crates/web/minify_css.rs");

fn main() {
    println!("cargo:rerun-if-changed=src/card.css");
    println!("cargo:rerun-if-changed=crates/web/minify_css.rs");
    let css = fs::read_to_string("src/card.css").expect("src/card.css is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("card.min.css");
    fs::write(out, minify(&css)).expect("OUT_DIR is writable");
}
