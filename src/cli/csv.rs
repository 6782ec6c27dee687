//! The CSV files the commands exchange: latents (`index,label,z0,…`) and coordinates
//! (`index,label,x,y`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

/// Latent vectors read from a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentTable {
    /// Row index as written by `encode` (or the row number).
    pub index: Vec<usize>,
    /// Label per row (0 when the file has no label column).
    pub label: Vec<u32>,
    /// Values, row after row.
    pub values: Vec<f32>,
    /// Number of z columns.
    pub dim: usize,
}

/// Renders latents as CSV text.
pub fn latents_to_csv(labels: &[u32], means: &[f32], dim: usize) -> String {
    let mut out = String::from("index,label");
    for d in 0..dim {
        let _ = write!(out, ",z{d}");
    }
    out.push('\n');
    for (i, (label, row)) in labels.iter().zip(means.chunks_exact(dim)).enumerate() {
        let _ = write!(out, "{i},{label}");
        for v in row {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

/// Renders 2-D coordinates as CSV text.
pub fn coords_to_csv(index: &[usize], label: &[u32], coords: &[[f64; 2]]) -> String {
    let mut out = String::from("index,label,x,y\n");
    for ((i, l), [x, y]) in index.iter().zip(label).zip(coords) {
        let _ = writeln!(out, "{i},{l},{x},{y}");
    }
    out
}

/// Reads a latents CSV: the columns named `z0`, `z1`, … are the vector; `index` and `label`
/// are optional.
pub fn read_latents(path: &Path) -> anyhow::Result<LatentTable> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("latents file \"{}\"", path.display()))?;
    parse_latents(&text).with_context(|| format!("latents file \"{}\"", path.display()))
}

fn parse_latents(text: &str) -> anyhow::Result<LatentTable> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        bail!("is empty");
    };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let z_columns: Vec<usize> = (0..)
        .map_while(|d| columns.iter().position(|c| *c == format!("z{d}")))
        .collect();
    if z_columns.is_empty() {
        bail!("header {header:?} has no z0 column");
    }
    let index_column = columns.iter().position(|c| *c == "index");
    let label_column = columns.iter().position(|c| *c == "label");

    let mut table = LatentTable {
        index: Vec::new(),
        label: Vec::new(),
        values: Vec::new(),
        dim: z_columns.len(),
    };
    for (row_number, (line_idx, line)) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |col: usize| {
            fields.get(col).copied().with_context(|| {
                format!(
                    "line {}: has {} fields, expected {}",
                    line_idx + 1,
                    fields.len(),
                    columns.len()
                )
            })
        };
        for &col in &z_columns {
            let text = field(col)?;
            let value: f32 = text
                .parse()
                .map_err(|_| anyhow::anyhow!("line {}: {text:?} is not a number", line_idx + 1))?;
            table.values.push(value);
        }
        let index = match index_column {
            Some(col) => field(col)?
                .parse()
                .with_context(|| format!("line {}: bad index", line_idx + 1))?,
            None => row_number,
        };
        let label = match label_column {
            Some(col) => field(col)?
                .parse()
                .with_context(|| format!("line {}: bad label", line_idx + 1))?,
            None => 0,
        };
        table.index.push(index);
        table.label.push(label);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latents_round_trip_through_csv() {
        let text = latents_to_csv(&[3, 1], &[0.5, -1.0, 2.0, 0.25], 2);
        let table = parse_latents(&text).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(table.dim, 2);
        assert_eq!(table.index, vec![0, 1]);
        assert_eq!(table.label, vec![3, 1]);
        assert_eq!(table.values, vec![0.5, -1.0, 2.0, 0.25]);
    }

    #[test]
    fn a_bad_number_names_its_line() {
        let message = parse_latents("z0,z1\n1,2\n3,x\n")
            .err()
            .map(|e| format!("{e:#}"));
        assert_eq!(message.as_deref(), Some("line 3: \"x\" is not a number"));
    }
}
