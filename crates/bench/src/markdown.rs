//! Markdown tables.

/// A table: a header row and rows of cells, the first column left-aligned, the rest right.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: impl IntoIterator<Item = impl Into<String>>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = impl Into<String>>) -> &mut Table {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The table as GitHub-flavoured Markdown (`|` in cells escaped).
    pub fn render(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str("| ");
        out.push_str(
            &self
                .headers
                .iter()
                .map(|h| cell(h))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n|");
        for i in 0..self.headers.len() {
            out.push_str(if i == 0 { "---|" } else { "---:|" });
        }
        out.push('\n');
        for row in &self.rows {
            let mut cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            cells.resize(self.headers.len(), String::new());
            out.push_str("| ");
            out.push_str(&cells.join(" | "));
            out.push_str(" |\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_columns_and_escapes_pipes() {
        let mut table = Table::new(["case", "faastlane", "baseline-warm"]);
        table.row(["1 KB", "1.2 µs", "310 µs"]);
        table.row(["a|b", "2 µs"]);
        assert_eq!(
            table.render(),
            "| case | faastlane | baseline-warm |\n\
             |---|---:|---:|\n\
             | 1 KB | 1.2 µs | 310 µs |\n\
             | a\\|b | 2 µs |  |\n"
        );
    }
}
