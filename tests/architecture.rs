//! The layering that ARCHITECTURE.md promises, checked on the source tree.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_app_layer_names_the_ui_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let app = src.join("app");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found only {} source files", files.len());

    let ui_crates = [
        "egui::",
        "eframe::",
        "egui_plot::",
        "egui_kittest::",
        "rfd::",
    ];
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&app)) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (line_idx, line) in text.lines().enumerate() {
            if ui_crates.iter().any(|c| line.contains(c)) {
                offenders.push(format!("{}:{}: {line}", file.display(), line_idx + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "UI crates named outside src/app:\n{}",
        offenders.join("\n")
    );
}
