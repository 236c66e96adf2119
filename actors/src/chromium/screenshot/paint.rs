//! Paints opaque boxes over a JPEG: the orchestrator-side mask, out of the page's reach.

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb};

/// The mask's colour.
pub(crate) const MASK_RGB: [u8; 3] = [0, 0, 0];
/// CSS pixels added around each box, so anti-aliased edges and caret are covered too.
const PAD_CSS_PX: f64 = 3.0;

/// A box in CSS pixels of the captured area.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rect {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) w: f64,
    pub(super) h: f64,
}

/// `jpeg` with every box filled with [`MASK_RGB`]; `css_width` is the captured area's width in
/// CSS pixels (the image may be scaled by the device pixel ratio).
pub(super) fn cover(
    jpeg: &[u8],
    boxes: &[Rect],
    css_width: f64,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let mut img = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
        .map_err(|e| format!("cannot decode the screenshot: {e}"))?
        .to_rgb8();
    let (width, height) = img.dimensions();
    let scale = if css_width > 0.0 {
        f64::from(width) / css_width
    } else {
        1.0
    };
    let to_px = |v: f64, max: u32| (v * scale).clamp(0.0, f64::from(max)) as u32;
    for r in boxes {
        let x0 = to_px((r.x - PAD_CSS_PX).floor(), width);
        let y0 = to_px((r.y - PAD_CSS_PX).floor(), height);
        let x1 = to_px((r.x + r.w + PAD_CSS_PX).ceil(), width);
        let y1 = to_px((r.y + r.h + PAD_CSS_PX).ceil(), height);
        for y in y0..y1 {
            for x in x0..x1 {
                img.put_pixel(x, y, Rgb(MASK_RGB));
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode_image(&img)
        .map_err(|e| format!("cannot encode the screenshot: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn white_jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn boxes_are_filled_scaled_to_the_image_and_the_rest_is_kept() {
        // A 2x device pixel ratio: 100 CSS pixels wide, 200 image pixels.
        let jpeg = white_jpeg(200, 100);
        let boxes = [Rect {
            x: 20.0,
            y: 10.0,
            w: 30.0,
            h: 10.0,
        }];
        let out = cover(&jpeg, &boxes, 100.0, 90).unwrap();
        let img = image::load_from_memory(&out).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (200, 100));
        let dark = |x, y| img.get_pixel(x, y).0.iter().all(|&c| c < 40);
        for (x, y) in [(40, 20), (99, 39), (60, 30)] {
            assert!(dark(x, y), "({x},{y}) is {:?}", img.get_pixel(x, y));
        }
        for (x, y) in [(5, 5), (150, 80), (120, 30)] {
            assert!(!dark(x, y), "({x},{y}) is masked");
        }
    }

    #[test]
    fn a_box_past_the_edge_is_clipped() {
        let jpeg = white_jpeg(50, 50);
        let boxes = [Rect {
            x: 40.0,
            y: -10.0,
            w: 100.0,
            h: 100.0,
        }];
        assert!(cover(&jpeg, &boxes, 50.0, 80).is_ok());
        assert!(cover(b"not a jpeg", &boxes, 50.0, 80).is_err());
    }
}
