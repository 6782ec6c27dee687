//! Reader for the IDX format used by MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! An IDX file starts with four magic bytes: two zeros, a type code and the number of
//! dimensions. Then come the dimension sizes as big-endian `u32`, then the values. Only
//! unsigned bytes (type code `0x08`) are used by the image datasets this app reads; other
//! type codes are named in the error.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The unsigned-byte type code, the only one image datasets use.
const TYPE_U8: u8 = 0x08;

/// Largest decompressed file we accept: far above any image dataset we read, low enough that a
/// malicious gzip bomb cannot exhaust memory.
const MAX_DECOMPRESSED_BYTES: u64 = 4 << 30;

/// Why an IDX file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be opened or read.
    #[error("IDX file \"{path}\": {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The gzip stream is corrupt or cut short.
    #[error("IDX file \"{path}\": gzip data is corrupt or truncated: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's error.
        source: std::io::Error,
    },

    /// The file is shorter than its four-byte magic number and dimension sizes.
    #[error("IDX file \"{path}\": header is truncated ({len} bytes, need {needed})")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Bytes present.
        len: usize,
        /// Bytes needed for the header.
        needed: usize,
    },

    /// The magic number does not start with two zero bytes.
    #[error("IDX file \"{path}\": bad magic number {magic:#010x} (expected 0x0000TTDD)")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The four bytes read, big-endian.
        magic: u32,
    },

    /// The value type is not unsigned bytes.
    #[error(
        "IDX file \"{path}\": value type {code:#04x} is not supported (only 0x08, unsigned bytes)"
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code found.
        code: u8,
    },

    /// The file declares an unusable number of dimensions for what the caller wants.
    #[error("IDX file \"{path}\": has {found} dimensions, expected {expected}")]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// Dimensions declared.
        found: usize,
        /// Dimensions expected.
        expected: usize,
    },

    /// The values after the header are fewer or more than the dimensions promise.
    #[error(
        "IDX file \"{path}\": dimensions {dims:?} promise {expected} values but {found} follow the header"
    )]
    LengthMismatch {
        /// The file.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<usize>,
        /// Values promised.
        expected: usize,
        /// Values present.
        found: usize,
    },

    /// A dimension size of zero or a product that overflows.
    #[error("IDX file \"{path}\": dimensions {dims:?} are not usable")]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<usize>,
    },

    /// The decompressed data is larger than any dataset we expect.
    #[error("IDX file \"{path}\": decompresses to more than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
}

/// An n-dimensional array of unsigned bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values in row-major order.
    pub data: Vec<u8>,
}

/// Reads an IDX file from disk, decompressing it when it starts with the gzip magic bytes.
pub fn read_idx_file(path: &Path) -> Result<IdxArray, IdxError> {
    let bytes = std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_idx(&bytes, path)
}

/// Parses IDX bytes (raw or gzip); `path` names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, IdxError> {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(bytes, path)?
    } else {
        bytes.to_vec()
    };
    parse_raw(raw, path)
}

fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>, IdxError> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let decoder = flate2::read::GzDecoder::new(bytes);
    decoder
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|source| IdxError::Gzip {
            path: path.to_owned(),
            source,
        })?;

    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(IdxError::TooLarge {
            path: path.to_owned(),
            limit: MAX_DECOMPRESSED_BYTES,
        });
    }
    Ok(out)
}

fn parse_raw(mut raw: Vec<u8>, path: &Path) -> Result<IdxArray, IdxError> {
    let truncated = |needed: usize, len: usize| IdxError::TruncatedHeader {
        path: path.to_owned(),
        len,
        needed,
    };
    let Some(magic_bytes) = raw.first_chunk::<4>() else {
        return Err(truncated(4, raw.len()));
    };
    let magic = u32::from_be_bytes(*magic_bytes);
    let [zero_a, zero_b, code, rank] = *magic_bytes;
    if zero_a != 0 || zero_b != 0 || rank == 0 {
        return Err(IdxError::BadMagic {
            path: path.to_owned(),
            magic,
        });
    }
    if code != TYPE_U8 {
        return Err(IdxError::UnsupportedType {
            path: path.to_owned(),
            code,
        });
    }

    // Dimension sizes follow the magic number, one big-endian u32 each.
    let header_len = 4 + 4 * usize::from(rank);
    let Some(dim_bytes) = raw.get(4..header_len) else {
        return Err(truncated(header_len, raw.len()));
    };
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n > 0)
        .ok_or_else(|| IdxError::BadDimensions {
            path: path.to_owned(),
            dims: dims.clone(),
        })?;

    let found = raw.len() - header_len;
    if found != expected {
        return Err(IdxError::LengthMismatch {
            path: path.to_owned(),
            dims,
            expected,
            found,
        });
    }

    raw.drain(..header_len);
    Ok(IdxArray { dims, data: raw })
}

/// Encodes an array as raw (uncompressed) IDX bytes; the inverse of [`parse_idx`].
pub fn encode_idx(array: &IdxArray) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * array.dims.len() + array.data.len());
    out.extend_from_slice(&[0, 0, TYPE_U8, array.dims.len() as u8]);
    for &d in &array.dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_2x2x3() -> IdxArray {
        IdxArray {
            dims: vec![2, 2, 3],
            data: (0..12).collect(),
        }
    }

    fn parse(bytes: &[u8]) -> Result<IdxArray, IdxError> {
        parse_idx(bytes, Path::new("x.idx"))
    }

    #[test]
    fn raw_file_round_trips() {
        let array = images_2x2x3();
        assert_eq!(parse(&encode_idx(&array)).ok(), Some(array));
    }

    #[test]
    fn gzip_file_is_decompressed() {
        use std::io::Write;
        let array = images_2x2x3();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&encode_idx(&array)).ok();
        let bytes = gz.finish().unwrap_or_default();
        assert_eq!(parse(&bytes).ok(), Some(array));
    }

    #[test]
    fn bad_magic_is_named() {
        let mut bytes = encode_idx(&images_2x2x3());
        bytes[0] = 0x42;
        let message = parse(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            message,
            "IDX file \"x.idx\": bad magic number 0x42000803 (expected 0x0000TTDD)"
        );
    }

    #[test]
    fn unsupported_value_type_is_named() {
        let mut bytes = encode_idx(&images_2x2x3());
        bytes[2] = 0x0D;
        let message = parse(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            message,
            "IDX file \"x.idx\": value type 0x0d is not supported (only 0x08, unsigned bytes)"
        );
    }

    #[test]
    fn truncated_values_are_counted() {
        let bytes = encode_idx(&images_2x2x3());
        let message = parse(&bytes[..bytes.len() - 5])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            message,
            "IDX file \"x.idx\": dimensions [2, 2, 3] promise 12 values but 7 follow the header"
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode_idx(&images_2x2x3());
        bytes.push(0);
        assert!(matches!(
            parse(&bytes),
            Err(IdxError::LengthMismatch { found: 13, .. })
        ));
    }

    #[test]
    fn truncated_header_is_reported() {
        let bytes = encode_idx(&images_2x2x3());
        let message = parse(&bytes[..6])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            message,
            "IDX file \"x.idx\": header is truncated (6 bytes, need 16)"
        );
        assert!(matches!(
            parse(&[0, 0]),
            Err(IdxError::TruncatedHeader { needed: 4, .. })
        ));
    }

    #[test]
    fn zero_sized_dimension_is_rejected() {
        let array = IdxArray {
            dims: vec![0, 28, 28],
            data: vec![],
        };
        assert!(matches!(
            parse(&encode_idx(&array)),
            Err(IdxError::BadDimensions { .. })
        ));
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let bytes = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        assert!(matches!(parse(&bytes), Err(IdxError::Gzip { .. })));
    }
}
