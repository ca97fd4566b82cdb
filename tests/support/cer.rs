//! Character error rate, as the OCR tests and `scripts/bench-ocr` compute it.

/// Whitespace runs become one space; case and punctuation count.
fn normalise(text: &str) -> Vec<char> {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
}

/// Character error rate: edit distance / length of the truth.
pub fn cer(read: &str, truth: &str) -> f64 {
    let (a, b) = (normalise(read), normalise(truth));
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()] as f64 / b.len().max(1) as f64
}
