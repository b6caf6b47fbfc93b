//! Files for the attachment tests: real images, a PDF, an image bomb, and uploads with the
//! presigned forms the API answers (a multipart POST, as a browser sends it).

use std::io::Cursor;

use serde_json::Value;

/// A PNG of `width` × `height` (a gradient, so it is not trivially compressible).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("encode a PNG");
    bytes.into_inner()
}

/// A JPEG of about `bytes` bytes (noise compresses badly: the size is reached quickly).
pub fn jpeg_of_about(bytes: usize) -> Vec<u8> {
    let side = ((bytes as f64 / 1.25).sqrt() as u32).max(16);
    let mut seed = 0x2545_f491_u32;
    let image = image::RgbImage::from_fn(side, side, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [r, g, b, _] = seed.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode a JPEG");
    out.into_inner()
}

/// A small, valid PNG whose header claims 100,000 × 100,000 pixels (10 gigapixels decoded).
pub fn png_bomb() -> Vec<u8> {
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    // The header chunk's CRC covers its type and data.
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

/// A one-page PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
      2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        .to_vec()
}

/// Uploads `bytes` as `content_type` with a presigned form (`upload` of the API's answer);
/// the storage's status.
pub async fn upload_with(form: &Value, bytes: Vec<u8>, content_type: &str) -> u16 {
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form["fields"].as_object().expect("form fields") {
        let value = if name == "Content-Type" {
            content_type.to_string()
        } else {
            value.as_str().unwrap_or_default().to_string()
        };
        multipart = multipart.text(name.clone(), value);
    }
    let file = reqwest::multipart::Part::bytes(bytes)
        .file_name("file")
        .mime_str(content_type)
        .expect("a MIME type");
    reqwest::Client::new()
        .post(form["url"].as_str().expect("an upload URL"))
        .multipart(multipart.part("file", file))
        .send()
        .await
        .expect("the storage answers")
        .status()
        .as_u16()
}
