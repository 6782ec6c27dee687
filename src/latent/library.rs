//! What the user keeps for a model: named latent vectors (bookmarks) and attribute vectors.
//!
//! One JSON file per model, named after the model's fingerprint, written atomically (a
//! temporary sibling, then a rename), so a crash mid-save leaves the previous file intact.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A named point in latent space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bookmark {
    /// The user's name for it.
    pub name: String,
    /// The latent vector.
    pub z: Vec<f32>,
}

/// A named direction in latent space, such as "Sneaker − Sandal".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeVector {
    /// The user's name for it.
    pub name: String,
    /// The direction (mean µ of one class minus the mean µ of another).
    pub v: Vec<f32>,
}

/// Everything kept for one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// Saved points, in the order they were made.
    pub bookmarks: Vec<Bookmark>,
    /// Saved directions.
    pub vectors: Vec<AttributeVector>,
}

/// Why a library file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The operating system refused.
    #[error("bookmarks file \"{path}\": {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Its error.
        source: std::io::Error,
    },
    /// The file is not a library this app wrote.
    #[error("bookmarks file \"{path}\": not valid JSON for bookmarks: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

impl Library {
    /// Reads the library at `path`; a missing file is an empty library.
    pub fn load(path: &Path) -> Result<Self, LibraryError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(LibraryError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| LibraryError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Writes the library to `path` atomically, creating its folder if needed.
    pub fn save(&self, path: &Path) -> Result<(), LibraryError> {
        let io_error = |source| LibraryError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io_error)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| LibraryError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        crate::files::write_atomically(path, text.as_bytes()).map_err(io_error)
    }

    /// Drops bookmarks and vectors whose size is not `dim` (left by a different model under
    /// the same name) and says how many went.
    pub fn keep_dimension(&mut self, dim: usize) -> usize {
        let before = self.bookmarks.len() + self.vectors.len();
        self.bookmarks.retain(|b| b.z.len() == dim);
        self.vectors.retain(|v| v.v.len() == dim);
        before - self.bookmarks.len() - self.vectors.len()
    }
}

/// Where the app keeps its files: `$LATENT_EXPLORER_HOME`, else `$XDG_DATA_HOME/latent-explorer`,
/// else `~/.local/share/latent-explorer`; `None` when no home folder is known.
pub fn data_dir() -> Option<PathBuf> {
    let from_env = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("LATENT_EXPLORER_HOME")
        .or_else(|| from_env("XDG_DATA_HOME").map(|d| d.join("latent-explorer")))
        .or_else(|| from_env("HOME").map(|h| h.join(".local/share/latent-explorer")))
}

/// The library file of the model with `fingerprint` inside `dir`.
pub fn library_path(dir: &Path, fingerprint: u64) -> PathBuf {
    dir.join("bookmarks")
        .join(format!("{fingerprint:016x}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = library_path(dir.path(), 0xabc);
        let library = Library {
            bookmarks: vec![Bookmark {
                name: "boot".into(),
                z: vec![0.5, -1.0],
            }],
            vectors: vec![AttributeVector {
                name: "Sneaker − Sandal".into(),
                v: vec![1.0, 2.0],
            }],
        };
        library.save(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Library::load(&path).ok(), Some(library));
    }

    #[test]
    fn a_missing_file_is_an_empty_library() {
        let loaded = Library::load(Path::new("/no/such/bookmarks.json"));
        assert_eq!(loaded.ok(), Some(Library::default()));
    }

    #[test]
    fn a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("b.json");
        std::fs::write(&path, "{ not json").unwrap_or_else(|e| panic!("{e}"));
        let message = Library::load(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.starts_with(&format!(
            "bookmarks file \"{}\": not valid JSON",
            path.display()
        )));
    }

    #[test]
    fn entries_of_another_size_are_dropped() {
        let mut library = Library {
            bookmarks: vec![
                Bookmark {
                    name: "a".into(),
                    z: vec![0.0; 3],
                },
                Bookmark {
                    name: "b".into(),
                    z: vec![0.0; 2],
                },
            ],
            vectors: vec![AttributeVector {
                name: "v".into(),
                v: vec![0.0; 2],
            }],
        };
        assert_eq!(library.keep_dimension(2), 1);
        assert_eq!(library.bookmarks.len(), 1);
    }
}
