//! The *Recent* lists of the File menu, kept in `recent.json` in the app's data folder and
//! written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many entries each list keeps.
const KEEP: usize = 8;

/// Recently opened checkpoints and datasets, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentFiles {
    /// Checkpoint files.
    #[serde(default)]
    pub checkpoints: Vec<PathBuf>,
    /// Dataset files and folders (`sprites` for the generated set).
    #[serde(default)]
    pub datasets: Vec<PathBuf>,
}

/// Where the lists live inside the data folder.
pub fn recent_path(dir: &Path) -> PathBuf {
    dir.join("recent.json")
}

impl RecentFiles {
    /// The lists saved in `dir`: empty when there are none yet, and an error message naming
    /// the file when it cannot be read.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = recent_path(dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("recent files \"{}\" are unreadable: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("recent files \"{}\": {e}", path.display())),
        }
    }

    /// Writes the lists into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let path = recent_path(dir);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        crate::files::write_atomically(&path, text.as_bytes())
            .map_err(|e| format!("cannot save recent files \"{}\": {e}", path.display()))
    }

    /// Puts `path` first in the checkpoint list.
    pub fn add_checkpoint(&mut self, path: &Path) {
        push_front(&mut self.checkpoints, path);
    }

    /// Puts `path` first in the dataset list.
    pub fn add_dataset(&mut self, path: &Path) {
        push_front(&mut self.datasets, path);
    }
}

fn push_front(list: &mut Vec<PathBuf>, path: &Path) {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    list.retain(|p| *p != path);
    list.insert(0, path);
    list.truncate(KEEP);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_entry_comes_first_and_duplicates_collapse() {
        let mut recent = RecentFiles::default();
        for name in ["/a.pt", "/b.pt", "/a.pt"] {
            recent.add_checkpoint(Path::new(name));
        }
        assert_eq!(
            recent.checkpoints,
            vec![PathBuf::from("/a.pt"), PathBuf::from("/b.pt")]
        );
        for k in 0..20 {
            recent.add_dataset(Path::new(&format!("/d{k}")));
        }
        assert_eq!(recent.datasets.len(), KEEP);
    }

    #[test]
    fn recent_files_survive_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut recent = RecentFiles::default();
        recent.add_checkpoint(Path::new("/models/x.safetensors"));
        recent.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(RecentFiles::load(dir.path()), Ok(recent));
    }
}
