//! From recognised characters to Azure's lines and words: words are split at spaces (and each
//! CJK character is a word, as Azure's Read does), each word's polygon is the part of the line's
//! quad its CTC time steps cover, and lines are put in reading order.

use super::geometry::Quad;
use super::recognize::DecodedChar;
use super::{TextLine, TextWord};
use crate::azure::{DetectedTextLine, DetectedTextWord, ImagePoint};

/// Scripts written without spaces: each character is a word.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF   // CJK Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF // CJK Extensions B–F
    )
}

/// Build a line from its characters; `step_width` is one CTC time step as a fraction of the
/// line's length. `None` when no visible character was read.
pub fn assemble(quad: Quad, chars: &[DecodedChar], step_width: f32) -> Option<TextLine> {
    // Group characters into words.
    let mut groups: Vec<Vec<&DecodedChar>> = Vec::new();
    let mut current: Vec<&DecodedChar> = Vec::new();
    for ch in chars {
        let is_space = ch.text.chars().all(char::is_whitespace);
        let alone = ch.text.chars().any(is_unspaced_script);
        if is_space || alone {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            if alone {
                groups.push(vec![ch]);
            }
        } else {
            current.push(ch);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    if groups.is_empty() {
        return None;
    }

    // Word extents along the line: from one step before the first character's run to one step
    // after the last's (CTC fires near a character's centre), never past the neighbours.
    let extents: Vec<(f32, f32)> = groups
        .iter()
        .map(|g| {
            let first = g.first().map(|c| c.steps.0).unwrap_or(0) as f32;
            let last = g.last().map(|c| c.steps.1).unwrap_or(0) as f32;
            (((first - 1.0) * step_width).clamp(0.0, 1.0), ((last + 2.0) * step_width).clamp(0.0, 1.0))
        })
        .collect();
    let mut words = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let (mut from, mut to) = extents[i];
        if i > 0 {
            from = from.max((extents[i - 1].1 + from) / 2.0).min(to);
        }
        if let Some(next) = extents.get(i + 1) {
            to = to.min((next.0 + to) / 2.0).max(from);
        }
        let text: String = group.iter().map(|c| c.text.as_str()).collect();
        let confidence = group.iter().map(|c| c.confidence).sum::<f32>() / group.len() as f32;
        words.push(TextWord { quad: quad.span(from, to), text, confidence: confidence.clamp(0.0, 1.0) });
    }
    let visible: Vec<&DecodedChar> = chars.iter().filter(|c| !c.text.trim().is_empty()).collect();
    let confidence = visible.iter().map(|c| c.confidence).sum::<f32>() / visible.len().max(1) as f32;
    let text = chars.iter().map(|c| c.text.as_str()).collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ");
    Some(TextLine { quad, text, confidence, words })
}

/// Top to bottom, and left to right within a row: a line joins a row when it overlaps the row's
/// vertical extent by at least half of the smaller height.
pub fn reading_order(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    lines.sort_by(|a, b| a.quad.center()[1].total_cmp(&b.quad.center()[1]));
    let mut rows: Vec<(f32, f32, Vec<TextLine>)> = Vec::new();
    for line in lines {
        let [_, top, _, bottom] = line.quad.bounds();
        let joins = rows.last().is_some_and(|(row_top, row_bottom, _)| {
            let overlap = bottom.min(*row_bottom) - top.max(*row_top);
            overlap >= 0.5 * (bottom - top).min(row_bottom - row_top)
        });
        match rows.last_mut() {
            Some((row_top, row_bottom, members)) if joins => {
                *row_top = row_top.min(top);
                *row_bottom = row_bottom.max(bottom);
                members.push(line);
            }
            _ => rows.push((top, bottom, vec![line])),
        }
    }
    rows.into_iter()
        .flat_map(|(_, _, mut members)| {
            members.sort_by(|a, b| a.quad.bounds()[0].total_cmp(&b.quad.bounds()[0]));
            members
        })
        .collect()
}

/// Azure's integer polygon: corners rounded to the nearest pixel inside the image.
fn polygon(quad: &Quad, width: u32, height: u32) -> Vec<ImagePoint> {
    quad.0
        .iter()
        .map(|p| ImagePoint {
            x: p[0].round().clamp(0.0, width.saturating_sub(1) as f32) as u32,
            y: p[1].round().clamp(0.0, height.saturating_sub(1) as f32) as u32,
        })
        .collect()
}

pub fn to_azure(line: &TextLine, width: u32, height: u32) -> DetectedTextLine {
    DetectedTextLine {
        text: line.text.clone(),
        bounding_polygon: polygon(&line.quad, width, height),
        words: line
            .words
            .iter()
            .map(|w| DetectedTextWord {
                text: w.text.clone(),
                bounding_polygon: polygon(&w.quad, width, height),
                confidence: w.confidence,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(text: &str, step: usize) -> DecodedChar {
        DecodedChar { text: text.into(), confidence: 0.9, steps: (step, step) }
    }

    fn rect(x: f32, y: f32, w: f32, h: f32) -> Quad {
        Quad([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    }

    #[test]
    fn words_split_at_spaces_and_cjk_characters() {
        let chars = [ch("H", 1), ch("i", 2), ch(" ", 4), ch("y", 6), ch("o", 7), ch("中", 9), ch("文", 10)];
        let line = assemble(rect(0.0, 0.0, 120.0, 10.0), &chars, 0.1).unwrap();
        let words: Vec<&str> = line.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["Hi", "yo", "中", "文"]);
        assert_eq!(line.text, "Hi yo中文");
        // "Hi" spans steps 0..4 of 10 → x 0..48, and words never overlap.
        assert_eq!(line.words[0].quad.0[0], [0.0, 0.0]);
        for pair in line.words.windows(2) {
            assert!(pair[0].quad.0[1][0] <= pair[1].quad.0[0][0] + 1e-3, "{pair:?}");
        }
        assert!(assemble(rect(0.0, 0.0, 10.0, 10.0), &[ch(" ", 1)], 0.1).is_none());
    }

    #[test]
    fn reading_order_is_rows_then_left_to_right() {
        let line = |x: f32, y: f32, text: &str| TextLine { quad: rect(x, y, 50.0, 10.0), text: text.into(), confidence: 1.0, words: vec![] };
        let ordered = reading_order(vec![line(100.0, 41.0, "d"), line(0.0, 2.0, "a"), line(0.0, 40.0, "c"), line(100.0, 0.0, "b")]);
        let texts: Vec<&str> = ordered.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
    }
}
