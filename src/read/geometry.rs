//! Plane geometry the text detector needs: convex hulls, minimum-area rotated rectangles (what
//! OpenCV's `minAreaRect` gives PaddleOCR), and quadrilaterals with a reading direction.

/// A point in pixel coordinates (x right, y down).
pub type Pt = [f32; 2];

/// Four corners of a text region in reading order: top-left, top-right, bottom-right,
/// bottom-left, as the text reads (so the first edge runs along the text's baseline direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Pt; 4]);

fn dist(a: Pt, b: Pt) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn lerp(a: Pt, b: Pt, t: f32) -> Pt {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

impl Quad {
    /// Length along the text (top edge and bottom edge, the longer).
    pub fn width(&self) -> f32 {
        let [a, b, c, d] = self.0;
        dist(a, b).max(dist(d, c))
    }

    /// Height across the text.
    pub fn height(&self) -> f32 {
        let [a, b, c, d] = self.0;
        dist(a, d).max(dist(b, c))
    }

    pub fn center(&self) -> Pt {
        let sum = self.0.iter().fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
        [sum[0] / 4.0, sum[1] / 4.0]
    }

    /// Axis-aligned bounds: min x, min y, max x, max y.
    pub fn bounds(&self) -> [f32; 4] {
        let xs = self.0.map(|p| p[0]);
        let ys = self.0.map(|p| p[1]);
        let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
        let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
        [min(xs), min(ys), max(xs), max(ys)]
    }

    /// The part of the quad between fractions `from` and `to` of its length along the text.
    pub fn span(&self, from: f32, to: f32) -> Quad {
        let [a, b, c, d] = self.0;
        Quad([lerp(a, b, from), lerp(a, b, to), lerp(d, c, to), lerp(d, c, from)])
    }

    /// Scale coordinates (detector input → original image).
    pub fn scaled(&self, sx: f32, sy: f32) -> Quad {
        Quad(self.0.map(|p| [p[0] * sx, p[1] * sy]))
    }

    /// Clamp every corner into `[0, width] × [0, height]`.
    pub fn clamped(&self, width: f32, height: f32) -> Quad {
        Quad(self.0.map(|p| [p[0].clamp(0.0, width), p[1].clamp(0.0, height)]))
    }

    /// The same region read starting from the opposite corner (text upside down).
    pub fn rotated_180(&self) -> Quad {
        let [a, b, c, d] = self.0;
        Quad([c, d, a, b])
    }

    /// Whether `p` lies inside (or on the edge of) the quad, which is convex.
    pub fn contains(&self, p: Pt) -> bool {
        let mut sign = 0.0f32;
        for i in 0..4 {
            let (a, b) = (self.0[i], self.0[(i + 1) % 4]);
            let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
            if cross.abs() < 1e-6 {
                continue;
            }
            if sign == 0.0 {
                sign = cross.signum();
            } else if cross.signum() != sign {
                return false;
            }
        }
        true
    }
}

/// Convex hull (Andrew's monotone chain), counter-clockwise in y-down coordinates' mirror; the
/// orientation does not matter to the callers.
pub fn convex_hull(points: &[Pt]) -> Vec<Pt> {
    let mut pts: Vec<Pt> = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: Pt, a: Pt, b: Pt| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<Pt> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Pt>> = if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// A rotated rectangle: centre, unit direction of its first side, and the two side lengths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub center: Pt,
    pub axis: Pt,
    /// Length along `axis`.
    pub length: f32,
    /// Length across `axis`.
    pub thickness: f32,
}

impl RotatedRect {
    /// The smallest-area rectangle containing `hull` (rotating calipers: one side lies on a hull
    /// edge). `None` for fewer than one point.
    pub fn min_area(hull: &[Pt]) -> Option<RotatedRect> {
        let first = *hull.first()?;
        if hull.len() < 3 {
            let last = *hull.last()?;
            let len = dist(first, last);
            let axis = if len > 0.0 { [(last[0] - first[0]) / len, (last[1] - first[1]) / len] } else { [1.0, 0.0] };
            return Some(RotatedRect { center: lerp(first, last, 0.5), axis, length: len, thickness: 0.0 });
        }
        let mut best: Option<(f32, RotatedRect)> = None;
        for i in 0..hull.len() {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            let len = dist(a, b);
            if len == 0.0 {
                continue;
            }
            let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
            let v = [-u[1], u[0]];
            let (mut umin, mut umax, mut vmin, mut vmax) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY);
            for p in hull {
                let (pu, pv) = (p[0] * u[0] + p[1] * u[1], p[0] * v[0] + p[1] * v[1]);
                umin = umin.min(pu);
                umax = umax.max(pu);
                vmin = vmin.min(pv);
                vmax = vmax.max(pv);
            }
            let area = (umax - umin) * (vmax - vmin);
            if best.as_ref().is_none_or(|(a, _)| area < *a) {
                let (cu, cv) = ((umin + umax) / 2.0, (vmin + vmax) / 2.0);
                let center = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
                best = Some((area, RotatedRect { center, axis: u, length: umax - umin, thickness: vmax - vmin }));
            }
        }
        best.map(|(_, r)| r)
    }

    pub fn short_side(&self) -> f32 {
        self.length.min(self.thickness)
    }

    /// Grow by `d` on every side (PaddleOCR's "unclip": a polygon offset, which for a rectangle
    /// with round joins has exactly this bounding rectangle).
    pub fn expanded(&self, d: f32) -> RotatedRect {
        RotatedRect { length: self.length + 2.0 * d, thickness: self.thickness + 2.0 * d, ..*self }
    }

    /// Corners as a quad reading left to right: the long side is the text direction, and of the
    /// two ways along it the one pointing right (for vertical boxes: down) is chosen.
    pub fn to_quad(&self) -> Quad {
        let (mut u, mut lu, mut lv) = (self.axis, self.length, self.thickness);
        if lv > lu {
            u = [-u[1], u[0]];
            std::mem::swap(&mut lu, &mut lv);
        }
        // Point along the text rightwards; exactly vertical text reads downwards.
        if u[0] < -1e-6 || (u[0].abs() <= 1e-6 && u[1] < 0.0) {
            u = [-u[0], -u[1]];
        }
        // Across the text, pointing down the page (y grows downwards).
        let v = [-u[1], u[0]];
        let v = if v[1] < 0.0 || (v[1] == 0.0 && v[0] > 0.0) { [-v[0], -v[1]] } else { v };
        let [cx, cy] = self.center;
        let (hu, hv) = (lu / 2.0, lv / 2.0);
        let corner = |su: f32, sv: f32| [cx + su * hu * u[0] + sv * hv * v[0], cy + su * hu * u[1] + sv * hv * v[1]];
        Quad([corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_of_a_square_with_inner_points() {
        let pts = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [2.0, 2.0], [1.0, 3.0]];
        let hull = convex_hull(&pts);
        assert_eq!(hull.len(), 4);
        assert!(!hull.contains(&[2.0, 2.0]));
    }

    #[test]
    fn min_area_rect_of_a_tilted_bar() {
        // A 10×2 bar rotated by 30°.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let pts: Vec<Pt> = [[-5.0, -1.0], [5.0, -1.0], [5.0, 1.0], [-5.0, 1.0]]
            .iter()
            .map(|p: &[f32; 2]| [100.0 + p[0] * c - p[1] * s, 50.0 + p[0] * s + p[1] * c])
            .collect();
        let rect = RotatedRect::min_area(&convex_hull(&pts)).unwrap();
        let (long, short) = (rect.length.max(rect.thickness), rect.short_side());
        assert!((long - 10.0).abs() < 1e-3 && (short - 2.0).abs() < 1e-3, "{rect:?}");
        let quad = rect.to_quad();
        // Reads rightwards and downwards-tilted: top-left is the leftmost-top corner.
        assert!(quad.0[1][0] > quad.0[0][0] && quad.0[3][1] > quad.0[0][1], "{quad:?}");
        assert!((quad.width() - 10.0).abs() < 1e-3 && (quad.height() - 2.0).abs() < 1e-3);
        assert!(quad.contains([100.0, 50.0]) && !quad.contains([100.0, 60.0]));
    }

    #[test]
    fn axis_aligned_box_corners_in_reading_order() {
        let pts = [[10.0, 20.0], [50.0, 20.0], [50.0, 30.0], [10.0, 30.0]];
        let quad = RotatedRect::min_area(&convex_hull(&pts)).unwrap().expanded(1.0).to_quad();
        let expect = [[9.0, 19.0], [51.0, 19.0], [51.0, 31.0], [9.0, 31.0]];
        for (p, e) in quad.0.iter().zip(expect) {
            assert!((p[0] - e[0]).abs() < 1e-4 && (p[1] - e[1]).abs() < 1e-4, "{quad:?}");
        }
        let half = quad.span(0.0, 0.5);
        assert_eq!(half.0[1], [30.0, 19.0]);
        assert_eq!(quad.rotated_180().0[0], [51.0, 31.0]);
    }
}
